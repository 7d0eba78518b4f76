package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rostersync/rostersync/sync/vendors/fakehttp"
	"github.com/rostersync/rostersync/sync/vendors/smartflo/smartflotest"
)

// deadAfterReads serves a fake whose API answers reads, then dies: every
// PATCH meets what it would meet at a dead API (the connection reset, or
// no answer at all). It counts the PATCHes that reached it.
type deadAfterReads struct {
	fake    http.Handler
	hang    bool // hold PATCHes unanswered until the client gives up, instead of resetting them
	patches atomic.Int64
}

func (d *deadAfterReads) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet {
		d.fake.ServeHTTP(w, r)
		return
	}
	d.patches.Add(1)
	if d.hang {
		// Read the body first: only then does the server notice the client
		// hang up, and end the request's context.
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-time.After(time.Minute):
		}
		return
	}
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tcp, ok := conn.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0) // a reset, as from a host whose API went down
	}
	_ = conn.Close()
}

// TestDeadAPIStopsTheRun reads the users of a fake, then finds every
// connection reset (or, with --timeout, every request unanswered) for the
// writes of 1,000 rows: the run must stop once nothing has answered for
// --unreachable-after, not spend eight attempts on every row (1,000 rows ×
// 8 attempts with backoff would take hours), exit 1, and skip the rows not
// done, each saying which API stopped answering and since when.
func TestDeadAPIStopsTheRun(t *testing.T) {
	t.Parallel()
	const n = 1000
	tests := []struct {
		name  string
		hang  bool
		args  []string
		why   string // what every skipped row must also say
		limit time.Duration
	}{
		{"reset", false, nil, "", 15 * time.Second},
		{"timeout", true, []string{"--timeout", "300ms"}, "no answer within --timeout 300ms", 15 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := &harness{t: t, target: "smartflo", dir: t.TempDir()}
			h.fake = bigFake("smartflo", n, fakehttp.Faults{})
			h.sf = h.fake.(*smartflotest.Fake)
			dead := &deadAfterReads{fake: h.fake, hang: tt.hang}
			h.srv = httptest.NewServer(dead)
			t.Cleanup(h.srv.Close)
			h.env = map[string]string{"ROSTERSYNC_TOKEN": testToken, "XDG_STATE_HOME": filepath.Join(h.dir, "state")}
			roster := numberedRoster(t, h.dir, "id,name", n, func(i int) string { return fmt.Sprintf("%d,Unsent %d", i, i) })
			out := filepath.Join(h.dir, "r.csv")
			start := time.Now()
			res := h.run("apply", append([]string{"--roster", roster, "--report", out, "--workers", "8",
				"--max-changes", "100000", "--unreachable-after", "500ms"}, tt.args...)...)
			took := time.Since(start)
			if res.code != exitRowsFailed {
				t.Fatalf("exit %d, want 1\n%s", res.code, tail(res.stderr))
			}
			host := must(url.Parse(h.srv.URL)).Host
			phrase := "the API at " + host + " has not answered since "
			if !strings.Contains(res.stderr, phrase) {
				t.Errorf("the run's error does not say %q:\n%s", phrase, tail(res.stderr))
			}
			counts := map[string]int{}
			for _, r := range readReport(t, out, n) {
				counts[r.Status]++
				if r.Status == "skipped" && (!strings.Contains(r.Error, phrase) || !strings.Contains(r.Error, tt.why)) {
					t.Errorf("row %d skipped for %q; want it to say %q and %q", r.Row, r.Error, phrase, tt.why)
				}
			}
			if counts["skipped"] < n*9/10 || counts["applied"] != 0 {
				t.Errorf("statuses %v: want the rows not done skipped (at least 90%%), none applied", counts)
			}
			if sent := dead.patches.Load(); sent > n || took > tt.limit {
				t.Errorf("%d PATCHes sent in %v; a dead API must stop the run well before every row spends its attempts", sent, took)
			}
			t.Logf("%v: %d PATCHes in %v, statuses %v", tt.name, dead.patches.Load(), took, counts)
		})
	}
}

// TestDeadAPIWhileReading points a run at an address where nothing
// listens: the reads stop once nothing has answered for
// --unreachable-after (exit 2, as any read that fails: nothing was
// written), naming the API and since when.
func TestDeadAPIWhileReading(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // connections to it are refused from now on

	h := &harness{t: t, target: "smartflo", dir: t.TempDir()}
	h.fake = bigFake("smartflo", 1, fakehttp.Faults{})
	h.srv = &httptest.Server{URL: "http://" + addr}
	h.env = map[string]string{"ROSTERSYNC_TOKEN": testToken, "XDG_STATE_HOME": filepath.Join(h.dir, "state")}
	const n = 50
	roster := numberedRoster(t, h.dir, "id,name", n, func(i int) string { return fmt.Sprintf("%d,Unread %d", i, i) })
	out := filepath.Join(h.dir, "r.csv")
	start := time.Now()
	res := h.run("apply", "--roster", roster, "--report", out, "--unreachable-after", "500ms")
	if res.code != exitNotStarted {
		t.Fatalf("exit %d, want 2\n%s", res.code, tail(res.stderr))
	}
	phrase := "the API at " + addr + " has not answered since "
	if !strings.Contains(res.stderr, phrase) {
		t.Errorf("the run's error does not say %q:\n%s", phrase, tail(res.stderr))
	}
	for _, r := range readReport(t, out, n) {
		if r.Status != "skipped" || !strings.Contains(r.Error, phrase) {
			t.Errorf("row %d: %s %q; want skipped, saying %q", r.Row, r.Status, r.Error, phrase)
		}
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("the run took %v to give up on an API that refuses every connection", took)
	}
}

// tail returns the end of a long output, for a failure message.
func tail(s string) string {
	if len(s) > 3000 {
		return "…" + s[len(s)-3000:]
	}
	return s
}
