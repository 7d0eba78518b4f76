package ratelimit

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"time"
)

// Policy says how one request is retried: full-jitter exponential backoff,
// an attempt cap and an overall deadline.
type Policy struct {
	Attempts int           // tries at most, the first included
	Base     time.Duration // backoff ceiling after the first failure; it doubles each time
	Max      time.Duration // largest backoff ceiling
	Deadline time.Duration // for all attempts together; 0 = none
	// Health, when set, is shared by every request of a run: once it
	// judges the API unreachable, Do stops every request with its error.
	Health *Health
}

// DefaultPolicy is enough for a run through 15% 503s and 5% dropped
// connections to end with no failed row: eight failures in a row at 20%
// happen about three times in a billion.
func DefaultPolicy() Policy {
	return Policy{Attempts: 8, Base: 250 * time.Millisecond, Max: 20 * time.Second, Deadline: 5 * time.Minute}
}

// StatusError is an error that carries an HTTP status.
type StatusError interface {
	error
	HTTPStatus() int
}

// retryAter is an error that says when the server wants the next try.
type retryAter interface {
	RetryAt() time.Time
}

// again marks an error to retry without backoff.
type again struct{ error }

func (a again) Unwrap() error { return a.error }

// Again marks err as retryable at once, with no backoff: the caller fixed
// what was wrong (a renewed token). The attempt cap still holds.
func Again(err error) error { return again{err} }

// Retryable reports whether a request that failed with err may succeed if
// sent again: network errors and timeouts, 408, 429 and 5xx. Every other
// answer is permanent. This is the one place that decides.
func Retryable(err error) bool {
	var se StatusError
	var ag again
	var dns *net.DNSError
	// crypto/x509 returns these as values; a pointer is matched too.
	var cert x509.CertificateInvalidError
	var certPtr *x509.CertificateInvalidError
	var unknownCA x509.UnknownAuthorityError
	var host x509.HostnameError
	switch {
	case err == nil, errors.Is(err, context.Canceled):
		return false
	case errors.As(err, &ag):
		return true
	case errors.As(err, &se):
		s := se.HTTPStatus()
		return s == 408 || s == 429 || s >= 500
	case errors.As(err, &cert), errors.As(err, &certPtr), errors.As(err, &unknownCA), errors.As(err, &host):
		return false // TLS trouble is configuration, not weather
	case errors.As(err, &dns) && dns.IsNotFound:
		return false // no such host: a wrong base URL, not weather
	}
	var ue *url.Error
	var ne net.Error
	return errors.As(err, &ue) || errors.As(err, &ne) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, context.DeadlineExceeded)
}

// overBudget returns the status of an answer that may say the server is
// over its request budget: 429, or 503 (what a rate-limiting proxy such as
// nginx answers); else 0. The limiter weighs them (see Limiter).
func overBudget(err error) int {
	var se StatusError
	if errors.As(err, &se) {
		if s := se.HTTPStatus(); s == http.StatusTooManyRequests || s == http.StatusServiceUnavailable {
			return s
		}
	}
	return 0
}

