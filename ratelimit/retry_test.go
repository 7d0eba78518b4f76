package ratelimit_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rostersync/rostersync/ratelimit"
)

// statusErr is an HTTP failure, optionally with a server's retry time.
type statusErr struct {
	status int
	at     time.Time
}

func (e *statusErr) Error() string      { return fmt.Sprintf("HTTP %d", e.status) }
func (e *statusErr) HTTPStatus() int    { return e.status }
func (e *statusErr) RetryAt() time.Time { return e.at }

// timeoutErr is a net.Error that timed out.
type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestRetryable(t *testing.T) {
	urlErr := func(err error) error { return &url.Error{Op: "Get", URL: "https://api.example/v1/users", Err: err} }
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"plain error", errors.New("the answer is not JSON"), false},
		{"url.Error", urlErr(errors.New("connection refused")), true},
		{"net.OpError", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, true},
		{"net timeout", timeoutErr{}, true},
		{"wrapped net timeout", fmt.Errorf("GET /v1/users: %w", timeoutErr{}), true},
		{"os deadline", os.ErrDeadlineExceeded, true},
		{"unexpected EOF", fmt.Errorf("reading the answer: %w", io.ErrUnexpectedEOF), true},
		{"EOF", urlErr(io.EOF), true},
		{"client timeout", urlErr(context.DeadlineExceeded), true},
		{"no such host", urlErr(&net.OpError{Op: "dial", Err: &net.DNSError{Err: "no such host", Name: "dnl.invalid", IsNotFound: true}}), false},
		{"DNS timeout", urlErr(&net.OpError{Op: "dial", Err: &net.DNSError{Err: "timeout", Name: "dnl.example", IsTimeout: true}}), true},
		{"canceled", context.Canceled, false},
		{"canceled in url.Error", urlErr(context.Canceled), false},
		{"x509 unknown authority", urlErr(&tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}), false},
		{"x509 hostname", urlErr(&tls.CertificateVerificationError{Err: x509.HostnameError{Host: "api.example"}}), false},
		{"x509 expired", urlErr(&tls.CertificateVerificationError{Err: x509.CertificateInvalidError{Reason: x509.Expired}}), false},
		{"x509 expired (pointer)", urlErr(&x509.CertificateInvalidError{Reason: x509.Expired}), false},
		{"408", &statusErr{status: 408}, true},
		{"429", &statusErr{status: 429}, true},
		{"500", &statusErr{status: 500}, true},
		{"502", &statusErr{status: 502}, true},
		{"503", &statusErr{status: 503}, true},
		{"wrapped 503", fmt.Errorf("row 3: %w", &statusErr{status: 503}), true},
		{"400", &statusErr{status: 400}, false},
		{"401", &statusErr{status: 401}, false},
		{"403", &statusErr{status: 403}, false},
		{"404", &statusErr{status: 404}, false},
		{"409", &statusErr{status: 409}, false},
		{"200 with a failure body", &statusErr{status: 200}, false},
		{"Again of a 401", ratelimit.Again(&statusErr{status: 401}), true},
		{"wrapped Again", fmt.Errorf("x: %w", ratelimit.Again(errors.New("token renewed"))), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ratelimit.Retryable(tt.err); got != tt.want {
				t.Errorf("Retryable(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

// TestRetryableRealTLS checks the classification of a real certificate
// failure, as an http.Client reports it.
func TestRetryableRealTLS(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the failed handshake is expected
	srv.StartTLS()
	defer srv.Close()
	_, err := http.Get(srv.URL) // the default client does not trust the test certificate
	if err == nil {
		t.Fatal("an untrusted certificate was accepted")
	}
	if ratelimit.Retryable(err) {
		t.Errorf("Retryable(%v) = true, want false: TLS trouble is configuration", err)
	}
}

// attempts is an op that fails with errs in turn, then succeeds, and
// notes when each attempt started.
type attempts struct {
	errs []error
	at   []time.Time
}

func (a *attempts) op(context.Context) error {
	a.at = append(a.at, time.Now())
	if n := len(a.at); n <= len(a.errs) {
		return a.errs[n-1]
	}
	return nil
}

func repeat(err error, n int) []error {
	out := make([]error, n)
	for i := range out {
		out[i] = err
	}
	return out
}

func TestDo(t *testing.T) {
	e503, e400 := &statusErr{status: 503}, &statusErr{status: 400}
	tests := []struct {
		name     string
		errs     []error
		attempts int // the policy's cap
		want     int // attempts made
		wantErr  error
		gaveUp   bool
	}{
		{"success at once", nil, 5, 1, nil, false},
		{"503 twice then success", repeat(e503, 2), 5, 3, nil, false},
		{"network error then success", []error{&url.Error{Op: "Patch", URL: "x", Err: io.ErrUnexpectedEOF}}, 5, 2, nil, false},
		{"503 up to the cap", repeat(e503, 10), 4, 4, e503, true},
		{"cap of one", repeat(e503, 10), 1, 1, e503, true},
		{"400 is never retried", repeat(e400, 10), 5, 1, e400, false},
		{"404 is never retried", repeat(&statusErr{status: 404}, 10), 5, 1, nil, false},
		{"401 is never retried", repeat(&statusErr{status: 401}, 10), 5, 1, nil, false},
		{"503 then 400", []error{e503, e400}, 5, 2, e400, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := ratelimit.Policy{Attempts: tt.attempts, Base: 100 * time.Millisecond, Max: time.Second}
				a := &attempts{errs: tt.errs}
				n, err := p.Do(t.Context(), ratelimit.New(0), a.op)
				if n != tt.want || len(a.at) != tt.want {
					t.Errorf("Do made %d attempts (reported %d), want %d", len(a.at), n, tt.want)
				}
				wantFail := tt.want <= len(tt.errs)
				if (err != nil) != wantFail {
					t.Fatalf("Do = %v, want failure %v", err, wantFail)
				}
				if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
					t.Errorf("Do = %v, want it to wrap %v", err, tt.wantErr)
				}
				if gave := err != nil && strings.Contains(err.Error(), "gave up after"); gave != tt.gaveUp {
					t.Errorf("Do = %q; saying it gave up: %v, want %v", err, gave, tt.gaveUp)
				}
			})
		})
	}
}

