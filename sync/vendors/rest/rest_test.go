package rest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rostersync/rostersync/ratelimit"
	"github.com/rostersync/rostersync/sync/model"
	"github.com/rostersync/rostersync/sync/vendors/rest"
	"github.com/rostersync/rostersync/sync/vendors/rest/resttest"
)

// check reads the answers of the test servers: {"success": false,
// "message": "..."} or an HTTP error is a failure; a message that says
// "expired" is an expired token.
func check(status int, h http.Header, body []byte) *rest.Error {
	var env struct {
		Success *bool  `json:"success"`
		Message string `json:"message"`
	}
	jsonErr := json.Unmarshal(body, &env)
	if status < 400 && (env.Success == nil || *env.Success) {
		return nil
	}
	e := &rest.Error{Status: status, Message: env.Message}
	if jsonErr != nil {
		e.Message = rest.Snippet(body)
	}
	e.Expired = strings.Contains(env.Message, "expired")
	e.Denied = !e.Expired && (status == 401 || status == 403)
	e.Missing = status == 404
	if status == 429 || status == 503 {
		e.Retry = rest.RetryAfterHeader(h)
	}
	return e
}

// newClient returns a client of base with the test's check and bearer
// auth, and login (when not nil) as its way to log in.
func newClient(base string, hc *http.Client, cfg rest.Config, login ...rest.LoginFunc) *rest.Client {
	cfg.BaseURL, cfg.HTTP = base, hc
	api := rest.API{AuthHeader: "Authorization", AuthPrefix: "Bearer ", SecretKeys: []string{"password"}, Check: check}
	if len(login) > 0 {
		api.Login = login[0]
		if cfg.Login == "" {
			cfg.Login = "admin"
		}
	}
	return rest.NewClient(cfg, api)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// arrivals logs when a test server saw each request.
type arrivals struct {
	mu sync.Mutex
	at []time.Time
}

func (a *arrivals) add() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.at = append(a.at, time.Now())
	return len(a.at)
}

func (a *arrivals) times() []time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]time.Time(nil), a.at...)
}

func TestRetries(t *testing.T) {
	tests := []struct {
		name       string
		statuses   []int // answered in turn; then 200
		header     http.Header
		attempts   int // the policy's cap
		want       int // attempts made
		wantStatus int
		wantErr    string
		gaps       []time.Duration // between arrivals
	}{
		{"503 twice then success", []int{503, 503}, nil, 5, 3, 200, "",
			[]time.Duration{paced(4), paced(4)}},
		{"503 up to the cap", []int{503, 503, 503, 503}, nil, 3, 3, 503, "GET /v1/things: HTTP 503",
			[]time.Duration{paced(4), paced(4)}},
		{"400 is not retried", []int{400}, nil, 5, 1, 400, "GET /v1/things: HTTP 400", nil},
		{"404 is not retried", []int{404}, nil, 5, 1, 404, "HTTP 404", nil},
		{"503 with Retry-After", []int{503}, http.Header{"Retry-After": {"3"}}, 5, 2, 200, "",
			[]time.Duration{3 * time.Second}},
		{"429 with Retry-After", []int{429, 429}, http.Header{"Retry-After": {"2"}}, 5, 3, 200, "",
			[]time.Duration{2 * time.Second, 2 * time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var seen arrivals
				srv := resttest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					n := seen.add()
					if n <= len(tt.statuses) {
						for k, v := range tt.header {
							w.Header()[k] = v
						}
						writeJSON(w, tt.statuses[n-1], map[string]any{"success": false, "message": "no luck"})
						return
					}
					writeJSON(w, 200, map[string]any{"value": 42})
				}))
				defer srv.Close()
				lim := ratelimit.New(4) // one request every 250ms
				c := newClient(srv.URL, srv.Client(), rest.Config{Token: "tok", Limiter: lim,
					Policy: ratelimit.Policy{Attempts: tt.attempts}}) // no backoff: only the limiter spaces retries
				var out struct{ Value int }
				res, err := c.Do(t.Context(), http.MethodGet, "/v1/things?page=2", nil, &out)
				if res.Attempts != tt.want || len(seen.times()) != tt.want {
					t.Errorf("Attempts = %d, server saw %d, want %d", res.Attempts, len(seen.times()), tt.want)
				}
				if res.HTTPStatus != tt.wantStatus {
					t.Errorf("HTTPStatus = %d, want %d", res.HTTPStatus, tt.wantStatus)
				}
				switch {
				case tt.wantErr == "" && err != nil:
					t.Fatalf("Do: %v", err)
				case tt.wantErr == "" && out.Value != 42:
					t.Errorf("decoded %+v, want value 42", out)
				case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
					t.Errorf("Do = %v, want an error containing %q", err, tt.wantErr)
				}
				at := seen.times()
				for i, gap := range tt.gaps {
					if got := at[i+1].Sub(at[i]); (got - gap).Abs() > time.Microsecond {
						t.Errorf("attempt %d came %v after the previous one, want %v", i+2, got, gap)
					}
				}
			})
		})
	}
}

