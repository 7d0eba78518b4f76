package fakehttp

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
)

// EchoFunc puts text into a vendor's failure answer (a decoded JSON
// object) where the vendor's clients read its message.
type EchoFunc func(answer map[string]any, text string)

// Echo wraps a vendor handler so that each failure it answers (an HTTP
// error status, or a JSON body whose success is false or "false") repeats
// the request it refuses: method, path, every header (credentials
// included) and body, put into the answer by put. Careless servers and
// proxies do so; a fake that does lets tests show that a client keeps its
// secrets out of error text. Answers that are not a JSON object, and
// successes, pass unchanged.
func Echo(next http.Handler, put EchoFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
		if err != nil {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		out := rec.Body.Bytes()
		var answer map[string]any
		if json.Unmarshal(out, &answer) == nil && answer != nil && failed(rec.Code, answer) {
			put(answer, echoText(r, body))
			if b, err := json.Marshal(answer); err == nil {
				out = b
			}
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.Header().Del("Content-Length")
		w.WriteHeader(rec.Code)
		_, _ = w.Write(out)
	})
}

// failed reports whether an answer says the call failed.
func failed(status int, answer map[string]any) bool {
	if status >= 400 {
		return true
	}
	switch s := answer["success"].(type) {
	case bool:
		return !s
	case string:
		return strings.EqualFold(strings.TrimSpace(s), "false")
	}
	return false
}

// echoText renders a request as an echoing server repeats it.
func echoText(r *http.Request, body []byte) string {
	names := make([]string, 0, len(r.Header))
	for k := range r.Header {
		names = append(names, k)
	}
	slices.Sort(names)
	var b strings.Builder
	fmt.Fprintf(&b, "(request: %s %s", r.Method, r.URL.RequestURI())
	for _, k := range names {
		fmt.Fprintf(&b, "; %s: %s", k, strings.Join(r.Header[k], ", "))
	}
	if len(body) > 0 {
		fmt.Fprintf(&b, "; body %s", body)
	}
	b.WriteString(")")
	return b.String()
}
