//go:build linux

package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rostersync/rostersync/sync/vendors/fakehttp"
)

// openPTY opens a pseudo-terminal: what the test reads from master is
// what a terminal showing slave would display.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	fd := int(master.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.IoctlSetWinsize(fd, unix.TIOCSWINSZ, &unix.Winsize{Row: 30, Col: 120}); err != nil {
		t.Fatal(err)
	}
	slave, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { slave.Close(); master.Close() })
	return master, slave
}

// slowRun applies a 60-row roster against a DNL fake that answers in 10ms,
// with stderr as given, and returns what went to stdout.
func slowRun(t *testing.T, stderr io.Writer, extra ...string) string {
	t.Helper()
	const n = 60
	fake := bigFake("dnl", n, fakehttp.Faults{Latency: 10 * time.Millisecond})
	srv := httptest.NewServer(fake)
	defer srv.Close()
	dir := t.TempDir()
	rosterPath := numberedRoster(t, dir, "user_id,last_name", n, func(i int) string { return fmt.Sprintf("%d,Progress %d", i, i) })
	var stdout bytes.Buffer
	app := &App{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: stderr, Getenv: func(k string) string {
		return map[string]string{"ROSTERSYNC_TOKEN": testToken, "XDG_STATE_HOME": dir}[k]
	}}
	args := append([]string{"apply", "--target", "dnl", "--base-url", srv.URL, "--roster", rosterPath,
		"--report", filepath.Join(dir, "r.csv"), "--rate", "0", "--workers", "2", "--log-level", "info"}, extra...)
	if err := app.Run(context.Background(), args); err != nil {
		t.Fatalf("apply: %v", err)
	}
	return stdout.String()
}

// TestProgressOnTerminal runs apply with stderr on a pseudo-terminal and
// checks the bar it draws: the phases, done/total, a rate, escape codes to
// redraw in place, and the log lines printed as text above it.
func TestProgressOnTerminal(t *testing.T) {
	t.Parallel()
	master, slave := openPTY(t)
	screen := make(chan string)
	go func() {
		var b bytes.Buffer
		_, _ = io.Copy(&b, master) // ends when the slave side closes
		screen <- b.String()
	}()
	slowRun(t, slave)
	slave.Close()
	var drawn string
	select {
	case drawn = <-screen:
	case <-time.After(10 * time.Second):
		t.Fatal("the terminal never closed")
	}
	if os.Getenv("SHOW_PTY") != "" {
		t.Logf("%s", drawn)
	}
	for _, want := range []string{"listing users", "applying", "60/60", "/s", "\x1b[", "starting"} {
		if !strings.Contains(drawn, want) {
			t.Errorf("the terminal did not show %q:\n%q", want, drawn)
		}
	}
	if strings.Contains(drawn, `"level":"info"`) {
		t.Error("logs on a terminal should be for people (console), not JSON")
	}
}

// TestNoEscapeCodesOffTerminal runs the same apply with stderr a plain
// writer (a log file, cron's mail): no bar, no escape codes, but periodic
// progress lines as JSON.
func TestNoEscapeCodesOffTerminal(t *testing.T) {
	t.Parallel()
	var stderr bytes.Buffer
	stdout := slowRun(t, &stderr, "--progress-interval", "100ms")
	for name, text := range map[string]string{"stderr": stderr.String(), "stdout": stdout} {
		if strings.Contains(text, "\x1b") {
			t.Errorf("%s holds escape codes off a terminal:\n%q", name, text)
		}
	}
	if !strings.Contains(stderr.String(), `"message":"progress"`) || !strings.Contains(stderr.String(), `"phase":"applying"`) {
		t.Errorf("off a terminal a progress line should be logged:\n%s", stderr.String())
	}
}

// TestConfirmOnTerminal runs apply with stdin and stdout on a terminal:
// it shows the plan and asks for yes before the first write; "no" sends
// nothing, "yes" applies, and --auto-approve never asks.
func TestConfirmOnTerminal(t *testing.T) {
	for _, tt := range []struct {
		answer string // "" with --auto-approve: no question
		code   int
		writes int
	}{{"no", exitNotStarted, 0}, {"yes", exitOK, 2}, {"", exitOK, 2}} {
		t.Run(fmt.Sprintf("answer=%q", tt.answer), func(t *testing.T) {
			h := newHarness(t, "dnl")
			master, slave := openPTY(t)
			shown := make(chan string, 1)
			go func() {
				var seen bytes.Buffer
				buf := make([]byte, 4096)
				for {
					n, err := master.Read(buf)
					seen.Write(buf[:n])
					if strings.Contains(seen.String(), "Enter a value:") {
						if tt.answer != "" {
							_, _ = master.Write([]byte(tt.answer + "\n"))
						}
						shown <- seen.String()
						return
					}
					if err != nil {
						shown <- seen.String()
						return
					}
				}
			}()
			app := &App{Stdin: slave, Stdout: slave, Stderr: io.Discard, Getenv: func(k string) string { return h.env[k] }}
			args := []string{"apply", "--target", "dnl", "--base-url", h.srv.URL, "--roster", h.file("roster.csv", e2eCases["dnl"].roster),
				"--report", filepath.Join(h.dir, "r.csv"), "--rate", "0"}
			if tt.answer == "" {
				args = append(args, "--auto-approve")
			}
			before := h.fake.Writes()
			err := app.Run(t.Context(), args)
			if code := exitCode(err); code != tt.code || h.fake.Writes()-before != tt.writes {
				t.Fatalf("exit %d (%v), %d writes; want %d and %d", code, err, h.fake.Writes()-before, tt.code, tt.writes)
			}
			if tt.answer != "" {
				if screen := <-shown; !strings.Contains(screen, "first_name:") || !strings.Contains(screen, "Only 'yes' will be accepted") {
					t.Errorf("the terminal did not show the plan and the question:\n%s", screen)
				}
			}
		})
	}
}
