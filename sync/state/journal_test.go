package state

import (
	"encoding/json"
	"os"
	"testing"
	"time"
)

// TestJournalSurvivesATornLine journals a run, cuts the file mid-entry as
// kill -9 can, and starts another run: the reader gets every whole entry
// of both runs, the first without an end, and nothing of the torn one.
func TestJournalSurvivesATornLine(t *testing.T) {
	dir := t.TempDir()
	start := Entry{Run: NewRunID(time.Now()), Command: "apply", Target: "dnl", BaseURL: "http://x"}
	j, err := OpenJournal(dir, start)
	if err != nil {
		t.Fatal(err)
	}
	for _, user := range []string{"3", "4"} {
		if err := j.Change(Entry{Row: 1, User: user, Fields: []FieldChange{{Field: "active", Before: json.RawMessage("true"), After: json.RawMessage("false")}}}); err != nil {
			t.Fatal(err)
		}
	}
	// kill -9 half way through the next entry.
	f, err := os.OpenFile(journalPath(dir, "dnl", "http://x"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.WriteString(`{"run":"` + start.Run + `","type":"change","user":"5","fie`)
	f.Close()

	second := Entry{Run: NewRunID(time.Now().Add(time.Second)), Command: "apply", Target: "dnl", BaseURL: "http://x"}
	j2, err := OpenJournal(dir, second)
	if err != nil {
		t.Fatal(err)
	}
	if err := j2.End(map[string]int{"applied": 0}, 0); err != nil {
		t.Fatal(err)
	}
	runs, err := Runs(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 2 {
		t.Fatalf("%d runs, want 2", len(runs))
	}
	first, err := FindRun(runs, start.Run)
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Changes) != 2 || first.End != nil || first.Changes[1].User != "4" {
		t.Errorf("first run: %d changes, end %v; want users 3 and 4 and no end", len(first.Changes), first.End)
	}
	if r, _ := FindRun(runs, second.Run); r == nil || r.End == nil || *r.End.Exit != 0 {
		t.Errorf("second run: %+v; want its end with exit 0", r)
	}
	if info, err := os.Stat(journalPath(dir, "dnl", "http://x")); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("journal mode %v (%v), want 0600", info.Mode().Perm(), err)
	}
}
