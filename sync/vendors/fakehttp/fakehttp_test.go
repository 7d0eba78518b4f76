package fakehttp_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rostersync/rostersync/sync/vendors/fakehttp"
)

// fake wraps a handler that answers 200 with the faults, recording what
// the throttle function was told.
func fake(f fakehttp.Faults) (*fakehttp.Server, *[]time.Time) {
	var told []time.Time
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	s := fakehttp.Wrap(ok, f, func(w http.ResponseWriter, retryAt time.Time) {
		told = append(told, retryAt)
		w.WriteHeader(http.StatusTooManyRequests)
	})
	return s, &told
}

func get(s http.Handler) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/users", nil))
	return rec
}

// TestLimitShapes checks the two shapes of limit: Limit requests in any
// sliding second (a burst of them at once), or, with LimitNoBurst, one
// every 1/Limit at best, as nginx's limit_req with burst 0 takes them
// (a refused request does not count).
func TestLimitShapes(t *testing.T) {
	tests := []struct {
		name    string
		noBurst bool
		at      []time.Duration // arrivals, from the start
		want    []int
	}{
		{"sliding", false,
			[]time.Duration{0, 0, 0, 0, 0, 0, 999 * time.Millisecond, time.Second},
			[]int{200, 200, 200, 200, 200, 429, 429, 200}},
		{"no burst", true,
			[]time.Duration{0, 100 * time.Millisecond, 199 * time.Millisecond, 200 * time.Millisecond, 390 * time.Millisecond, 400 * time.Millisecond},
			[]int{200, 429, 429, 200, 429, 200}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s, told := fake(fakehttp.Faults{Limit: 5, LimitNoBurst: tt.noBurst, LimitHints: true})
				begin := time.Now()
				for i, at := range tt.at {
					time.Sleep(begin.Add(at).Sub(time.Now()))
					if got := get(s).Code; got != tt.want[i] {
						t.Errorf("request %d at +%v: %d, want %d", i+1, at, got, tt.want[i])
					}
				}
				if tt.noBurst && len(*told) > 0 {
					if want := begin.Add(200 * time.Millisecond); !(*told)[0].Equal(want) {
						t.Errorf("first refusal told to come back at +%v, want +200ms", (*told)[0].Sub(begin))
					}
				}
			})
		})
	}
}

// TestLimitAnswers checks how a request past the limit is answered: by
// the vendor's throttle function, told no time unless LimitHints (the
// default is the hint-less 429 Smartflo documents), or with LimitStatus
// 503 by a proxy's HTML page, with a Retry-After only with LimitHints.
func TestLimitAnswers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		for _, hints := range []bool{false, true} {
			s, told := fake(fakehttp.Faults{Limit: 1, LimitHints: hints})
			begin := time.Now()
			get(s)
			rec := get(s)
			if rec.Code != 429 || len(*told) != 1 || (*told)[0].IsZero() == hints {
				t.Errorf("hints %v: %d, throttle told %v; want 429 told a time only with hints", hints, rec.Code, *told)
			}
			if hints && !(*told)[0].Equal(begin.Add(time.Second)) {
				t.Errorf("hints: told to come back at +%v, want +1s", (*told)[0].Sub(begin))
			}
		}

		for _, hints := range []bool{true, false} {
			s, told := fake(fakehttp.Faults{Limit: 1, LimitStatus: 503, LimitHints: hints})
			get(s)
			rec := get(s)
			if rec.Code != 503 || len(*told) != 0 {
				t.Errorf("503: %d, throttle called %d times; want 503 from the proxy, not the vendor", rec.Code, len(*told))
			}
			if ct := rec.Header().Get("Content-Type"); ct != "text/html" || !strings.Contains(rec.Body.String(), "<center>nginx</center>") {
				t.Errorf("503 answered %q: %q, want nginx's page", ct, rec.Body)
			}
			if ra := rec.Header().Get("Retry-After"); (ra == "1") != hints || (ra == "") == hints {
				t.Errorf("503 with hints %v: Retry-After %q", hints, ra)
			}
			if got := s.Requests()[1].Status; got != 503 {
				t.Errorf("logged status %d, want 503", got)
			}
		}
	})
}

func TestFaultsCheck(t *testing.T) {
	for _, f := range []fakehttp.Faults{{}, {LimitStatus: 429}, {LimitStatus: 503, Limit: 3}} {
		if err := f.Check(); err != nil {
			t.Errorf("%+v: %v", f, err)
		}
	}
	for _, f := range []fakehttp.Faults{{LimitStatus: 500}, {Limit: -1}} {
		if err := f.Check(); err == nil {
			t.Errorf("%+v: no error", f)
		}
	}
}

// TestEcho checks that Echo repeats a refused request (credentials and
// body) in failure answers only, where the vendor's put function says,
// and passes successes and non-JSON answers through unchanged.
func TestEcho(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		echoed bool
	}{
		{"success", 200, `{"success": true, "message": "ok"}`, false},
		{"read without success", 200, `{"data": {"id": 1}}`, false},
		{"200 success false", 200, `{"success": false, "message": "Token has expired"}`, true},
		{"200 success \"false\"", 200, `{"success": "false", "message": "no"}`, true},
		{"401", 401, `{"success": false, "message": "Unauthenticated"}`, true},
		{"404 without success", 404, `{"error_type": "Object not found error"}`, true},
		{"503 page", 503, `<html>busy</html>`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("X-Vendor", "kept")
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.body)
			})
			h := fakehttp.Echo(next, func(answer map[string]any, text string) { answer["echo"] = text })
			req := httptest.NewRequest(http.MethodPatch, "/v1/user/7?x=1", strings.NewReader(`{"password": "pw-secret"}`))
			req.Header.Set("Authorization", "Bearer tok-secret")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.status || rec.Header().Get("X-Vendor") != "kept" {
				t.Errorf("status %d, headers %v", rec.Code, rec.Header())
			}
			got := rec.Body.String()
			if !tt.echoed {
				if got != tt.body {
					t.Errorf("body changed: %s", got)
				}
				return
			}
			var answer map[string]any
			if err := json.Unmarshal([]byte(got), &answer); err != nil {
				t.Fatal(err)
			}
			echo, _ := answer["echo"].(string)
			for _, want := range []string{"PATCH /v1/user/7?x=1", "Authorization: Bearer tok-secret", `body {"password": "pw-secret"}`} {
				if !strings.Contains(echo, want) {
					t.Errorf("echo %q lacks %q", echo, want)
				}
			}
			if _, kept := answer["success"]; !kept && strings.Contains(tt.body, "success") {
				t.Errorf("the vendor's answer lost its fields: %s", got)
			}
		})
	}
}
