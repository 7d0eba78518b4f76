// Package fakehttp is the vendor-neutral half of the shipped fakes: a log of
// every request, a request limit (answered with the vendor's 429, with no
// hint of when to come back unless asked, or with a proxy's 503 page), injected faults (5xx answers, dropped connections,
// latency), and an echo of refused requests into failure answers. Each
// vendor fake wraps its own handler with it; what the vendor's answers look
// like, and where in them an echo goes, stays with the vendor fake.
package fakehttp

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"time"
)

// Faults configures the limit and the faults a fake injects.
// The zero value is a well-behaved server.
type Faults struct {
	Limit float64 // requests a second accepted in any sliding one-second window; 0 = no limit
	// LimitStatus is how a request past the limit is answered: 429 (or 0)
	// with the vendor's own answer, or 503 with the HTML page a proxy in
	// front answers (nginx's limit_req answers so by default).
	LimitStatus int
	// LimitNoBurst spaces accepted requests at least 1/Limit apart, as
	// nginx's limit_req with burst 0 does, instead of taking Limit requests
	// in any sliding second (which lets them come all at once).
	LimitNoBurst bool
	// LimitHints answers past the limit saying when to come back: a
	// Retry-After header, and the vendor's own field where it has one
	// (Smartflo's body retry_after). Without it the answer gives no hint at
	// all, as Smartflo documents its 429 (api.md, "What public sources
	// add", Smartflo: "429, as the vendor documents it": no Retry-After, no
	// retry_after) and as nginx's limit_req answers: the default, so that
	// every fake run meets the limit as the vendor documents it.
	LimitHints   bool
	ServerErrors float64       // share of requests answered 503 without being handled
	ResetBefore  float64       // share of requests whose connection is dropped before they are handled
	ResetAfter   float64       // share of writes handled, then their connection dropped unanswered
	Latency      time.Duration // added before each answer
	Seed         uint64        // seeds the fault dice; 0 = a fixed default, so runs repeat
}

// RegisterFlags adds one flag per fault to fs, for users who rehearse a run.
func (f *Faults) RegisterFlags(fs *flag.FlagSet) {
	fs.Float64Var(&f.Limit, "limit", f.Limit, "requests a second the fake accepts before answering 429 (0 = no limit)")
	fs.IntVar(&f.LimitStatus, "limit-status", f.LimitStatus, "status past --limit: 429 (the vendor's answer) or 503 (a proxy's HTML page, as nginx limit_req answers)")
	fs.BoolVar(&f.LimitNoBurst, "limit-no-burst", f.LimitNoBurst, "space accepted requests 1/--limit apart (nginx limit_req, burst 0) instead of --limit in any sliding second")
	fs.BoolVar(&f.LimitHints, "limit-hints", f.LimitHints, "answer past --limit with Retry-After (and Smartflo's body retry_after); without it the answer has no hint, as Smartflo documents its 429")
	fs.Float64Var(&f.ServerErrors, "fail-5xx", f.ServerErrors, "share of requests answered 503, 0..1")
	fs.Float64Var(&f.ResetBefore, "reset-before", f.ResetBefore, "share of requests whose connection is dropped before handling, 0..1")
	fs.Float64Var(&f.ResetAfter, "reset-after", f.ResetAfter, "share of writes applied, then their connection dropped, 0..1")
	fs.DurationVar(&f.Latency, "latency", f.Latency, "delay added to every answer")
	fs.Uint64Var(&f.Seed, "fault-seed", f.Seed, "seed of the fault dice")
}

// Check reports a configuration the fake cannot serve.
func (f *Faults) Check() error {
	switch {
	case f.LimitStatus != 0 && f.LimitStatus != http.StatusTooManyRequests && f.LimitStatus != http.StatusServiceUnavailable:
		return fmt.Errorf("the limit status must be 429 or 503, not %d", f.LimitStatus)
	case f.Limit < 0:
		return errors.New("the limit must be 0 (none) or more")
	}
	return nil
}

// Request is one request as the fake saw it.
type Request struct {
	Time   time.Time // arrival
	Method string
	Path   string
	Query  string
	Body   []byte
	Status int // 0 when the connection was dropped unanswered
}

// IsWrite reports whether the request asks to change a user.
func (r Request) IsWrite() bool { return isWrite(r.Method) }

func isWrite(method string) bool {
	return method == http.MethodPatch || method == http.MethodPut || method == http.MethodDelete
}

// ThrottleFunc writes the vendor's 429 answer, telling when to come back;
// retryAt is zero when the answer must give no hint of when (no
// Retry-After header, no body field).
type ThrottleFunc func(w http.ResponseWriter, retryAt time.Time)

// Server wraps a vendor handler with the request log, the limit and the faults.
type Server struct {
	next      http.Handler
	faults    Faults
	throttled ThrottleFunc

	mu       sync.Mutex
	dice     *rand.Rand
	accepted []time.Time // arrivals within the last second, oldest first (LimitNoBurst: the last one)
	log      []Request
}

