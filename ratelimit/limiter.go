// Package ratelimit owns how fast a run talks to a target: the token bucket
// every request waits on, the pause a server's Retry-After imposes on every
// worker, the adaptation of the rate to a server's hidden budget, and the
// retry policy. It knows nothing of any vendor.
package ratelimit

import (
	"context"
	"math"
	gosync "sync"
	"time"

	"golang.org/x/time/rate"
)

// Limiter is the one token bucket all requests of a run wait on, reads and
// writes alike, with a pause every waiter honours (a server's Retry-After)
// and AIMD adaptation to a server's hidden budget: a 429 lowers the rate to
// just under what the server was seen to accept in the second before it,
// and successes raise it back additively, never above the configured rate.
type Limiter struct {
	ceiling rate.Limit // the configured rate; rate.Inf = none

	mu           gosync.Mutex
	rate         rate.Limit    // the current rate; rate.Inf when unlimited
	bucket       *rate.Limiter // paces at rate·pace; replaced on each decrease
	notBefore    time.Time     // no request starts before this instant
	lastDecrease time.Time     // one decrease per burst of 429s
	step         float64       // additive increase, in requests a second per second
	accepted     []time.Time   // when recent successful requests were sent, oldest first
}

const (
	// minRate is the floor the rate never goes below, in requests a second.
	minRate = 0.2
	// below is the share of the server's observed budget a throttled rate
	// drops to: under it, jitter in arrival times stays clear of the limit.
	below = 0.9
	// growth is the additive increase after a decrease, as a share of the
	// decreased rate per second: slow, because every probe past the limit
	// costs a Retry-After pause of every worker.
	growth = 0.01
	// pace is the share of the rate the bucket sends at: the 2% left over
	// absorbs the jitter between a token here and the request's arrival
	// there (scheduling, a GC pause), so the server never sees more than the
	// rate plus one or two in any second.
	pace = 0.98
)

// newBucket returns a token bucket for r requests a second, burst one.
func newBucket(r rate.Limit) *rate.Limiter {
	if r == rate.Inf {
		return rate.NewLimiter(rate.Inf, 1)
	}
	return rate.NewLimiter(r*pace, 1)
}

// setRate changes the rate of the current bucket; l.mu must be held.
func (l *Limiter) setRate(r rate.Limit) {
	l.rate = r
	l.bucket.SetLimit(r * pace)
}

// New returns a limiter for perSecond requests a second; 0 means no limit
// (until a server throttles). Its burst is one and it paces 2% under the
// rate, so no one-second window holds more than perSecond+1 starts.
func New(perSecond float64) *Limiter {
	ceiling := rate.Inf
	if perSecond > 0 {
		ceiling = rate.Limit(perSecond)
	}
	return &Limiter{rate: ceiling, bucket: newBucket(ceiling), ceiling: ceiling}
}

// Wait blocks until a request may start: after any pause, then a token.
// A token is good only if no pause holds and the rate was not lowered
// while it waited (its time was booked at the old rate): else it waits
// again.
func (l *Limiter) Wait(ctx context.Context) error {
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	for {
		if err := l.waitPause(ctx); err != nil {
			return err
		}
		bucket := l.currentBucket()
		if err := bucket.Wait(ctx); err != nil {
			return err
		}
		l.mu.Lock()
		good := bucket == l.bucket && !time.Now().Before(l.notBefore)
		l.mu.Unlock()
		if good {
			return nil
		}
	}
}

func (l *Limiter) currentBucket() *rate.Limiter {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.bucket
}

// waitPause blocks until no pause holds.
func (l *Limiter) waitPause(ctx context.Context) error {
	for {
		l.mu.Lock()
		wait := time.Until(l.notBefore)
		l.mu.Unlock()
		if wait <= 0 {
			return nil
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return context.Cause(ctx)
		case <-t.C:
		}
	}
}

// Rate returns the current rate in requests a second; 0 = unlimited.
func (l *Limiter) Rate() float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.rate == rate.Inf {
		return 0
	}
	return float64(l.rate)
}

// PauseUntil stops every request from starting before t.
func (l *Limiter) PauseUntil(t time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if t.After(l.notBefore) {
		l.notBefore = t
	}
}

// Throttled tells the limiter that a request sent at sent was answered
// 429. Every request pauses until retryAt when the server gave one. The
// rate drops to just under the number of requests the server accepted in
// the second before, the best estimate of its budget (or halves, with no
// such evidence); one burst of 429s counts once.
func (l *Limiter) Throttled(retryAt, sent time.Time) {
	if !retryAt.IsZero() {
		l.PauseUntil(retryAt)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if !l.lastDecrease.IsZero() && now.Sub(l.lastDecrease) < time.Second {
		return
	}
	l.lastDecrease = now
	seen := 0
	for _, t := range l.accepted {
		if t.After(sent.Add(-time.Second)) && !t.After(sent) {
			seen++
		}
	}
	cur := float64(l.rate)
	var target float64
	switch {
	case seen > 0:
		target = below * math.Min(float64(seen), cur)
	case l.rate != rate.Inf:
		target = cur / 2
	default:
		target = 1 // throttled before anything got through: start slow, then grow
	}
	target = math.Max(minRate, target)
	// A new bucket, not SetLimit: waiters booked times at the old rate, and
	// those must not start (Wait sees the bucket changed and waits again).
	l.rate = rate.Limit(target)
	l.bucket = newBucket(l.rate)
	l.step = growth * target
}

// Succeeded tells the limiter that a request sent at sent went through.
// Below the configured rate, each success adds step/rate, so the rate
// grows by step every second it keeps succeeding.
func (l *Limiter) Succeeded(sent time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.accepted = append(l.accepted, sent)
	cut := 0
	for cut < len(l.accepted) && sent.Sub(l.accepted[cut]) > 2*time.Second {
		cut++
	}
	l.accepted = l.accepted[cut:]
	if l.rate >= l.ceiling {
		return
	}
	l.setRate(min(l.ceiling, l.rate+rate.Limit(l.step/float64(l.rate))))
}