// TestEveryAttemptWaitsOnSharedLimiter checks that retries take tokens of
// the one limiter all workers share.
func TestEveryAttemptWaitsOnSharedLimiter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var seen arrivals
		var calls atomic.Int64
		srv := resttest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			seen.add()
			if calls.Add(1)%2 == 1 { // every other request fails
				writeJSON(w, 503, map[string]any{"success": false})
				return
			}
			writeJSON(w, 200, map[string]any{})
		}))
		defer srv.Close()
		c := newClient(srv.URL, srv.Client(), rest.Config{Token: "tok", Limiter: ratelimit.New(5),
			Policy: ratelimit.Policy{Attempts: 10}})
		var wg sync.WaitGroup
		total := atomic.Int64{}
		for range 6 {
			wg.Go(func() {
				res, err := c.Do(t.Context(), http.MethodGet, "/v1/x", nil, nil)
				if err != nil {
					t.Error(err)
				}
				total.Add(int64(res.Attempts))
			})
		}
		wg.Wait()
		at := seen.times()
		if int64(len(at)) != total.Load() {
			t.Errorf("server saw %d requests, Results count %d attempts", len(at), total.Load())
		}
		if len(at) < 7 {
			t.Fatalf("only %d requests: no retries happened", len(at))
		}
		for i := 1; i < len(at); i++ {
			if gap := at[i].Sub(at[i-1]); gap < 200*time.Millisecond {
				t.Errorf("requests %d and %d came %v apart, want at least 200ms at 5/s", i, i+1, gap)
			}
		}
	})
}

func TestMaxBody(t *testing.T) {
	// Not JSON, so neither the check nor a decoder spends time on it; the
	// call asks for no decoding.
	exact := strings.Repeat("x", rest.MaxBody)
	tests := []struct {
		name    string
		body    string
		wantErr bool
	}{
		{"exactly MaxBody", exact, false},
		{"MaxBody+1", exact + "x", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				_, _ = io.WriteString(w, tt.body)
			}))
			defer srv.Close()
			c := newClient(srv.URL, srv.Client(), rest.Config{Token: "tok", Policy: ratelimit.Policy{Attempts: 3}})
			res, err := c.Do(t.Context(), http.MethodGet, "/v1/big", nil, nil)
			if !tt.wantErr {
				if err != nil {
					t.Errorf("Do = %v for an answer of exactly MaxBody bytes", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), "larger than") {
				t.Errorf("Do = %v, want an error saying the answer is too large", err)
			}
			if calls.Load() != 1 || res.Attempts != 1 {
				t.Errorf("a too-large answer was retried (%d calls)", calls.Load())
			}
		})
	}
}

// authServer accepts one valid token at a time, answers 401 "Token has
// expired" for tokens it issued before, and issues a new token per login.
type authServer struct {
	mu      sync.Mutex
	valid   string
	old     map[string]bool
	logins  int
	issued  int
	barrier *sync.WaitGroup // when set, requests with an old token wait here
	log     []string        // the token of every request, "" for none
	dead    bool            // tokens from a login are expired at once
}

