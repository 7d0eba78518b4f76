// Package ratelimit owns how fast a run talks to a target: the token bucket
// every request waits on, the pause a server's Retry-After imposes on every
// worker, the adaptation of the rate to a server's hidden budget, and the
// retry policy. It knows nothing of any vendor.
package ratelimit

import (
	"context"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limiter is the one token bucket all requests of a run wait on, reads and
// writes alike. A server's throttling lowers its rate multiplicatively and
// successes raise it back additively (AIMD), never above the configured rate;
// a Retry-After pauses every waiter until that instant.
type Limiter struct {
	bucket  *rate.Limiter // nil when the rate is unlimited
	ceiling float64       // the configured rate; 0 = unlimited

	mu           sync.Mutex
	notBefore    time.Time // no request starts before this instant
	lastDecrease time.Time
}

// minRate is the floor AIMD never goes below, in requests a second.
const minRate = 0.2

// decrease is the factor a throttled rate is multiplied by.
const decrease = 0.7

// New returns a limiter for perSecond requests a second; 0 means no limit.
// Its burst is one, so no one-second window holds more than perSecond+1.
func New(perSecond float64) *Limiter {
	l := &Limiter{ceiling: perSecond}
	if perSecond > 0 {
		l.bucket = rate.NewLimiter(rate.Limit(perSecond), 1)
	}
	return l
}

// Wait blocks until a request may start: after any pause, then a token.
// A pause set while it waited for its token holds too: it waits again.
func (l *Limiter) Wait(ctx context.Context) error {
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	for {
		if err := l.waitPause(ctx); err != nil {
			return err
		}
		if l.bucket == nil {
			return nil
		}
		if err := l.bucket.Wait(ctx); err != nil {
			return err
		}
		if !l.paused() {
			return nil
		}
	}
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

// paused reports whether a pause holds now.
func (l *Limiter) paused() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return time.Now().Before(l.notBefore)
}

// Rate returns the current rate in requests a second; 0 = unlimited.
func (l *Limiter) Rate() float64 {
	if l.bucket == nil {
		return 0
	}
	return float64(l.bucket.Limit())
}

// PauseUntil stops every request from starting before t.
func (l *Limiter) PauseUntil(t time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if t.After(l.notBefore) {
		l.notBefore = t
	}
}

// Throttled tells the limiter a server answered 429: the rate falls
// multiplicatively, at most once a second so that one burst of 429s counts
// once, and every request pauses until retryAt when the server gave it.
func (l *Limiter) Throttled(retryAt time.Time) {
	if !retryAt.IsZero() {
		l.PauseUntil(retryAt)
	}
	if l.bucket == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if now.Sub(l.lastDecrease) < time.Second {
		return
	}
	l.lastDecrease = now
	l.bucket.SetLimit(rate.Limit(math.Max(minRate, float64(l.bucket.Limit())*decrease)))
}

// Succeeded tells the limiter a request went through: the rate creeps back
// toward the configured one by about one request a second, every second.
func (l *Limiter) Succeeded() {
	if l.bucket == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	r := float64(l.bucket.Limit())
	if r >= l.ceiling {
		return
	}
	l.bucket.SetLimit(rate.Limit(math.Min(l.ceiling, r+1/r)))
}
