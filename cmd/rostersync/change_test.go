package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rostersync/rostersync/sync/plan"
	"github.com/rostersync/rostersync/sync/vendors"
	"github.com/rostersync/rostersync/sync/vendors/dnl/dnltest"
	"github.com/rostersync/rostersync/sync/vendors/rest"
	"github.com/rostersync/rostersync/sync/vendors/smartflo/smartflotest"
	"golang.org/x/crypto/bcrypt"
)

// generated returns a harness whose fake holds n generated users, ids 1
// to n, served through wrap when it is not nil.
func generated(t *testing.T, target string, n int, wrap func(http.Handler) http.Handler) *harness {
	t.Helper()
	h := &harness{t: t, target: target, dir: t.TempDir()}
	switch target {
	case "smartflo":
		h.sf = smartflotest.New(smartflotest.Config{Token: testToken, BcryptCost: 4}, smartflotest.Generate(n))
		h.fake = h.sf
	case "dnl":
		h.dnl = dnltest.New(dnltest.Config{Token: testToken, BcryptCost: 4}, dnltest.Generate(n))
		h.fake = h.dnl
	}
	var handler http.Handler = h.fake
	if wrap != nil {
		handler = wrap(handler)
	}
	h.srv = httptest.NewServer(handler)
	t.Cleanup(h.srv.Close)
	h.env = map[string]string{"ROSTERSYNC_TOKEN": testToken, "XDG_STATE_HOME": filepath.Join(h.dir, "state")}
	return h
}

// bare runs rostersync with args as they are (runs, history, revert take
// their target from the journal).
func (h *harness) bare(args ...string) result {
	h.t.Helper()
	var out, errOut bytes.Buffer
	app := &App{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut, Getenv: func(k string) string { return h.env[k] }}
	before := h.fake.Writes()
	err := app.Run(context.Background(), args)
	return result{code: exitCode(err), stdout: out.String(), stderr: errOut.String() + errText(err), writes: h.fake.Writes() - before}
}

// behind changes a user at the target as someone else would, not through
// rostersync's run.
func (h *harness) behind(id string, body map[string]any) {
	h.t.Helper()
	v := must(vendors.Lookup(h.target))
	if _, err := v.New(rest.Config{BaseURL: h.srv.URL, Token: testToken}).Patch(h.t.Context(), id, body); err != nil {
		h.t.Fatal(err)
	}
}

// blockField is each target's field and value that blocks a user.
var blockField = map[string][2]string{"smartflo": {"block_agent", "true"}, "dnl": {"active", "false"}}

// nameField is each target's plain text field the tests rename users by.
var nameField = map[string]string{"smartflo": "name", "dnl": "first_name"}