// TestDoWaitsOnLimiter checks that every attempt, retries included, takes
// a token.
func TestDoWaitsOnLimiter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := ratelimit.Policy{Attempts: 5} // no backoff: only the limiter spaces them
		// 502: a failure that says nothing of the server's budget.
		a := &attempts{errs: repeat(&statusErr{status: 502}, 4)}
		begin := time.Now()
		if _, err := p.Do(t.Context(), ratelimit.New(2), a.op); err != nil {
			t.Fatal(err)
		}
		rate := 2.0
		gap := time.Duration(float64(time.Second) / (rate * 0.98)) // it sends 2% under its rate
		for i, at := range a.at {
			if want := begin.Add(time.Duration(i) * gap); (at.Sub(want)).Abs() > time.Microsecond {
				t.Errorf("attempt %d at +%v, want +%v", i+1, at.Sub(begin), want.Sub(begin))
			}
		}
	})
}

func TestDoHonoursRetryAt(t *testing.T) {
	for _, status := range []int{503, 429} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				retryAt := time.Now().Add(7*time.Second + 300*time.Millisecond)
				// A backoff ceiling far above the wait: it must not be added.
				p := ratelimit.Policy{Attempts: 3, Base: time.Hour, Max: time.Hour}
				lim := ratelimit.New(50)
				a := &attempts{errs: []error{&statusErr{status: status, at: retryAt}}}
				n, err := p.Do(t.Context(), lim, a.op)
				if err != nil || n != 2 {
					t.Fatalf("Do = %d, %v; want 2 attempts and success", n, err)
				}
				if a.at[1] != retryAt {
					t.Errorf("retry at %v, want exactly %v", a.at[1], retryAt)
				}
				if status == 429 {
					if lim.Rate() >= 50 {
						t.Errorf("a 429 left the rate at %v", lim.Rate())
					}
					// The pause holds for every worker, not just this one.
					before := time.Now()
					lim.Throttled(before.Add(2*time.Second), before)
					if err := lim.Wait(t.Context()); err != nil || time.Since(before) != 2*time.Second {
						t.Errorf("another worker waited %v (%v), want 2s", time.Since(before), err)
					}
				}
			})
		})
	}
}

