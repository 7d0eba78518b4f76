package ratelimit

import (
	"context"
	"errors"
	"io"
	"net"
	"net/url"
	"sync"
	"time"

	"github.com/rostersync/rostersync/sync/model"
)

// DefaultUnreachableAfter is how long an API may go without answering,
// every request failing at the network level, before a run stops.
const DefaultUnreachableAfter = time.Minute

// unreachableFailures is how many requests must have failed, with no
// answer between them, before the API is judged unreachable.
const unreachableFailures = 3

// Health judges whether a run's API still answers. Like the Limiter, one
// Health is shared by every request of a run. An answer of any kind (an
// HTTP status, even 503) shows the API is there. The API is judged
// unreachable when no answer has come for the window, at least three
// requests having failed at the network level (refused, reset, timed out)
// in that time, or when one request spent all its attempts so with no
// answer to any request since its first. From then on, Policy.Do returns
// an *model.UnreachableError at once, and every request waiting (for its turn or
// between attempts) gets it.
type Health struct {
	host   string
	window time.Duration
	ctx    context.Context // canceled, with the *model.UnreachableError, when judged so
	kill   context.CancelCauseFunc

	mu          sync.Mutex
	lastAnswer  time.Time // zero: none yet
	streakStart time.Time // when the first request failing since the last answer was sent
	streak      int       // requests failed since the last answer
	err         *model.UnreachableError
}

// NewHealth returns a Health for the API at host that judges it
// unreachable after window with no answer.
func NewHealth(host string, window time.Duration) *Health {
	ctx, kill := context.WithCancelCause(context.Background())
	return &Health{host: host, window: window, ctx: ctx, kill: kill}
}

// Err returns the *model.UnreachableError once the API is judged unreachable,
// else nil.
func (h *Health) Err() error {
	if h == nil {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.err == nil {
		return nil
	}
	return h.err
}

// note records how a request sent at sent ended: answered (any HTTP
// answer, or a failure that is not the network's), or failed at the
// network level with err. gaveUp, when not zero, says this was the last
// of at least unreachableFailures attempts of a request first sent then.
func (h *Health) note(sent time.Time, err error, gaveUp time.Time) {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.err != nil {
		return
	}
	now := time.Now()
	if !unanswered(err) {
		h.lastAnswer, h.streak, h.streakStart = now, 0, time.Time{}
		return
	}
	if h.streak == 0 || sent.Before(h.streakStart) {
		h.streakStart = sent
	}
	h.streak++
	silentSince := func(t time.Time) bool { return h.lastAnswer.IsZero() || h.lastAnswer.Before(t) }
	switch {
	case h.streak < unreachableFailures:
		return
	case now.Sub(h.streakStart) >= h.window:
	case !gaveUp.IsZero() && silentSince(gaveUp):
	default:
		return
	}
	since := h.lastAnswer
	if since.IsZero() {
		since = h.streakStart
	}
	h.err = &model.UnreachableError{Host: h.host, Since: since, Last: err}
	h.kill(h.err)
}

// unanswered reports whether err means no answer came back at all: the
// network failed (refused, reset, timed out, cut short). An HTTP status,
// or a body that is not what was expected, is an answer.
func unanswered(err error) bool {
	if err == nil {
		return false
	}
	var se StatusError
	if errors.As(err, &se) {
		return false
	}
	var ue *url.Error
	var ne net.Error
	return errors.As(err, &ue) || errors.As(err, &ne) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, context.DeadlineExceeded)
}
