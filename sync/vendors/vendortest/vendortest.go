// Package vendortest is the conformance suite every vendor of the table
// passes, in the way rclone's fstest/fstests runs every backend: Run takes
// one vendors.Vendor and runs its client, over real HTTP, against the
// vendor's own shipped fake, checking what every client owes the engine:
// listing in full or failing, a listing that repeats a user refused by the
// plan, named reads that stay right when the server ignores their filter,
// reading, the blocking flags agreeing between the list and the one-user
// read, patching, unknown ids, rejected and expired credentials, retries
// through 429s (with and without a hint), 5xx and dropped connections, a
// yield error that stops a list, and secrets kept out of error text.
//
// It reaches the fake only through the vendor-neutral knobs of
// vendors.FakeConfig and vendors.Fake, and the vendor only through its
// entry (PageSize, Sample). It does not own what a vendor's answers look
// like, its field table or its extra calls: those stay in the vendor's
// own tests.
package vendortest

import (
	"context"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/rostersync/rostersync/ratelimit"
	"github.com/rostersync/rostersync/sync/model"
	"github.com/rostersync/rostersync/sync/vendors"
	"github.com/rostersync/rostersync/sync/vendors/rest"
	"github.com/rostersync/rostersync/sync/vendors/rest/resttest"
)

// The credentials every fake of the suite accepts.
const (
	token    = "conformance-token-5d1c9e"
	login    = "admin@example.com"
	password = "conformance-pw-77e1"
)

// unknownID names no user of a fake: generated users have ids 1 to Users.
const unknownID = "999999999"

// cases is the suite, in the order it runs.
var cases = []struct {
	name string
	run  func(*testing.T, *vendors.Vendor)
}{
	{"List", testList},
	{"ListShortTotal", testListShortTotal},
	{"ListStopsOnYieldError", testListStopsOnYieldError},
	{"ListNamed", testListNamed},
	{"ListRepeatsAUser", testListRepeatsAUser},
	{"Get", testGet},
	{"BlocksAgree", testBlocksAgree},
	{"PatchThenGet", testPatchThenGet},
	{"UnknownID", testUnknownID},
	{"Login", testLogin},
	{"BadToken", testBadToken},
	{"BadLogin", testBadLogin},
	{"FixedTokenExpires", testFixedTokenExpires},
	{"LoginTokenExpires", testLoginTokenExpires},
	{"LoginTokenExpiresConcurrently", testLoginTokenExpiresConcurrently},
	{"LoginTokenDeadOnArrival", testLoginTokenDeadOnArrival},
	{"RateLimited", testRateLimited},
	{"ServerErrors", testServerErrors},
	{"ResetBeforeHandling", testResetBefore},
	{"ResetAfterWrite", testResetAfter},
	{"SecretsOutOfErrors", testSecrets},
}

// Run runs the conformance suite against v's client and v's fake, one
// subtest per case.
func Run(t *testing.T, v *vendors.Vendor) {
	t.Helper()
	checkEntry(t, v)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.run(t, v)
		})
	}
}

// checkEntry fails at once when v lacks what the suite needs.
func checkEntry(t *testing.T, v *vendors.Vendor) {
	t.Helper()
	switch {
	case v.New == nil || v.NewFake == nil:
		t.Fatalf("%s: the entry has no client or fake constructor", v.Name)
	case v.PageSize < 1:
		t.Fatalf("%s: PageSize %d", v.Name, v.PageSize)
	case v.Table == nil:
		t.Fatalf("%s: no field table", v.Name)
	}
	f := v.Table.Field(v.Sample.Field)
	switch {
	case f == nil:
		t.Fatalf("%s: Sample.Field %q is not a field of the table", v.Name, v.Sample.Field)
	case f.WriteOnly() || f.Secret:
		t.Fatalf("%s: Sample.Field %q is not returned by the one-user read", v.Name, f.Name)
	}
}

// harness is a vendor's fake served over HTTP.
type harness struct {
	v    *vendors.Vendor
	fake vendors.Fake
	srv  *httptest.Server
}

// fakeConfig fills in the suite's credentials and a cheap bcrypt cost.
func fakeConfig(cfg vendors.FakeConfig) vendors.FakeConfig {
	cfg.Token, cfg.Login, cfg.Password = token, login, password
	cfg.BcryptCost = bcrypt.MinCost
	return cfg
}

