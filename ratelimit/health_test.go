package ratelimit_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rostersync/rostersync/ratelimit"
	"github.com/rostersync/rostersync/sync/model"
)

// reset is what a request to an API that went down fails with.
var reset = &url.Error{Op: "Patch", URL: "https://api.example/v1/user/1", Err: syscall.ECONNRESET}

// TestUnreachableStopsEveryRequest runs 1,000 requests, eight at a time,
// against an API that resets every connection: once nothing has answered
// for the window, every request ends with ErrUnreachable at once, those
// waiting between attempts included, instead of each spending its eight
// attempts (a thousand rows would take hours).
func TestUnreachableStopsEveryRequest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const window = 10 * time.Second
		h := ratelimit.NewHealth("api.example:443", window)
		p := ratelimit.DefaultPolicy()
		p.Health = h
		lim := ratelimit.New(0)
		begin := time.Now()
		// The API answered once, then went down.
		if _, err := p.Do(t.Context(), lim, func(context.Context) error { return nil }); err != nil {
			t.Fatal(err)
		}
		lastAnswer := time.Now()
		time.Sleep(time.Second)

		var (
			mu       sync.Mutex
			attempts int
			errs     []error
			wg       sync.WaitGroup
		)
		work := make(chan int)
		for range 8 {
			wg.Go(func() {
				for range work {
					n, err := p.Do(t.Context(), lim, func(context.Context) error { return reset })
					mu.Lock()
					attempts += n
					errs = append(errs, err)
					mu.Unlock()
				}
			})
		}
		for i := range 1000 {
			work <- i
		}
		close(work)
		wg.Wait()

		if took := time.Since(begin); took > 2*window {
			t.Errorf("1,000 requests to a dead API took %v, want about the %v window", took, window)
		}
		if attempts > 200 {
			t.Errorf("%d attempts before the API was judged unreachable, want a few per worker", attempts)
		}
		for i, err := range errs {
			if !errors.Is(err, model.ErrUnreachable) {
				t.Fatalf("request %d: %v, want ErrUnreachable", i, err)
			}
		}
		var ue *model.UnreachableError
		if !errors.As(h.Err(), &ue) || ue.Host != "api.example:443" || !ue.Since.Equal(lastAnswer) {
			t.Fatalf("Err() = %#v, want the host and the last answer's time", h.Err())
		}
		if msg := h.Err().Error(); !strings.Contains(msg, "the API at api.example:443 has not answered since ") || !strings.Contains(msg, "connection reset") {
			t.Errorf("message %q should name the API, since when, and the last failure", msg)
		}
		// A request after the judgement sends nothing.
		sent := false
		n, err := p.Do(t.Context(), lim, func(context.Context) error { sent = true; return nil })
		if n != 0 || sent || !errors.Is(err, model.ErrUnreachable) {
			t.Errorf("Do after the judgement = %d, %v (sent %v); want nothing sent and ErrUnreachable", n, err, sent)
		}
	})
}

// TestAnswersAreNotUnreachable checks what keeps an API judged alive: any
// HTTP answer, even a 503 on every request, and one answer within the
// window, however many failures there are around it.
func TestAnswersAreNotUnreachable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := ratelimit.NewHealth("api.example", 5*time.Second)
		p := ratelimit.Policy{Attempts: 1000, Base: 100 * time.Millisecond, Max: time.Second, Deadline: time.Minute, Health: h}
		_, err := p.Do(t.Context(), ratelimit.New(0), func(context.Context) error { return &statusErr{status: 503} })
		if errors.Is(err, model.ErrUnreachable) || h.Err() != nil {
			t.Fatalf("a minute of 503s: %v, %v; an API that answers is not unreachable", err, h.Err())
		}

		// Failures for 4s, an answer, failures for 4s: never 5s unanswered.
		for range 3 {
			until := time.Now().Add(4 * time.Second)
			for time.Now().Before(until) {
				_, _ = (ratelimit.Policy{Attempts: 1, Health: h}).Do(t.Context(), ratelimit.New(0), func(context.Context) error {
					time.Sleep(100 * time.Millisecond)
					return reset
				})
			}
			if _, err := (ratelimit.Policy{Attempts: 1, Health: h}).Do(t.Context(), ratelimit.New(0), func(context.Context) error { return nil }); err != nil {
				t.Fatal(err)
			}
		}
		if h.Err() != nil {
			t.Fatalf("judged unreachable though it answered every 4s: %v", h.Err())
		}
	})
}

// TestOneRequestOutOfAttempts checks that a request that spends all its
// attempts on network failures, with no answer to anything since its first,
// judges the API unreachable at once, well before the window: nobody else
// was answered either.
func TestOneRequestOutOfAttempts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := ratelimit.NewHealth("api.example", time.Hour)
		p := ratelimit.Policy{Attempts: 4, Base: 100 * time.Millisecond, Max: time.Second, Health: h}
		begin := time.Now()
		n, err := p.Do(t.Context(), ratelimit.New(0), func(context.Context) error { return reset })
		if n != 4 || !errors.Is(err, model.ErrUnreachable) {
			t.Fatalf("Do = %d, %v; want 4 attempts and ErrUnreachable", n, err)
		}
		var ue *model.UnreachableError
		if !errors.As(err, &ue) || !ue.Since.Equal(begin) {
			t.Errorf("Do = %v, want it unanswered since the first attempt (%v)", err, begin)
		}
	})
}