func (s *authServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	s.log = append(s.log, tok)
	if r.URL.Path == "/login" {
		s.logins++
		s.issued++
		if s.valid != "" {
			s.old[s.valid] = true
		}
		s.valid = fmt.Sprintf("token-%d", s.issued)
		ans := map[string]any{"access_token": s.valid}
		if s.dead {
			s.old[s.valid], s.valid = true, ""
		}
		s.mu.Unlock()
		writeJSON(w, 200, ans)
		return
	}
	valid, old, barrier := tok == s.valid, s.old[tok], s.barrier
	s.mu.Unlock()
	switch {
	case valid:
		writeJSON(w, 200, map[string]any{"ok": true})
	case old:
		if barrier != nil {
			barrier.Done()
			barrier.Wait()
		}
		writeJSON(w, 401, map[string]any{"success": false, "message": "Token has expired"})
	default:
		writeJSON(w, 401, map[string]any{"success": false, "message": "Unauthenticated"})
	}
}

// expire makes the current token an expired one.
func (s *authServer) expire() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.old[s.valid] = true
	s.valid = ""
}

func (s *authServer) counts() (logins int, log []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logins, append([]string(nil), s.log...)
}

// postLogin is a login the way the vendors do it, a POST /login sent with
// c.Call; the returned list gathers the stale tokens it was given.
func postLogin() (rest.LoginFunc, *[]model.Secret) {
	var stale []model.Secret
	return func(ctx context.Context, c *rest.Client, _ string, _, s model.Secret) (model.Secret, error) {
		stale = append(stale, s) // renewals are serialised
		var out struct {
			AccessToken string `json:"access_token"`
		}
		if _, err := c.Call(ctx, http.MethodPost, "/login", map[string]any{"password": "pw"}, &out, rest.NoToken); err != nil {
			return "", err
		}
		return model.Secret(out.AccessToken), nil
	}, &stale
}

func TestRenewSingleFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const callers = 8
		s := &authServer{valid: "token-0", old: map[string]bool{}}
		srv := resttest.NewServer(s)
		defer srv.Close()
		login, stale := postLogin()
		c := newClient(srv.URL, srv.Client(), rest.Config{Token: "token-0", Policy: ratelimit.Policy{Attempts: 3}}, login)
		s.expire()
		var barrier sync.WaitGroup // every caller holds the expired token before any renews
		barrier.Add(callers)
		s.mu.Lock()
		s.barrier = &barrier
		s.mu.Unlock()

		var wg sync.WaitGroup
		for range callers {
			wg.Go(func() {
				res, err := c.Do(t.Context(), http.MethodGet, "/v1/me", nil, nil)
				if err != nil {
					t.Errorf("Do: %v", err)
				}
				if res.Attempts != 2 || res.HTTPStatus != 200 {
					t.Errorf("Result = %+v, want 2 attempts ending in 200", res)
				}
			})
		}
		wg.Wait()
		logins, log := s.counts()
		if logins != 1 {
			t.Errorf("%d logins for %d concurrent expiries, want exactly 1", logins, callers)
		}
		if len(*stale) != 1 || (*stale)[0] != "token-0" {
			t.Errorf("Login was given stale tokens %v, want [token-0]", *stale)
		}
		byToken := map[string]int{}
		for _, tok := range log {
			byToken[tok]++
		}
		if byToken["token-0"] != callers || byToken["token-1"] != callers || byToken[""] != 1 {
			t.Errorf("requests by token = %v, want %d with the expired one, %d with the new one and 1 login", byToken, callers, callers)
		}
	})
}

// TestRenewRevokesOldToken has a server that, like Smartflo's refresh,
// stops taking the old token once it issued a new one: a worker whose
// request with the old token was answered 401 "Unauthenticated" after
// another worker renewed must retry with the new token, not stop the run.
func TestRenewRevokesOldToken(t *testing.T) {
	var (
		mu        sync.Mutex
		arrived   int
		logins    int
		bothIn    = make(chan struct{})
		loginDone = make(chan struct{})
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		switch {
		case r.URL.Path == "/login":
			mu.Lock()
			logins++
			mu.Unlock()
			close(loginDone) // a second login panics: the test fails
			writeJSON(w, 200, map[string]any{"access_token": "token-1"})
		case tok == "token-1":
			writeJSON(w, 200, map[string]any{"ok": true})
		case tok == "token-0":
			mu.Lock()
			arrived++
			n := arrived
			if n == 2 {
				close(bothIn)
			}
			mu.Unlock()
			<-bothIn // both workers sent the old token
			if n == 1 {
				writeJSON(w, 401, map[string]any{"success": false, "message": "Token has expired"})
				return
			}
			<-loginDone // the old token is revoked now
			writeJSON(w, 401, map[string]any{"success": false, "message": "Unauthenticated"})
		default:
			writeJSON(w, 401, map[string]any{"success": false, "message": "Unauthenticated"})
		}
	}))
	defer srv.Close()
	login, _ := postLogin()
	c := newClient(srv.URL, srv.Client(), rest.Config{Token: "token-0", Policy: ratelimit.Policy{Attempts: 3}}, login)
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			res, err := c.Do(t.Context(), http.MethodGet, "/v1/me", nil, nil)
			if err != nil || res.Attempts != 2 {
				t.Errorf("Do = %+v, %v; want success on the second attempt", res, err)
			}
		})
	}
	wg.Wait()
	if logins != 1 {
		t.Errorf("%d logins, want 1", logins)
	}
}

func TestInitialLoginSingleFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &authServer{old: map[string]bool{}}
		srv := resttest.NewServer(s)
		defer srv.Close()
		login, stale := postLogin()
		c := newClient(srv.URL, srv.Client(), rest.Config{Policy: ratelimit.Policy{Attempts: 3}}, login)
		var wg sync.WaitGroup
		for range 5 {
			wg.Go(func() {
				if _, err := c.Do(t.Context(), http.MethodGet, "/v1/me", nil, nil); err != nil {
					t.Errorf("Do: %v", err)
				}
			})
		}
		wg.Wait()
		if logins, _ := s.counts(); logins != 1 || len(*stale) != 1 || (*stale)[0] != "" {
			t.Errorf("%d logins with stale tokens %v, want one login with none", logins, *stale)
		}
	})
}

// TestRenewLoopGuard checks that a token from a login that expires before
// any request succeeded with it stops the run instead of logging in again,
// and that one that worked is renewed when it expires, however soon.
func TestRenewLoopGuard(t *testing.T) {
	tests := []struct {
		name       string
		dead       bool          // logins give tokens that are expired at once
		lasts      time.Duration // how long a renewed token works
		wantLogins int
		wantAuth   bool
	}{
		{"renewed token never works", true, 0, 1, true},
		{"renewed token expires after 2s", false, 2 * time.Second, 3, false},
		{"renewed token expires after an hour", false, time.Hour, 3, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := &authServer{valid: "token-0", old: map[string]bool{}, dead: tt.dead}
				srv := resttest.NewServer(s)
				defer srv.Close()
				login, _ := postLogin()
				c := newClient(srv.URL, srv.Client(), rest.Config{Token: "token-0", Policy: ratelimit.Policy{Attempts: 5}}, login)
				for range 3 {
					s.expire()
					res, err := c.Do(t.Context(), http.MethodGet, "/v1/me", nil, nil)
					if got := errors.Is(err, model.ErrAuth); got != tt.wantAuth {
						t.Fatalf("Do = %v; ErrAuth %v, want %v", err, got, tt.wantAuth)
					}
					if tt.wantAuth {
						if res.Attempts != 2 {
							t.Errorf("the loop guard let %d attempts through, want 2 (the expiry, then one try with the new token)", res.Attempts)
						}
						break
					}
					time.Sleep(tt.lasts)
				}
				if logins, _ := s.counts(); logins != tt.wantLogins {
					t.Errorf("%d logins, want %d", logins, tt.wantLogins)
				}
			})
		})
	}
}

func TestFixedTokenExpires(t *testing.T) {
	s := &authServer{valid: "token-0", old: map[string]bool{}}
	srv := httptest.NewServer(s)
	defer srv.Close()
	c := newClient(srv.URL, srv.Client(), rest.Config{Token: "token-0", Policy: ratelimit.Policy{Attempts: 5}})
	if _, err := c.Do(t.Context(), http.MethodGet, "/v1/me", nil, nil); err != nil {
		t.Fatal(err)
	}
	s.expire()
	res, err := c.Do(t.Context(), http.MethodGet, "/v1/me", nil, nil)
	if !errors.Is(err, model.ErrAuth) {
		t.Errorf("Do = %v, want ErrAuth", err)
	}
	if res.Attempts != 1 || res.HTTPStatus != 401 {
		t.Errorf("Result = %+v, want one attempt answered 401", res)
	}
	if logins, _ := s.counts(); logins != 0 {
		t.Errorf("%d logins with a fixed token", logins)
	}
}