// TestSavedPlan saves a plan, has a user changed behind its back, then
// applies the plan: exactly that row fails, naming the field, its value
// now and the value the plan saw; the others get exactly the planned
// bodies; the same plan a second time is refused.
func TestSavedPlan(t *testing.T) {
	for _, target := range []string{"smartflo", "dnl"} {
		t.Run(target, func(t *testing.T) {
			t.Parallel()
			h := generated(t, target, 10, nil)
			field := nameField[h.target]
			key := map[string]string{"smartflo": "id", "dnl": "user_id"}[target]
			roster := numberedRoster(t, h.dir, key+","+field, 5, func(i int) string { return fmt.Sprintf("%d,Planned %d", i, i) })
			planPath := filepath.Join(h.dir, "plan.json")
			if res := h.run("plan", "--roster", roster, "--report", filepath.Join(h.dir, "plan.csv"), "--out", planPath); res.code != exitOK || res.writes != 0 {
				t.Fatalf("plan --out: exit %d, %d writes\n%s", res.code, res.writes, res.stderr)
			}
			if info := must(os.Stat(planPath)); info.Mode().Perm() != 0o600 {
				t.Errorf("plan file mode %v, want 0600", info.Mode().Perm())
			}
			saved, _, err := plan.ReadFile(planPath)
			if err != nil || saved.Version != plan.FileVersion || len(saved.Changes) != 5 {
				t.Fatalf("plan file: %v, %+v", err, saved)
			}

			h.behind("3", map[string]any{field: "Changed Behind"})
			out := filepath.Join(h.dir, "apply.csv")
			res := h.bare("apply", "--plan", planPath, "--report", out, "--rate", "0")
			if res.code != exitRowsFailed || res.writes != 4 {
				t.Fatalf("apply --plan: exit %d, %d writes; want 1 and 4\n%s", res.code, res.writes, res.stderr)
			}
			rows := readReport(t, out, 5)
			want := map[string]string{"smartflo": `name is now "Changed Behind", the plan saw "User 3"`,
				"dnl": `first_name is now "Changed Behind", the plan saw ""`}[target]
			if r := rows[3]; r.Status != "failed" || !strings.Contains(r.Error, want) {
				t.Errorf("row 3: %s %q; want failed with %q", r.Status, r.Error, want)
			}
			bodies := map[string]string{}
			for _, r := range h.requests() {
				if r.Method == http.MethodPatch {
					bodies[r.Path[strings.LastIndexByte(r.Path, '/')+1:]] = string(r.Body)
				}
			}
			for _, c := range saved.Changes {
				if c.UserID == "3" {
					continue
				}
				wantBody := string(must(json.Marshal(c.Body)))
				if rows[c.Row].Status != "applied" || bodies[c.UserID] != wantBody {
					t.Errorf("row %d: %s, sent %s; want applied with the planned body %s", c.Row, rows[c.Row].Status, bodies[c.UserID], wantBody)
				}
			}
			again := h.bare("apply", "--plan", planPath, "--report", filepath.Join(h.dir, "again.csv"), "--rate", "0")
			if again.code != exitNotStarted || again.writes != 0 || !strings.Contains(again.stderr, "was applied already") {
				t.Errorf("the same plan again: exit %d, %d writes; want 2, refused\n%s", again.code, again.writes, again.stderr)
			}
			if wrong := h.bare("apply", "--plan", planPath, "--target", "other", "--report", filepath.Join(h.dir, "w.csv")); wrong.code != exitNotStarted || wrong.writes != 0 {
				t.Errorf("--target other than the plan's: exit %d, %d writes; want 2, 0", wrong.code, wrong.writes)
			}
		})
	}
}

// dropping serves next, but takes field out of every PATCH body first: a
// target that answers 200 yet does not apply part of a change.
func dropping(field string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPatch {
				var body map[string]any
				data, _ := io.ReadAll(r.Body)
				if json.Unmarshal(data, &body) == nil {
					delete(body, field)
					data = must(json.Marshal(body))
				}
				r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(data)), int64(len(data))
			}
			next.ServeHTTP(w, r)
		})
	}
}