// Do runs op until it succeeds, fails permanently, or the policy gives up.
// Every attempt first waits on lim. A 429 or 503 tells lim the server may
// be over its budget (and when to come back, for every worker); a success
// lets it speed up. Do returns the number of attempts made.
//
// Waiting (for the limiter, between attempts) ends with ctx, or when
// p.Health judges the API unreachable. op runs under ctx; once ctx is done
// no attempt follows, whatever op does with a request already sent.
func (p Policy) Do(ctx context.Context, lim *Limiter, op func(context.Context) error) (int, error) {
	if p.Deadline > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, p.Deadline)
		defer cancel()
	}
	if herr := p.Health.Err(); herr != nil {
		return 0, herr
	}
	w := &waits{ctx: ctx, health: p.Health}
	defer w.release()
	waiting := w.context
	var err error
	var first time.Time
	for attempt := 1; ; attempt++ {
		if cerr := ctx.Err(); cerr != nil {
			return attempt - 1, giveUp(err, context.Cause(ctx))
		}
		if herr := p.Health.Err(); herr != nil {
			return attempt - 1, giveUp(err, herr)
		}
		if !lim.now() {
			if werr := lim.Wait(waiting()); werr != nil {
				return attempt - 1, giveUp(err, werr)
			}
		}
		sent := time.Now()
		if attempt == 1 {
			first = sent
		}
		err = op(ctx)
		if ctx.Err() == nil {
			var gaveUp time.Time
			if attempt >= p.Attempts && attempt >= unreachableFailures {
				gaveUp = first
			}
			p.Health.note(sent, err, gaveUp)
		}
		if err == nil {
			lim.Succeeded(sent)
			return attempt, nil
		}
		if ctx.Err() != nil {
			return attempt, giveUp(err, context.Cause(ctx))
		}
		if herr := p.Health.Err(); herr != nil && unanswered(err) {
			return attempt, giveUp(err, herr)
		}
		if !Retryable(err) {
			return attempt, err
		}
		retryAt := retryTime(err)
		if !retryAt.After(time.Now()) {
			retryAt = time.Time{} // passed already (clock skew): back off as if none was given
		}
		// The limiter hears of every sign of a budget, this request's last
		// included: what the server said holds for every worker.
		status := overBudget(err)
		switch status {
		case http.StatusTooManyRequests:
			lim.Throttled(retryAt, sent)
		case http.StatusServiceUnavailable:
			lim.Unavailable(retryAt, sent)
		}
		if attempt >= p.Attempts {
			return attempt, fmt.Errorf("gave up after %d attempts: %w", attempt, err)
		}
		if status == 0 && !retryAt.IsZero() {
			// Said to this request alone: it waits, the others go on.
			if serr := sleep(waiting(), time.Until(retryAt)); serr != nil {
				return attempt, giveUp(err, serr)
			}
		}
		var ag again
		if retryAt.IsZero() && !errors.As(err, &ag) {
			if serr := sleep(waiting(), p.backoff(attempt)); serr != nil {
				return attempt, giveUp(err, serr)
			}
		}
	}
}

// waits gives the context of a request's waits (for its turn, between
// attempts): it ends with the request's context, or when health judges
// the API unreachable. It is made when the first wait comes, as a run
// with no limit and no failures never waits.
type waits struct {
	ctx    context.Context
	health *Health
	made   context.Context
	stop   func()
}

func (w *waits) context() context.Context {
	if w.made == nil {
		w.made, w.stop = w.ctx, func() {}
		if h := w.health; h != nil {
			var cancel context.CancelCauseFunc
			w.made, cancel = context.WithCancelCause(w.ctx)
			stop := context.AfterFunc(h.ctx, func() { cancel(context.Cause(h.ctx)) })
			w.stop = func() { stop(); cancel(nil) }
		}
	}
	return w.made
}

// release frees the context made, if any.
func (w *waits) release() {
	if w.stop != nil {
		w.stop()
	}
}

// backoff returns a full-jitter wait after the given failed attempt:
// uniform in [0, min(Max, Base·2^(attempt-1))].
func (p Policy) backoff(attempt int) time.Duration {
	ceil := p.Base << min(attempt-1, 30)
	if ceil <= 0 || ceil > p.Max {
		ceil = p.Max
	}
	if ceil <= 0 {
		return 0
	}
	return rand.N(ceil + 1)
}

func retryTime(err error) time.Time {
	var ra retryAter
	if errors.As(err, &ra) {
		return ra.RetryAt()
	}
	return time.Time{}
}

// giveUp reports the last request error along with why waiting stopped;
// errors.Is matches both.
func giveUp(last, why error) error {
	if last == nil {
		return why
	}
	return fmt.Errorf("%w (then stopped: %w)", last, why)
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-t.C:
		return nil
	}
}
