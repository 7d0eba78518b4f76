package plan_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rostersync/rostersync/sync/model"
	"github.com/rostersync/rostersync/sync/plan"
	"github.com/rostersync/rostersync/sync/vendors/smartflo"
)

// TestPlanFileRecheck saves a plan with a password, a write-only field and
// plain fields, changes one user behind its back, and rechecks the file
// against the state: that row fails naming the field, its value now and
// the value the plan saw; the others get exactly the saved bodies, the
// password from the roster again; the file holds no password.
func TestPlanFileRecheck(t *testing.T) {
	_, c := startSmartflo(t, sfUsers())
	ledger := newLedger(t)
	pl := plan.Planner{Target: smartflo.Target, Reader: c, Ledger: ledger}
	rows := []model.Row{
		row(t, c, 1, "101", "designation", "Head of Quality"),
		row(t, c, 2, "103", "name", "Meera I.", "password", "N3w-secret", "caller_id", []any{"201"}),
		row(t, c, 3, "104", "name", "Renamed"),
	}
	p, err := pl.Plan(t.Context(), rows)
	if err != nil {
		t.Fatal(err)
	}
	f, err := plan.NewFile(p, "http://x", &plan.Digest{Path: "r.csv", SHA256: "abc"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	data, err := f.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), "N3w-secret") || !f.Sensitive() {
		t.Fatalf("the plan file holds the password, or does not say one is set:\n%s", data)
	}
	path := filepath.Join(t.TempDir(), "plan.json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	saved, digest, err := plan.ReadFile(path)
	if err != nil || len(digest) != 64 || len(saved.Changes) != 3 {
		t.Fatalf("ReadFile: %v, digest %q, %d changes", err, digest, len(saved.Changes))
	}

	// Someone edits user 101 between the plan and its apply.
	if _, err := c.Patch(t.Context(), "101", map[string]any{"designation": "Trainer"}); err != nil {
		t.Fatal(err)
	}
	secret := func(row int, field string) (string, bool) { return "N3w-secret", row == 2 && field == "password" }
	again, err := saved.Rows(smartflo.Target, secret)
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := pl.Plan(t.Context(), again)
	if err != nil {
		t.Fatal(err)
	}
	if err := saved.Recheck(fresh, smartflo.Target, again); err != nil {
		t.Fatal(err)
	}
	if it := fresh.Items[0]; it.Status != model.Failed || !errors.Is(it.Err, plan.ErrStale) ||
		!strings.Contains(it.Err.Error(), `designation is now "Trainer", the plan saw "Team lead"`) {
		t.Errorf("row 1: %s %v; want stale naming the field and both values", it.Status, it.Err)
	}
	jsonEqual(t, fresh.Items[1].Body, `{"name": "Meera I.", "password": "N3w-secret", "caller_id": ["201"]}`)
	jsonEqual(t, fresh.Items[2].Body, `{"name": "Renamed"}`)

	// Without the roster, the row that sets the password cannot go.
	none := func(int, string) (string, bool) { return "", false }
	again, err = saved.Rows(smartflo.Target, none)
	if err != nil {
		t.Fatal(err)
	}
	if r := again[1]; r.Err == nil || !strings.Contains(r.Err.Error(), "--roster") {
		t.Errorf("row 2 without its password: %v; want it failed saying to give --roster", r.Err)
	}
}

// TestRevertConflicts plans a revert (each field back to its value before
// a run) against users that hold the run's value (goes back), the value
// before (nothing to do) and a later value (a conflict, left alone).
func TestRevertConflicts(t *testing.T) {
	_, c := startSmartflo(t, sfUsers())
	enc := func(s string) []byte { return []byte(`"` + s + `"`) }
	f := &plan.File{Version: plan.FileVersion, Kind: "revert", Target: "smartflo", Changes: []plan.FileChange{
		{Row: 1, UserID: "101", Fields: []plan.FileField{{Field: "designation", Before: enc("Team lead"), After: enc("Agent")}}}, // still as the run left it
		{Row: 2, UserID: "103", Fields: []plan.FileField{{Field: "name", Before: enc("Meera"), After: enc("Meera Iyer")}}},       // already back
		{Row: 3, UserID: "104", Fields: []plan.FileField{{Field: "name", Before: enc("Run's value"), After: enc("Old")}}},        // changed since
	}}
	rows, err := f.Rows(smartflo.Target, nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := plan.Planner{Target: smartflo.Target, Reader: c}.Plan(t.Context(), rows)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Conflicts(p, smartflo.Target); err != nil {
		t.Fatal(err)
	}
	jsonEqual(t, p.Items[0].Body, `{"designation": "Agent"}`)
	if p.Items[1].Status != model.Unchanged {
		t.Errorf("row 2: %s %v; want unchanged", p.Items[1].Status, p.Items[1].Err)
	}
	if it := p.Items[2]; it.Status != model.Failed || !errors.Is(it.Err, plan.ErrConflict) ||
		!strings.Contains(it.Err.Error(), `name is now "Unchanged User"`) {
		t.Errorf("row 3: %s %v; want a conflict naming the value now", it.Status, it.Err)
	}
}

// TestRecheckRowZero rechecks a saved plan whose changes share row 0 (the
// absent users): each item is checked against, and gets the body of, its
// own change.
func TestRecheckRowZero(t *testing.T) {
	_, c := startSmartflo(t, sfUsers())
	enc := func(s string) []byte { return []byte(`"` + s + `"`) }
	f := &plan.File{Version: plan.FileVersion, Kind: "plan", Target: "smartflo", Changes: []plan.FileChange{
		{Row: 0, UserID: "101", Fields: []plan.FileField{{Field: "designation", Before: enc("Team lead"), After: enc("Lead")}},
			Body: map[string]any{"designation": "Lead"}},
		{Row: 0, UserID: "103", Fields: []plan.FileField{{Field: "name", Before: enc("Meera Iyer"), After: enc("Meera")}},
			Body: map[string]any{"name": "Meera"}},
	}}
	rows, err := f.Rows(smartflo.Target, nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := plan.Planner{Target: smartflo.Target, Reader: c}.Plan(t.Context(), rows)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Recheck(p, smartflo.Target, rows); err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{`{"designation": "Lead"}`, `{"name": "Meera"}`} {
		if p.Items[i].Status != model.Planned {
			t.Fatalf("item %d: %s %v", i, p.Items[i].Status, p.Items[i].Err)
		}
		jsonEqual(t, p.Items[i].Body, want)
	}
}