// serve serves v's fake, built with cfg and the suite's credentials, over
// a loopback socket (httptest), until the test ends.
func serve(t *testing.T, v *vendors.Vendor, cfg vendors.FakeConfig) *harness {
	t.Helper()
	fake, err := v.NewFake(fakeConfig(cfg))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	return &harness{v: v, fake: fake, srv: srv}
}

// inBubble runs f in a testing/synctest bubble, where time is fake and
// exact, with v's fake built from cfg served over the in-memory network.
func inBubble(t *testing.T, v *vendors.Vendor, cfg vendors.FakeConfig, f func(*testing.T, *harness)) {
	t.Helper()
	synctest.Test(t, func(t *testing.T) {
		fake, err := v.NewFake(fakeConfig(cfg))
		if err != nil {
			t.Fatal(err)
		}
		srv := resttest.NewServer(fake)
		defer srv.Close() // before the bubble ends: its goroutines must exit
		f(t, &harness{v: v, fake: fake, srv: srv})
	})
}

// fastRetries is the policy of tests on real time: retries come at once.
var fastRetries = ratelimit.Policy{Attempts: 8, Base: time.Millisecond, Max: 2 * time.Millisecond}

// client returns v's client of the fake. cfg holds the credentials (the
// fixed token when it names none), the limiter and the retry policy
// (fastRetries when none).
func (h *harness) client(cfg rest.Config) vendors.Client {
	cfg.BaseURL, cfg.HTTP = h.srv.URL, h.srv.Client()
	if cfg.Token == "" && cfg.Login == "" {
		cfg.Token = token
	}
	if cfg.Policy.Attempts == 0 {
		cfg.Policy = fastRetries
	}
	return h.v.New(cfg)
}

// requests counts the requests the fake received.
func (h *harness) requests() int { return len(h.fake.Requests()) }

// tokenCalls counts the logins and refreshes the fake was asked for.
func (h *harness) tokenCalls() int { return h.fake.Logins() + h.fake.Refreshes() }

// answered counts the requests the fake answered with status (0: the
// connection dropped unanswered).
func (h *harness) answered(status int) int {
	n := 0
	for _, r := range h.fake.Requests() {
		if r.Status == status {
			n++
		}
	}
	return n
}

// id is the id of the i-th generated user.
func id(i int) string { return strconv.Itoa(i) }

// listAll lists every user, by id.
func listAll(t *testing.T, ctx context.Context, c vendors.Client) map[string]model.User {
	t.Helper()
	users := map[string]model.User{}
	err := c.List(ctx, func(u model.User) error {
		if _, dup := users[u.ID]; dup {
			t.Errorf("user %s listed twice", u.ID)
		}
		users[u.ID] = u
		return nil
	})
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	return users
}

// sampleBody is the PATCH body of v's sample edit, nested where its field
// name is dotted.
func sampleBody(v *vendors.Vendor) map[string]any {
	f := v.Table.Field(v.Sample.Field)
	body := map[string]any{}
	setPath(body, f.Name, f.Kind.Encode(v.Sample.Value))
	return body
}

func setPath(body map[string]any, dotted string, value any) {
	keys := strings.Split(dotted, ".")
	for _, k := range keys[:len(keys)-1] {
		next, ok := body[k].(map[string]any)
		if !ok {
			next = map[string]any{}
			body[k] = next
		}
		body = next
	}
	body[keys[len(keys)-1]] = value
}

// readAll reads users 1 to n in full, by id.
func readAll(t *testing.T, ctx context.Context, c vendors.Client, n int) map[string]model.User {
	t.Helper()
	users := map[string]model.User{}
	for i := 1; i <= n; i++ {
		u, err := c.Get(ctx, id(i))
		if err != nil {
			t.Fatalf("Get(%s): %v", id(i), err)
		}
		users[u.ID] = u
	}
	return users
}

// sampleRow is a roster row that sets v's sample edit on the user key names.
func sampleRow(v *vendors.Vendor, n int, key string) model.Row {
	return model.Row{N: n, Key: key, Values: []model.Value{{Field: v.Table.Field(v.Sample.Field), V: v.Sample.Value}}}
}

// holdsSample reports whether u shows v's sample edit.
func holdsSample(v *vendors.Vendor, u model.User) bool {
	f := v.Table.Field(v.Sample.Field)
	got, ok := u.Values[f.Name]
	return ok && f.Kind.Equal(got, v.Sample.Value)
}
