package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBadCellsFailTheirRows applies a roster with a NUL byte in a
// designation, an escape sequence in a name, a designation of 2 MB and a
// password holding a control character beside good rows: each bad row
// fails naming its row and field (never repeating the cell, nor the
// password), the good rows are applied, and no output or PATCH carries
// the big cell.
func TestBadCellsFailTheirRows(t *testing.T) {
	t.Parallel()
	const password = "Pw\x01-never-shown-7731"
	huge := strings.Repeat("Lead ", 400_000) // 2 MB
	rosters := map[string]string{
		"smartflo": "id,designation,name,password\n" +
			"314678,Team\x00lead,,\n" +
			"314702,,\x1b[2JRohit,\n" +
			"314735," + huge + ",,\n" +
			"314790,,," + password + "\n" +
			"315011,Night shift\tlead,,\n",
		"dnl": "user_id,last_name,first_name,passwd\n" +
			"2,Mor\x00ales,,\n" +
			"3,,\x1b[2JOlly,\n" +
			"4," + huge + ",,\n" +
			"5,,," + password + "\n" +
			"16,Night shift\tlead,,\n",
	}
	wantErr := map[string]map[int]string{
		"smartflo": {
			1: "row 1: field designation: a control character (U+0000) at character 5",
			2: "row 2: field name: a control character (U+001B) at character 1",
			3: "row 3: field designation: 1999999 characters, more than the 1000 a value may hold",
			4: "row 4: field password: a control character (U+0001) at character 3",
		},
		"dnl": {
			1: "row 1: field last_name: a control character (U+0000) at character 4",
			2: "row 2: field first_name: a control character (U+001B) at character 1",
			3: "row 3: field last_name: 1999999 characters, more than the 1000 a value may hold",
			4: "row 4: field passwd: a control character (U+0001) at character 3",
		},
	}
	forEachTarget(t, func(t *testing.T, h *harness, _ e2eCase) {
		roster := h.file("roster.csv", rosters[h.target])
		for _, run := range []struct{ cmd, output string }{{"plan", "text"}, {"plan", "json"}, {"apply", "text"}} {
			cmd, output := run.cmd, run.output
			out := filepath.Join(h.dir, cmd+"-"+output+".jsonl")
			res := h.run(cmd, "--roster", roster, "--report", out, "--output", output)
			if res.code != exitRowsFailed {
				t.Fatalf("%s: exit %d, want 1\n%.2000s", cmd, res.code, res.stderr)
			}
			rows := readReport(t, out, 5)
			for n, msg := range wantErr[h.target] {
				if r := rows[n]; r.Status != "failed" || !strings.Contains(r.Error, msg) {
					t.Errorf("%s: row %d is %s %.300q; want failed with %q", cmd, n, r.Status, r.Error, msg)
				}
			}
			if r := rows[5]; r.Status != map[string]string{"plan": "planned", "apply": "applied"}[cmd] {
				t.Errorf("%s: the good row is %s %q", cmd, r.Status, r.Error)
			}
			report := string(must(os.ReadFile(out)))
			for name, text := range map[string]string{"stdout": res.stdout, "stderr": res.stderr, "report": report} {
				if len(text) > 20_000 || strings.Contains(text, "Lead Lead Lead") {
					t.Errorf("%s %s: %d bytes, or the big cell in it", cmd, name, len(text))
				}
				if strings.Contains(text, "never-shown") || strings.ContainsRune(text, 0) || strings.ContainsRune(text, 0x1b) {
					t.Errorf("%s %s holds the password or a control character", cmd, name)
				}
			}
			if output == "json" {
				var plan jsonPlan
				if err := json.Unmarshal([]byte(res.stdout), &plan); err != nil || plan.Counts["failed"] != 4 {
					t.Errorf("%s --output json: %v, counts %v", cmd, err, plan.Counts)
				}
			}
		}
		for _, body := range h.requests() {
			if len(body.Body) > 1000 {
				t.Errorf("%s %s sent a body of %d bytes", body.Method, body.Path, len(body.Body))
			}
		}
	})
}
