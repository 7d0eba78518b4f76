package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/rostersync/rostersync/report"
	"github.com/rostersync/rostersync/sync/vendors/dnl/dnltest"
	"github.com/rostersync/rostersync/sync/vendors/fakehttp"
	"github.com/rostersync/rostersync/sync/vendors/smartflo/smartflotest"
)

// testToken is the fixed token the test fakes accept.
const testToken = "e2e-token-5f1c"

// harness runs the real command line against a shipped fake over HTTP.
type harness struct {
	t      *testing.T
	target string
	srv    *httptest.Server
	fake   fakeServer
	env    map[string]string
	dir    string
	sf     *smartflotest.Fake // set for smartflo
	dnl    *dnltest.Fake      // set for dnl
}

func newHarness(t *testing.T, target string) *harness {
	t.Helper()
	h := &harness{t: t, target: target, dir: t.TempDir()}
	switch target {
	case "smartflo":
		users, err := smartflotest.LoadUsers("../../testdata/demo/smartflo/users.json")
		if err != nil {
			t.Fatal(err)
		}
		h.sf = smartflotest.New(smartflotest.Config{Token: testToken, Email: "admin@example.com", Password: "s3cret-pw", BcryptCost: 4}, users)
		h.fake = h.sf
	case "dnl":
		users, err := dnltest.LoadUsers("../../testdata/demo/dnl/users.json")
		if err != nil {
			t.Fatal(err)
		}
		h.dnl = dnltest.New(dnltest.Config{Token: testToken, Admin: "admin", Password: "s3cret-pw", BcryptCost: 4}, users)
		h.fake = h.dnl
	}
	h.srv = httptest.NewServer(h.fake)
	t.Cleanup(h.srv.Close)
	h.env = map[string]string{"ROSTERSYNC_TOKEN": testToken, "XDG_STATE_HOME": filepath.Join(h.dir, "state")}
	return h
}

// file writes a file into the harness's folder and returns its path.
func (h *harness) file(name, content string) string {
	h.t.Helper()
	p := filepath.Join(h.dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		h.t.Fatal(err)
	}
	return p
}

// result is what one run of the command line did.
type result struct {
	code           int
	stdout, stderr string
	writes         int // writes the fake received during the run
}

// run runs rostersync with args, adding --target and --base-url.
func (h *harness) run(cmd string, args ...string) result {
	h.t.Helper()
	var out, errOut bytes.Buffer
	app := &App{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut, Getenv: func(k string) string { return h.env[k] },
		ledgerCost: bcrypt.MinCost, notifyBackoff: time.Millisecond}
	full := append([]string{cmd, "--target", h.target, "--base-url", h.srv.URL, "--rate", "0", "--log-level", "debug"}, args...)
	before := h.fake.Writes()
	err := app.Run(context.Background(), full)
	return result{code: exitCode(err), stdout: out.String(), stderr: errOut.String() + errText(err), writes: h.fake.Writes() - before}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return "\nerror: " + err.Error()
}

// readReport reads a report and checks it holds exactly one row per roster
// row, numbered 1..n.
func readReport(t *testing.T, path string, n int) map[int]report.Row {
	t.Helper()
	rows, err := report.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	byRow := map[int]report.Row{}
	for _, r := range rows {
		if _, dup := byRow[r.Row]; dup {
			t.Errorf("report row %d appears twice", r.Row)
		}
		byRow[r.Row] = r
	}
	if len(rows) != n || len(byRow) != n {
		t.Fatalf("report has %d rows (%d distinct), want one per roster row: %d", len(rows), len(byRow), n)
	}
	for i := 1; i <= n; i++ {
		if _, ok := byRow[i]; !ok {
			t.Errorf("report lacks roster row %d", i)
		}
	}
	return byRow
}

// requests returns what the fake received, oldest first.
func (h *harness) requests() []fakehttp.Request {
	if h.sf != nil {
		return h.sf.Requests()
	}
	return h.dnl.Requests()
}

// patchBodies returns the sorted top-level keys of every PATCH body, by
// user id.
func (h *harness) patchBodies() map[string][]string {
	h.t.Helper()
	out := map[string][]string{}
	for _, r := range h.requests() {
		if r.Method != "PATCH" {
			continue
		}
		var body map[string]any
		if err := json.Unmarshal(r.Body, &body); err != nil {
			h.t.Fatalf("PATCH %s: %v", r.Path, err)
		}
		id := r.Path[strings.LastIndexByte(r.Path, '/')+1:]
		out[id] = slices.Sorted(maps.Keys(body))
	}
	return out
}

