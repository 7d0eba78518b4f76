package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/rostersync/rostersync/report"
	"github.com/rostersync/rostersync/sync/state"
	"github.com/rostersync/rostersync/sync/vendors/dnl/dnltest"
	"github.com/rostersync/rostersync/sync/vendors/fakehttp"
	"github.com/rostersync/rostersync/sync/vendors/smartflo/smartflotest"
)

// asCommand, set to 1 in a child process's environment, makes the test
// binary run as rostersync instead of running the tests: the tests that
// send real signals start it so, without building a binary of their own.
const asCommand = "ROSTERSYNC_TEST_AS_COMMAND"

func TestMain(m *testing.M) {
	if os.Getenv(asCommand) == "1" {
		// As main does, with the ledger's bcrypt at its lowest cost.
		app := &App{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv, ledgerCost: bcrypt.MinCost}
		os.Exit(runMain(app, os.Args[1:]))
	}
	os.Exit(m.Run())
}

// binary returns the program to start as rostersync (with commandEnv):
// this test binary.
func binary(t *testing.T) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return exe
}

// commandEnv is the environment of a child started as rostersync: this
// process's, the marker that makes it the command, credentials for the
// fakes and the state directory, then extra.
func commandEnv(stateDir string, extra ...string) []string {
	return append(append(os.Environ(), asCommand+"=1", "ROSTERSYNC_TOKEN="+testToken, "XDG_STATE_HOME="+stateDir,
		"ROSTERSYNC_LOGIN=", "ROSTERSYNC_PASSWORD="), extra...)
}

// process is rostersync running as a child process.
type process struct {
	cmd    *exec.Cmd
	stderr lockedBuffer
}

// lockedBuffer is a child's stderr, which the test may read while the
// child still writes it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitFor polls until the buffer holds s.
func (b *lockedBuffer) waitFor(t *testing.T, s string) {
	t.Helper()
	waitUntil(t, func() bool { return strings.Contains(b.String(), s) }, func() string {
		return fmt.Sprintf("stderr never said %q:\n%s", s, b.String())
	})
}

// waitUntil polls cond until it holds, and fails the test with what
// says after 30 s.
func waitUntil(t *testing.T, cond func() bool, what func() string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal(what())
		}
		time.Sleep(time.Millisecond)
	}
}

func start(t *testing.T, stateDir string, args ...string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(binary(t), args...)}
	p.cmd.Env = commandEnv(stateDir)
	p.cmd.Stderr = &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.cmd.Process.Kill() })
	return p
}

// wait waits for the process and returns its exit code.
func (p *process) wait(t *testing.T) int {
	t.Helper()
	err := p.cmd.Wait()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0
}

// waitForRows polls a report file until it holds at least n rows.
func waitForRows(t *testing.T, path string, n int) {
	t.Helper()
	waitUntil(t, func() bool {
		rows, err := report.ReadFile(path)
		return err == nil && len(rows) >= n
	}, func() string { return fmt.Sprintf("the report never reached %d rows", n) })
}

// TestInterrupt sends SIGINT mid-run: requests in flight finish, the rest
// are skipped, the report holds one row per roster row, the exit code is
// 130, and the fake's state agrees with every applied row.
func TestInterrupt(t *testing.T) {
	t.Parallel()
	const n = 200
	fake := bigFake("dnl", n, fakehttp.Faults{Latency: 20 * time.Millisecond}).(*dnltest.Fake)
	srv := httptest.NewServer(fake)
	defer srv.Close()
	dir := t.TempDir()
	rosterPath := numberedRoster(t, dir, "user_id,last_name", n, func(i int) string { return fmt.Sprintf("%d,Interrupted %d", i, i) })
	out := filepath.Join(dir, "report.csv")

	p := start(t, dir, "apply", "--target", "dnl", "--base-url", srv.URL, "--roster", rosterPath, "--report", out,
		"--rate", "0", "--workers", "4", "--max-changes", "1000")
	waitForRows(t, out, 20)
	if err := p.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(t); code != exitInterrupted {
		t.Fatalf("exit %d, want 130\n%s", code, p.stderr.String())
	}
	rows := readReport(t, out, n)
	counts := map[string]int{}
	for _, r := range rows {
		counts[r.Status]++
		u, _ := fake.User(int64(r.Row))
		changed := u.LastName != nil && *u.LastName == fmt.Sprintf("Interrupted %d", r.Row)
		switch r.Status {
		case "applied":
			if !changed {
				t.Errorf("row %d reported applied, but the fake does not hold the change", r.Row)
			}
		case "skipped":
			if changed {
				t.Errorf("row %d reported skipped, but the fake holds the change", r.Row)
			}
			if !strings.Contains(r.Error, "interrupted by SIGINT") || strings.Contains(r.Error, "interrupted: interrupted") {
				t.Errorf("row %d skipped without saying why: %q", r.Row, r.Error)
			}
		default:
			t.Errorf("row %d: %s %s", r.Row, r.Status, r.Error)
		}
	}
	if counts["applied"] < 20 || counts["skipped"] == 0 {
		t.Errorf("counts %v: want some applied before the signal and the rest skipped", counts)
	}
}

