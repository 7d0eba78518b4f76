package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rostersync/rostersync/report"
	"github.com/rostersync/rostersync/sync/state"
	"github.com/rostersync/rostersync/sync/vendors"
	"github.com/rostersync/rostersync/sync/vendors/dnl/dnltest"
	"github.com/rostersync/rostersync/sync/vendors/fakehttp"
	"github.com/rostersync/rostersync/sync/vendors/smartflo/smartflotest"
)

// TestOutputsNeverOverwriteInputs names, for each output flag, a file the
// run reads or another output writes, directly or through a link: the run
// stops with exit 2 before any request, and every file is as it was.
func TestOutputsNeverOverwriteInputs(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "dnl")
	roster := h.file("roster.csv", e2eCases["dnl"].roster)
	mapping := h.file("map.csv", "column,field\nuser_id,user_id\n")
	prev := h.file("prev.csv", "row,key,user_id,status,http_status,attempts,fields,error\n")
	if err := os.Symlink(roster, filepath.Join(h.dir, "link.csv")); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(roster, filepath.Join(h.dir, "hard.json")); err != nil {
		t.Fatal(err)
	}
	report := filepath.Join(h.dir, "r.csv")
	files := map[string]string{}
	for _, p := range []string{roster, mapping, prev} {
		files[p] = string(must(os.ReadFile(p)))
	}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"summary is the roster", []string{"--summary", roster}, "--summary"},
		{"metrics is the roster", []string{"--metrics-file", roster}, "--metrics-file"},
		{"report is the mapping", []string{"--map", mapping, "--report", mapping}, "--report"},
		{"summary is the report", []string{"--report", report, "--summary", report}, "--report"},
		{"summary is the resumed report", []string{"--resume", prev, "--summary", prev}, "--summary"},
		{"report through a symlink", []string{"--report", filepath.Join(h.dir, "link.csv")}, "--report"},
		{"summary through a hard link", []string{"--summary", filepath.Join(h.dir, "hard.json")}, "--summary"},
		{"two outputs, one new file", []string{"--summary", filepath.Join(h.dir, "s.json"), "--metrics-file", filepath.Join(h.dir, "sub", "..", "s.json")}, "--summary"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"--roster", roster}, tc.args...)
			if !strings.Contains(strings.Join(tc.args, " "), "--report") {
				args = append(args, "--report", filepath.Join(h.dir, "other.csv"))
			}
			res := h.run("apply", args...)
			if res.code != exitNotStarted || len(h.requests()) != 0 {
				t.Fatalf("exit %d after %d requests, want 2 before any:\n%s", res.code, len(h.requests()), res.stderr)
			}
			if !strings.Contains(res.stderr, tc.want) || !strings.Contains(res.stderr, "name another file") {
				t.Errorf("the error does not name %s and the fix:\n%s", tc.want, res.stderr)
			}
			for p, want := range files {
				if got := string(must(os.ReadFile(p))); got != want {
					t.Errorf("%s was overwritten", filepath.Base(p))
				}
			}
			if _, err := os.Stat(filepath.Join(h.dir, "s.json")); err == nil {
				t.Error("an output was written though the run was refused")
			}
		})
	}
}

// TestManyRowsOneKeyStayLinear gives many rows one key: every row fails as
// a duplicate, and the output grows with the rows, not with their square
// (each error names a few rows and counts the rest).
func TestManyRowsOneKeyStayLinear(t *testing.T) {
	t.Parallel()
	const n = 4000
	h := newHarness(t, "smartflo")
	roster := numberedRoster(t, h.dir, "id,designation", n, func(i int) string { return fmt.Sprintf("314678,Title %d", i) })
	out := filepath.Join(h.dir, "r.csv")
	res := h.run("plan", "--roster", roster, "--report", out)
	if res.code != exitRowsFailed {
		t.Fatalf("exit %d, want 1\n%.2000s", res.code, res.stderr)
	}
	rows := readReport(t, out, n)
	want := fmt.Sprintf(`duplicate id "314678" (rows 1, 2, 3, 4, 5 and %d more)`, n-5)
	for i := 1; i <= n; i++ {
		if r := rows[i]; r.Status != "failed" || !strings.HasSuffix(r.Error, want) {
			t.Fatalf("row %d: %s %q, want failed ending %q", i, r.Status, r.Error, want)
		}
	}
	size := int64(len(res.stdout)) + must(os.Stat(out)).Size()
	if limit := int64(n * 300); size > limit {
		t.Errorf("plan and report hold %d bytes for %d rows: more than %d, so not linear", size, n, limit)
	}
}