// e2eCase is a roster that changes some users of a target's demo seed.
type e2eCase struct {
	roster string
	rows   int
	// bodies are the top-level keys each changed user's PATCH must hold.
	bodies map[string][]string
	// fields are the changed fields each changed user's report row lists.
	fields map[string]string
	// check asserts the fake's final state equals the roster.
	check func(t *testing.T, h *harness)
}

var e2eCases = map[string]e2eCase{
	"smartflo": {
		roster: "id,name,email,designation,block_agent,caller_id\n" +
			"314678,Asha Rao,asha@example.com,Team lead,no,\n" +
			"314702,Rohit Sharma,Rohit.New@example.com,Customer Support Executive,no,\n" +
			"314735,Priya Nair,priya.nair@example.com,QA Lead,yes,101|104\n",
		rows: 3,
		bodies: map[string][]string{
			"314702": {"email"},
			"314735": {"block_agent", "caller_id", "designation"},
		},
		fields: map[string]string{"314702": "email", "314735": "block_agent|caller_id|designation"},
		check: func(t *testing.T, h *harness) {
			u, _ := h.sf.User(314702)
			if u.Email != "Rohit.New@example.com" {
				t.Errorf("314702 email = %q", u.Email)
			}
			u, _ = h.sf.User(314735)
			if u.Designation != "QA Lead" || !u.Blocked || !slices.Equal(u.CallerID, []string{"101", "104"}) {
				t.Errorf("314735 = %+v", u)
			}
			if u, _ := h.sf.User(314678); u.Designation != "Team lead" || u.Blocked {
				t.Errorf("314678 changed: %+v", u)
			}
		},
	},
	"dnl": {
		roster: "user_id,first_name,email,active,client.is_panel_trunks,auth_ip\n" +
			"2,Julia,julia.morales@meridian-vx.example,true,,\n" +
			"3,Olly,oliver.keller@meridian-vx.example,true,,\n" +
			"16,Jan,noc@eurolink.example,false,no,203.0.113.60\n",
		rows: 3,
		bodies: map[string][]string{
			"3":  {"first_name"},
			"16": {"active", "auth_ip", "client"},
		},
		fields: map[string]string{"3": "first_name", "16": "active|auth_ip|client.is_panel_trunks"},
		check: func(t *testing.T, h *harness) {
			u, _ := h.dnl.User(3)
			if u.FirstName != "Olly" {
				t.Errorf("user 3 first_name = %q", u.FirstName)
			}
			u, _ = h.dnl.User(16)
			if u.Active || u.Client == nil || u.Client.IsPanelTrunks || len(u.AuthIP) != 1 || u.AuthIP[0].IP != "203.0.113.60" {
				t.Errorf("user 16 = active %v client %+v auth_ip %+v", u.Active, u.Client, u.AuthIP)
			}
			if u.Client != nil && !u.Client.IsPanelInvoices {
				t.Errorf("user 16: a client flag the roster did not name changed: %+v", u.Client)
			}
		},
	},
}

func forEachTarget(t *testing.T, test func(t *testing.T, h *harness, c e2eCase)) {
	for _, target := range []string{"smartflo", "dnl"} {
		t.Run(target, func(t *testing.T) {
			t.Parallel()
			test(t, newHarness(t, target), e2eCases[target])
		})
	}
}