// TestKillThenResume kills a run with SIGKILL mid-way, then resumes from
// its report: the final state is exact, and a further apply sends nothing
// (the ledger of write-only fields survived the kill too).
func TestKillThenResume(t *testing.T) {
	t.Parallel()
	const n = 100
	fake := bigFake("smartflo", n, fakehttp.Faults{Latency: 20 * time.Millisecond}).(*smartflotest.Fake)
	srv := httptest.NewServer(fake)
	defer srv.Close()
	dir := t.TempDir()
	rosterPath := numberedRoster(t, dir, "id,name,caller_id", n, func(i int) string {
		return fmt.Sprintf("%d,Resumed %d,%d|%d", i, i, 100+i%7, 200+i%5)
	})
	args := func(report string, more ...string) []string {
		return append([]string{"apply", "--target", "smartflo", "--base-url", srv.URL, "--roster", rosterPath,
			"--report", filepath.Join(dir, report), "--rate", "0", "--workers", "4", "--max-changes", "1000"}, more...)
	}

	// Verification holds a row's report line until the writes are done and
	// read back (the journal has it at once); this test wants the report
	// written as the rows finish.
	p := start(t, dir, args("first.csv", "--verify=false")...)
	waitForRows(t, filepath.Join(dir, "first.csv"), 30)
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p.wait(t)
	first, err := report.ReadFile(filepath.Join(dir, "first.csv"))
	if err != nil || len(first) == 0 || len(first) >= n {
		t.Fatalf("after kill -9 the report should be valid and partial: %d rows, %v", len(first), err)
	}

	resumed := start(t, dir, args("second.csv", "--resume", filepath.Join(dir, "first.csv"))...)
	if code := resumed.wait(t); code != exitOK {
		t.Fatalf("resume: exit %d\n%s", code, resumed.stderr.String())
	}
	rows := readReport(t, filepath.Join(dir, "second.csv"), n)
	done := map[int]bool{}
	for _, r := range first {
		done[r.Row] = r.Status == "applied"
	}
	for _, r := range rows {
		if done[r.Row] != (r.Status == "skipped") {
			t.Errorf("row %d: %s after resume; the killed run said applied=%v", r.Row, r.Status, done[r.Row])
		}
	}
	for i := 1; i <= n; i++ {
		u, _ := fake.User(int64(i))
		want := []string{strconv.Itoa(100 + i%7), strconv.Itoa(200 + i%5)}
		if u.Name != fmt.Sprintf("Resumed %d", i) || !slices.Equal(u.CallerID, want) {
			t.Errorf("user %d = %q %v, want the roster's values", i, u.Name, u.CallerID)
		}
	}

	before := fake.Writes()
	again := start(t, dir, args("third.csv")...)
	if code := again.wait(t); code != exitOK || fake.Writes() != before {
		t.Errorf("apply after resume: exit %d, %d writes; want 0 and none\n%s", code, fake.Writes()-before, again.stderr.String())
	}
}