func TestRejectedTokenIsNotRenewed(t *testing.T) {
	s := &authServer{valid: "token-0", old: map[string]bool{}}
	srv := httptest.NewServer(s)
	defer srv.Close()
	login, _ := postLogin()
	c := newClient(srv.URL, srv.Client(), rest.Config{Token: "forged", Policy: ratelimit.Policy{Attempts: 5}}, login)
	res, err := c.Do(t.Context(), http.MethodGet, "/v1/me", nil, nil)
	if !errors.Is(err, model.ErrAuth) || res.Attempts != 1 {
		t.Errorf("Do = %+v, %v; want ErrAuth after one attempt", res, err)
	}
	if logins, _ := s.counts(); logins != 0 {
		t.Errorf("a rejected (not expired) token caused %d logins", logins)
	}
}

// TestScrubbing has a server echo every secret it was sent, in JSON
// messages and in plain error pages, and checks none reaches error text.
func TestScrubbing(t *testing.T) {
	const (
		token    = "tok-3f9a1c-SECRET-TOKEN"
		password = "login-pw-Kx7!"
		bodyPw   = "new-user-pw-Zq2"
		hash     = "$2b$12$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234" // bcrypt-shaped
	)
	secrets := []string{token, password, bodyPw, hash}
	echo := func(r *http.Request) string {
		b, _ := io.ReadAll(r.Body)
		return fmt.Sprintf("auth=%q body=%s stored=%s login=%s", r.Header.Get("Authorization"), b, hash, password)
	}
	tests := []struct {
		name    string
		handler http.HandlerFunc
		auth    rest.Auth
		wantIs  error
		echoed  bool // the error's text quotes the answer
		apiErr  bool // the error is a *rest.Error
	}{
		{"400 JSON message", func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, 400, map[string]any{"success": false, "message": echo(r)})
		}, rest.Renewing, nil, true, true},
		{"200 success false", func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, 200, map[string]any{"success": false, "message": echo(r)})
		}, rest.Renewing, nil, true, true},
		{"401 rejected", func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, 401, map[string]any{"success": false, "message": "Unauthenticated " + echo(r)})
		}, rest.Renewing, model.ErrAuth, true, true},
		{"401 expired with a fixed token", func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, 401, map[string]any{"success": false, "message": "Token has expired " + echo(r)})
		}, rest.Renewing, model.ErrAuth, true, false},
		{"404", func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, 404, map[string]any{"success": false, "message": echo(r)})
		}, rest.TokenOnly, model.ErrNotFound, true, true},
		{"500 plain page", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "<html>proxy error "+echo(r)+"</html>", 500)
		}, rest.Renewing, nil, true, true},
		{"200 not JSON", func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, "not json "+echo(r))
		}, rest.Renewing, nil, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(tt.handler)
			defer srv.Close()
			c := newClient(srv.URL, srv.Client(), rest.Config{Token: token, Login: "admin", Password: password,
				Policy: ratelimit.Policy{Attempts: 2}})
			var out struct{ N int }
			_, err := c.Call(t.Context(), http.MethodPatch, "/v1/user/7", map[string]any{"name": "Asha", "password": bodyPw}, &out, tt.auth)
			if err == nil {
				t.Fatal("Do succeeded")
			}
			text := err.Error() + fmt.Sprintf(" %v %+v", err, err)
			for _, s := range secrets {
				if strings.Contains(text, s) {
					t.Errorf("error text holds the secret %q: %s", s, text)
				}
			}
			if tt.echoed && !strings.Contains(text, "[REDACTED]") {
				t.Errorf("error text %q shows no sign of the echoed secrets", text)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("scrubbing lost the error's kind: %v is not %v", err, tt.wantIs)
			}
			var apiErr *rest.Error
			if tt.apiErr && !errors.As(err, &apiErr) {
				t.Errorf("scrubbing hid the *rest.Error from errors.As: %T", err)
			}
		})
	}
}

