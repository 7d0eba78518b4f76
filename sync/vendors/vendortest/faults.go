package vendortest

import (
	"net/http"
	"sync"
	"testing"

	"github.com/rostersync/rostersync/ratelimit"
	"github.com/rostersync/rostersync/sync/vendors"
	"github.com/rostersync/rostersync/sync/vendors/fakehttp"
	"github.com/rostersync/rostersync/sync/vendors/rest"
)

// testRateLimited sends concurrent patches through a fake that takes 2
// requests a second while the client starts at 10: every patch lands
// through the fake's 429s (with and without a hint of when to come back),
// and the client slows down rather than hammering.
func testRateLimited(t *testing.T, v *vendors.Vendor) {
	const n = 20
	for _, hints := range []bool{true, false} {
		name := "hints"
		if !hints {
			name = "no hints"
		}
		t.Run(name, func(t *testing.T) {
			faults := fakehttp.Faults{Limit: 2, LimitHints: hints}
			inBubble(t, v, vendors.FakeConfig{Users: n, Faults: faults}, func(t *testing.T, h *harness) {
				lim := ratelimit.New(10)
				c := h.client(rest.Config{Limiter: lim, Policy: ratelimit.DefaultPolicy()})
				var wg sync.WaitGroup
				for i := 1; i <= n; i++ {
					wg.Go(func() {
						if _, err := c.Patch(t.Context(), id(i), sampleBody(v)); err != nil {
							t.Errorf("Patch(%s): %v", id(i), err)
						}
					})
				}
				wg.Wait()
				throttled := h.answered(http.StatusTooManyRequests)
				if throttled == 0 {
					t.Fatal("the fake never answered 429: the case proves nothing")
				}
				if throttled > n {
					t.Errorf("%d 429s for %d patches: the client did not slow down", throttled, n)
				}
				if w := h.fake.Writes(); w != n+throttled {
					t.Errorf("%d writes for %d patches and %d 429s", w, n, throttled)
				}
				if r := lim.Rate(); r >= 10 {
					t.Errorf("rate %v after 429s, want it cut below 10", r)
				}
				for id, u := range readAll(t, t.Context(), c, n) {
					if !holdsSample(v, u) {
						t.Errorf("user %s not patched", id)
					}
				}
			})
		})
	}
}

// calls lists n users, then reads and patches each of the first five:
// every call must succeed through the faults of h's fake.
func calls(t *testing.T, v *vendors.Vendor, h *harness, c vendors.Client, n int) {
	t.Helper()
	if got := len(listAll(t, t.Context(), c)); got != n {
		t.Errorf("List gave %d users of %d", got, n)
	}
	for i := 1; i <= 5; i++ {
		if _, err := c.Get(t.Context(), id(i)); err != nil {
			t.Errorf("Get(%s): %v", id(i), err)
		}
		if _, err := c.Patch(t.Context(), id(i), sampleBody(v)); err != nil {
			t.Errorf("Patch(%s): %v", id(i), err)
		}
	}
	for i := 1; i <= 5; i++ {
		if u, err := c.Get(t.Context(), id(i)); err != nil || !holdsSample(v, u) {
			t.Errorf("user %s not patched (%v)", id(i), err)
		}
	}
}

// testServerErrors has the fake answer 30% of requests 503: lists,
// reads and patches are retried and succeed.
func testServerErrors(t *testing.T, v *vendors.Vendor) {
	n := v.PageSize + 1
	inBubble(t, v, vendors.FakeConfig{Users: n, Faults: fakehttp.Faults{ServerErrors: 0.3}}, func(t *testing.T, h *harness) {
		c := h.client(rest.Config{Policy: ratelimit.DefaultPolicy()})
		calls(t, v, h, c, n)
		if h.answered(http.StatusServiceUnavailable) == 0 {
			t.Error("the fake never answered 503: the case proves nothing")
		}
	})
}

// testResetBefore has the fake drop 30% of connections, over a real
// socket, before handling the request: every call is retried and succeeds.
func testResetBefore(t *testing.T, v *vendors.Vendor) {
	n := v.PageSize + 1
	h := serve(t, v, vendors.FakeConfig{Users: n, Faults: fakehttp.Faults{ResetBefore: 0.3}})
	calls(t, v, h, h.client(rest.Config{}), n)
	if h.answered(0) == 0 {
		t.Error("the fake never dropped a connection: the case proves nothing")
	}
}

// testResetAfter has the fake apply half the writes, then drop their
// connection unanswered: the patch is sent again and succeeds.
func testResetAfter(t *testing.T, v *vendors.Vendor) {
	const n = 5
	h := serve(t, v, vendors.FakeConfig{Users: n, Faults: fakehttp.Faults{ResetAfter: 0.5}})
	calls(t, v, h, h.client(rest.Config{}), n)
	dropped := h.answered(0)
	if dropped == 0 {
		t.Error("the fake never dropped a write: the case proves nothing")
	}
	if w := h.fake.Writes(); w != n+dropped {
		t.Errorf("%d writes for %d patches and %d dropped", w, n, dropped)
	}
}