// TestVerifiedWrites applies to a target that silently drops one field:
// the rows that set it fail with the value read back; with --verify=false
// they are reported applied.
func TestVerifiedWrites(t *testing.T) {
	for _, target := range []string{"smartflo", "dnl"} {
		t.Run(target, func(t *testing.T) {
			t.Parallel()
			dropped := map[string]string{"smartflo": "login_id", "dnl": "last_name"}[target]
			key := map[string]string{"smartflo": "id", "dnl": "user_id"}[target]
			h := generated(t, target, 6, dropping(dropped))
			roster := numberedRoster(t, h.dir, key+","+nameField[target]+","+dropped, 4, func(i int) string {
				if i <= 2 {
					return fmt.Sprintf("%d,Verified %d,", i, i) // the dropped field not set: takes
				}
				return fmt.Sprintf("%d,Verified %d,dropped%d", i, i, i)
			})
			out := filepath.Join(h.dir, "r.csv")
			res := h.run("apply", "--roster", roster, "--report", out, "--summary", filepath.Join(h.dir, "s.json"))
			if res.code != exitRowsFailed {
				t.Fatalf("exit %d, want 1\n%s", res.code, res.stderr)
			}
			rows := readReport(t, out, 4)
			for i := 1; i <= 4; i++ {
				r := rows[i]
				if i <= 2 && r.Status != "applied" {
					t.Errorf("row %d: %s %q, want applied", i, r.Status, r.Error)
				}
				if i > 2 && (r.Status != "failed" || !strings.Contains(r.Error, "the target accepted the change (HTTP 200) but reads back") ||
					!strings.Contains(r.Error, " for "+dropped)) {
					t.Errorf("row %d: %s %q, want failed naming %s read back", i, r.Status, r.Error, dropped)
				}
			}
			var s summary
			if err := json.Unmarshal(must(os.ReadFile(filepath.Join(h.dir, "s.json"))), &s); err != nil || s.Verified != 2 || s.Mismatched != 2 {
				t.Errorf("summary: %d verified, %d mismatched (%v); want 2 and 2", s.Verified, s.Mismatched, err)
			}

			roster2 := numberedRoster(t, h.dir, key+","+nameField[target]+","+dropped, 2, func(i int) string {
				return fmt.Sprintf("%d,Unverified %d,again%d", i+4, i, i)
			})
			off := filepath.Join(h.dir, "off.csv")
			if res := h.run("apply", "--roster", roster2, "--report", off, "--verify=false"); res.code != exitOK {
				t.Fatalf("--verify=false: exit %d\n%s", res.code, res.stderr)
			}
			for _, r := range readReport(t, off, 2) {
				if r.Status != "applied" {
					t.Errorf("--verify=false row %d: %s %q, want applied", r.Row, r.Status, r.Error)
				}
			}
		})
	}
}

// runID returns the run id an apply printed on its report line.
func runID(t *testing.T, res result) string {
	t.Helper()
	_, after, ok := strings.Cut(res.stdout, ", run ")
	if !ok {
		t.Fatalf("no run id in the output:\n%s", res.stdout)
	}
	return strings.TrimSuffix(strings.Fields(after)[0], ")")
}

// TestMassBlockThenRevert blocks 50 of 60 users, has one of them renamed
// behind the run's back, then reverts the run and applies the revert:
// every user is as before the block, but the one changed since, which
// fails as a conflict and is left as it is.
func TestMassBlockThenRevert(t *testing.T) {
	for _, target := range []string{"smartflo", "dnl"} {
		t.Run(target, func(t *testing.T) {
			t.Parallel()
			h := generated(t, target, 60, nil)
			key := map[string]string{"smartflo": "id", "dnl": "user_id"}[target]
			block := blockField[target]
			before := h.snapshot()
			// The block also marks each leaver's name, as offboarding often
			// does; a user renamed since the run is a later change.
			roster := numberedRoster(t, h.dir, key+","+nameField[target], 50, func(i int) string { return fmt.Sprintf("%d,Leaver %d", i, i) })
			res := h.run("apply", "--roster", roster, "--set", block[0]+"="+block[1], "--max-block-share", "100",
				"--report", filepath.Join(h.dir, "block.csv"))
			if res.code != exitOK || res.writes != 50 {
				t.Fatalf("block: exit %d, %d writes\n%s", res.code, res.writes, res.stderr)
			}
			id := runID(t, res)
			h.behind("7", map[string]any{nameField[target]: "Rehired"})

			revertPlan := filepath.Join(h.dir, "revert.json")
			rv := h.bare("revert", id, "--out", revertPlan, "--report", filepath.Join(h.dir, "revert.csv"), "--rate", "0")
			if rv.code != exitRowsFailed || rv.writes != 0 || !strings.Contains(rv.stdout, "changed again since that run") {
				t.Fatalf("revert: exit %d, %d writes; want 1 (the conflict), 0\n%s\n%s", rv.code, rv.writes, rv.stdout, rv.stderr)
			}
			ap := h.bare("apply", "--plan", revertPlan, "--report", filepath.Join(h.dir, "undo.csv"), "--rate", "0", "--max-changes", "1000")
			if ap.code != exitOK || ap.writes != 49 {
				t.Fatalf("apply the revert: exit %d, %d writes; want 0, 49\n%s", ap.code, ap.writes, ap.stderr)
			}
			after := h.snapshot()
			for uid, was := range before {
				if uid == "7" {
					if after[uid] == was {
						t.Errorf("user 7 was restored over a later change")
					}
					continue
				}
				if after[uid] != was {
					t.Errorf("user %s: %s, want as before the block: %s", uid, after[uid], was)
				}
			}
		})
	}
}