// TestScrubbingLogin checks the login password is kept out of the error a
// failed login gives, when the server echoes the body.
func TestScrubbingLogin(t *testing.T) {
	const password = "S3cret-login-pw"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		writeJSON(w, 401, map[string]any{"success": false, "message": "bad login " + string(b)})
	}))
	defer srv.Close()
	c := newClient(srv.URL, srv.Client(), rest.Config{Login: "admin", Password: password, Policy: ratelimit.Policy{Attempts: 2}},
		func(ctx context.Context, c *rest.Client, login string, password, _ model.Secret) (model.Secret, error) {
			in := map[string]string{"email": login, "password": password.Reveal()} // not a map[string]any: only the client's own secrets cover it
			_, err := c.Call(ctx, http.MethodPost, "/login", in, nil, rest.NoToken)
			return "", err
		})
	_, err := c.Do(t.Context(), http.MethodGet, "/v1/me", nil, nil)
	if err == nil || strings.Contains(err.Error(), password) || !errors.Is(err, model.ErrAuth) {
		t.Errorf("Do = %v; want ErrAuth without the password", err)
	}
}

// TestTransportErrorHidesURL checks that a connection failure does not
// print the URL, which may carry credentials.
func TestTransportErrorHidesURL(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	base := strings.Replace(srv.URL, "http://", "http://admin:url-secret@", 1)
	srv.Close() // nothing listens there any more
	c := newClient(base, nil, rest.Config{Token: "tok", Policy: ratelimit.Policy{Attempts: 2}})
	res, err := c.Do(t.Context(), http.MethodGet, "/v1/users?token=query-secret", nil, nil)
	if err == nil {
		t.Fatal("Do succeeded against a closed server")
	}
	if s := err.Error(); strings.Contains(s, "url-secret") || strings.Contains(s, "query-secret") || !strings.Contains(s, "GET /v1/users:") {
		t.Errorf("error text %q: want the method and path, no URL", s)
	}
	if res.Attempts != 2 {
		t.Errorf("a refused connection was tried %d times, want 2 (retryable)", res.Attempts)
	}
}

// TestTimeoutNamesTheFlag checks that a request cut by the client's time
// limit says it was --timeout, not Go's "context deadline exceeded
// (Client.Timeout exceeded while awaiting headers)", and is still retried.
func TestTimeoutNamesTheFlag(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := resttest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body) // then the server sees the client hang up
			select {                           // and never answers
			case <-r.Context().Done():
			case <-time.After(time.Hour):
			}
		}))
		defer srv.Close()
		hc := srv.Client()
		hc.Timeout = 1500 * time.Millisecond
		c := newClient(srv.URL, hc, rest.Config{Token: "tok", Policy: ratelimit.Policy{Attempts: 2}})
		res, err := c.Do(t.Context(), http.MethodPatch, "/v1/user/7", map[string]any{"name": "x"}, nil)
		if err == nil || !strings.Contains(err.Error(), "PATCH /v1/user/7: no answer within --timeout 1.5s") {
			t.Errorf("Do = %v, want it to name --timeout", err)
		}
		if strings.Contains(fmt.Sprint(err), "Client.Timeout") || res.Attempts != 2 || !ratelimit.Retryable(err) {
			t.Errorf("Do = %v after %d attempts; want the timeout retried, in plain words", err, res.Attempts)
		}
	})
}

func TestErrorText(t *testing.T) {
	tests := []struct {
		err  rest.Error
		want string
	}{
		{rest.Error{Method: "PATCH", Path: "/v1/user/7", Status: 200},
			`PATCH /v1/user/7: HTTP 200: the answer says the call failed ("success": false)`},
		{rest.Error{Method: "PATCH", Path: "/v1/user/7", Status: 400, Message: "The given data was invalid: email: bad"},
			"PATCH /v1/user/7: HTTP 400: The given data was invalid: email: bad"},
		{rest.Error{Method: "GET", Path: "/v1/users", Status: 503}, "GET /v1/users: HTTP 503: Service Unavailable"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error() = %q, want %q", got, tt.want)
			}
		})
	}
	denied := &rest.Error{Method: "GET", Path: "/v1/users", Status: 401, Denied: true}
	missing := &rest.Error{Method: "GET", Path: "/v1/user/9", Status: 404, Missing: true}
	if !errors.Is(denied, model.ErrAuth) || errors.Is(denied, model.ErrNotFound) {
		t.Error("a denied error does not match ErrAuth alone")
	}
	if !errors.Is(missing, model.ErrNotFound) || errors.Is(missing, model.ErrAuth) {
		t.Error("a missing error does not match ErrNotFound alone")
	}
}

