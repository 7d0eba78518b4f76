package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rostersync/rostersync/report"
	"github.com/rostersync/rostersync/sync/vendors/dnl/dnltest"
	"github.com/rostersync/rostersync/sync/vendors/fakehttp"
	"github.com/rostersync/rostersync/sync/vendors/smartflo/smartflotest"
)

// BenchmarkApply measures whole apply runs through the CLI against a fake
// holding 2,000 users, every one of which the roster changes, with no rate
// limit: the engine's own overhead over loopback HTTP. It reports rows/s.
func BenchmarkApply(b *testing.B) {
	const users = 2000
	for _, target := range []string{"smartflo", "dnl"} {
		b.Run(target, func(b *testing.B) {
			dir := b.TempDir()
			header := map[string]string{"smartflo": "id,name", "dnl": "user_id,last_name"}[target]
			rosterPath := numberedRoster(b, dir, header, users, func(i int) string { return fmt.Sprintf("%d,Changed %d", i, i) })
			var took time.Duration
			for b.Loop() {
				b.StopTimer()
				srv := httptest.NewServer(bigFake(target, users, fakehttp.Faults{}))
				b.StartTimer()
				start := time.Now()
				app := &App{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: io.Discard, Getenv: func(k string) string {
					return map[string]string{"ROSTERSYNC_TOKEN": testToken, "XDG_STATE_HOME": dir}[k]
				}}
				err := app.Run(context.Background(), []string{"apply", "--target", target, "--base-url", srv.URL,
					"--roster", rosterPath, "--report", filepath.Join(dir, "report.csv"), "--rate", "0", "--workers", "16", "--max-changes", "100000"})
				took += time.Since(start)
				b.StopTimer()
				srv.Close()
				b.StartTimer()
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(users*b.N)/took.Seconds(), "rows/s")
		})
	}
}

// bigFake returns a fake of target holding n generated users, ids 1..n.
func bigFake(target string, n int, faults fakehttp.Faults) fakeServer {
	if target == "smartflo" {
		return smartflotest.New(smartflotest.Config{Token: testToken, Faults: faults}, smartflotest.Generate(n))
	}
	return dnltest.New(dnltest.Config{Token: testToken, Faults: faults}, dnltest.Generate(n))
}

// hiddenLimits are the rate limiters BenchmarkHiddenLimit puts in front
// of the fake, each with the most a run may take as a multiple of the time
// the limiter's budget needs for the requests it accepted (issue 9).
var hiddenLimits = []struct {
	name   string
	faults fakehttp.Faults // Limit is set per run
	goal   float64
}{
	// The 429 Smartflo documents, which the fakes answer by default: no
	// hint at all (api.md, "What public sources add": no Retry-After, no
	// retry_after), over a sliding one-second window (L at once, then none).
	{"429-window-no-hints", fakehttp.Faults{}, 1.25},
	// The same 429 with no burst: requests 1/L apart at best, as nginx's
	// limit_req with burst 0 takes them.
	{"429-no-hints", fakehttp.Faults{LimitNoBurst: true}, 1.25},
	// nginx's limit_req as it comes: a 503 page, no hint, no burst.
	{"503", fakehttp.Faults{LimitStatus: http.StatusServiceUnavailable, LimitNoBurst: true}, 1.5},
	// A 429 with Retry-After and the body's retry_after (LimitHints), over
	// the sliding window.
	{"429-hints", fakehttp.Faults{LimitHints: true}, 1.25},
}

// BenchmarkHiddenLimit runs apply through the CLI at --rate 10×L against a
// fake behind a rate limiter of L, for each kind of limiter, in real time
// over loopback, and reports the rate the limiter accepted, the wall time
// as a multiple of the time its budget needs (requests/L), the answers it
// refused and the rows that failed. Each run lasts about 20 seconds:
//
//	go test -run '^$' -bench HiddenLimit -benchtime 1x ./cmd/rostersync
func BenchmarkHiddenLimit(b *testing.B) {
	for _, hl := range hiddenLimits {
		for _, limit := range []int{2, 5, 20} {
			b.Run(fmt.Sprintf("%s/L=%d", hl.name, limit), func(b *testing.B) {
				n := 20 * limit
				dir := b.TempDir()
				rosterPath := numberedRoster(b, dir, "id,name", n, func(i int) string { return fmt.Sprintf("%d,Limited %d", i, i) })
				refusedStatus := cmp.Or(hl.faults.LimitStatus, http.StatusTooManyRequests)
				var took time.Duration
				accepted, refused, failed := 0, 0, 0
				for b.Loop() {
					faults := hl.faults
					faults.Limit = float64(limit)
					fake := bigFake("smartflo", n, faults).(*smartflotest.Fake)
					srv := httptest.NewServer(fake)
					app := &App{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: io.Discard, Getenv: func(k string) string {
						return map[string]string{"ROSTERSYNC_TOKEN": testToken, "XDG_STATE_HOME": dir}[k]
					}}
					out := filepath.Join(dir, "report.csv")
					start := time.Now()
					err := app.Run(context.Background(), []string{"apply", "--target", "smartflo", "--base-url", srv.URL,
						"--roster", rosterPath, "--report", out, "--rate", fmt.Sprint(10 * limit), "--workers", "8"})
					took += time.Since(start)
					srv.Close()
					rows, rerr := report.ReadFile(out)
					if rerr != nil {
						b.Fatal(rerr)
					}
					for _, r := range rows {
						if r.Status != "applied" {
							failed++
						}
					}
					if err != nil && failed == 0 {
						b.Fatal(err)
					}
					for _, r := range fake.Requests() {
						if r.Status == refusedStatus {
							refused++
						} else {
							accepted++
						}
					}
				}
				ratio := took.Seconds() / (float64(accepted) / float64(limit))
				b.ReportMetric(float64(accepted)/took.Seconds(), "req/s")
				b.ReportMetric(ratio, "x-budget-time")
				b.ReportMetric(float64(refused)/float64(b.N), fmt.Sprintf("%ds/run", refusedStatus))
				b.ReportMetric(float64(failed)/float64(b.N), "failed-rows/run")
				if failed > 0 || ratio > hl.goal {
					b.Errorf("%d rows failed; %.2f× the budget's time, goal %.2f×", failed, ratio, hl.goal)
				}
			})
		}
	}
}