// snapshot returns every user of the fake, as JSON, by id.
func (h *harness) snapshot() map[string]string {
	out := map[string]string{}
	if h.sf != nil {
		for _, u := range h.sf.Users() {
			out[fmt.Sprint(u.ID)] = string(must(json.Marshal(u)))
		}
		return out
	}
	for _, u := range h.dnl.Users() {
		out[fmt.Sprint(u.UserID)] = string(must(json.Marshal(u)))
	}
	return out
}

// TestHistoryOfABlock blocks a user in one run and unblocks it in
// another: history shows both changes with their run ids, runs lists both
// runs, and the filter by user keeps only that user.
func TestHistoryOfABlock(t *testing.T) {
	h := newHarness(t, "dnl")
	var ids []string
	for _, active := range []string{"false", "true"} {
		res := h.run("apply", "--roster", h.file("r.csv", "user_id,active\n16,"+active+"\n3,\n"), "--report", filepath.Join(h.dir, active+".csv"))
		if res.code != exitOK || res.writes != 1 {
			t.Fatalf("apply active=%s: exit %d, %d writes\n%s", active, res.code, res.writes, res.stderr)
		}
		ids = append(ids, runID(t, res))
	}
	hist := h.bare("history", "16")
	lines := strings.Split(strings.TrimSpace(hist.stdout), "\n")
	if hist.code != exitOK || len(lines) != 2 ||
		!strings.Contains(lines[0], ids[0]) || !strings.Contains(lines[0], "user 16  active: true → false") ||
		!strings.Contains(lines[1], ids[1]) || !strings.Contains(lines[1], "user 16  active: false → true") {
		t.Errorf("history 16: exit %d\n%s\nwant the block in %s and the unblock in %s", hist.code, hist.stdout, ids[0], ids[1])
	}
	if other := h.bare("history", "3"); !strings.Contains(other.stdout, "No changes") {
		t.Errorf("history 3 shows changes of another user:\n%s", other.stdout)
	}
	runs := h.bare("runs", "--target", "dnl")
	if runs.code != exitOK || !strings.Contains(runs.stdout, ids[0]) || !strings.Contains(runs.stdout, ids[1]) ||
		!strings.Contains(runs.stdout, "1 applied, 1 unchanged, exit 0") {
		t.Errorf("runs:\n%s", runs.stdout)
	}
}

// TestSavedPlanWithPasswords saves a plan that sets passwords: applied
// without --roster, those rows fail saying so; with a roster whose content
// is not the plan's, nothing starts; with the plan's own roster, the
// passwords go out and reach the target.
func TestSavedPlanWithPasswords(t *testing.T) {
	h := generated(t, "smartflo", 4, nil)
	roster := h.file("roster.csv", "id,name,password\n1,Asha,Pw-one-1111\n2,Ravi,\n3,Meera,Pw-three-333\n")
	save := func(name string) string {
		path := filepath.Join(h.dir, name)
		if res := h.run("plan", "--roster", roster, "--report", filepath.Join(h.dir, name+".csv"), "--out", path); res.code != exitOK {
			t.Fatalf("plan --out: exit %d\n%s", res.code, res.stderr)
		}
		return path
	}
	first := save("first.json")
	res := h.bare("apply", "--plan", first, "--report", filepath.Join(h.dir, "a.csv"), "--rate", "0")
	rows := readReport(t, filepath.Join(h.dir, "a.csv"), 3)
	if res.code != exitRowsFailed || res.writes != 1 || rows[2].Status != "applied" ||
		rows[1].Status != "failed" || !strings.Contains(rows[1].Error, "apply the plan with --roster") {
		t.Fatalf("without --roster: exit %d, %d writes, rows %v; want the password rows failed saying why\n%s", res.code, res.writes, rows, res.stderr)
	}

	second := save("second.json")
	other := h.file("other.csv", "id,name,password\n1,Asha,Pw-one-1111\n3,Meera,Pw-three-333\n")
	if res := h.bare("apply", "--plan", second, "--roster", other, "--report", filepath.Join(h.dir, "b.csv")); res.code != exitNotStarted || res.writes != 0 {
		t.Errorf("another roster: exit %d, %d writes; want 2, 0\n%s", res.code, res.writes, res.stderr)
	}
	if res := h.bare("apply", "--plan", second, "--roster", roster, "--report", filepath.Join(h.dir, "c.csv"), "--rate", "0"); res.code != exitOK || res.writes != 2 {
		t.Fatalf("the plan's roster: exit %d, %d writes; want 0, 2\n%s", res.code, res.writes, res.stderr)
	}
	if u, _ := h.sf.User(3); bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte("Pw-three-333")) != nil {
		t.Error("user 3 did not get the password from the roster")
	}
}

