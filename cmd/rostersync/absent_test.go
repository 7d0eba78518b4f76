package main

import (
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rostersync/rostersync/report"
	"github.com/rostersync/rostersync/sync/vendors/dnl/dnltest"
	"github.com/rostersync/rostersync/sync/vendors/smartflo/smartflotest"
)

// absentHarness serves 100 generated users: on Smartflo odd ids have role
// 54630 and even ids 54631; on DNL every user is an agent but 98, an
// admin, and 99, a client.
func absentHarness(t *testing.T, target string) *harness {
	t.Helper()
	h := &harness{t: t, target: target, dir: t.TempDir()}
	switch target {
	case "smartflo":
		users := smartflotest.Generate(100)
		for i := range users {
			if users[i].ID%2 == 1 {
				users[i].RoleID, users[i].RoleName = 54630, "Quality"
			}
		}
		h.sf = smartflotest.New(smartflotest.Config{Token: testToken, BcryptCost: 4}, users)
		h.fake = h.sf
	case "dnl":
		users := dnltest.Generate(100)
		users[97].UserType, users[98].UserType = "admin", "client"
		h.dnl = dnltest.New(dnltest.Config{Token: testToken, BcryptCost: 4}, users)
		h.fake = h.dnl
	}
	h.srv = httptest.NewServer(h.fake)
	t.Cleanup(h.srv.Close)
	h.env = map[string]string{"ROSTERSYNC_TOKEN": testToken, "XDG_STATE_HOME": filepath.Join(h.dir, "state")}
	return h
}

// blocked returns the ids of the users the fake holds blocked.
func (h *harness) blocked() []string {
	var ids []string
	if h.sf != nil {
		for _, u := range h.sf.Users() {
			if u.Blocked {
				ids = append(ids, fmt.Sprint(u.ID))
			}
		}
		return ids
	}
	for _, u := range h.dnl.Users() {
		if !u.Active {
			ids = append(ids, fmt.Sprint(u.UserID))
		}
	}
	return ids
}

// namingRoster writes a roster of the key column alone, naming ids.
func (h *harness) namingRoster(name string, ids ...int) string {
	var b strings.Builder
	b.WriteString(map[string]string{"smartflo": "id", "dnl": "user_id"}[h.target] + "\n")
	for _, id := range ids {
		fmt.Fprintf(&b, "%d\n", id)
	}
	return h.file(name, b.String())
}

func seq(from, to int) []int {
	var out []int
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}

// TestAbsentUsersBlocked: 100 users, a roster naming 95 of them (on DNL
// the admin is among the rest and never counts). --absent report lists
// the others and sends nothing; --absent block blocks exactly them (report
// rows with row 0, applied) and nobody else; a second run sends nothing.
func TestAbsentUsersBlocked(t *testing.T) {
	for _, target := range []string{"smartflo", "dnl"} {
		t.Run(target, func(t *testing.T) {
			t.Parallel()
			h := absentHarness(t, target)
			roster := h.namingRoster("roster.csv", seq(1, 95)...)
			absent := map[string][]string{"smartflo": {"96", "97", "98", "99", "100"}, "dnl": {"96", "97", "99", "100"}}[target]

			rep := h.run("plan", "--roster", roster, "--absent", "report", "--report", filepath.Join(h.dir, "report.csv"))
			if rep.code != exitOK || rep.writes != 0 {
				t.Fatalf("--absent report: exit %d, %d writes\n%s", rep.code, rep.writes, rep.stderr)
			}
			for _, id := range absent {
				if !strings.Contains(rep.stdout, "- user "+id+": not in the roster") {
					t.Errorf("--absent report does not list user %s:\n%s", id, rep.stdout)
				}
			}

			for _, r := range h.requests() {
				if r.Method == "GET" && !strings.Contains(r.Path, "users") && !strings.Contains(r.Path, "list") {
					t.Errorf("a one-user read (%s): absent users must come from the listing alone", r.Path)
				}
			}
			out := filepath.Join(h.dir, "block.csv")
			res := h.run("apply", "--roster", roster, "--absent", "block", "--report", out)
			if res.code != exitOK || res.writes != len(absent) {
				t.Fatalf("--absent block: exit %d, %d writes; want 0, %d\n%s", res.code, res.writes, len(absent), res.stderr)
			}
			if got := h.blocked(); strings.Join(got, ",") != strings.Join(absent, ",") {
				t.Errorf("blocked %v, want exactly %v", got, absent)
			}
			rows := 0
			for _, r := range must(report.ReadFile(out)) {
				if r.Row == 0 {
					rows++
					if r.Status != "applied" || r.Key != r.UserID || r.Error != "" {
						t.Errorf("absent row: %+v; want applied, keyed by the user id", r)
					}
				}
			}
			if rows != len(absent) {
				t.Errorf("%d report rows with row 0, want %d", rows, len(absent))
			}
			again := h.run("apply", "--roster", roster, "--absent", "block", "--report", filepath.Join(h.dir, "again.csv"))
			if again.code != exitOK || again.writes != 0 {
				t.Errorf("second run: exit %d, %d writes; want 0, 0\n%s", again.code, again.writes, again.stderr)
			}
		})
	}
}

