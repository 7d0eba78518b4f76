package main

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/rostersync/rostersync/sync/state"
	"github.com/rostersync/rostersync/sync/vendors/dnl/dnltest"
	"github.com/rostersync/rostersync/sync/vendors/smartflo/smartflotest"
)

// echoing wraps a fake so that every third PATCH is answered 400 with a
// body echoing the request's headers and body: a server that repeats
// secrets back, as some proxies and debug endpoints do.
func echoing(next http.Handler) http.Handler {
	var n atomic.Int64
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPatch {
			if n.Add(1)%3 == 0 {
				body, _ := io.ReadAll(r.Body)
				w.WriteHeader(http.StatusBadRequest)
				io.WriteString(w, "bad request from "+r.Header.Get("Authorization")+r.Header.Get("X-Auth-Token")+": "+string(body))
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// cheapHashes gives users passwd hashes at bcrypt's lowest cost, each of
// a password nobody knows. The DNL seed's are at the vendor's cost 12, and
// the plan compares every password a roster sets with the user's hash: a
// quarter of a second of CPU each.
func cheapHashes(t *testing.T, users []dnltest.User) []dnltest.User {
	t.Helper()
	for i := range users {
		hash, err := bcrypt.GenerateFromPassword([]byte(rand.Text()), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		users[i].Passwd = string(hash)
	}
	return users
}

// TestSecretsStayOut runs plan and apply with debug logging, a distinctive
// token, login password and roster passwords, against fakes that also echo
// secrets in error pages, and looks for every secret (and every bcrypt hash
// the DNL fake holds) in stdout, stderr, the reports and the ledger.
func TestSecretsStayOut(t *testing.T) {
	t.Parallel()
	const (
		token      = "TOKEN-zq8x-Secret-4471"
		loginPw    = "LOGINPW-vv91-Secret-0032"
		rosterPwA  = "ROSTERPW-aa17-Secret-5520"
		rosterPwB  = "ROSTERPW-bb29-Secret-7781"
		smartLogin = "ops@example.com"
	)
	for _, target := range []string{"smartflo", "dnl"} {
		t.Run(target, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			var fake fakeServer
			var roster string
			switch target {
			case "smartflo":
				users := must(smartflotest.LoadUsers("../../testdata/demo/smartflo/users.json"))
				fake = smartflotest.New(smartflotest.Config{Token: token, Email: smartLogin, Password: loginPw, BcryptCost: 4}, users)
				roster = "id,password,designation\n314678," + rosterPwA + ",Lead\n314702," + rosterPwB + ",Lead\n314735," + rosterPwA + ",Lead\n"
			case "dnl":
				users := cheapHashes(t, must(dnltest.LoadUsers("../../testdata/demo/dnl/users.json")))
				fake = dnltest.New(dnltest.Config{Token: token, Admin: "admin", Password: loginPw, BcryptCost: 4}, users)
				roster = "user_id,passwd,last_name\n2," + rosterPwA + ",X\n3," + rosterPwB + ",Y\n4," + rosterPwA + ",Z\n"
			}
			srv := httptest.NewServer(echoing(fake))
			defer srv.Close()
			rosterPath := filepath.Join(dir, "roster.csv")
			must(0, os.WriteFile(rosterPath, []byte(roster), 0o600))

			var stdout, stderr bytes.Buffer
			envs := []map[string]string{
				{"ROSTERSYNC_TOKEN": token},
				{"ROSTERSYNC_LOGIN": map[string]string{"smartflo": smartLogin, "dnl": "admin"}[target], "ROSTERSYNC_PASSWORD": loginPw},
			}
			for i, env := range envs {
				env["XDG_STATE_HOME"] = filepath.Join(dir, "state")
				app := &App{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr, Getenv: func(k string) string { return env[k] },
					ledgerCost: bcrypt.MinCost}
				for _, cmd := range []string{"plan", "apply", "apply"} {
					_ = app.Run(t.Context(), []string{cmd, "--target", target, "--base-url", srv.URL, "--roster", rosterPath,
						"--report", filepath.Join(dir, cmd+string(rune('a'+i))+".jsonl"), "--log-level", "debug", "--rate", "0"})
				}
				// A saved plan, applied with the roster for its passwords.
				planFile := filepath.Join(dir, fmt.Sprintf("plan%d.json", i))
				_ = app.Run(t.Context(), []string{"plan", "--target", target, "--base-url", srv.URL, "--roster", rosterPath,
					"--report", filepath.Join(dir, fmt.Sprintf("saved%d.jsonl", i)), "--out", planFile, "--rate", "0", "--resend-write-only"})
				_ = app.Run(t.Context(), []string{"apply", "--plan", planFile, "--roster", rosterPath,
					"--report", filepath.Join(dir, fmt.Sprintf("applied%d.jsonl", i)), "--log-level", "debug", "--rate", "0"})
				// The journal, read back every way.
				runs := must(state.Runs(filepath.Join(dir, "state", "rostersync")))
				for _, args := range [][]string{{"runs"}, {"history"}, {"revert", runs[len(runs)-1].Run, "--out", filepath.Join(dir, fmt.Sprintf("revert%d.json", i)),
					"--report", filepath.Join(dir, fmt.Sprintf("revert%d.jsonl", i)), "--rate", "0"}} {
					_ = app.Run(t.Context(), args)
				}
			}

			secrets := []string{token, loginPw, rosterPwA, rosterPwB}
			if d, ok := fake.(*dnltest.Fake); ok {
				for _, u := range d.Users() {
					secrets = append(secrets, u.Passwd, u.Passwd[7:]) // the hash, and its salt and digest alone
				}
			}
			outputs := map[string]string{"stdout": stdout.String(), "stderr": stderr.String()}
			_ = filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
				if err == nil && !info.IsDir() && path != rosterPath {
					outputs[path] = string(must(os.ReadFile(path)))
				}
				return nil
			})
			if !strings.Contains(stderr.String(), `"level":"debug"`) || len(outputs) < 5 {
				t.Fatalf("the runs did not produce debug logs and files to search (%d outputs)", len(outputs))
			}
			for _, want := range []string{"plan0.json", "plan1.json", "revert1.json"} {
				if _, ok := outputs[filepath.Join(dir, want)]; !ok {
					t.Errorf("no %s was written to search", want)
				}
			}
			if !strings.Contains(stdout.String(), "passwd: (changed) → (changed)") && !strings.Contains(stdout.String(), "password: (changed) → (changed)") {
				t.Errorf("history should show the password change as (changed):\n%s", stdout.String())
			}
			if !strings.Contains(stdout.String(), "(sensitive)") {
				t.Errorf("the plan should show the password change as (sensitive):\n%s", stdout.String())
			}
			for name, text := range outputs {
				for _, s := range secrets {
					if strings.Contains(text, s) {
						t.Errorf("%s holds a secret (%.12s…)", name, s)
					}
				}
			}
		})
	}
}

// TestSecretsInUsersFieldsStayOut seeds the fakes with users whose name,
// designation or email hold the run's secrets (the token, the login
// password, a password the roster sets for another user), as when someone
// pastes a token into a profile, and changes those fields: the plan shows
// the old values scrubbed, in text and in --output json, and neither the
// reports nor the debug logs hold a secret.
func TestSecretsInUsersFieldsStayOut(t *testing.T) {
	t.Parallel()
	const (
		token      = "TOKEN-qq4r-Secret-9917"
		loginPw    = "LOGINPW-kk22-Secret-3108"
		rosterPw   = "ROSTERPW-mm61-Secret-4460"
		smartLogin = "ops@example.com"
	)
	for _, target := range []string{"smartflo", "dnl"} {
		for _, login := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/login=%v", target, login), func(t *testing.T) {
				t.Parallel()
				// The credential this run knows: a user's field holds it.
				cred := token
				env := map[string]string{"ROSTERSYNC_TOKEN": token}
				if login {
					cred = loginPw
					env = map[string]string{"ROSTERSYNC_LOGIN": map[string]string{"smartflo": smartLogin, "dnl": "admin"}[target],
						"ROSTERSYNC_PASSWORD": loginPw}
				}
				dir := t.TempDir()
				env["XDG_STATE_HOME"] = filepath.Join(dir, "state")
				var fake fakeServer
				var roster string
				switch target {
				case "smartflo":
					users := must(smartflotest.LoadUsers("../../testdata/demo/smartflo/users.json"))
					users[0].Designation = "Lead " + cred
					users[1].Name = "Rohit " + rosterPw
					users[2].Email = cred + "@example.com"
					fake = smartflotest.New(smartflotest.Config{Token: token, Email: smartLogin, Password: loginPw, BcryptCost: 4}, users)
					roster = "id,designation,name,email,password\n" +
						fmt.Sprintf("%d,Lead,,,\n%d,,Rohit Sharma,,\n%d,,,priya@example.com,\n%d,,,,%s\n",
							users[0].ID, users[1].ID, users[2].ID, users[3].ID, rosterPw)
				case "dnl":
					users := cheapHashes(t, must(dnltest.LoadUsers("../../testdata/demo/dnl/users.json")))
					last := "Keller " + cred
					users[1].LastName = &last
					users[2].FirstName = "Olly " + rosterPw
					users[3].Email = cred + "@example.com"
					fake = dnltest.New(dnltest.Config{Token: token, Admin: "admin", Password: loginPw, BcryptCost: 4}, users)
					roster = "user_id,last_name,first_name,email,passwd\n" +
						fmt.Sprintf("%d,Keller,,,\n%d,,Olly,,\n%d,,,anju@example.com,\n%d,,,,%s\n",
							users[1].UserID, users[2].UserID, users[3].UserID, users[4].UserID, rosterPw)
				}
				srv := httptest.NewServer(fake)
				defer srv.Close()
				rosterPath := filepath.Join(dir, "roster.csv")
				must(0, os.WriteFile(rosterPath, []byte(roster), 0o600))

				outputs := map[string]string{}
				saved := filepath.Join(dir, "plan.json")
				for i, args := range [][]string{{"plan"}, {"plan", "--output", "json"}, {"plan", "--out", saved}, {"apply"}} {
					var stdout, stderr bytes.Buffer
					app := &App{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr, Getenv: func(k string) string { return env[k] },
						ledgerCost: bcrypt.MinCost}
					report := filepath.Join(dir, fmt.Sprintf("report%d.jsonl", i))
					err := app.Run(t.Context(), append(args, "--target", target, "--base-url", srv.URL, "--roster", rosterPath,
						"--report", report, "--log-level", "debug", "--log-format", "json", "--rate", "0"))
					if exitCode(err) != exitOK {
						t.Fatalf("%v: %v\n%s\n%s", args, err, stdout.String(), stderr.String())
					}
					name := strings.Join(args, " ")
					outputs[name+": stdout"], outputs[name+": stderr"] = stdout.String(), stderr.String()
					outputs[name+": report"] = string(must(os.ReadFile(report)))
				}
				// A saved plan keeps no value before that held a secret: the
				// apply would compare the user with it, and fail the row.
				outputs["saved plan"] = string(must(os.ReadFile(saved)))
				if strings.Contains(outputs["saved plan"], "[REDACTED]") {
					t.Errorf("the saved plan holds values with secrets cut out:\n%s", outputs["saved plan"])
				}
				// The old values were there to print: the plan shows them scrubbed.
				for _, name := range []string{"plan: stdout", "plan --output json: stdout"} {
					if strings.Count(outputs[name], "[REDACTED]") < 3 {
						t.Errorf("%s does not show the three scrubbed old values:\n%s", name, outputs[name])
					}
				}
				for name, text := range outputs {
					for _, s := range []string{cred, rosterPw} {
						if strings.Contains(text, s) {
							t.Errorf("%s holds a secret (%.12s…):\n%s", name, s, text)
						}
					}
				}
				// The journal holds neither the secrets nor the values with
				// them cut out: those three fields are unknown before, so
				// that a revert names them rather than writing [REDACTED]
				// into the users.
				journals := must(filepath.Glob(filepath.Join(dir, "state", "rostersync", "*.journal.jsonl")))
				if len(journals) != 1 {
					t.Fatalf("journals: %v, want one", journals)
				}
				journal := string(must(os.ReadFile(journals[0])))
				for _, s := range []string{cred, rosterPw, "[REDACTED]"} {
					if strings.Contains(journal, s) {
						t.Errorf("the journal holds %.12s…:\n%s", s, journal)
					}
				}
				if n := strings.Count(journal, `"unknown":true`); n != 3 {
					t.Errorf("the journal has %d fields unknown before, want the 3 whose values held a secret:\n%s", n, journal)
				}
			})
		}
	}
}
