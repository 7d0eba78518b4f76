// Package ratelimit owns how fast a run talks to a target: the token bucket
// every request waits on, the pause a server's Retry-After imposes on every
// worker, the adaptation of the rate to a server's hidden budget, and the
// retry policy. It knows nothing of any vendor.
package ratelimit

import (
	"context"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limiter is the one token bucket all requests of a run wait on, reads and
// writes alike, with a pause every waiter honours (a server's Retry-After)
// and adaptation to a server's hidden budget, with or without a hint of it.
//
// A sign the server is over its budget is a 429, or a 503 when at least
// half of the recent answers are 503s (a rate-limiting proxy answers so; a
// lone 503 is a failure to retry). On one, the rate is cut: it halves, and
// halves again on each refusal of a request sent after the cut, so a rate
// far above the budget comes down within a few requests; but never below
// 0.9 of the most requests the server accepted within a second lately, a
// budget it has shown (after a Retry-After, which pauses every worker and
// so makes each cut cost a pause, it goes there at once). Too little
// evidence (one request accepted in a few milliseconds) thus never
// collapses the rate.
//
// A rate that holds for a second, sent at and hardly refused, is good; the
// rate then probes above it: halfway to the last rate refused while that
// is over 10% away (a binary search for the budget), else by a step that
// doubles while probes hold (2%, 4%, 8% ... up to double), so it climbs
// back to the budget in seconds. A probe refused goes back to the good
// rate; probes a small step above it then come ever less often (every 2,
// 4 ... 30 s), as each costs a request its turn, and after a refusal that
// paused every worker the wait is 8 s at least, growing fourfold. A
// refusal at a good rate trims it by 4%; another soon after cuts. The rate
// never passes the configured one, nor falls below 0.2 a second.
type Limiter struct {
	ceiling rate.Limit // the configured rate; rate.Inf = none

	mu        sync.Mutex
	rate      rate.Limit    // the current rate; rate.Inf when unlimited
	bucket    *rate.Limiter // paces at rate·pace; replaced on each change
	notBefore time.Time     // no request starts before this instant
	lastStart time.Time     // when the last request was let start

	first    time.Time     // when the first answered request was sent
	answers  []answer      // recent answers, by send time, oldest first
	room     []answer      // the array answers lies at the end of; the front holds answers forgotten
	since    time.Time     // when the rate last changed
	good     rate.Limit    // a rate that held; 0 = none since the last cut
	bad      rate.Limit    // the last rate refused; 0 = none known
	trimmed  time.Time     // when a refusal at a good rate last trimmed it
	nextStep float64       // the next probe's increase, as a share of the rate
	hold     time.Duration // how long a rate must hold before the next probe
}

// answer is what became of one request: accepted, or refused as over the
// server's budget.
type answer struct {
	sent     time.Time
	accepted bool
}

const (
	// minRate is the floor the rate never goes below, in requests a second.
	minRate = 0.2
	// below is the share of the server's observed budget a cut rate drops
	// to at least: under it, jitter in arrival times stays clear of the
	// limit.
	below = 0.9
	// evidence is the window in which accepted requests show the server's
	// budget, and how long a rate must hold before it counts as good.
	evidence = time.Second
	// memory is how far back the answers are kept: the budget shown is
	// the most accepted within one second of it, so a second that lost
	// requests to a refusal does not drag the estimate down.
	memory = 5 * time.Second
	// maxHold bounds the wait between probes: each probe refused doubles
	// it from evidence, since a refusal costs the request its turn, and a
	// rate just under the budget is worth keeping a while.
	maxHold = 30 * time.Second
	// firstStep is the first probe's increase, as a share of the rate;
	// each probe that holds doubles it, up to maxStep.
	firstStep = 0.02
	maxStep   = 1
	// recent is how many of the last answers tell whether 503s are a sign
	// of a budget (half of them or more) or a server failing now and then.
	recent = 8
	// pace is the share of the rate the bucket sends at: the 2% left over
	// absorbs the jitter between a token here and the request's arrival
	// there (scheduling, a GC pause), so the server never sees more than the
	// rate plus one or two in any second.
	pace = 0.98
)

// newBucket returns a token bucket for r requests a second, burst one,
// whose first token comes 1/r after last (at once when last is zero).
func newBucket(r rate.Limit, last time.Time) *rate.Limiter {
	if r == rate.Inf {
		return rate.NewLimiter(rate.Inf, 1)
	}
	b := rate.NewLimiter(r*pace, 1)
	if !last.IsZero() {
		b.AllowN(last, 1)
	}
	return b
}

// New returns a limiter for perSecond requests a second; 0 means no limit
// (until a server throttles). Its burst is one and it paces 2% under the
// rate, so no one-second window holds more than perSecond+1 starts.
func New(perSecond float64) *Limiter {
	ceiling := rate.Inf
	if perSecond > 0 {
		ceiling = rate.Limit(perSecond)
	}
	return &Limiter{rate: ceiling, bucket: newBucket(ceiling, time.Time{}), ceiling: ceiling}
}

// Wait blocks until a request may start: after any pause, then a token.
// A token is good only if no pause holds and the rate did not change while
// it waited (its time was booked at the old rate): else it waits again.
func (l *Limiter) Wait(ctx context.Context) error {
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	for {
		if err := l.waitPause(ctx); err != nil {
			return err
		}
		bucket := l.currentBucket()
		if err := take(ctx, bucket); err != nil {
			return err
		}
		l.mu.Lock()
		now := time.Now()
		good := bucket == l.bucket && !now.Before(l.notBefore)
		if good {
			l.lastStart = now
		}
		l.mu.Unlock()
		if good {
			return nil
		}
	}
}

// now lets a request start at once when it need not wait: no pause
// holds and the bucket has a token (always, with no limit). It reports
// whether the request may start; if not, the caller waits with Wait. It
// spares a run without a limit the contexts and timers of a wait.
func (l *Limiter) now() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if now.Before(l.notBefore) || !l.bucket.AllowN(now, 1) {
		return false
	}
	l.lastStart = now
	return true
}