func TestRetryAfterHeader(t *testing.T) {
	// Inside a synctest bubble the clock starts at 2000-01-01 00:00 UTC.
	start := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	date := start.Add(90 * time.Second)
	tests := []struct {
		value string
		want  time.Time
	}{
		{"", time.Time{}},
		{"0", start},
		{"5", start.Add(5 * time.Second)},
		{" 120 ", start.Add(2 * time.Minute)},
		{"-1", time.Time{}},
		{"1.5", time.Time{}},
		{"soon", time.Time{}},
		{date.Format(http.TimeFormat), date},
		{date.Format(time.RFC850), date},
		{date.Format(time.ANSIC), date},
		{"Wed, 21 Oct 2015 07:28:00 GMT", time.Date(2015, 10, 21, 7, 28, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				if !time.Now().Equal(start) {
					t.Fatalf("the bubble's clock starts at %v", time.Now())
				}
				h := http.Header{}
				if tt.value != "" {
					h.Set("Retry-After", tt.value)
				}
				if got := rest.RetryAfterHeader(h); !got.Equal(tt.want) {
					t.Errorf("RetryAfterHeader(%q) = %v, want %v", tt.value, got, tt.want)
				}
			})
		})
	}
}

func FuzzRetryAfterHeader(f *testing.F) {
	for _, s := range []string{"", "0", "5", "-1", "99999999999999999999", "9223372037", "18446744073", "Wed, 21 Oct 2015 07:28:00 GMT", "Sunday, 06-Nov-94 08:49:37 GMT"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		before := time.Now()
		got := rest.RetryAfterHeader(http.Header{"Retry-After": {v}})
		if secs, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64); err == nil && !strings.HasPrefix(strings.TrimSpace(v), "+") {
			if got.Before(before.Add(time.Duration(min(secs, 1<<20)) * time.Second)) {
				t.Errorf("Retry-After: %s gave %v, sooner than it says", v, got.Sub(before))
			}
		}
	})
}

func TestFieldErrors(t *testing.T) {
	got := rest.FieldErrors(map[string][]string{"name": {"too long.", "bad."}, "email": {"not valid."}})
	if want := "email: not valid.; name: too long. bad."; got != want {
		t.Errorf("FieldErrors = %q, want %q", got, want)
	}
	if got := rest.FieldErrors(nil); got != "" {
		t.Errorf("FieldErrors(nil) = %q", got)
	}
}

func TestSnippet(t *testing.T) {
	if got := rest.Snippet([]byte("<html>\n  <h1>502   Bad Gateway</h1>\n</html>")); got != "<html> <h1>502 Bad Gateway</h1> </html>" {
		t.Errorf("Snippet = %q", got)
	}
	long := rest.Snippet([]byte(strings.Repeat("a", 500)))
	if !strings.HasSuffix(long, "…") || len(long) != 160+len("…") {
		t.Errorf("Snippet of 500 bytes = %d bytes", len(long))
	}
}

// TestSnippetNeverCutsASecret has a proxy answer a plain-text error page
// that echoes the token where the snippet's cut falls: no part of it may
// reach the error text.
func TestSnippetNeverCutsASecret(t *testing.T) {
	const tok = "tok-0123456789abcdefghijklmnopqrstuvwxyz"
	for cut := 140; cut <= 160; cut += 5 {
		t.Run(fmt.Sprint(cut), func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusBadRequest)
				fmt.Fprint(w, strings.Repeat("x", cut)+" "+strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")+" end")
			}))
			defer srv.Close()
			c := newClient(srv.URL, srv.Client(), rest.Config{Token: tok, Policy: ratelimit.Policy{Attempts: 1}})
			_, err := c.Do(t.Context(), http.MethodGet, "/v1/x", nil, nil)
			if err == nil {
				t.Fatal("want an error")
			}
			for n := 6; n <= len(tok); n++ {
				if strings.Contains(err.Error(), tok[:n]) {
					t.Fatalf("error text holds %d characters of the token: %q", n, err.Error())
				}
			}
		})
	}
}