// TestDoBackoff measures the waits between attempts: full jitter, uniform
// in [0, min(Max, Base·2^(n-1))] after the n-th failure.
func TestDoBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := ratelimit.Policy{Attempts: 7, Base: time.Second, Max: 8 * time.Second}
		ceilings := []time.Duration{1, 2, 4, 8, 8, 8}
		var sum float64
		samples := 0
		distinct := map[time.Duration]bool{}
		for range 300 {
			a := &attempts{errs: repeat(&statusErr{status: 502}, 10)}
			if n, _ := p.Do(t.Context(), ratelimit.New(0), a.op); n != 7 {
				t.Fatalf("Do made %d attempts, want 7", n)
			}
			for i := 1; i < len(a.at); i++ {
				gap, ceil := a.at[i].Sub(a.at[i-1]), ceilings[i-1]*time.Second
				if gap < 0 || gap > ceil {
					t.Fatalf("wait after failure %d was %v, want within [0, %v]", i, gap, ceil)
				}
				sum += float64(gap) / float64(ceil)
				samples++
				distinct[gap] = true
			}
		}
		// Uniform in [0, ceiling]: a mean near one half. Equal jitter would
		// give 3/4, no jitter 1.
		if mean := sum / float64(samples); mean < 0.45 || mean > 0.55 {
			t.Errorf("mean wait / ceiling = %.3f over %d waits, want about 0.5", mean, samples)
		}
		if len(distinct) < samples/2 {
			t.Errorf("only %d distinct waits among %d: not jittered", len(distinct), samples)
		}
	})
}

func TestDoAgainDoesNotSleep(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := ratelimit.Policy{Attempts: 4, Base: time.Hour, Max: time.Hour}
		expired := ratelimit.Again(&statusErr{status: 401})
		a := &attempts{errs: []error{expired, expired}}
		begin := time.Now()
		n, err := p.Do(t.Context(), ratelimit.New(0), a.op)
		if err != nil || n != 3 {
			t.Fatalf("Do = %d, %v; want 3 attempts and success", n, err)
		}
		if d := time.Since(begin); d != 0 {
			t.Errorf("Again waited %v, want no backoff", d)
		}

		// The cap still holds.
		a = &attempts{errs: repeat(expired, 10)}
		n, err = p.Do(t.Context(), ratelimit.New(0), a.op)
		if n != 4 || err == nil {
			t.Errorf("Do = %d, %v; want the cap of 4 attempts and a failure", n, err)
		}
	})
}

func TestDoCancelled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := ratelimit.Policy{Attempts: 100, Base: 10 * time.Second, Max: 10 * time.Second}
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(1500*time.Millisecond, cancel)
		e503 := &statusErr{status: 503}
		a := &attempts{errs: repeat(e503, 100)}
		begin := time.Now()
		_, err := p.Do(ctx, ratelimit.New(0), a.op)
		if d := time.Since(begin); d != 1500*time.Millisecond {
			t.Errorf("Do returned after %v, want at the cancel (1.5s)", d)
		}
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Do = %v, want it to say it was cancelled", err)
		}
		if !errors.Is(err, e503) {
			t.Errorf("Do = %v, want it to keep the last request error", err)
		}

		// Cancelled before the first attempt: nothing is sent.
		a = &attempts{}
		n, err := p.Do(ctx, ratelimit.New(0), a.op)
		if n != 0 || len(a.at) != 0 || !errors.Is(err, context.Canceled) {
			t.Errorf("Do on a cancelled ctx = %d, %v after %d attempts; want none", n, err, len(a.at))
		}
	})
}

func TestDoDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := ratelimit.Policy{Attempts: 1000, Base: time.Second, Max: 4 * time.Second, Deadline: 30 * time.Second}
		a := &attempts{errs: repeat(&statusErr{status: 503}, 1000)}
		begin := time.Now()
		_, err := p.Do(t.Context(), ratelimit.New(0), a.op)
		if d := time.Since(begin); d != 30*time.Second {
			t.Errorf("Do returned after %v, want at the 30s deadline", d)
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Do = %v, want it to say the deadline passed", err)
		}
		if len(a.at) < 8 {
			t.Errorf("only %d attempts in 30s with backoff at most 4s", len(a.at))
		}

		// An op that hangs is cut at the deadline too.
		begin = time.Now()
		n, err := p.Do(t.Context(), ratelimit.New(0), func(ctx context.Context) error {
			<-ctx.Done()
			return &url.Error{Op: "Get", URL: "x", Err: ctx.Err()}
		})
		if d := time.Since(begin); d != 30*time.Second || n != 1 || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("a hanging op: Do = %d, %v after %v; want 1 attempt ended by the 30s deadline", n, err, d)
		}
	})
}