// TestSecondInterruptQuitsAtOnce sends SIGINT twice: the second ends the
// process without waiting for the requests in flight (the fake answers
// the first few PATCHes, then holds every later one unanswered), and the
// report is still valid up to its last finished row. The second signal
// follows the first once the run says it heard it: two signals sent
// together may reach the process as one.
func TestSecondInterruptQuitsAtOnce(t *testing.T) {
	t.Parallel()
	const n = 100
	const answered = 4                   // PATCHes answered; later ones hang until the test ends
	const quick = 500 * time.Millisecond // the grace for requests in flight is 10 s
	fake := bigFake("dnl", n, fakehttp.Faults{})
	var patches atomic.Int64
	hold := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPatch && patches.Add(1) > answered {
			select {
			case <-hold:
			case <-r.Context().Done():
			}
			return
		}
		fake.ServeHTTP(w, r)
	}))
	defer srv.Close()
	defer close(hold) // before Close, which waits for the handlers
	dir := t.TempDir()
	rosterPath := numberedRoster(t, dir, "user_id,last_name", n, func(i int) string { return fmt.Sprintf("%d,Twice %d", i, i) })
	out := filepath.Join(dir, "report.csv")
	p := start(t, dir, "apply", "--target", "dnl", "--base-url", srv.URL, "--roster", rosterPath, "--report", out,
		"--rate", "0", "--workers", "4")
	waitForRows(t, out, answered)
	must(0, p.cmd.Process.Signal(os.Interrupt))
	p.stderr.waitFor(t, "interrupted: finishing the requests in flight")
	second := time.Now()
	must(0, p.cmd.Process.Signal(os.Interrupt))
	if code := p.wait(t); code != exitInterrupted {
		t.Fatalf("exit %d, want 130\n%s", code, p.stderr.String())
	}
	if took := time.Since(second); took > quick {
		t.Errorf("the second interrupt took %v to end the run; it must not wait for the requests in flight", took)
	}
	rows, err := report.ReadFile(out)
	if err != nil || len(rows) < answered {
		t.Fatalf("report after a second interrupt: %d rows, %v", len(rows), err)
	}
	if !strings.Contains(p.stderr.String(), "quitting now") {
		t.Errorf("stderr does not say it quit at once:\n%s", p.stderr.String())
	}
}

// TestTermWhileReadingARosterWithoutEnd points --roster at inputs that
// never end or never start: a FIFO nobody opens for writing, a FIFO whose
// writer sends rows without end, one whose writer sends a header and then
// nothing, /dev/zero, and /dev/zero on stdin. One SIGTERM, sent once the
// run has logged that it reads the roster, ends each run within a second,
// with exit 130 (or 2, when the reader stopped /dev/zero first as no
// roster), and not one request is sent.
func TestTermWhileReadingARosterWithoutEnd(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name  string
		setup func(t *testing.T, path string) (stdin *os.File) // makes path (roster.csv)
		zero  bool                                             // /dev/zero may end the run as no roster first
	}{
		{name: "a FIFO with no writer", setup: func(t *testing.T, path string) *os.File {
			must(0, syscall.Mkfifo(path, 0o600))
			return nil
		}},
		{name: "a FIFO with rows without end", setup: func(t *testing.T, path string) *os.File {
			must(0, syscall.Mkfifo(path, 0o600))
			go func() {
				w, err := os.OpenFile(path, os.O_WRONLY, 0)
				if err != nil {
					return
				}
				defer w.Close()
				if _, err := io.WriteString(w, "user_id,last_name\n"); err != nil {
					return
				}
				for i := 1; ; i++ {
					if _, err := fmt.Fprintf(w, "%d,Row %d\n", i, i); err != nil {
						return // the reader is gone
					}
				}
			}()
			return nil
		}},
		{name: "a FIFO whose writer falls silent", setup: func(t *testing.T, path string) *os.File {
			must(0, syscall.Mkfifo(path, 0o600))
			done := make(chan struct{})
			t.Cleanup(func() { close(done) })
			go func() {
				w, err := os.OpenFile(path, os.O_WRONLY, 0)
				if err != nil {
					return
				}
				defer w.Close()
				_, _ = io.WriteString(w, "user_id,last_name\n1,One\n")
				<-done
			}()
			return nil
		}},
		{name: "/dev/zero", zero: true, setup: func(t *testing.T, path string) *os.File {
			must(0, os.Symlink("/dev/zero", path))
			return nil
		}},
		{name: "/dev/zero on stdin", zero: true, setup: func(t *testing.T, path string) *os.File {
			f := must(os.Open("/dev/zero"))
			t.Cleanup(func() { f.Close() })
			return f
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := bigFake("dnl", 3, fakehttp.Faults{})
			srv := httptest.NewServer(fake)
			defer srv.Close()
			dir := t.TempDir()
			rosterPath := filepath.Join(dir, "roster.csv")
			stdin := tt.setup(t, rosterPath)
			arg := rosterPath
			if stdin != nil {
				arg = "-"
			}
			p := &process{cmd: exec.Command(binary(t), "apply", "--target", "dnl", "--base-url", srv.URL, "--roster", arg,
				"--report", filepath.Join(dir, "report.csv"), "--rate", "0", "--log-level", "debug", "--log-format", "json")}
			p.cmd.Env = commandEnv(dir)
			p.cmd.Stdin = stdin
			p.cmd.Stderr = &p.stderr
			must(0, p.cmd.Start())
			t.Cleanup(func() { _ = p.cmd.Process.Kill() })
			p.stderr.waitFor(t, `"message":"reading the roster"`)
			time.Sleep(50 * time.Millisecond) // blocked in the read by now
			sent := time.Now()
			if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !(tt.zero && errors.Is(err, os.ErrProcessDone)) {
				t.Fatal(err)
			}
			exited := make(chan int, 1)
			go func() { exited <- p.wait(t) }()
			var code int
			select {
			case code = <-exited:
			case <-time.After(5 * time.Second):
				_ = p.cmd.Process.Kill()
				<-exited
				t.Fatalf("one SIGTERM did not end the run in 5 s\n%s", p.stderr.String())
			}
			if took := time.Since(sent); took > time.Second {
				t.Errorf("the run took %v to end after SIGTERM", took)
			}
			// /dev/zero may have ended the run as no roster first: exit 2,
			// or, when the signal came as the process was exiting (its
			// handler gone), death by the signal after saying so.
			noRoster := tt.zero && strings.Contains(p.stderr.String(), "is this the roster?")
			if code != exitInterrupted && !(noRoster && (code == exitNotStarted || code == -1)) {
				t.Errorf("exit %d, want 130\n%s", code, p.stderr.String())
			}
			if strings.Contains(p.stderr.String(), "panic") {
				t.Errorf("stderr:\n%s", p.stderr.String())
			}
			if n := len(fake.(*dnltest.Fake).Requests()); n != 0 {
				t.Errorf("%d requests sent while the roster was read", n)
			}
		})
	}
}

