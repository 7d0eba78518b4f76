package apply_test

import (
	"cmp"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rostersync/rostersync/ratelimit"
	"github.com/rostersync/rostersync/sync/apply"
	"github.com/rostersync/rostersync/sync/model"
	"github.com/rostersync/rostersync/sync/plan"
	"github.com/rostersync/rostersync/sync/vendors/fakehttp"
	"github.com/rostersync/rostersync/sync/vendors/rest"
	"github.com/rostersync/rostersync/sync/vendors/rest/resttest"
	"github.com/rostersync/rostersync/sync/vendors/smartflo"
	"github.com/rostersync/rostersync/sync/vendors/smartflo/smartflotest"
)

// hiddenLimits are the rate limiters a run meets in front of an API, each
// with the most its run may take, as a multiple of the time the limiter's
// budget needs for the requests it accepted.
var hiddenLimits = []struct {
	name   string
	faults fakehttp.Faults // Limit is set per case
	goal   float64
}{
	// The 429 Smartflo documents, which the fakes answer by default: no
	// hint at all (api.md, "What public sources add": no Retry-After, no
	// retry_after), over a sliding one-second window (L at once, then none).
	{"429-window-no-hints", fakehttp.Faults{}, 1.25},
	// The same 429 with no burst: requests 1/L apart at best, as nginx's
	// limit_req with burst 0 takes them.
	{"429-no-hints", fakehttp.Faults{LimitNoBurst: true}, 1.25},
	// nginx's limit_req as it comes: a 503 page, no hint, no burst.
	{"503", fakehttp.Faults{LimitStatus: http.StatusServiceUnavailable, LimitNoBurst: true}, 1.5},
	// A 429 with Retry-After and the body's retry_after (LimitHints), over
	// the sliding window.
	{"429-hints", fakehttp.Faults{LimitHints: true}, 1.25},
}

// TestHiddenLimit runs plan and apply at --rate 10×L against a server whose
// hidden limit is L, for each kind of limiter: no row may fail, and the run
// must take at most the case's goal times the time the limiter's budget
// needs for the requests it accepted.
func TestHiddenLimit(t *testing.T) {
	for _, hl := range hiddenLimits {
		for _, limit := range []float64{2, 5, 20} {
			t.Run(fmt.Sprintf("%s/L=%v", hl.name, limit), func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					n := int(limit * 40)
					faults := hl.faults
					faults.Limit = limit
					fake := smartflotest.New(smartflotest.Config{Token: token, Faults: faults}, manyUsers(n))
					srv := resttest.NewServer(fake)
					defer srv.Close()
					c := smartflo.New(rest.Config{BaseURL: srv.URL, HTTP: srv.Client(), Token: token,
						Limiter: ratelimit.New(10 * limit), Policy: ratelimit.DefaultPolicy()})
					rows := make([]model.Row, n)
					for i := range rows {
						rows[i] = row(t, c, i+1, strconv.Itoa(i+1), "name", fmt.Sprint("Renamed ", i+1))
					}
					begin := time.Now()
					p, err := plan.Planner{Target: targetOf(c), Reader: c, Workers: 8}.Plan(t.Context(), rows)
					if err != nil {
						t.Fatal(err)
					}
					rec := newRecorder(t)
					(apply.Applier{Patcher: c, Workers: 8}).Apply(t.Context(), p, rec.record)
					took := time.Since(begin)
					failed := 0
					for _, o := range rec.check(p) {
						if o.Status != model.Applied {
							failed++
							t.Errorf("row %d: %s %v", o.Item.Row, o.Status, o.Err)
						}
					}
					refused := cmp.Or(faults.LimitStatus, http.StatusTooManyRequests)
					accepted, throttled := 0, 0
					for _, r := range fake.Requests() {
						if r.Status == refused {
							throttled++
						} else {
							accepted++
						}
					}
					ideal := time.Duration(float64(accepted) / limit * float64(time.Second))
					ratio := took.Seconds() / ideal.Seconds()
					t.Logf("%s L=%v: %d requests (+%d answered %d) in %v; budget needs %v; ratio %.3f; %d rows failed",
						hl.name, limit, accepted, throttled, refused, took, ideal, ratio, failed)
					if ratio > hl.goal {
						t.Errorf("took %.2f× the time the server's budget needs, want at most %.2f×", ratio, hl.goal)
					}
				})
			})
		}
	}
}

// TestTokenRenewedOncePerExpiry runs a Smartflo apply, logged in with a
// login, across several token lifetimes with eight workers: one login,
// and one refresh per expiry, however many workers saw it expire.
func TestTokenRenewedOncePerExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n, ttl = 300, 5 * time.Second
		fake := smartflotest.New(smartflotest.Config{Email: "ops@example.com", Password: "pw", TokenTTL: ttl}, manyUsers(n))
		srv := resttest.NewServer(fake)
		defer srv.Close()
		c := smartflo.New(rest.Config{BaseURL: srv.URL, HTTP: srv.Client(), Login: "ops@example.com", Password: "pw",
			Limiter: ratelimit.New(10), Policy: ratelimit.DefaultPolicy()})
		begin := time.Now()
		p := renameAll(t, c, n)
		rec := newRecorder(t)
		(apply.Applier{Patcher: c, Workers: 8}).Apply(t.Context(), p, rec.record)
		for _, o := range rec.check(p) {
			if o.Status != model.Applied {
				t.Errorf("row %d: %s %v", o.Item.Row, o.Status, o.Err)
			}
		}
		// Each token lives ttl from its renewal, which comes a little after
		// the previous one expired: floor(took/ttl) expiries, or one fewer.
		expiries := int(time.Since(begin) / ttl)
		if fake.Logins() != 1 || fake.Refreshes() < expiries-1 || fake.Refreshes() > expiries {
			t.Errorf("%d logins and %d refreshes in %v with %v tokens and 8 workers; want 1 login and one refresh per expiry (%d)",
				fake.Logins(), fake.Refreshes(), time.Since(begin), ttl, expiries)
		}
	})
}

// TestListThatKeepsFailingStopsThePlan has every list page fail: after the
// retries the plan stops with an error, before any write, rather than diff
// against part of the state.
func TestListThatKeepsFailingStopsThePlan(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := smartflotest.New(smartflotest.Config{Token: token, Faults: fakehttp.Faults{ServerErrors: 1}}, manyUsers(10))
		srv := resttest.NewServer(fake)
		defer srv.Close()
		c := smartflo.New(rest.Config{BaseURL: srv.URL, HTTP: srv.Client(), Token: token,
			Limiter: ratelimit.New(0), Policy: ratelimit.DefaultPolicy()})
		rows := []model.Row{row(t, c, 1, "1", "name", "New")}
		p, err := plan.Planner{Target: targetOf(c), Reader: c, Workers: 4}.Plan(t.Context(), rows)
		if err == nil || p != nil {
			t.Fatalf("Plan = %v, %v; want no plan and an error", p, err)
		}
		if !strings.Contains(err.Error(), "gave up after 8 attempts") || !strings.Contains(err.Error(), "503") {
			t.Errorf("error %q should say the read gave up after the retries", err)
		}
		if fake.Writes() != 0 || len(fake.Requests()) != 8 {
			t.Errorf("%d writes and %d requests; want none and the 8 attempts of the first page", fake.Writes(), len(fake.Requests()))
		}
	})
}
