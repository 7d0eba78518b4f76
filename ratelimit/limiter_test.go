package ratelimit_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	gosync "sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rostersync/rostersync/ratelimit"
)

// starts runs workers goroutines that each call Wait until ctx ends and
// returns the instants their requests started, sorted.
func starts(ctx context.Context, l *ratelimit.Limiter, workers int) []time.Time {
	var (
		mu  gosync.Mutex
		got []time.Time
		wg  gosync.WaitGroup
	)
	for range workers {
		wg.Go(func() {
			for l.Wait(ctx) == nil {
				mu.Lock()
				got = append(got, time.Now())
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	slices.SortFunc(got, func(a, b time.Time) int { return a.Compare(b) })
	return got
}

// maxInWindow returns the most starts within any half-open window [t, t+d).
func maxInWindow(ts []time.Time, d time.Duration) int {
	best, lo := 0, 0
	for hi := range ts {
		for ts[hi].Sub(ts[lo]) >= d {
			lo++
		}
		best = max(best, hi-lo+1)
	}
	return best
}

func TestLimiterRate(t *testing.T) {
	for _, r := range []float64{5, 50} {
		t.Run(fmt.Sprint(r), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				const span = 20 * time.Second
				l := ratelimit.New(r)
				if got := l.Rate(); got != r {
					t.Fatalf("Rate() = %v, want %v", got, r)
				}
				ctx, cancel := context.WithTimeout(t.Context(), span)
				defer cancel()
				begin := time.Now()
				ts := starts(ctx, l, 8)
				if n := len(ts); n == 0 || ts[0] != begin {
					t.Fatalf("first request did not start at once (%d starts)", n)
				}
				achieved := float64(len(ts)) / span.Seconds()
				if achieved < 0.97*r {
					t.Errorf("achieved %.2f requests/s, want at least %.2f", achieved, 0.97*r)
				}
				if achieved > r+1/span.Seconds() {
					t.Errorf("achieved %.2f requests/s, more than the rate %v", achieved, r)
				}
				if m := maxInWindow(ts, time.Second); m > int(r)+1 {
					t.Errorf("%d starts within one second, want at most %d", m, int(r)+1)
				}
			})
		})
	}
}

func TestLimiterUnlimited(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := ratelimit.New(0)
		if l.Rate() != 0 {
			t.Errorf("Rate() = %v, want 0", l.Rate())
		}
		begin := time.Now()
		for range 1000 {
			if err := l.Wait(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
		if d := time.Since(begin); d != 0 {
			t.Errorf("1000 waits took %v with no limit", d)
		}
		// A 429 before anything got through gives the run a rate to adapt:
		// one a second, growing from there.
		l.Throttled(time.Time{}, time.Now())
		if l.Rate() != 1 {
			t.Errorf("Rate() = %v after a 429 with no limit set, want 1", l.Rate())
		}
	})
}

// TestPauseUntil checks that a pause holds for every waiter: those that
// arrive during it and those already waiting for a token when it was set.
func TestPauseUntil(t *testing.T) {
	for _, r := range []float64{0, 2, 10} {
		t.Run(fmt.Sprint(r), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				l := ratelimit.New(r)
				ctx := t.Context()
				if err := l.Wait(ctx); err != nil { // take the first token
					t.Fatal(err)
				}
				const early, late = 5, 5
				var (
					seen instants
					wg   gosync.WaitGroup
				)
				wait := func() {
					if err := l.Wait(ctx); err != nil {
						t.Error(err)
						return
					}
					seen.add(time.Now())
				}
				for range early {
					wg.Go(wait)
				}
				synctest.Wait() // all blocked: in the bucket, or done when unlimited
				until := time.Now().Add(30 * time.Second)
				l.PauseUntil(until)
				l.PauseUntil(until.Add(-20 * time.Second)) // an earlier pause never shortens it
				for range late {
					wg.Go(wait)
				}
				time.Sleep(time.Second)
				for range late {
					wg.Go(wait)
				}
				wg.Wait()
				got := seen.sorted()
				if r == 0 {
					// Unlimited: the early waiters went through before the pause.
					for _, s := range got[early:] {
						if s != until {
							t.Errorf("a waiter started at +%v, want exactly at the pause's end", s.Sub(until))
						}
					}
					return
				}
				for _, s := range got {
					if s.Before(until) {
						t.Errorf("a request started %v before the pause ended", until.Sub(s))
					}
				}
				if got[0] != until {
					t.Errorf("first request after the pause at +%v, want at once", got[0].Sub(until))
				}
				if m := maxInWindow(got, time.Second); m > int(r)+1 {
					t.Errorf("%d starts within one second after the pause, want at most %d", m, int(r)+1)
				}
			})
		})
	}
}

// instants collects instants under a mutex.
type instants struct {
	mu gosync.Mutex
	ts []time.Time
}

func (s *instants) add(t time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ts = append(s.ts, t)
}

func (s *instants) sorted() []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := slices.Clone(s.ts)
	slices.SortFunc(out, func(a, b time.Time) int { return a.Compare(b) })
	return out
}

func TestWaitCancelledDuringPause(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := ratelimit.New(10)
		l.PauseUntil(time.Now().Add(time.Hour))
		cause := errors.New("operator pressed ^C")
		ctx, cancel := context.WithCancelCause(t.Context())
		time.AfterFunc(2*time.Second, func() { cancel(cause) })
		begin := time.Now()
		err := l.Wait(ctx)
		if !errors.Is(err, cause) {
			t.Errorf("Wait = %v, want the ctx's cause", err)
		}
		if d := time.Since(begin); d != 2*time.Second {
			t.Errorf("Wait returned after %v, want 2s", d)
		}
	})
}