// TestAbsentScopeAndKeep limits the blocks to one role (Smartflo) or user
// type (DNL), protects users --keep lists, and never blocks DNL's admin
// unless the scope names admins.
func TestAbsentScopeAndKeep(t *testing.T) {
	cases := []struct {
		target, scope, keep string
		want                []string
	}{
		{"smartflo", "user_role=54630", "", []string{"91", "93", "95", "97", "99"}},
		{"smartflo", "user_role=54630", "id\n93\n777\n", []string{"91", "95", "97", "99"}},
		{"dnl", "user_type=agent", "", []string{"91", "92", "93", "94", "95", "96", "97", "100"}},
		{"dnl", "", "user_id\n92\n", []string{"91", "93", "94", "95", "96", "97", "99", "100"}},
		{"dnl", "user_type=admin", "", []string{"98"}},
	}
	for _, c := range cases {
		t.Run(c.target+"/"+c.scope+"/"+strings.ReplaceAll(c.keep, "\n", " "), func(t *testing.T) {
			t.Parallel()
			h := absentHarness(t, c.target)
			args := []string{"--roster", h.namingRoster("roster.csv", seq(1, 90)...), "--absent", "block", "--max-block-share", "20",
				"--report", filepath.Join(h.dir, "r.csv")}
			if c.scope != "" {
				args = append(args, "--scope", c.scope)
			}
			if c.keep != "" {
				args = append(args, "--keep", h.file("keep.csv", c.keep))
			}
			res := h.run("apply", args...)
			if res.code != exitOK {
				t.Fatalf("exit %d\n%s", res.code, res.stderr)
			}
			if got := h.blocked(); strings.Join(got, ",") != strings.Join(c.want, ",") {
				t.Errorf("blocked %v, want %v", got, c.want)
			}
			if strings.Contains(c.keep, "777") && !strings.Contains(res.stderr, "777") {
				t.Errorf("the unknown --keep value 777 is not reported:\n%s", res.stderr)
			}
		})
	}
}

