package vendortest

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rostersync/rostersync/sync/model"
	"github.com/rostersync/rostersync/sync/vendors"
	"github.com/rostersync/rostersync/sync/vendors/fakehttp"
	"github.com/rostersync/rostersync/sync/vendors/rest"
)

// op is one kind of call a client makes, on user id.
type op struct {
	name string
	call func(ctx context.Context, c vendors.Client, v *vendors.Vendor, id string) (model.Result, error)
}

var ops = []op{
	{"List", func(ctx context.Context, c vendors.Client, _ *vendors.Vendor, _ string) (model.Result, error) {
		return model.Result{}, c.List(ctx, func(model.User) error { return nil })
	}},
	{"Get", func(ctx context.Context, c vendors.Client, _ *vendors.Vendor, id string) (model.Result, error) {
		_, err := c.Get(ctx, id)
		return model.Result{}, err
	}},
	{"Patch", func(ctx context.Context, c vendors.Client, v *vendors.Vendor, id string) (model.Result, error) {
		return c.Patch(ctx, id, sampleBody(v))
	}},
}

// loginConfig is a client configuration that logs in with the suite's
// login and pw.
func loginConfig(pw string) rest.Config {
	return rest.Config{Login: login, Password: model.Secret(pw)}
}

// testLogin logs in once and serves every later call with that token.
func testLogin(t *testing.T, v *vendors.Vendor) {
	h := serve(t, v, vendors.FakeConfig{Users: 3})
	c := h.client(loginConfig(password))
	for range 2 {
		for _, o := range ops {
			if _, err := o.call(t.Context(), c, v, "1"); err != nil {
				t.Fatalf("%s: %v", o.name, err)
			}
		}
	}
	if h.fake.Logins() != 1 || h.fake.Refreshes() != 0 {
		t.Errorf("%d logins and %d refreshes for six calls, want 1 and 0", h.fake.Logins(), h.fake.Refreshes())
	}
}

// testBadToken sends a token the server does not know: ErrAuth from one
// request per call, no login tried, and the token kept out of the error.
func testBadToken(t *testing.T, v *vendors.Vendor) {
	const forged = "forged-token-9a7c31"
	h := serve(t, v, vendors.FakeConfig{Users: 2})
	c := h.client(rest.Config{Token: forged})
	for _, o := range ops {
		t.Run(o.name, func(t *testing.T) {
			before := h.requests()
			_, err := o.call(t.Context(), c, v, "1")
			if !errors.Is(err, model.ErrAuth) {
				t.Fatalf("%s = %v, want ErrAuth", o.name, err)
			}
			if strings.Contains(err.Error(), forged) {
				t.Errorf("the token is in the error: %v", err)
			}
			if n := h.requests() - before; n != 1 {
				t.Errorf("%d requests, want 1: a rejected token is not retried", n)
			}
		})
	}
	if n := h.tokenCalls(); n != 0 {
		t.Errorf("%d logins or refreshes with only a fixed token", n)
	}
	if n := h.fake.Writes(); n != 1 {
		t.Errorf("%d writes received, want the one refused", n)
	}
}

// testBadLogin logs in with a wrong password: ErrAuth from every call
// after exactly one login (repeated failed logins lock the account), the
// password kept out of the error.
func testBadLogin(t *testing.T, v *vendors.Vendor) {
	const wrong = "wrong-pw-4be19d"
	h := serve(t, v, vendors.FakeConfig{Users: 2})
	c := h.client(loginConfig(wrong))
	for _, o := range ops {
		_, err := o.call(t.Context(), c, v, "1")
		if !errors.Is(err, model.ErrAuth) {
			t.Errorf("%s = %v, want ErrAuth", o.name, err)
			continue
		}
		if strings.Contains(err.Error(), wrong) {
			t.Errorf("%s: the password is in the error: %v", o.name, err)
		}
	}
	if h.fake.Logins() != 1 || h.fake.Refreshes() != 0 {
		t.Errorf("%d logins and %d refreshes, want exactly 1 login: failed logins lock the account",
			h.fake.Logins(), h.fake.Refreshes())
	}
	if n := h.requests(); n != 1 {
		t.Errorf("%d requests, want only the login", n)
	}
}