// TestKillThenRevert kills an apply with SIGKILL mid-way, then reverts
// that run: exactly the rows the journal holds are restored, and the
// users the killed run never reached are not touched.
func TestKillThenRevert(t *testing.T) {
	t.Parallel()
	const n = 200
	fake := bigFake("dnl", n, fakehttp.Faults{Latency: 20 * time.Millisecond}).(*dnltest.Fake)
	srv := httptest.NewServer(fake)
	defer srv.Close()
	dir := t.TempDir()
	rosterPath := numberedRoster(t, dir, "user_id,last_name", n, func(i int) string { return fmt.Sprintf("%d,Killed %d", i, i) })
	p := start(t, dir, "apply", "--target", "dnl", "--base-url", srv.URL, "--roster", rosterPath,
		"--report", filepath.Join(dir, "r.csv"), "--rate", "0", "--workers", "4", "--max-changes", "1000")
	waitUntil(t, func() bool { return fake.Writes() >= 40 }, func() string { return fmt.Sprintf("the fake took %d writes, not 40", fake.Writes()) })
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p.wait(t)

	runs := must(state.Runs(filepath.Join(dir, "rostersync")))
	if len(runs) != 1 || runs[0].End != nil || len(runs[0].Changes) == 0 || len(runs[0].Changes) == n {
		t.Fatalf("journal after kill -9: %d runs; want one, cut short, with some changes", len(runs))
	}
	journaled := map[int64]bool{}
	for _, e := range runs[0].Changes {
		journaled[int64(must(strconv.Atoi(e.User)))] = true
	}
	changed := 0
	for _, u := range fake.Users() {
		if u.LastName != nil && strings.HasPrefix(*u.LastName, "Killed ") {
			changed++
		}
	}
	if changed < len(journaled) || changed > len(journaled)+4 {
		t.Fatalf("%d users changed at the fake, %d in the journal: at most the 4 in flight may be missing", changed, len(journaled))
	}

	revert := filepath.Join(dir, "revert.json")
	rv := start(t, dir, "revert", runs[0].Run, "--out", revert, "--report", filepath.Join(dir, "rv.csv"), "--rate", "0")
	if code := rv.wait(t); code != exitOK {
		t.Fatalf("revert: exit %d\n%s", code, rv.stderr.String())
	}
	before := fake.Writes()
	ap := start(t, dir, "apply", "--plan", revert, "--report", filepath.Join(dir, "undo.csv"), "--rate", "0", "--max-changes", "1000")
	if code := ap.wait(t); code != exitOK {
		t.Fatalf("apply the revert: exit %d\n%s", code, ap.stderr.String())
	}
	if w := fake.Writes() - before; w != len(journaled) {
		t.Errorf("the revert sent %d writes, want one per journaled row: %d", w, len(journaled))
	}
	for _, u := range fake.Users() {
		killed := u.LastName != nil && strings.HasPrefix(*u.LastName, "Killed ")
		if journaled[u.UserID] && killed {
			t.Errorf("user %d is in the journal but was not restored", u.UserID)
		}
	}
}