// TestTruncatedRosterRefused applies a full roster, then one cut to half:
// refused with exit 3 and no write, naming both numbers; --max-roster-shrink
// 60 lets it past that guard, where the block-share guard still refuses;
// an empty roster is always refused.
func TestTruncatedRosterRefused(t *testing.T) {
	for _, target := range []string{"smartflo", "dnl"} {
		t.Run(target, func(t *testing.T) {
			t.Parallel()
			h := absentHarness(t, target)
			scope := map[string]string{"smartflo": "user_role=54631", "dnl": "user_type=agent"}[target]
			full := h.run("apply", "--roster", h.namingRoster("full.csv", seq(1, 100)...), "--absent", "block", "--scope", scope,
				"--report", filepath.Join(h.dir, "full.csv.report.csv"))
			if full.code != exitOK || full.writes != 0 {
				t.Fatalf("full roster: exit %d, %d writes\n%s", full.code, full.writes, full.stderr)
			}
			named := map[string]int{"smartflo": 50, "dnl": 98}[target] // users in scope the full roster names
			half := h.namingRoster("half.csv", seq(1, 50)...)
			halfNamed := map[string]int{"smartflo": 25, "dnl": 50}[target]
			res := h.run("apply", "--roster", half, "--absent", "block", "--scope", scope, "--report", filepath.Join(h.dir, "r1.csv"))
			if res.code != exitRefused || res.writes != 0 ||
				!strings.Contains(res.stderr, fmt.Sprintf("names %d users in scope", halfNamed)) || !strings.Contains(res.stderr, fmt.Sprintf("of the %d the last applied roster named", named)) {
				t.Fatalf("half roster: exit %d, %d writes; want 3, 0, naming %d and %d\n%s", res.code, res.writes, halfNamed, named, res.stderr)
			}
			plan := h.run("plan", "--roster", half, "--absent", "block", "--scope", scope, "--report", filepath.Join(h.dir, "p.csv"))
			if !strings.Contains(plan.stdout, fmt.Sprintf("the last applied roster named %d", named)) || !strings.Contains(plan.stdout, "apply would REFUSE") {
				t.Errorf("plan does not say where the run stands:\n%s", plan.stdout)
			}
			res = h.run("apply", "--roster", half, "--absent", "block", "--scope", scope, "--max-roster-shrink", "60", "--report", filepath.Join(h.dir, "r2.csv"))
			if res.code != exitRefused || res.writes != 0 || !strings.Contains(res.stderr, "--max-block-share") {
				t.Fatalf("--max-roster-shrink 60: exit %d, %d writes; want the block-share guard to refuse\n%s", res.code, res.writes, res.stderr)
			}
			res = h.run("apply", "--roster", half, "--absent", "block", "--scope", scope, "--max-roster-shrink", "60",
				"--max-block-share", "60", "--max-changes", "1000", "--report", filepath.Join(h.dir, "r3.csv"))
			if res.code != exitOK || res.writes != named-halfNamed {
				t.Fatalf("both raised: exit %d, %d writes; want 0, %d\n%s", res.code, res.writes, named-halfNamed, res.stderr)
			}

			empty := h.namingRoster("empty.csv")
			res = h.run("apply", "--roster", empty, "--absent", "block", "--report", filepath.Join(h.dir, "r4.csv"))
			if res.code != exitRefused || res.writes != 0 || !strings.Contains(res.stderr, "no rows") {
				t.Errorf("empty roster: exit %d, %d writes; want 3, 0\n%s", res.code, res.writes, res.stderr)
			}
		})
	}
}

// TestRevertAnAbsenceRun reverts a run that blocked absent users: exactly
// those users are unblocked.
func TestRevertAnAbsenceRun(t *testing.T) {
	for _, target := range []string{"smartflo", "dnl"} {
		t.Run(target, func(t *testing.T) {
			t.Parallel()
			h := absentHarness(t, target)
			h.behind("3", map[string]any{blockField[target][0]: target == "smartflo"}) // blocked before, by someone else
			res := h.run("apply", "--roster", h.namingRoster("r.csv", seq(4, 100)...), "--absent", "block", "--report", filepath.Join(h.dir, "r.csv.out.csv"))
			if res.code != exitOK || res.writes != 2 {
				t.Fatalf("block: exit %d, %d writes; want 0, 2 (users 1 and 2)\n%s", res.code, res.writes, res.stderr)
			}
			planFile := filepath.Join(h.dir, "undo.json")
			if rv := h.bare("revert", runID(t, res), "--out", planFile, "--report", filepath.Join(h.dir, "rv.csv"), "--rate", "0"); rv.code != exitOK {
				t.Fatalf("revert: exit %d\n%s", rv.code, rv.stderr)
			}
			if ap := h.bare("apply", "--plan", planFile, "--report", filepath.Join(h.dir, "undo.csv"), "--rate", "0"); ap.code != exitOK || ap.writes != 2 {
				t.Fatalf("apply the revert: exit %d, %d writes; want 0, 2\n%s", ap.code, ap.writes, ap.stderr)
			}
			if got := h.blocked(); strings.Join(got, ",") != "3" {
				t.Errorf("blocked %v after the revert, want only user 3, blocked before the run", got)
			}
		})
	}
}
