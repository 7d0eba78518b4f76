package main

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// answering wraps the harness's fake: a request for which answer returns
// a body is answered 200 with it, as a server that reports failure in the
// body does; the fake never sees it. Every other request reaches the fake.
func (h *harness) answering(answer func(r *http.Request) string) {
	h.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if body := answer(r); body != "" {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, body)
			return
		}
		h.fake.ServeHTTP(w, r)
	})
}

// TestSuccessFalseInA200FailsTheRow answers PATCHes 200 with a body whose
// success is falsy in each way a vendor writes it (Smartflo's own
// documentation writes the string "false"): each such row fails with the
// vendor's message, the good row is applied, and the exit code is 1.
func TestSuccessFalseInA200FailsTheRow(t *testing.T) {
	t.Parallel()
	falsy := []string{`"false"`, `"FALSE"`, `0`, `false`}
	type target struct {
		roster string
		ids    []string // the users of the roster's rows, in order
		body   func(success string) string
	}
	targets := map[string]target{
		"smartflo": {
			roster: "id,designation\n314678,Said no 1\n314702,Said no 2\n314735,Said no 3\n314790,Said no 4\n315011,Said yes\n",
			ids:    []string{"314678", "314702", "314735", "314790", "315011"},
			body: func(success string) string {
				return `{"success": ` + success + `, "message": "Could not update the user"}`
			},
		},
		"dnl": {
			roster: "user_id,last_name\n2,Said no 1\n3,Said no 2\n4,Said no 3\n16,Said no 4\n5,Said yes\n",
			ids:    []string{"2", "3", "4", "16", "5"},
			body: func(success string) string {
				return `{"success": ` + success + `, "error_type": "Could not update the user"}`
			},
		},
	}
	forEachTarget(t, func(t *testing.T, h *harness, _ e2eCase) {
		tg := targets[h.target]
		bad := map[string]string{}
		for i, v := range falsy {
			bad["/v1/user/"+tg.ids[i]] = tg.body(v)
		}
		h.answering(func(r *http.Request) string {
			if r.Method == http.MethodPatch {
				return bad[r.URL.Path]
			}
			return ""
		})
		out := filepath.Join(h.dir, "r.csv")
		res := h.run("apply", "--roster", h.file("roster.csv", tg.roster), "--report", out)
		if res.code != exitRowsFailed {
			t.Fatalf("exit %d, want 1 (rows failed)\n%s\n%s", res.code, res.stdout, res.stderr)
		}
		rows := readReport(t, out, len(tg.ids))
		for i, v := range falsy {
			r := rows[i+1]
			if r.Status != "failed" || !strings.Contains(r.Error, "Could not update the user") || r.HTTPStatus != 200 {
				t.Errorf("success %s: row %d is %s (HTTP %d, %q); want failed with the vendor's message",
					v, r.Row, r.Status, r.HTTPStatus, r.Error)
			}
		}
		if r := rows[len(tg.ids)]; r.Status != "applied" {
			t.Errorf("the good row is %s %q, want applied", r.Status, r.Error)
		}
		if res.writes != 1 {
			t.Errorf("the fake took %d writes, want 1", res.writes)
		}
	})
}

// TestExpiryInA200WithSuccessFalse answers the first PATCH 200 with
// {"success": "false", "message": "Token has expired"}: with a login the
// token is renewed and the change sent again; with a fixed token the run
// stops (exit 2). The row is never reported applied unless it was.
func TestExpiryInA200WithSuccessFalse(t *testing.T) {
	t.Parallel()
	const roster = "id,designation\n314678,Renewed 1\n314702,Renewed 2\n"
	for _, login := range []bool{true, false} {
		t.Run(fmt.Sprintf("login=%v", login), func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, "smartflo")
			if login {
				h.env = map[string]string{"ROSTERSYNC_LOGIN": "admin@example.com", "ROSTERSYNC_PASSWORD": "s3cret-pw",
					"XDG_STATE_HOME": h.env["XDG_STATE_HOME"]}
			}
			var once sync.Once
			h.answering(func(r *http.Request) string {
				expired := ""
				if r.Method == http.MethodPatch {
					once.Do(func() { expired = `{"success": "false", "message": "Token has expired"}` })
				}
				return expired
			})
			out := filepath.Join(h.dir, "r.csv")
			res := h.run("apply", "--roster", h.file("roster.csv", roster), "--report", out, "--workers", "1")
			rows := readReport(t, out, 2)
			for _, r := range rows {
				id := map[int]int64{1: 314678, 2: 314702}[r.Row]
				u, _ := h.sf.User(id)
				if changed := u.Designation == fmt.Sprintf("Renewed %d", r.Row); changed != (r.Status == "applied") {
					t.Errorf("row %d is %s, and the fake holding the change is %v", r.Row, r.Status, changed)
				}
			}
			if !login {
				if res.code != exitNotStarted || !strings.Contains(res.stderr, "Token has expired") {
					t.Errorf("fixed token: exit %d, want 2 naming the expiry\n%s", res.code, res.stderr)
				}
				return
			}
			if res.code != exitOK {
				t.Fatalf("exit %d, want 0 after renewing the token\n%s", res.code, res.stderr)
			}
			if h.sf.Logins()+h.sf.Refreshes() < 2 {
				t.Errorf("%d logins and %d refreshes: the expired token was not renewed", h.sf.Logins(), h.sf.Refreshes())
			}
		})
	}
}