func TestThrottled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := ratelimit.New(10)
		// The server took 4 requests in the second before the 429: its budget.
		for range 4 {
			l.Succeeded(time.Now())
			time.Sleep(200 * time.Millisecond)
		}
		l.Throttled(time.Time{}, time.Now())
		if got := l.Rate(); !near(got, 3.6) {
			t.Fatalf("after a 429 with 4 accepted in the second before, the rate is %v, want 0.9×4", got)
		}
		// A burst of 429s within a second counts once.
		l.Throttled(time.Time{}, time.Now())
		time.Sleep(999 * time.Millisecond)
		l.Throttled(time.Time{}, time.Now())
		if got := l.Rate(); !near(got, 3.6) {
			t.Fatalf("after a burst of 429s within a second the rate is %v, want 3.6", got)
		}
		// With no success in the second before, there is no estimate: halve.
		time.Sleep(time.Millisecond)
		l.Throttled(time.Time{}, time.Now())
		if got := l.Rate(); !near(got, 1.8) {
			t.Fatalf("after a 429 with nothing accepted, the rate is %v, want 1.8", got)
		}
		// It never falls below a floor, so a run always ends.
		for range 30 {
			time.Sleep(time.Second)
			l.Throttled(time.Time{}, time.Now())
		}
		if got := l.Rate(); !near(got, 0.2) {
			t.Fatalf("after many 429s the rate is %v, want the floor 0.2", got)
		}
	})
}

func TestThrottledPauses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := ratelimit.New(100)
		retryAt := time.Now().Add(7 * time.Second)
		l.Throttled(retryAt, time.Now())
		if err := l.Wait(t.Context()); err != nil {
			t.Fatal(err)
		}
		if now := time.Now(); now != retryAt {
			t.Errorf("the next request started at %v, want exactly the retry time %v", now, retryAt)
		}
	})
}

func TestSucceededRaisesUpToCeiling(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := ratelimit.New(10)
		l.Succeeded(time.Now())
		if got := l.Rate(); got != 10 {
			t.Fatalf("a success at the configured rate moved it to %v", got)
		}
		time.Sleep(2 * time.Second)
		l.Throttled(time.Time{}, time.Now()) // no evidence: 5, growing by 1% of 5 a second
		// One second of successes at 5/s raises the rate by about 0.05.
		for range 5 {
			l.Succeeded(time.Now())
		}
		if got := l.Rate(); got < 5.049 || got > 5.051 {
			t.Errorf("after 5 successes at 5/s the rate is %v, want about 5.05", got)
		}
		prev := l.Rate()
		for range 2000 {
			l.Succeeded(time.Now())
			got := l.Rate()
			if got > 10 {
				t.Fatalf("rate %v passed the configured 10", got)
			}
			if got < prev {
				t.Fatalf("a success lowered the rate from %v to %v", prev, got)
			}
			prev = got
		}
		if prev != 10 {
			t.Errorf("after many successes the rate is %v, want back at 10", prev)
		}
	})
}

// TestAIMDUnderLimit drives the limiter against a server that takes 4
// requests a second of a configured 10: the rate must fall, and requests
// must keep flowing.
func TestAIMDUnderLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := ratelimit.New(10)
		var window []time.Time
		ok, throttled := 0, 0
		ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
		defer cancel()
		for l.Wait(ctx) == nil {
			now := time.Now()
			window = slices.DeleteFunc(window, func(s time.Time) bool { return now.Sub(s) >= time.Second })
			if len(window) >= 4 {
				throttled++
				l.Throttled(window[0].Add(time.Second), now)
				continue
			}
			window = append(window, now)
			ok++
			l.Succeeded(now)
		}
		if l.Rate() >= 10 {
			t.Errorf("rate %v did not adapt to 429s", l.Rate())
		}
		if ok < 60*4*8/10 {
			t.Errorf("only %d requests went through in 60s against a 4/s server, under 80%% of its budget", ok)
		}
		if throttled > ok/2 {
			t.Errorf("%d requests throttled for %d through: the limiter did not slow down", throttled, ok)
		}
	})
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

// TestDecreaseRebooksWaiters checks that waiters who booked a start time at
// the old rate do not keep it after a 429 lowers the rate: every start
// after the decrease is spaced at the new rate.
func TestDecreaseRebooksWaiters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := ratelimit.New(10)
		if err := l.Wait(t.Context()); err != nil { // spend the burst
			t.Fatal(err)
		}
		var mu gosync.Mutex
		var starts []time.Time
		var wg gosync.WaitGroup
		for range 6 {
			wg.Go(func() {
				if err := l.Wait(t.Context()); err == nil {
					mu.Lock()
					starts = append(starts, time.Now())
					mu.Unlock()
				}
			})
		}
		synctest.Wait()                      // all six have booked times 100ms apart
		l.Throttled(time.Time{}, time.Now()) // no evidence: 5/s
		wg.Wait()
		slices.SortFunc(starts, func(a, b time.Time) int { return a.Compare(b) })
		for i := 1; i < len(starts); i++ {
			if gap := starts[i].Sub(starts[i-1]); gap < 200*time.Millisecond {
				t.Errorf("starts %d and %d were %v apart, want at least 200ms at the lowered rate", i-1, i, gap)
			}
		}
	})
}