// TestReportOnFullDisk runs apply with a report the file system stops
// taking part way (a file size limit, as a full disk does): the run stops
// sending, exits 1 naming the cause (not "interrupted"), and every change
// the target applied is on record, in the report or in the log.
func TestReportOnFullDisk(t *testing.T) {
	t.Parallel()
	const n = 200
	fake := bigFake("dnl", n, fakehttp.Faults{Latency: 5 * time.Millisecond}).(*dnltest.Fake)
	srv := httptest.NewServer(fake)
	defer srv.Close()
	dir := t.TempDir()
	rosterPath := numberedRoster(t, dir, "user_id,last_name", n, func(i int) string { return fmt.Sprintf("%d,Full %d", i, i) })
	out, sum := filepath.Join(dir, "report.csv"), filepath.Join(dir, "summary.json")
	// ulimit -f counts 512-byte blocks: the report stops at 4 KiB.
	cmd := exec.Command("sh", "-c", `ulimit -f 8 && exec "$@"`, "sh", binary(t), "apply", "--target", "dnl",
		"--base-url", srv.URL, "--roster", rosterPath, "--report", out, "--summary", sum,
		"--rate", "0", "--workers", "4", "--max-changes", "1000", "--log-format", "json")
	cmd.Env = commandEnv(filepath.Join(dir, "state"))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err := cmd.Run()
	if code := cmd.ProcessState.ExitCode(); code != exitRowsFailed {
		t.Fatalf("exit %d (%v), want 1\n%s", code, err, stderr.String())
	}
	logs := stderr.String()
	if !strings.Contains(logs, "file too large") || !strings.Contains(logs, "could not be written") || strings.Contains(logs, "interrupted") {
		t.Errorf("the message does not name the cause, or says interrupted:\n%.3000s", logs)
	}

	// Every user the fake changed is applied in the report or in the log.
	onRecord := map[string]bool{}
	reported, err := report.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range reported {
		if r.Status == "applied" {
			onRecord[r.UserID] = true
		}
	}
	inReport := len(onRecord)
	sc := bufio.NewScanner(strings.NewReader(logs))
	for sc.Scan() {
		var line struct{ Level, Message, Status, UserID string }
		var raw map[string]any
		if json.Unmarshal(sc.Bytes(), &raw) != nil {
			continue
		}
		line.Level, _ = raw["level"].(string)
		line.Message, _ = raw["message"].(string)
		line.Status, _ = raw["status"].(string)
		line.UserID, _ = raw["user_id"].(string)
		if line.Level == "error" && line.Message == "row not in the report" && line.Status == "applied" {
			onRecord[line.UserID] = true
		}
	}
	changed := 0
	for _, u := range fake.Users() {
		if u.LastName != nil && strings.HasPrefix(*u.LastName, "Full ") {
			changed++
			if !onRecord[fmt.Sprint(u.UserID)] {
				t.Errorf("user %d was changed but is on record nowhere", u.UserID)
			}
		}
	}
	if changed == 0 || changed == n || inReport == changed {
		t.Errorf("%d users changed, %d in the report: want the report to stop part way and sending to stop", changed, inReport)
	}
	var s summary
	if err := json.Unmarshal(must(os.ReadFile(sum)), &s); err != nil {
		t.Fatal(err)
	}
	if s.Counts["applied"] != changed || s.Unrecorded == 0 || s.ExitCode != exitRowsFailed {
		t.Errorf("summary: %d applied, %d unrecorded, exit %d; want %d applied (as the target holds), some unrecorded, exit 1",
			s.Counts["applied"], s.Unrecorded, s.ExitCode, changed)
	}
}

// TestSecondRunRefusedByTheLock holds the state lock of a target as a
// running apply does: another run against it refuses at once with exit 2,
// naming the lock and its holder, and sends nothing; once the lock is
// free, the run goes ahead.
func TestSecondRunRefusedByTheLock(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "dnl")
	roster := h.file("roster.csv", e2eCases["dnl"].roster)
	base, err := baseURL(options{baseURL: h.srv.URL}, must(vendors.Lookup("dnl")))
	if err != nil {
		t.Fatal(err)
	}
	lock, err := state.Acquire(h.env["XDG_STATE_HOME"]+"/rostersync", "dnl", base, "apply")
	if err != nil {
		t.Fatal(err)
	}
	res := h.run("apply", "--roster", roster, "--report", filepath.Join(h.dir, "r1.csv"))
	if res.code != exitNotStarted || len(h.requests()) != 0 {
		t.Fatalf("exit %d after %d requests, want 2 before any:\n%s", res.code, len(h.requests()), res.stderr)
	}
	if !strings.Contains(res.stderr, ".lock") || !strings.Contains(res.stderr, fmt.Sprintf("held by rostersync apply, pid %d", os.Getpid())) {
		t.Errorf("the refusal does not name the lock and its holder:\n%s", res.stderr)
	}
	if err := lock.Release(); err != nil {
		t.Fatal(err)
	}
	if res := h.run("apply", "--roster", roster, "--report", filepath.Join(h.dir, "r2.csv")); res.code != exitOK || res.writes != 2 {
		t.Fatalf("after the lock was released: exit %d, %d writes; want 0, 2\n%s", res.code, res.writes, res.stderr)
	}
}