// Wrap returns a Server that passes requests to next once they survive the
// limit and the faults.
func Wrap(next http.Handler, f Faults, throttled ThrottleFunc) *Server {
	seed := f.Seed
	if seed == 0 {
		seed = 1
	}
	return &Server{next: next, faults: f, throttled: throttled, dice: rand.New(rand.NewPCG(seed, seed))}
}

// maxBody bounds what the fake reads of a request body.
const maxBody = 1 << 20

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	idx, now := s.record(Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Body: body})

	if s.faults.Latency > 0 {
		select {
		case <-time.After(s.faults.Latency):
		case <-r.Context().Done():
			return
		}
	}
	if retryAt, ok := s.admit(now); !ok {
		if !s.faults.LimitHints {
			retryAt = time.Time{}
		}
		rec := httptest.NewRecorder()
		if s.faults.LimitStatus == http.StatusServiceUnavailable {
			proxyBusy(rec, retryAt)
		} else {
			s.throttled(rec, retryAt)
		}
		s.reply(w, rec, idx)
		return
	}
	if s.roll(s.faults.ResetBefore) {
		drop(w)
		return
	}
	if s.roll(s.faults.ServerErrors) {
		rec := httptest.NewRecorder()
		http.Error(rec, `{"success": false, "message": "Service Unavailable"}`, http.StatusServiceUnavailable)
		s.reply(w, rec, idx)
		return
	}
	rec := httptest.NewRecorder()
	s.next.ServeHTTP(rec, r)
	if isWrite(r.Method) && s.roll(s.faults.ResetAfter) {
		drop(w)
		return
	}
	s.reply(w, rec, idx)
}

// reply copies a recorded answer to w and logs its status.
func (s *Server) reply(w http.ResponseWriter, rec *httptest.ResponseRecorder, idx int) {
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
	s.mu.Lock()
	s.log[idx].Status = rec.Code
	s.mu.Unlock()
}

// record logs an arriving request, stamped under the lock so the log stays
// in time order, and returns its index and arrival time.
func (s *Server) record(req Request) (int, time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	req.Time = time.Now()
	s.log = append(s.log, req)
	return len(s.log) - 1, req.Time
}

// proxyPage is the page nginx answers when limit_req refuses a request.
const proxyPage = `<html>
<head><title>503 Service Temporarily Unavailable</title></head>
<body>
<center><h1>503 Service Temporarily Unavailable</h1></center>
<hr><center>nginx</center>
</body>
</html>
`

// proxyBusy answers as a rate-limiting proxy in front of the API does: a
// 503 with an HTML page, and a Retry-After header in whole seconds unless
// retryAt is zero (nginx sends none; other proxies can be told to).
func proxyBusy(w http.ResponseWriter, retryAt time.Time) {
	if !retryAt.IsZero() {
		secs := max(1, int64(math.Ceil(time.Until(retryAt).Seconds())))
		w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	}
	w.Header().Set("Content-Type", "text/html")
	w.WriteHeader(http.StatusServiceUnavailable)
	_, _ = io.WriteString(w, proxyPage)
}

// admit applies the limit: it accepts the request, or says when the next
// one would be accepted.
func (s *Server) admit(now time.Time) (time.Time, bool) {
	if s.faults.Limit <= 0 {
		return time.Time{}, true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.faults.LimitNoBurst {
		// nginx's limit_req with burst 0: a request is accepted when 1/Limit
		// has passed since the last accepted one; a refused one changes
		// nothing.
		gap := time.Duration(float64(time.Second) / s.faults.Limit)
		if n := len(s.accepted); n > 0 && now.Sub(s.accepted[n-1]) < gap {
			return s.accepted[n-1].Add(gap), false
		}
		s.accepted = append(s.accepted[:0], now)
		return time.Time{}, true
	}
	cut := 0
	for cut < len(s.accepted) && now.Sub(s.accepted[cut]) >= time.Second {
		cut++
	}
	s.accepted = s.accepted[cut:]
	if float64(len(s.accepted)) >= max(1, s.faults.Limit) {
		return s.accepted[0].Add(time.Second), false
	}
	s.accepted = append(s.accepted, now)
	return time.Time{}, true
}

func (s *Server) roll(share float64) bool {
	if share <= 0 {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dice.Float64() < share
}

// drop closes the client's connection without an answer, with a TCP reset
// where the connection allows it.
func drop(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler) // HTTP/2 or a recorder: abort the stream instead
	}
	if tcp, ok := conn.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0)
	}
	_ = conn.Close()
}

// Requests returns a copy of the request log, oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.log...)
}

// Writes counts the logged requests that ask for a change.
func (s *Server) Writes() int {
	n := 0
	for _, r := range s.Requests() {
		if r.IsWrite() {
			n++
		}
	}
	return n
}

// MaxInWindow reports the largest number of requests that arrived within
// any window of length d.
func (s *Server) MaxInWindow(d time.Duration) int {
	reqs := s.Requests()
	best, lo := 0, 0
	for hi := range reqs {
		for reqs[hi].Time.Sub(reqs[lo].Time) >= d {
			lo++
		}
		best = max(best, hi-lo+1)
	}
	return best
}