// TestDNLPasswordsVerifiedAndRemembered sets DNL passwords: the hash each
// PATCH is answered with is checked against the password sent (a target
// that drops it fails the row), and the ledger remembers the match, keyed,
// so that the next plan finds them unchanged without a bcrypt.
func TestDNLPasswordsVerifiedAndRemembered(t *testing.T) {
	h := generated(t, "dnl", 4, dropping("passwd_dropped_by_nobody"))
	roster := h.file("roster.csv", "user_id,passwd\n1,N3w-pass-1111\n2,N3w-pass-2222\n")
	if res := h.run("apply", "--roster", roster, "--report", filepath.Join(h.dir, "a.csv")); res.code != exitOK || res.writes != 2 {
		t.Fatalf("apply: exit %d, %d writes\n%s", res.code, res.writes, res.stderr)
	}
	ledgers, _ := filepath.Glob(filepath.Join(h.dir, "state", "rostersync", "dnl-*.jsonl"))
	var memos int
	for _, p := range ledgers {
		data := string(must(os.ReadFile(p)))
		memos += strings.Count(data, `"passwd@server":"m1$`)
		if strings.Contains(data, "N3w-pass") || strings.Contains(data, "$2a$") || strings.Contains(data, "$2b$") {
			t.Errorf("the ledger holds a password or a hash:\n%s", data)
		}
	}
	if memos != 2 {
		t.Errorf("%d remembered matches in the ledger, want 2", memos)
	}
	if res := h.run("plan", "--roster", roster, "--report", filepath.Join(h.dir, "p.csv")); res.code != exitOK || !strings.Contains(res.stdout, "0 to change") {
		t.Errorf("the next plan: exit %d; want nothing to change\n%s", res.code, res.stdout)
	}

	drops := generated(t, "dnl", 2, dropping("passwd"))
	users := dnltest.Generate(2)
	for i := range users {
		users[i].Passwd = "$2b$" + strings.TrimPrefix(string(must(bcrypt.GenerateFromPassword([]byte("old-pass"), bcrypt.MinCost))), "$2a$")
	}
	drops.dnl = dnltest.New(dnltest.Config{Token: testToken, BcryptCost: 4}, users)
	drops.fake = drops.dnl
	drops.srv.Config.Handler = dropping("passwd")(drops.dnl)
	res := drops.run("apply", "--roster", drops.file("roster.csv", "user_id,passwd,last_name\n1,N3w-pass-1111,Kept\n"), "--report", filepath.Join(drops.dir, "d.csv"))
	if rows := readReport(t, filepath.Join(drops.dir, "d.csv"), 1); res.code != exitRowsFailed || rows[1].Status != "failed" ||
		!strings.Contains(rows[1].Error, "its passwd does not match the one sent") {
		t.Errorf("a target that drops the password: exit %d, row %+v; want the row failed saying so", res.code, rows[1])
	}
}
