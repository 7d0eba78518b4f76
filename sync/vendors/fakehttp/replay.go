package fakehttp

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
)

// Replay is an http.RoundTripper that answers each request from a fake's
// handler in this process, with no socket, and records the answer: the
// same request again (method, URL and body) gets the recorded answer
// without the fake being asked. It is for benchmarks of a client's own
// cost (its request building, retries, limiter and decoding) against the
// real fake's real answers: warm it with one pass, then measure.
type Replay struct {
	h  http.Handler
	mu sync.Mutex
	// answers maps method, URL and body to an answer recorded.
	answers map[string]*recorded
}

type recorded struct {
	status int
	header http.Header
	body   []byte
}

// NewReplay returns a Replay of h.
func NewReplay(h http.Handler) *Replay {
	return &Replay{h: h, answers: map[string]*recorded{}}
}

// RoundTrip implements http.RoundTripper.
func (r *Replay) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		var err error
		if body, err = io.ReadAll(req.Body); err != nil {
			return nil, err
		}
		_ = req.Body.Close()
	}
	key := req.Method + " " + req.URL.String() + "\n" + string(body)
	r.mu.Lock()
	a := r.answers[key]
	r.mu.Unlock()
	if a == nil {
		in := req.Clone(req.Context())
		in.Body = io.NopCloser(bytes.NewReader(body))
		in.RequestURI = req.URL.RequestURI()
		w := httptest.NewRecorder()
		r.h.ServeHTTP(w, in)
		a = &recorded{status: w.Code, header: w.Header().Clone(), body: w.Body.Bytes()}
		r.mu.Lock()
		r.answers[key] = a
		r.mu.Unlock()
	}
	return &http.Response{StatusCode: a.status, Status: http.StatusText(a.status), Header: a.header,
		Body: io.NopCloser(bytes.NewReader(a.body)), ContentLength: int64(len(a.body)), Request: req,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1}, nil
}
