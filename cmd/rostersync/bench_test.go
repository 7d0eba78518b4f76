package main

import (
	"context"
	"fmt"
	"io"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rostersync/rostersync/sync/dnl/dnltest"
	"github.com/rostersync/rostersync/sync/fakehttp"
	"github.com/rostersync/rostersync/sync/smartflo/smartflotest"
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
		users := make([]smartflotest.User, n)
		for i := range users {
			users[i] = smartflotest.User{ID: int64(i + 1), Name: fmt.Sprint("User ", i+1), Email: fmt.Sprintf("u%d@example.com", i+1),
				Number: "+919800000001", LoginID: fmt.Sprint("u", i+1), RoleID: 54631, RoleName: "Agent", UsersForCDR: smartflotest.CDR{Type: "all"}}
		}
		return smartflotest.New(smartflotest.Config{Token: testToken, Faults: faults}, users)
	}
	users := make([]dnltest.User, n)
	for i := range users {
		users[i] = dnltest.User{UserID: int64(i + 1), Name: fmt.Sprint("user", i+1), UserType: "agent", Active: true, Email: fmt.Sprintf("u%d@example.com", i+1)}
	}
	return dnltest.New(dnltest.Config{Token: testToken, Faults: faults}, users)
}

// BenchmarkHiddenLimit runs apply through the CLI at --rate 10×L against a
// fake whose hidden limit is L, in real time over loopback, and reports the
// rate the server accepted and the wall time as a multiple of the time its
// budget needs (requests/L). Each run lasts about 20 seconds:
//
//	go test -run '^$' -bench HiddenLimit -benchtime 1x ./cmd/rostersync
func BenchmarkHiddenLimit(b *testing.B) {
	for _, limit := range []int{5, 20} {
		b.Run(fmt.Sprintf("L=%d", limit), func(b *testing.B) {
			n := 20 * limit
			dir := b.TempDir()
			rosterPath := numberedRoster(b, dir, "id,name", n, func(i int) string { return fmt.Sprintf("%d,Limited %d", i, i) })
			var took time.Duration
			accepted, throttled := 0, 0
			for b.Loop() {
				fake := bigFake("smartflo", n, fakehttp.Faults{Limit: float64(limit)}).(*smartflotest.Fake)
				srv := httptest.NewServer(fake)
				app := &App{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: io.Discard, Getenv: func(k string) string {
					return map[string]string{"ROSTERSYNC_TOKEN": testToken, "XDG_STATE_HOME": dir}[k]
				}}
				start := time.Now()
				err := app.Run(context.Background(), []string{"apply", "--target", "smartflo", "--base-url", srv.URL,
					"--roster", rosterPath, "--report", filepath.Join(dir, "report.csv"), "--rate", fmt.Sprint(10 * limit), "--workers", "8"})
				took += time.Since(start)
				srv.Close()
				if err != nil {
					b.Fatal(err)
				}
				for _, r := range fake.Requests() {
					if r.Status == 429 {
						throttled++
					} else {
						accepted++
					}
				}
			}
			ideal := float64(accepted) / float64(limit)
			b.ReportMetric(float64(accepted)/took.Seconds(), "req/s")
			b.ReportMetric(took.Seconds()/ideal, "x-budget-time")
			b.ReportMetric(float64(throttled)/float64(b.N), "429s/run")
		})
	}
}