// TestApplyChangesExactlyTheDifferingFields applies a roster, checks the
// fake's final state and that each PATCH held only the differing fields,
// then applies it again and checks that nothing at all is sent.
func TestApplyChangesExactlyTheDifferingFields(t *testing.T) {
	t.Parallel()
	forEachTarget(t, func(t *testing.T, h *harness, c e2eCase) {
		roster := h.file("roster.csv", c.roster)
		res := h.run("apply", "--roster", roster, "--report", filepath.Join(h.dir, "first.csv"))
		if res.code != exitOK {
			t.Fatalf("first apply: exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
		}
		if got := h.patchBodies(); !maps.EqualFunc(got, c.bodies, slices.Equal) {
			t.Errorf("PATCH bodies = %v, want %v", got, c.bodies)
		}
		c.check(t, h)
		rows := readReport(t, filepath.Join(h.dir, "first.csv"), c.rows)
		applied := 0
		for _, r := range rows {
			switch r.Status {
			case "applied":
				applied++
				if r.Fields != c.fields[r.UserID] || r.HTTPStatus != 200 || r.Attempts != 1 {
					t.Errorf("applied row %+v: want fields %q, HTTP 200, 1 attempt", r, c.fields[r.UserID])
				}
			case "unchanged":
			default:
				t.Errorf("row %d: status %s (%s)", r.Row, r.Status, r.Error)
			}
		}
		if applied != len(c.bodies) {
			t.Errorf("%d rows applied, want %d", applied, len(c.bodies))
		}

		again := h.run("apply", "--roster", roster, "--report", filepath.Join(h.dir, "second.csv"))
		if again.code != exitOK || again.writes != 0 {
			t.Fatalf("second apply: exit %d, %d writes, want 0 and 0\n%s", again.code, again.writes, again.stdout)
		}
		for _, r := range readReport(t, filepath.Join(h.dir, "second.csv"), c.rows) {
			if r.Status != "unchanged" {
				t.Errorf("second apply row %d: %s, want unchanged", r.Row, r.Status)
			}
		}
	})
}

func TestPlanSendsNoWrite(t *testing.T) {
	t.Parallel()
	forEachTarget(t, func(t *testing.T, h *harness, c e2eCase) {
		out := filepath.Join(h.dir, "plan.jsonl")
		res := h.run("plan", "--roster", h.file("roster.csv", c.roster), "--report", out)
		if res.code != exitOK || res.writes != 0 {
			t.Fatalf("plan: exit %d, %d writes; want 0, 0\n%s", res.code, res.writes, res.stderr)
		}
		planned := 0
		for _, r := range readReport(t, out, c.rows) {
			if r.Status == "planned" {
				planned++
				if r.Fields != c.fields[r.UserID] {
					t.Errorf("row %d fields %q, want %q", r.Row, r.Fields, c.fields[r.UserID])
				}
			}
		}
		if planned != len(c.bodies) {
			t.Errorf("%d rows planned, want %d", planned, len(c.bodies))
		}
		if !strings.Contains(res.stdout, "Guard:") || !strings.Contains(res.stdout, "(--max-changes): ok") {
			t.Errorf("plan output lacks the guard's standing:\n%s", res.stdout)
		}
	})
}

func TestUnknownColumnStopsBeforeAnyRequest(t *testing.T) {
	t.Parallel()
	forEachTarget(t, func(t *testing.T, h *harness, c e2eCase) {
		key := strings.SplitN(c.roster, ",", 2)[0]
		roster := h.file("roster.csv", key+",emial\n2,a@example.com\n")
		res := h.run("apply", "--roster", roster, "--report", filepath.Join(h.dir, "r.csv"))
		if res.code != exitNotStarted {
			t.Fatalf("exit %d, want 2", res.code)
		}
		if len(h.requests()) != 0 {
			t.Errorf("%d requests sent, want none", len(h.requests()))
		}
		if !strings.Contains(res.stderr, `unknown column "emial": did you mean "email"?`) {
			t.Errorf("error does not name the column and its fix:\n%s", res.stderr)
		}
	})
}

// TestBadRowsFailAlone puts a bad boolean, a duplicate key and an unknown
// id beside one good change: each bad row fails with its reason, the good
// one is applied, and the exit code is 1.
func TestBadRowsFailAlone(t *testing.T) {
	t.Parallel()
	rosters := map[string]string{
		"smartflo": "id,designation,block_agent\n" +
			"314702,Lead,maybe\n" + // bad boolean
			"314735,A,no\n314735,B,no\n" + // duplicate
			"999999,C,no\n" + // unknown id
			"314790,Quality Lead,no\n", // good
		"dnl": "user_id,first_name,active\n" +
			"2,Julia,maybe\n" +
			"3,A,true\n3,B,true\n" +
			"999999,C,true\n" +
			"4,Anju,true\n",
	}
	wantErr := map[int]string{1: "field ", 2: "duplicate", 3: "duplicate", 4: "no user with"}
	forEachTarget(t, func(t *testing.T, h *harness, c e2eCase) {
		out := filepath.Join(h.dir, "r.csv")
		res := h.run("apply", "--roster", h.file("roster.csv", rosters[h.target]), "--report", out)
		if res.code != exitRowsFailed {
			t.Fatalf("exit %d, want 1\n%s", res.code, res.stderr)
		}
		if res.writes != 1 {
			t.Errorf("%d writes, want 1 (the good row)", res.writes)
		}
		rows := readReport(t, out, 5)
		for n, want := range wantErr {
			if r := rows[n]; r.Status != "failed" || !strings.Contains(r.Error, want) || !strings.Contains(r.Error, "row ") {
				t.Errorf("row %d: %s %q, want failed naming the row and %q", n, r.Status, r.Error, want)
			}
		}
		if !strings.Contains(rows[1].Error, "maybe") || !strings.Contains(rows[1].Error, "active") && !strings.Contains(rows[1].Error, "block_agent") {
			t.Errorf("bad boolean error does not name the field and value: %q", rows[1].Error)
		}
		if rows[5].Status != "applied" {
			t.Errorf("good row: %s %s", rows[5].Status, rows[5].Error)
		}
	})
}

func TestRejectedCredentialsStopBeforeAnyWrite(t *testing.T) {
	t.Parallel()
	forEachTarget(t, func(t *testing.T, h *harness, c e2eCase) {
		roster := h.file("roster.csv", c.roster)
		t.Run("token", func(t *testing.T) {
			h.env = map[string]string{"ROSTERSYNC_TOKEN": "wrong-token", "XDG_STATE_HOME": h.env["XDG_STATE_HOME"]}
			out := filepath.Join(h.dir, "token.csv")
			res := h.run("apply", "--roster", roster, "--report", out)
			if res.code != exitNotStarted || res.writes != 0 {
				t.Fatalf("exit %d, %d writes; want 2, 0\n%s", res.code, res.writes, res.stderr)
			}
			if !strings.Contains(res.stderr, "credentials rejected") || strings.Contains(res.stderr, "wrong-token") {
				t.Errorf("error should say the credentials were rejected, without the token:\n%s", res.stderr)
			}
			for _, r := range readReport(t, out, c.rows) {
				if r.Status != "skipped" {
					t.Errorf("row %d: %s, want skipped", r.Row, r.Status)
				}
			}
		})
		t.Run("login", func(t *testing.T) {
			h.env = map[string]string{"ROSTERSYNC_LOGIN": "admin", "ROSTERSYNC_PASSWORD": "not-the-password", "XDG_STATE_HOME": h.env["XDG_STATE_HOME"]}
			if h.target == "smartflo" {
				h.env["ROSTERSYNC_LOGIN"] = "admin@example.com"
			}
			res := h.run("apply", "--roster", roster, "--report", filepath.Join(h.dir, "login.csv"))
			if res.code != exitNotStarted || res.writes != 0 {
				t.Fatalf("exit %d, %d writes; want 2, 0\n%s", res.code, res.writes, res.stderr)
			}
			logins := 0
			if h.sf != nil {
				logins = h.sf.Logins()
			} else {
				logins = h.dnl.Logins()
			}
			if logins != 1 {
				t.Errorf("%d login attempts, want exactly 1: failed logins can lock the account", logins)
			}
			if strings.Contains(res.stderr+res.stdout, "not-the-password") {
				t.Errorf("the password reached the output")
			}
		})
	})
}

func TestMaxChangesRefusesApply(t *testing.T) {
	t.Parallel()
	forEachTarget(t, func(t *testing.T, h *harness, c e2eCase) {
		roster := h.file("roster.csv", c.roster)
		out := filepath.Join(h.dir, "r.csv")
		res := h.run("apply", "--roster", roster, "--report", out, "--max-changes", "1")
		if res.code != exitRefused || res.writes != 0 {
			t.Fatalf("exit %d, %d writes; want 3, 0\n%s", res.code, res.writes, res.stderr)
		}
		if !strings.Contains(res.stderr, "--max-changes") {
			t.Errorf("refusal does not name the flag to raise:\n%s", res.stderr)
		}
		for _, r := range readReport(t, out, c.rows) {
			if r.Status == "applied" {
				t.Errorf("row %d applied despite the refusal", r.Row)
			}
		}
		plan := h.run("plan", "--roster", roster, "--report", filepath.Join(h.dir, "p.csv"), "--max-changes", "1")
		if plan.code != exitOK || !strings.Contains(plan.stdout, "apply would REFUSE") {
			t.Errorf("plan must not refuse but say apply would: exit %d\n%s", plan.code, plan.stdout)
		}
	})
}

// TestRateHoldsAtTheServer runs a roster that reads and changes demo users
// at --rate 20: some 30 requests, reads included, must take at least the
// time the rate allows them. That --rate reaches the limiter every request
// waits on is what this shows through the CLI; that the limiter never lets
// more than the rate arrive in a second is shown exactly, without a
// wall clock to jitter under load, by TestApplyConcurrentWithLimiter
// (sync/apply, synctest), and measured by cmd/perf's rate rows.
func TestRateHoldsAtTheServer(t *testing.T) {
	t.Parallel()
	const rate = 20
	forEachTarget(t, func(t *testing.T, h *harness, c e2eCase) {
		var b strings.Builder
		if h.sf != nil {
			// Smartflo reads each user alone (designation is not in the
			// list), then patches it: two requests a user.
			b.WriteString("id,designation\n")
			for _, u := range h.sf.Users()[:15] {
				b.WriteString(jsonNumber(u.ID) + ",Rate test\n")
			}
		} else { // the list, then a PATCH for each of the 30 users
			b.WriteString("user_id,last_name\n")
			for _, u := range h.dnl.Users() {
				b.WriteString(jsonNumber(u.UserID) + ",Rate test\n")
			}
		}
		start := time.Now()
		res := h.run("apply", "--roster", h.file("roster.csv", b.String()), "--report", filepath.Join(h.dir, "r.csv"),
			"--rate", "20", "--workers", "8")
		if res.code != exitOK {
			t.Fatalf("exit %d\n%s", res.code, res.stderr)
		}
		n := len(h.requests())
		if n < rate*3/2 {
			t.Fatalf("%d requests: too few to take more than a second at --rate %d", n, rate)
		}
		if min := time.Duration(float64(n-1) / rate * float64(time.Second)); time.Since(start) < min*9/10 {
			t.Errorf("%d requests in %v: faster than the rate allows", n, time.Since(start))
		}
	})
}

func jsonNumber(n int64) string { return strings.TrimSpace(string(must(json.Marshal(n)))) }

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestFlakyServer runs against fakes answering 15% of requests 503 and
// dropping 5% of connections (half before handling, half after applying a
// write): every row ends applied, none failed, one report row per roster
// row, and the final state equals the roster.
func TestFlakyServer(t *testing.T) {
	t.Parallel()
	const n = 100
	faults := fakehttp.Faults{ServerErrors: 0.15, ResetBefore: 0.025, ResetAfter: 0.025, Seed: 7}
	for _, target := range []string{"smartflo", "dnl"} {
		t.Run(target, func(t *testing.T) {
			t.Parallel()
			h := &harness{t: t, target: target, dir: t.TempDir()}
			h.fake = bigFake(target, n, faults)
			h.sf, _ = h.fake.(*smartflotest.Fake)
			h.dnl, _ = h.fake.(*dnltest.Fake)
			h.srv = httptest.NewServer(h.fake)
			t.Cleanup(h.srv.Close)
			h.env = map[string]string{"ROSTERSYNC_TOKEN": testToken, "XDG_STATE_HOME": filepath.Join(h.dir, "state")}
			roster := numberedRoster(t, h.dir, map[string]string{"smartflo": "id,name", "dnl": "user_id,last_name"}[target], n,
				func(i int) string { return fmt.Sprintf("%d,Flaky %d", i, i) })
			out := filepath.Join(h.dir, "r.csv")
			res := h.run("apply", "--roster", roster, "--report", out, "--workers", "8", "--max-changes", "1000")
			if res.code != exitOK {
				t.Fatalf("exit %d\n%s", res.code, res.stderr)
			}
			retried := 0
			for _, r := range readReport(t, out, n) {
				if r.Status != "applied" {
					t.Errorf("row %d: %s %s", r.Row, r.Status, r.Error)
				}
				if r.Attempts > 1 {
					retried++
				}
			}
			if retried < n/10 {
				t.Errorf("only %d rows needed a retry: the faults were not injected", retried)
			}
			for i := 1; i <= n; i++ {
				want := fmt.Sprintf("Flaky %d", i)
				if h.sf != nil {
					if u, _ := h.sf.User(int64(i)); u.Name != want {
						t.Errorf("user %d name %q", i, u.Name)
					}
				} else if u, _ := h.dnl.User(int64(i)); u.LastName == nil || *u.LastName != want {
					t.Errorf("user %d last_name %v", i, u.LastName)
				}
			}
		})
	}
}

// TestFixedTokenExpiresMidRun gives a token that expires during the run
// and no login: the run stops with exit 2, rows not done are skipped, and
// the report still holds one row per roster row.
func TestFixedTokenExpiresMidRun(t *testing.T) {
	t.Parallel()
	const n = 100
	users := make([]dnltest.User, n)
	for i := range users {
		users[i] = dnltest.User{UserID: int64(i + 1), Name: fmt.Sprint("user", i+1), UserType: "agent", Active: true}
	}
	fake := dnltest.New(dnltest.Config{Admin: "admin", Password: "pw", TokenTTL: 400 * time.Millisecond,
		Faults: fakehttp.Faults{Latency: 20 * time.Millisecond}}, users)
	srv := httptest.NewServer(fake)
	defer srv.Close()
	resp, err := srv.Client().Post(srv.URL+"/v1/auth", "application/json", strings.NewReader(`{"email_or_name":"admin","password":"pw"}`))
	if err != nil {
		t.Fatal(err)
	}
	var login struct {
		Payload struct{ Token string } `json:"payload"`
	}
	must(0, json.NewDecoder(resp.Body).Decode(&login))
	resp.Body.Close()

	h := &harness{t: t, target: "dnl", dir: t.TempDir(), srv: srv, fake: fake, dnl: fake}
	h.env = map[string]string{"ROSTERSYNC_TOKEN": login.Payload.Token, "XDG_STATE_HOME": filepath.Join(h.dir, "state")}
	roster := numberedRoster(t, h.dir, "user_id,last_name", n, func(i int) string { return fmt.Sprintf("%d,Expiring %d", i, i) })
	out := filepath.Join(h.dir, "r.csv")
	res := h.run("apply", "--roster", roster, "--report", out, "--workers", "2")
	if res.code != exitNotStarted {
		t.Fatalf("exit %d, want 2\n%s", res.code, res.stderr)
	}
	if strings.Contains(res.stderr, login.Payload.Token) {
		t.Error("the token reached the output")
	}
	counts := map[string]int{}
	for _, r := range readReport(t, out, n) {
		counts[r.Status]++
		if r.Status == "skipped" && !strings.Contains(r.Error, "credentials rejected") {
			t.Errorf("row %d skipped without the reason: %q", r.Row, r.Error)
		}
	}
	if counts["applied"] == 0 || counts["skipped"] == 0 || counts["failed"] != 0 {
		t.Errorf("statuses %v: want some applied before the expiry, the rest skipped, none failed", counts)
	}
	if fake.Logins() != 1 {
		t.Errorf("%d logins: with a fixed token rostersync must never log in", fake.Logins()-1)
	}
}

// TestMatchKeys resolves rows by email (case and spaces aside), Smartflo
// login_id and DNL name: a unique match is applied, no match and an
// ambiguous match each fail their row naming the value (and both ids).
func TestMatchKeys(t *testing.T) {
	t.Parallel()
	sfUsers := []smartflotest.User{
		{ID: 1, Name: "Asha", Email: "asha@example.com", LoginID: "asha", Number: "+919800000001", UsersForCDR: smartflotest.CDR{Type: "all"}},
		{ID: 2, Name: "Asha Two", Email: "ASHA@example.com", LoginID: "asha2", Number: "+919800000002", UsersForCDR: smartflotest.CDR{Type: "all"}},
		{ID: 3, Name: "Ravi", Email: "ravi@example.com", LoginID: "ravi", Number: "+919800000003", UsersForCDR: smartflotest.CDR{Type: "all"}},
	}
	dnlUsers := []dnltest.User{
		{UserID: 11, Name: "asha", Email: "asha@example.com", UserType: "agent", Active: true},
		{UserID: 12, Name: "asha2", Email: "Asha@Example.com", UserType: "agent", Active: true},
		{UserID: 13, Name: "ravi", Email: "ravi@example.com", UserType: "agent", Active: true},
	}
	tests := []struct {
		target, match, roster string
		applied               string // the user id the good row changes
		reads                 bool   // one-user reads expected (Smartflo email is not in the list)
	}{
		{"smartflo", "email", "email,designation\n asha@example.com ,X\nRAVI@example.com,X\nnobody@example.com,X\n", "3", true},
		{"smartflo", "login_id", "login_id,designation\nravi,X\nasha,Y\nnobody,X\n", "3", true},
		{"dnl", "email", "email,last_name\nasha@example.com,X\n Ravi@Example.com ,X\nnobody@example.com,X\n", "13", false},
		{"dnl", "name", "name,last_name\nravi,X\nasha,X\nnobody,X\n", "13", false},
	}
	for _, tt := range tests {
		t.Run(tt.target+"/"+tt.match, func(t *testing.T) {
			h := &harness{t: t, target: tt.target, dir: t.TempDir()}
			if tt.target == "smartflo" {
				h.sf = smartflotest.New(smartflotest.Config{Token: testToken}, sfUsers)
				h.fake = h.sf
			} else {
				h.dnl = dnltest.New(dnltest.Config{Token: testToken}, dnlUsers)
				h.fake = h.dnl
			}
			h.srv = httptest.NewServer(h.fake)
			defer h.srv.Close()
			h.env = map[string]string{"ROSTERSYNC_TOKEN": testToken, "XDG_STATE_HOME": h.dir}
			out := filepath.Join(h.dir, "r.csv")
			res := h.run("apply", "--match", tt.match, "--roster", h.file("roster.csv", tt.roster), "--report", out)
			if res.code != exitRowsFailed {
				t.Fatalf("exit %d, want 1\n%s", res.code, res.stderr)
			}
			rows := readReport(t, out, 3)
			if good := rows[1]; tt.match == "login_id" || tt.match == "name" {
				if good.Status != "applied" || good.UserID != tt.applied {
					t.Errorf("row 1: %+v, want applied to user %s", good, tt.applied)
				}
			}
			if r := rows[3]; r.Status != "failed" || !strings.Contains(r.Error, "no user with "+tt.match+` "nobody`) {
				t.Errorf("row 3: %s %q, want failed saying no user with that %s", r.Status, r.Error, tt.match)
			}
			if tt.match == "email" {
				if r := rows[2]; r.Status != "applied" || r.UserID != tt.applied {
					t.Errorf("row 2 (email in other case, padded): %+v, want applied to %s", r, tt.applied)
				}
				if r := rows[1]; r.Status != "failed" || !strings.Contains(r.Error, "matches 2 users") {
					t.Errorf("row 1: %s %q, want failed naming both users", r.Status, r.Error)
				} else if ids := map[string]string{"smartflo": "ids 1, 2", "dnl": "ids 11, 12"}[tt.target]; !strings.Contains(r.Error, ids) {
					t.Errorf("row 1 error %q does not name %s", r.Error, ids)
				}
			}
			if res.writes != map[string]int{"email": 1, "login_id": 2, "name": 2}[tt.match] {
				t.Errorf("%d writes", res.writes)
			}
			gets := 0
			for _, r := range h.requests() {
				if r.Method == "GET" && strings.Contains(r.Path, "/v1/user/") && !strings.HasSuffix(r.Path, "/list") {
					gets++
				}
			}
			if (gets > 0) != tt.reads {
				t.Errorf("%d one-user reads; want some: %v", gets, tt.reads)
			}
		})
	}
}

// TestBlockShareGuard blocks 4 of the 30 demo users (13%): apply refuses
// at the default --max-block-share of 10% and sends nothing; plan shows
// where the run stands; raising the flag on purpose applies the blocks.
func TestBlockShareGuard(t *testing.T) {
	t.Parallel()
	rosters := map[string]string{
		"smartflo": "id,block_agent\n314678,yes\n314702,yes\n314735,yes\n314790,yes\n315011,no\n",
		"dnl":      "user_id,active\n2,false\n3,false\n4,false\n5,false\n6,true\n",
	}
	forEachTarget(t, func(t *testing.T, h *harness, c e2eCase) {
		roster := h.file("roster.csv", rosters[h.target])
		plan := h.run("plan", "--roster", roster, "--report", filepath.Join(h.dir, "p.csv"))
		if plan.code != exitOK || !strings.Contains(plan.stdout, "4 of 30 users would be blocked (13.3%); at most 10% (--max-block-share): apply would REFUSE") {
			t.Errorf("plan: exit %d, want 0 and the block share standing:\n%s", plan.code, plan.stdout)
		}
		refused := h.run("apply", "--roster", roster, "--report", filepath.Join(h.dir, "a.csv"))
		if refused.code != exitRefused || refused.writes != 0 || !strings.Contains(refused.stderr, "--max-block-share") {
			t.Fatalf("apply: exit %d, %d writes; want 3, 0, naming --max-block-share\n%s", refused.code, refused.writes, refused.stderr)
		}
		ok := h.run("apply", "--roster", roster, "--report", filepath.Join(h.dir, "b.csv"), "--max-block-share", "15")
		if ok.code != exitOK || ok.writes != 4 {
			t.Errorf("apply --max-block-share 15: exit %d, %d writes; want 0, 4\n%s", ok.code, ok.writes, ok.stderr)
		}
	})
}

func TestPlainHTTPToAnotherHostIsRefused(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "dnl")
	roster := h.file("roster.csv", e2eCases["dnl"].roster)
	var out, errOut bytes.Buffer
	app := &App{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut, Getenv: func(k string) string { return h.env[k] }}
	// A name that does not resolve: refusing must not need a lookup.
	err := app.Run(t.Context(), []string{"plan", "--target", "dnl", "--base-url", "http://dnl.invalid:8000", "--roster", roster})
	if exitCode(err) != exitNotStarted || !strings.Contains(err.Error(), "--insecure-http") {
		t.Fatalf("plain http to another host: %v, want exit 2 naming --insecure-http", err)
	}
	if len(h.requests()) != 0 {
		t.Errorf("%d requests sent", len(h.requests()))
	}
	err = app.Run(t.Context(), []string{"plan", "--target", "dnl", "--base-url", "http://dnl.invalid:8000", "--insecure-http", "--roster", roster,
		"--report", filepath.Join(h.dir, "r.csv"), "--timeout", "2s"})
	if err == nil || strings.Contains(err.Error(), "--insecure-http") {
		t.Errorf("with --insecure-http the run should go on (and fail to reach the host): %v", err)
	}
}