// testFixedTokenExpires lets a fixed token expire mid-run: every call
// fails with ErrAuth (there is nothing to log in with), at once, and the
// write refused did not land.
func testFixedTokenExpires(t *testing.T, v *vendors.Vendor) {
	h := serve(t, v, vendors.FakeConfig{Users: 3})
	c := h.client(rest.Config{})
	if _, err := c.Patch(t.Context(), "1", sampleBody(v)); err != nil {
		t.Fatal(err)
	}
	h.fake.ExpireTokens()
	for _, o := range ops {
		before := h.requests()
		_, err := o.call(t.Context(), c, v, "2")
		if !errors.Is(err, model.ErrAuth) {
			t.Errorf("%s with an expired fixed token = %v, want ErrAuth", o.name, err)
			continue
		}
		if strings.Contains(err.Error(), token) {
			t.Errorf("%s: the token is in the error: %v", o.name, err)
		}
		if n := h.requests() - before; n != 1 {
			t.Errorf("%s: %d requests, want 1", o.name, n)
		}
	}
	if n := h.tokenCalls(); n != 0 {
		t.Errorf("%d logins or refreshes with only a fixed token", n)
	}
	// A login still works: it shows what the fake holds.
	users := readAll(t, t.Context(), h.client(loginConfig(password)), 2)
	if !holdsSample(v, users["1"]) {
		t.Error("the patch sent before the expiry did not land")
	}
	if u := users["2"]; holdsSample(v, u) {
		t.Error("the patch refused for an expired token landed")
	}
}

// tokenTTL is the lifetime of a login's token in the expiry cases.
const tokenTTL = 10 * time.Minute

// testLoginTokenExpires lets a login's token expire before each kind of
// call: the client renews it once (a refresh or a new login) and the call
// succeeds; later calls need no renewal.
func testLoginTokenExpires(t *testing.T, v *vendors.Vendor) {
	for _, o := range ops {
		t.Run(o.name, func(t *testing.T) {
			inBubble(t, v, vendors.FakeConfig{Users: 3, TokenTTL: tokenTTL}, func(t *testing.T, h *harness) {
				c := h.client(loginConfig(password))
				if _, err := c.Get(t.Context(), "1"); err != nil {
					t.Fatal(err)
				}
				time.Sleep(tokenTTL + time.Second)
				res, err := o.call(t.Context(), c, v, "1")
				if err != nil {
					t.Fatalf("%s after the token expired: %v", o.name, err)
				}
				if n := h.tokenCalls(); n != 2 {
					t.Errorf("%d logins and refreshes, want 2: the login and one renewal", n)
				}
				if o.name == "Patch" {
					if res.Attempts != 2 {
						t.Errorf("Patch took %d attempts, want 2: refused, then sent with the new token", res.Attempts)
					}
					if u, err := c.Get(t.Context(), "1"); err != nil || !holdsSample(v, u) {
						t.Errorf("after the renewal the patch did not land: %v", err)
					}
				}
				for range 3 {
					if _, err := c.Get(t.Context(), "2"); err != nil {
						t.Fatal(err)
					}
				}
				if n := h.tokenCalls(); n != 2 {
					t.Errorf("later calls renewed again: %d logins and refreshes", n)
				}
			})
		})
	}
}

// testLoginTokenExpiresConcurrently has several workers find the token
// expired at once: one renewal serves them all.
func testLoginTokenExpiresConcurrently(t *testing.T, v *vendors.Vendor) {
	const n = 8
	inBubble(t, v, vendors.FakeConfig{Users: n, TokenTTL: tokenTTL}, func(t *testing.T, h *harness) {
		c := h.client(loginConfig(password))
		if _, err := c.Get(t.Context(), "1"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(tokenTTL)
		var wg sync.WaitGroup
		for i := 1; i <= n; i++ {
			wg.Go(func() {
				if _, err := c.Patch(t.Context(), id(i), sampleBody(v)); err != nil {
					t.Errorf("Patch(%s): %v", id(i), err)
				}
			})
		}
		wg.Wait()
		if got := h.tokenCalls(); got != 2 {
			t.Errorf("%d logins and refreshes for %d concurrent expiries, want 2: the login and one renewal", got, n)
		}
		for id, u := range readAll(t, t.Context(), c, n) {
			if !holdsSample(v, u) {
				t.Errorf("user %s not patched", id)
			}
		}
	})
}

// testLoginTokenDeadOnArrival serves tokens that have expired by the time
// they are first used: the run stops with ErrAuth after one login, rather
// than logging in again and again.
func testLoginTokenDeadOnArrival(t *testing.T, v *vendors.Vendor) {
	// Each answer takes a millisecond, so every token is dead when first used.
	cfg := vendors.FakeConfig{Users: 2, TokenTTL: time.Nanosecond, Faults: fakehttp.Faults{Latency: time.Millisecond}}
	inBubble(t, v, cfg, func(t *testing.T, h *harness) {
		c := h.client(loginConfig(password))
		for _, o := range ops {
			if _, err := o.call(t.Context(), c, v, "1"); !errors.Is(err, model.ErrAuth) {
				t.Errorf("%s = %v, want ErrAuth", o.name, err)
			}
		}
		if h.fake.Logins() != 1 || h.fake.Refreshes() != 0 {
			t.Errorf("%d logins and %d refreshes, want 1 and 0", h.fake.Logins(), h.fake.Refreshes())
		}
	})
}
