package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// TestGiantLineStopsTheRun reads a roster with a 50 MB line, in CSV and
// in JSON Lines: the run stops before any request, exit 2, saying which
// line and why, without a panic.
func TestGiantLineStopsTheRun(t *testing.T) {
	t.Parallel()
	giant := strings.Repeat("x", 50<<20)
	for _, tt := range []struct {
		name, roster string
		line         int
	}{
		{"roster.csv", "user_id,last_name\n2,Morales\n3," + giant + "\n4,Iyer\n", 3},
		{"roster.jsonl", "{\"user_id\": 2}\n{\"user_id\": 3, \"last_name\": \"" + giant + "\"}\n", 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, "dnl")
			roster := h.file(tt.name, tt.roster)
			res := h.run("apply", "--roster", roster, "--report", filepath.Join(h.dir, "r.csv"))
			if res.code != exitNotStarted || len(h.requests()) != 0 {
				t.Fatalf("exit %d, %d requests; want 2 and none\n%.2000s", res.code, len(h.requests()), res.stderr)
			}
			if want := fmt.Sprintf("roster %s: line %d: a record longer than 4 MiB", roster, tt.line); !strings.Contains(res.stderr, want) {
				t.Errorf("the error does not say %q:\n%.2000s", want, res.stderr)
			}
			if len(res.stderr) > 10_000 {
				t.Errorf("stderr holds %d bytes", len(res.stderr))
			}
		})
	}
}