// TestLoginRefusedWithSuccessFalse has Smartflo refuse the login with an
// HTTP 200 whose body says "success": false, before rows that each need a
// read: the run stops with exit 2 after exactly one login attempt, never
// one per row (failed logins lock accounts).
func TestLoginRefusedWithSuccessFalse(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "smartflo")
	logins := 0
	var mu sync.Mutex
	h.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/auth/login" {
			mu.Lock()
			logins++
			mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"success": false, "message": "Invalid credentials"}`)
			return
		}
		h.fake.ServeHTTP(w, r)
	})
	h.env = map[string]string{"ROSTERSYNC_LOGIN": "ops@example.com", "ROSTERSYNC_PASSWORD": "wrong", "XDG_STATE_HOME": h.dir}
	res := h.run("apply", "--roster", h.file("roster.csv", e2eCases["smartflo"].roster), "--report", filepath.Join(h.dir, "r.csv"), "--workers", "4")
	if res.code != exitNotStarted || res.writes != 0 {
		t.Fatalf("exit %d, %d writes; want 2, 0\n%s", res.code, res.writes, res.stderr)
	}
	if logins != 1 {
		t.Errorf("%d login attempts, want exactly 1", logins)
	}
	if !strings.Contains(res.stderr, "credentials rejected") || !strings.Contains(res.stderr, "Invalid credentials") {
		t.Errorf("the error should say the login was refused:\n%s", res.stderr)
	}
}

// TestOutputJSONIsOneDocument checks that stdout under --output json is
// the plan alone, as one JSON document a script can parse.
func TestOutputJSONIsOneDocument(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "dnl")
	res := h.run("plan", "--roster", h.file("roster.csv", e2eCases["dnl"].roster), "--report", filepath.Join(h.dir, "r.csv"), "--output", "json")
	if res.code != exitOK {
		t.Fatalf("exit %d\n%s", res.code, res.stderr)
	}
	var plan struct {
		Counts map[string]int `json:"counts"`
	}
	dec := json.NewDecoder(strings.NewReader(res.stdout))
	if err := dec.Decode(&plan); err != nil || dec.More() || plan.Counts["planned"] != 2 {
		t.Errorf("stdout is not one JSON plan (%v, more: %v, counts %v):\n%s", err, dec.More(), plan.Counts, res.stdout)
	}
	if !strings.Contains(res.stderr, "Report: ") {
		t.Errorf("the report line should go to stderr:\n%s", res.stderr)
	}
}

func TestHelpExitsZero(t *testing.T) {
	t.Parallel()
	for _, cmd := range []string{"plan", "apply", "demo", "fake"} {
		var out, errOut bytes.Buffer
		app := &App{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut, Getenv: func(string) string { return "" }}
		err := app.Run(t.Context(), []string{cmd, "-h"})
		if err != nil || !strings.Contains(errOut.String(), "Usage: rostersync "+cmd) {
			t.Errorf("%s -h: %v, want the usage and no error:\n%s", cmd, err, errOut.String())
		}
	}
}

func TestReportMustNotOverwriteTheRoster(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "dnl")
	roster := h.file("roster.csv", e2eCases["dnl"].roster)
	res := h.run("apply", "--roster", roster, "--report", roster)
	if res.code != exitNotStarted || res.writes != 0 {
		t.Fatalf("exit %d, %d writes; want 2, 0", res.code, res.writes)
	}
	if got, _ := os.ReadFile(roster); string(got) != e2eCases["dnl"].roster {
		t.Error("the roster was overwritten")
	}
}

// numberedRoster writes dir/roster.csv, the header then line(i) for rows 1
// to n, and returns its path.
func numberedRoster(t testing.TB, dir, header string, n int, line func(i int) string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString(header + "\n")
	for i := 1; i <= n; i++ {
		b.WriteString(line(i) + "\n")
	}
	path := filepath.Join(dir, "roster.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
