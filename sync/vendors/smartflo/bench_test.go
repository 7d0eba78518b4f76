package smartflo_test

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/rostersync/rostersync/ratelimit"
	"github.com/rostersync/rostersync/sync/apply"
	"github.com/rostersync/rostersync/sync/model"
	"github.com/rostersync/rostersync/sync/plan"
	"github.com/rostersync/rostersync/sync/vendors/fakehttp"
	"github.com/rostersync/rostersync/sync/vendors/rest"
	"github.com/rostersync/rostersync/sync/vendors/smartflo"
	"github.com/rostersync/rostersync/sync/vendors/smartflo/smartflotest"
)

// The benchmarks below measure the client's own cost: they send through
// fakehttp.Replay, which answers from the real fake once and replays its
// recorded answers after, so no socket and no fake's work is timed.

// replayed returns a client of a fake holding users, answering through a
// Replay, as the CLI builds it (the default retry policy, no limit).
func replayed(users []smartflotest.User) *smartflo.Client {
	fake := smartflotest.New(smartflotest.Config{Token: permanent}, users)
	return smartflo.New(rest.Config{BaseURL: "http://smartflo.invalid", HTTP: &http.Client{Transport: fakehttp.NewReplay(fake)},
		Token: permanent, Limiter: ratelimit.New(0), Policy: ratelimit.DefaultPolicy()})
}

// BenchmarkList reads 1,000 users, ten cursor pages of 100 (the largest
// limit), and builds a model.User of each, as a plan's listing does.
func BenchmarkList(b *testing.B) {
	const n = 1000
	c := replayed(seed(n))
	list := func() {
		got := 0
		if err := c.List(context.Background(), func(model.User) error { got++; return nil }); err != nil || got != n {
			b.Fatalf("listed %d users: %v", got, err)
		}
	}
	list()
	b.ReportAllocs()
	for b.Loop() {
		list()
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "users/s")
}

// BenchmarkListOnly is BenchmarkList as a plan lists: with only the field
// its roster sets (name), through Only.
func BenchmarkListOnly(b *testing.B) {
	const n = 1000
	c := replayed(seed(n)).Only([]string{"name"})
	list := func() {
		got := 0
		if err := c.List(context.Background(), func(model.User) error { got++; return nil }); err != nil || got != n {
			b.Fatalf("listed %d users: %v", got, err)
		}
	}
	list()
	b.ReportAllocs()
	for b.Loop() {
		list()
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "users/s")
}

// BenchmarkSend applies a plan of 1,000 changed users through an Applier
// with 16 workers and verification on, as apply does: the worker pool,
// the retry policy and limiter, the requests, and the one listing that
// verifies them.
func BenchmarkSend(b *testing.B) {
	const n = 1000
	users := seed(n)
	c := replayed(users)
	field := smartflo.Target.Table.Field("name")
	p := &plan.Plan{Target: "smartflo"}
	for i, u := range users {
		v := fmt.Sprintf("Changed %d", i)
		id := fmt.Sprint(u.ID)
		p.Items = append(p.Items, plan.Item{Row: i + 1, Key: id, UserID: id, Status: model.Planned,
			Changes: []plan.Change{{Field: field, New: v}}, Body: map[string]any{"name": v}})
	}
	a := apply.Applier{Patcher: c, Verify: c, Workers: 16}
	send := func() {
		var verified atomic.Int64
		a.Apply(context.Background(), p, func(o apply.Outcome) { // called from the workers
			if o.Verified {
				verified.Add(1)
			}
		})
		if verified.Load() != n {
			b.Fatalf("verified %d of %d", verified.Load(), n)
		}
	}
	send()
	b.ReportAllocs()
	for b.Loop() {
		send()
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "PATCHes/s")
}