// take waits for a token of b, or until ctx ends. Unlike b.Wait, it does
// not give up at once when the token comes after ctx's deadline: like every
// other wait of a run, it ends when ctx does, with ctx's cause.
func take(ctx context.Context, b *rate.Limiter) error {
	r := b.Reserve()
	d := r.Delay()
	if d == 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		r.Cancel()
		return context.Cause(ctx)
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
// 429: the server says it is over its budget. Every request pauses until
// retryAt when the server gave one, and the rate adapts (see Limiter).
func (l *Limiter) Throttled(retryAt, sent time.Time) {
	l.overBudget(retryAt, sent, true)
}

// Unavailable tells the limiter that a request sent at sent was answered
// 503. A rate-limiting proxy answers so (nginx's limit_req does by
// default), but so does a server failing now and then: a 503 counts as a
// sign of the budget only when at least half of the answers since the rate
// last changed are 503s (of at least three while probing, four otherwise).
// Every request pauses until retryAt when the server gave one.
func (l *Limiter) Unavailable(retryAt, sent time.Time) {
	l.overBudget(retryAt, sent, false)
}

func (l *Limiter) overBudget(retryAt, sent time.Time, certain bool) {
	if !retryAt.IsZero() {
		l.PauseUntil(retryAt)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	l.note(sent, false, now)
	if sent.Before(l.since) {
		return // sent at a rate changed since: that change answered it
	}
	probing := l.good > 0 && l.rate > l.good
	least := recent / 2
	if probing {
		least = 3
	}
	if !certain && !l.mostlyRefused(least) {
		return // a lone 503 is a failure to retry, not a budget
	}
	if !probing {
		if l.good > 0 && l.rate == l.good && now.Sub(l.trimmed) > 2*evidence {
			// A refusal at a rate that held: the budget is just under it, or
			// jitter brought two requests too close. Trim the rate a little;
			// another refusal soon after cuts deep.
			l.trimmed = now
			l.bad = l.rate
			l.holdLonger(!retryAt.IsZero())
			l.good = l.rate * (1 - 2*firstStep)
			l.change(l.good, now)
			return
		}
		l.cut(now, !retryAt.IsZero())
		return
	}
	if l.rate <= l.good*(1+2*firstStep) || !retryAt.IsZero() {
		// Refused a small step above a good rate: the budget is just above
		// it. Or refused with a pause for every worker. Either way the next
		// probe is worth less than it costs for a while.
		l.holdLonger(!retryAt.IsZero())
	}
	l.bad = l.rate
	l.nextStep = firstStep
	l.change(l.good, now)
}

// holdLonger makes the next probe wait longer: twice as long as the last
// wait, or four times (eight seconds at least) after a refusal that paused
// every worker, as that one cost every worker a pause, not one request its
// turn. l.mu must be held.
func (l *Limiter) holdLonger(paused bool) {
	if paused {
		l.hold = min(maxHold, max(8*evidence, 4*l.hold))
		return
	}
	l.hold = min(maxHold, 2*max(evidence, l.hold))
}

// probe returns the next rate to try above the good rate r: halfway to
// the last rate refused while that is over 10% away (a binary search for
// the budget), else a step above r that doubles with each probe that
// holds. l.mu must be held.
func (l *Limiter) probe(r rate.Limit) rate.Limit {
	if l.nextStep == 0 {
		l.nextStep = firstStep
	}
	if l.bad > r*(1+5*firstStep) {
		return (r + l.bad) / 2
	}
	l.bad = 0 // so near, or passed: probe on as if unknown, so a budget that grew is found
	next := r * rate.Limit(1+l.nextStep)
	l.nextStep = min(maxStep, 2*l.nextStep)
	return next
}

// mostlyRefused reports whether at least half of the last answers (up to
// recent of them) to requests sent since the rate last changed were
// refusals, out of at least least answers; l.mu must be held.
func (l *Limiter) mostlyRefused(least int) bool {
	n, refused := 0, 0
	for i := len(l.answers) - 1; i >= 0 && n < recent && !l.answers[i].sent.Before(l.since); i-- {
		n++
		if !l.answers[i].accepted {
			refused++
		}
	}
	return n >= least && 2*refused >= n
}

// cut lowers the rate after a refusal. With no pause, a cut costs only a
// request, so the rate halves (each refusal after it halving again), to
// no less than just under the most the server accepted within a second
// lately, a budget it has shown it has. A refusal that paused every worker
// makes each cut cost a pause: then the rate goes at once to just under
// that budget shown (halving only when none was). Probes then search up
// from there. l.mu must be held.
func (l *Limiter) cut(now time.Time, paused bool) {
	// The most requests accepted within one second, lately.
	accepted, in := 0, 0
	for lo, hi := 0, 0; hi < len(l.answers); hi++ {
		if l.answers[hi].accepted {
			in++
		}
		for ; l.answers[hi].sent.Sub(l.answers[lo].sent) >= evidence; lo++ {
			if l.answers[lo].accepted {
				in--
			}
		}
		accepted = max(accepted, in)
	}
	from := float64(l.rate)
	if l.rate == rate.Inf {
		// Unlimited so far: the rate the answers came at, or two a second
		// when there is no telling.
		from = 2
		if span := now.Sub(l.first); span > 0 && len(l.answers) > 1 {
			from = float64(len(l.answers)) / span.Seconds()
		}
	}
	shown := float64(accepted) / evidence.Seconds()
	to := max(from/2, below*shown)
	l.bad = rate.Limit(from)
	if paused && accepted > 0 {
		// Probes that overshoot cost a pause each, so the search starts
		// from the budget shown, not from the rate refused.
		to = min(from/2, below*shown)
		l.bad = rate.Limit(min(from, shown*(1+4*firstStep)))
	}
	l.good = 0
	l.hold = evidence
	l.nextStep = firstStep
	l.change(rate.Limit(max(minRate, to)), now)
}

// change sets the rate from now on; l.mu must be held.
func (l *Limiter) change(r rate.Limit, now time.Time) {
	// A new bucket, not SetLimit: waiters booked times at the old rate, and
	// those must not start (Wait sees the bucket changed and waits again),
	// while the next start keeps its distance from the last one (unless a
	// pause ends later).
	last := l.lastStart
	if l.notBefore.After(now) {
		last = time.Time{} // the server named the next start: the pause spaces it
	}
	l.rate = r
	l.bucket = newBucket(r, last)
	l.since = now
}

// note records an answer to a request sent at sent and forgets those no
// decision needs any more; l.mu must be held.
func (l *Limiter) note(sent time.Time, accepted bool, now time.Time) {
	if l.first.IsZero() || sent.Before(l.first) {
		l.first = sent
	}
	if len(l.answers) == cap(l.answers) && len(l.answers) <= cap(l.room)/2 {
		// Move the answers kept to the front of the array, rather than grow
		// it (a run at thousands of requests a second notes each); at most
		// half of it, so that each move is paid for by as many appends.
		l.answers = l.room[:copy(l.room, l.answers)]
	}
	if len(l.answers) == cap(l.answers) {
		l.answers = append(l.answers, answer{sent: sent, accepted: accepted})
		l.room = l.answers // a new array
	} else {
		l.answers = append(l.answers, answer{sent: sent, accepted: accepted})
	}
	drop := 0
	for len(l.answers)-drop > recent && now.Sub(l.answers[drop].sent) >= memory {
		drop++
	}
	l.answers = l.answers[drop:]
}

// held reports whether the current rate has proved good: it has held for
// a second (longer after refused probes), and in the last second requests
// went out at about that rate (not held back by a pause or by too few of
// them to send) and under a quarter were refused. l.mu must be held.
func (l *Limiter) held(now time.Time) bool {
	if now.Sub(l.since) < max(evidence, l.hold) {
		return false
	}
	n, refused := 0, 0
	for i := len(l.answers) - 1; i >= 0; i-- {
		a := l.answers[i]
		if a.sent.Before(l.since) || now.Sub(a.sent) >= evidence {
			break
		}
		n++
		if !a.accepted {
			refused++
		}
	}
	return float64(n) >= float64(l.rate)*pace*evidence.Seconds()/2 && 4*refused < n
}

// Succeeded tells the limiter that a request sent at sent went through.
// When the rate, below the configured one, has held (see held), it is good
// and the rate probes above it.
func (l *Limiter) Succeeded(sent time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	l.note(sent, true, now)
	if l.rate >= l.ceiling || !l.held(now) {
		return
	}
	if l.good > 0 && l.rate > l.good {
		l.hold = evidence // the probe held: probe on at once
	}
	l.good = l.rate
	l.change(min(l.ceiling, l.probe(l.rate)), now)
}
