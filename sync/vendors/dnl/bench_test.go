package dnl_test

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
	"github.com/rostersync/rostersync/sync/vendors/dnl"
	"github.com/rostersync/rostersync/sync/vendors/dnl/dnltest"
	"github.com/rostersync/rostersync/sync/vendors/fakehttp"
	"github.com/rostersync/rostersync/sync/vendors/rest"
)

// The benchmarks below measure the client's own cost: they send through
// fakehttp.Replay, which answers from the real fake once and replays its
// recorded answers after, so no socket and no fake's work is timed.

// replayed returns a client of a fake holding users, answering through a
// Replay, as the CLI builds it (the default retry policy, no limit).
func replayed(users []dnltest.User) *dnl.Client {
	fake := dnltest.New(dnltest.Config{Token: adminTok}, users)
	return dnl.New(rest.Config{BaseURL: "http://dnl.invalid", HTTP: &http.Client{Transport: fakehttp.NewReplay(fake)},
		Token: adminTok, Limiter: ratelimit.New(0), Policy: ratelimit.DefaultPolicy()})
}

// BenchmarkList reads one list page of 1,000 users (the largest per_page)
// and builds a model.User of each, as a plan's listing does.
func BenchmarkList(b *testing.B) {
	const n = dnl.MaxPerPage
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
// its roster sets (last_name), through Only.
func BenchmarkListOnly(b *testing.B) {
	const n = dnl.MaxPerPage
	c := replayed(seed(n)).Only([]string{"last_name"})
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
// the retry policy and limiter, the request, and reading the user each
// PATCH answers with (which verifies it).
func BenchmarkSend(b *testing.B) {
	const n = 1000
	users := seed(n)
	c := replayed(users)
	field := dnl.Target.Table.Field("last_name")
	p := &plan.Plan{Target: "dnl"}
	for i, u := range users {
		v := fmt.Sprintf("Changed %d", i)
		id := fmt.Sprint(u.UserID)
		p.Items = append(p.Items, plan.Item{Row: i + 1, Key: id, UserID: id, Status: model.Planned,
			Changes: []plan.Change{{Field: field, New: v}}, Body: map[string]any{"last_name": v}})
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