func TestMayFail(t *testing.T) {
	tests := []struct {
		body string
		want bool
	}{
		{`{"success": false, "message": "Token has expired"}`, true},
		{`{"success":false}`, true},
		{"{\n  \"success\" :\n\tfalse\n}", true},
		{`{"success": true, "payload": {"items": []}}`, false},
		{`{"has_more": false, "data": [{"name": "success"}]}`, false},
		{`{"data": {"note": "\"success\": false was said"}}`, false}, // inside a string the quotes are escaped
		{`{"payload": {"success": false}}`, true},                    // nested: decoded to find out
		{``, false},
		{`"success"`, false},
		{`{"success": "false", "message": "Too many requests."}`, true}, // as Smartflo's docs write it
		{`{"success":"FALSE"}`, true},
		{`{"success": 0}`, true},
		{`{"success": null}`, true},
		{`{"Success": false}`, true}, // encoding/json matches keys in any case
		{`{"SUCCESS" : "False"}`, true},
		{`{"success": 1, "data": []}`, false},
		{`{"success": true, "data": [{"success": true}]}`, false},
		{`{"status": "success", "data": []}`, false},
		{`{"success"`, false},
		{`{"success":`, true},
	}
	for _, tt := range tests {
		if got := rest.MayFail([]byte(tt.body)); got != tt.want {
			t.Errorf("MayFail(%q) = %v, want %v", tt.body, got, tt.want)
		}
	}
}

// paced is the gap between requests a limiter set to r a second leaves:
// it sends 2% under its rate.
func paced(r float64) time.Duration { return time.Duration(float64(time.Second) / (r * 0.98)) }

// TestRedirectIsAnError checks that a redirected call (a proxy sending
// http to https, or a missing path) fails, permanently, and is never taken
// for a success.
func TestRedirectIsAnError(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "https://elsewhere.example/v1/user/1", http.StatusMovedPermanently)
	}))
	defer srv.Close()
	hc := srv.Client()
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c := newClient(srv.URL, hc, rest.Config{Token: "tok", Policy: ratelimit.Policy{Attempts: 3}})
	res, err := c.Do(t.Context(), http.MethodPatch, "/v1/user/1", map[string]any{"name": "x"}, nil)
	if err == nil || res.Attempts != 1 || res.HTTPStatus != http.StatusMovedPermanently || !strings.Contains(err.Error(), "redirect") {
		t.Errorf("Do = %+v, %v; want one attempt failing on the redirect", res, err)
	}
}

func TestSuccess(t *testing.T) {
	tests := []struct {
		value         string
		given, failed bool
	}{
		{`true`, true, false},
		{`false`, true, true},
		{`"false"`, true, true}, // as Smartflo's documentation writes it
		{`"False"`, true, true},
		{`" FALSE "`, true, true},
		{`"fal\u0073e"`, true, true},
		{`0`, true, true},
		{`0.0`, true, true},
		{`-0`, true, true},
		{`"0"`, true, true},
		{`1`, true, false},
		{`"true"`, true, false},
		{`"yes"`, true, false},
		{`""`, true, false},
		{`{}`, true, false},
		{`[false]`, true, false},
		{`null`, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			var env struct {
				Success rest.Success `json:"success"`
				Message string       `json:"message"`
			}
			if err := json.Unmarshal([]byte(`{"success": `+tt.value+`, "message": "m"}`), &env); err != nil {
				t.Fatal(err)
			}
			if env.Success.Given() != tt.given || env.Success.Failed() != tt.failed || env.Message != "m" {
				t.Errorf("success %s: given %v failed %v message %q; want given %v failed %v", tt.value,
					env.Success.Given(), env.Success.Failed(), env.Message, tt.given, tt.failed)
			}
		})
	}
	var absent struct {
		Success rest.Success `json:"success"`
	}
	if err := json.Unmarshal([]byte(`{"data": []}`), &absent); err != nil || absent.Success.Given() || absent.Success.Failed() {
		t.Errorf("an answer without success: %+v, %v", absent.Success, err)
	}
}
