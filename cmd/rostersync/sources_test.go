package main

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rostersync/rostersync/sync/vendors"
	"github.com/rostersync/rostersync/sync/vendors/smartflo"
	"github.com/rostersync/rostersync/sync/vendors/smartflo/smartflotest"
)

// fakeHarness is a harness around the vendor's shipped fake built from
// cfg, seeded from the demo's users, with the test token.
func fakeHarness(t *testing.T, target string, cfg vendors.FakeConfig) *harness {
	t.Helper()
	v, err := vendors.Lookup(target)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Seed, cfg.Token, cfg.BcryptCost = filepath.Join("..", "..", filepath.FromSlash(v.DemoSeed())), testToken, 4
	fake, err := v.NewFake(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, target: target, dir: t.TempDir(), fake: fake}
	h.srv = httptest.NewServer(fake)
	t.Cleanup(h.srv.Close)
	h.env = map[string]string{"ROSTERSYNC_TOKEN": testToken, "XDG_STATE_HOME": filepath.Join(h.dir, "state")}
	return h
}

// TestListingThatRepeatsAUserStopsTheRun serves, for each target, a
// listing that holds one user twice and lacks another while its counts
// add up (as offset paging in no stable order does): apply stops before
// any write, exit 2, naming the repeated user, and every row is reported
// not planned.
func TestListingThatRepeatsAUserStopsTheRun(t *testing.T) {
	t.Parallel()
	rosters := map[string]string{
		"smartflo": "id,name\n314678,Asha R\n314702,Rohit S\n",
		"dnl":      "user_id,first_name\n2,Jules\n3,Ollie\n",
	}
	for _, v := range vendors.All {
		t.Run(v.Name, func(t *testing.T) {
			t.Parallel()
			h := fakeHarness(t, v.Name, vendors.FakeConfig{RepeatInList: true})
			out := filepath.Join(h.dir, "report.csv")
			res := h.run("apply", "--roster", h.file("roster.csv", rosters[v.Name]), "--report", out)
			if res.code != exitNotStarted || res.writes != 0 || h.fake.Writes() != 0 {
				t.Fatalf("exit %d with %d writes; want exit 2 and none\n%s", res.code, h.fake.Writes(), res.stderr)
			}
			if !strings.Contains(res.stderr, "the listing holds a user twice") {
				t.Errorf("the error does not say the listing repeats a user:\n%s", res.stderr)
			}
			for _, r := range readReport(t, out, 2) {
				if r.Status == "applied" || !strings.Contains(r.Error, "not planned") {
					t.Errorf("row %d: %s %q; want it not planned", r.Row, r.Status, r.Error)
				}
			}
		})
	}
}

// smartfloHarness is a harness around a Smartflo fake built from cfg,
// seeded from the demo's users, that takes the login admin@example.com
// with the password s3cret-pw; the run logs in with ROSTERSYNC_LOGIN and
// ROSTERSYNC_PASSWORD set to login and password.
func smartfloHarness(t *testing.T, cfg smartflotest.Config, login, password string) *harness {
	t.Helper()
	users, err := smartflotest.LoadUsers("../../testdata/demo/smartflo/users.json")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Token, cfg.Email, cfg.Password, cfg.BcryptCost = testToken, "admin@example.com", "s3cret-pw", 4
	h := &harness{t: t, target: "smartflo", dir: t.TempDir()}
	h.sf = smartflotest.New(cfg, users)
	h.fake = h.sf
	h.srv = httptest.NewServer(h.fake)
	t.Cleanup(h.srv.Close)
	h.env = map[string]string{"ROSTERSYNC_LOGIN": login, "ROSTERSYNC_PASSWORD": password,
		"XDG_STATE_HOME": filepath.Join(h.dir, "state")}
	return h
}

// TestLoginWarnsOfPasswordExpiry logs in to a Smartflo whose login answer
// says the password has 6 days left (number_of_days_left): a normal run
// (log level info) logs a warning naming the login and the days, and goes
// on; with 30 days left it says nothing.
func TestLoginWarnsOfPasswordExpiry(t *testing.T) {
	t.Parallel()
	for _, days := range []int{6, 30} {
		t.Run(strconv.Itoa(days), func(t *testing.T) {
			t.Parallel()
			h := smartfloHarness(t, smartflotest.Config{PasswordDaysLeft: days}, "admin@example.com", "s3cret-pw")
			res := h.run("plan", "--roster", h.file("roster.csv", "id,name\n314678,Asha Rao\n"),
				"--report", filepath.Join(h.dir, "plan.csv"), "--log-level", "info")
			if res.code != exitOK {
				t.Fatalf("exit %d\n%s", res.code, res.stderr)
			}
			var warned []map[string]any
			for line := range strings.SplitSeq(res.stderr, "\n") {
				var entry map[string]any
				if json.Unmarshal([]byte(line), &entry) == nil && entry["level"] == "warn" &&
					strings.Contains(fmt.Sprint(entry["message"]), "password") {
					warned = append(warned, entry)
				}
			}
			if days > smartflo.PasswordWarnDays {
				if len(warned) != 0 {
					t.Errorf("%d days left: warned %v", days, warned)
				}
				return
			}
			if len(warned) != 1 {
				t.Fatalf("%d days left: %d warnings, want 1\n%s", days, len(warned), res.stderr)
			}
			msg := fmt.Sprint(warned[0]["message"])
			for _, want := range []string{"admin@example.com", "expires in 6 days", "ROSTERSYNC_PASSWORD"} {
				if !strings.Contains(msg, want) {
					t.Errorf("the warning %q does not say %q", msg, want)
				}
			}
			if strings.Contains(res.stderr, "s3cret-pw") {
				t.Error("the password is in the log")
			}
		})
	}
}

// TestFailedLoginSaysTheAccountMayLock logs in to Smartflo with a wrong
// password: one login, exit 2, and the error names login_failed_count and
// says more failures lock the account.
func TestFailedLoginSaysTheAccountMayLock(t *testing.T) {
	t.Parallel()
	h := smartfloHarness(t, smartflotest.Config{}, "admin@example.com", "wrong-pw")
	res := h.run("apply", "--roster", h.file("roster.csv", "id,name\n314678,Asha R\n"),
		"--report", filepath.Join(h.dir, "r.csv"))
	if res.code != exitNotStarted || res.writes != 0 || h.sf.Logins() != 1 {
		t.Fatalf("exit %d, %d writes, %d logins; want 2, 0, 1\n%s", res.code, res.writes, h.sf.Logins(), res.stderr)
	}
	for _, want := range []string{"The username or password is incorrect", "login_failed_count 1", "lock the account"} {
		if !strings.Contains(res.stderr, want) {
			t.Errorf("the output does not say %q:\n%s", want, res.stderr)
		}
	}
}

// TestHelpNamesTheWhiteLabels checks that plan's help names the hosts of
// Smartflo's white labels (api.md, "What public sources add") beside the
// default, for --base-url with --target smartflo.
func TestHelpNamesTheWhiteLabels(t *testing.T) {
	t.Parallel()
	var out strings.Builder
	app := &App{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &out, Getenv: func(string) string { return "" }}
	if err := app.Run(t.Context(), []string{"plan", "-h"}); err != nil {
		t.Fatal(err)
	}
	help := strings.Join(strings.Fields(out.String()), " ")
	for _, host := range []string{"https://api-smartflo.tatateleservices.com", "https://api.servetel.in",
		"https://api.acefone.in", "https://api.acefone.co.uk", "https://api-cloudphone.tatateleservices.com"} {
		if !strings.Contains(help, host) {
			t.Errorf("plan -h does not name %s", host)
		}
	}
}