// TestResumeReplansEditedRows resumes from yesterday's report with a
// roster whose rows have the same keys but new values: they are not done,
// so they are planned and applied afresh; rows left as they were are
// skipped.
func TestResumeReplansEditedRows(t *testing.T) {
	t.Parallel()
	forEachTarget(t, func(t *testing.T, h *harness, c e2eCase) {
		first := filepath.Join(h.dir, "first.csv")
		if res := h.run("apply", "--roster", h.file("roster.csv", c.roster), "--report", first); res.code != exitOK {
			t.Fatalf("first apply: exit %d\n%s", res.code, res.stderr)
		}
		edited := map[string]string{
			"smartflo": strings.Replace(c.roster, "Team lead", "Head of Support", 1),
			"dnl":      strings.Replace(c.roster, "2,Julia,", "2,Jules,", 1),
		}[h.target]
		out := filepath.Join(h.dir, "resumed.csv")
		res := h.run("apply", "--roster", h.file("edited.csv", edited), "--resume", first, "--report", out)
		if res.code != exitOK || res.writes != 1 {
			t.Fatalf("resumed apply: exit %d, %d writes; want 0, 1 (the edited row)\n%s", res.code, res.writes, res.stderr)
		}
		rows := readReport(t, out, c.rows)
		if rows[1].Status != "applied" {
			t.Errorf("edited row 1: %s %q, want applied", rows[1].Status, rows[1].Error)
		}
		for _, n := range []int{2, 3} {
			if rows[n].Status != "skipped" || !strings.Contains(rows[n].Error, "done in") {
				t.Errorf("row %d: %s %q, want skipped as done", n, rows[n].Status, rows[n].Error)
			}
		}
	})
}

// TestPlanAndApplyShareTheMetricsFile runs plan, then apply, with one
// --metrics-file: each keeps the other's series.
func TestPlanAndApplyShareTheMetricsFile(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "smartflo")
	roster := h.file("roster.csv", e2eCases["smartflo"].roster)
	prom := filepath.Join(h.dir, "rostersync.prom")
	for _, cmd := range []string{"plan", "apply"} {
		if res := h.run(cmd, "--roster", roster, "--report", filepath.Join(h.dir, cmd+".csv"), "--metrics-file", prom); res.code != exitOK {
			t.Fatalf("%s: exit %d\n%s", cmd, res.code, res.stderr)
		}
	}
	text := string(must(os.ReadFile(prom)))
	for _, want := range []string{
		`rostersync_rows{target="smartflo",command="plan",status="planned"} 2`,
		`rostersync_rows{target="smartflo",command="apply",status="applied"} 2`,
		`rostersync_last_success_timestamp_seconds{target="smartflo",command="plan"}`,
		`rostersync_last_success_timestamp_seconds{target="smartflo",command="apply"}`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the metrics file lacks %s:\n%s", want, text)
		}
	}
	if strings.Count(text, "# HELP rostersync_rows ") != 1 {
		t.Errorf("a metric's HELP appears more than once:\n%s", text)
	}
}

// TestSigtermWhileReading stops a run while it reads the users' state:
// exit 130, every row skipped with one plain reason that names the signal
// once and no one user's read.
func TestSigtermWhileReading(t *testing.T) {
	t.Parallel()
	const n = 50
	fake := bigFake("smartflo", n, fakehttp.Faults{Latency: 300 * time.Millisecond}).(*smartflotest.Fake)
	srv := httptest.NewServer(fake)
	defer srv.Close()
	dir := t.TempDir()
	// designation is not in the list: every row needs a one-user read.
	rosterPath := numberedRoster(t, dir, "id,designation", n, func(i int) string { return fmt.Sprintf("%d,Read %d", i, i) })
	out := filepath.Join(dir, "report.csv")
	p := start(t, dir, "apply", "--target", "smartflo", "--base-url", srv.URL, "--roster", rosterPath, "--report", out,
		"--rate", "0", "--workers", "2")
	waitUntil(t, func() bool { return len(fake.Requests()) > 0 }, func() string { return "the fake received no request" })
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(t); code != exitInterrupted {
		t.Fatalf("exit %d, want 130\n%s", code, p.stderr.String())
	}
	want := "not planned: interrupted by SIGTERM while reading the users' state"
	for _, r := range readReport(t, out, n) {
		if r.Status != "skipped" || r.Error != want {
			t.Fatalf("row %d: %s %q, want skipped %q", r.Row, r.Status, r.Error, want)
		}
	}
	if strings.Contains(p.stderr.String(), "interrupted: interrupted") {
		t.Errorf("the message says interrupted twice:\n%s", p.stderr.String())
	}
}
