package dnl_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/rostersync/rostersync/ratelimit"
	"github.com/rostersync/rostersync/sync/model"
	"github.com/rostersync/rostersync/sync/plan"
	"github.com/rostersync/rostersync/sync/vendors/dnl"
	"github.com/rostersync/rostersync/sync/vendors/dnl/dnltest"
	"github.com/rostersync/rostersync/sync/vendors/rest"
)

// withoutOrder is a transport that drops order_by and order_dir from every
// request: the client as it was before it asked for an order.
type withoutOrder struct{ next http.RoundTripper }

func (w withoutOrder) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	q := r.URL.Query()
	q.Del("order_by")
	q.Del("order_dir")
	r.URL.RawQuery = q.Encode()
	return w.next.RoundTrip(r)
}

// TestListInStableOrder lists 2,500 users over pages of 1,000 from the
// fake, which without order_by answers each page in another order, as a
// database does with no ORDER BY. Without the order, the listing the
// client gathers passes its own count check yet repeats users and lacks as
// many: the planner refuses it, and nothing is planned. With the order
// (the client as shipped), every user is listed once and the plan of a
// roster naming all of them is exact.
func TestListInStableOrder(t *testing.T) {
	t.Parallel()
	const n = 2500
	users := seed(n)
	rows := func() []model.Row {
		f := dnl.Target.Table.Field("report_fields")
		rs := make([]model.Row, n)
		for i, u := range users {
			rs[i] = model.Row{N: i + 1, Key: strconv.FormatInt(u.UserID, 10), Values: []model.Value{{Field: f, V: fmt.Sprint("r", i)}}}
		}
		return rs
	}
	serve := func(t *testing.T, transport func(http.RoundTripper) http.RoundTripper) (*dnltest.Fake, *dnl.Client) {
		fake := dnltest.New(dnltest.Config{Token: adminTok, BcryptCost: bcrypt.MinCost}, users)
		srv := httptest.NewServer(fake)
		t.Cleanup(srv.Close)
		return fake, dnl.New(rest.Config{BaseURL: srv.URL, HTTP: &http.Client{Transport: transport(srv.Client().Transport)},
			Token: adminTok, Policy: ratelimit.Policy{Attempts: 2, Base: time.Millisecond, Max: time.Millisecond}})
	}
	count := func(t *testing.T, c *dnl.Client) (repeated, missing int) {
		t.Helper()
		seen := map[string]int{}
		if err := c.List(t.Context(), func(u model.User) error { seen[u.ID]++; return nil }); err != nil {
			t.Fatalf("List: %v", err)
		}
		for _, u := range users {
			switch k := seen[strconv.FormatInt(u.UserID, 10)]; k {
			case 0:
				missing++
			default:
				repeated += k - 1
			}
		}
		return repeated, missing
	}

	t.Run("without order", func(t *testing.T) {
		fake, c := serve(t, func(next http.RoundTripper) http.RoundTripper { return withoutOrder{next} })
		repeated, missing := count(t, c)
		if repeated == 0 || missing != repeated {
			t.Fatalf("unordered pages: %d users repeated, %d missing; want the fake to skip one user for each it repeats", repeated, missing)
		}
		p, err := plan.Planner{Target: dnl.Target, Reader: c, Workers: 4}.Plan(t.Context(), rows())
		if !errors.Is(err, plan.ErrListedTwice) || p != nil {
			t.Fatalf("Plan over unordered pages = %v, %v; want no plan and ErrListedTwice", p, err)
		}
		if fake.Writes() != 0 {
			t.Errorf("%d writes", fake.Writes())
		}
	})

	t.Run("with order", func(t *testing.T) {
		fake, c := serve(t, func(next http.RoundTripper) http.RoundTripper { return next })
		if repeated, missing := count(t, c); repeated != 0 || missing != 0 {
			t.Fatalf("ordered pages: %d users repeated, %d missing; want every user once", repeated, missing)
		}
		for _, r := range fake.Requests() {
			if !strings.HasPrefix(r.Query, "order_by=user_id&order_dir=asc&") {
				t.Errorf("a list request without the order: %q", r.Query)
			}
		}
		p, err := plan.Planner{Target: dnl.Target, Reader: c, Workers: 4}.Plan(t.Context(), rows())
		if err != nil {
			t.Fatal(err)
		}
		for i, it := range p.Items {
			if it.Status != model.Planned || it.UserID != it.Key || !slices.Equal(it.Fields(), []string{"report_fields"}) ||
				it.Body["report_fields"] != fmt.Sprint("r", i) {
				t.Fatalf("row %d: %s user %s %v %v; want its own user's report_fields planned", it.Row, it.Status, it.UserID, it.Body, it.Err)
			}
		}
		if p.Users != n {
			t.Errorf("the plan counts %d users, want %d", p.Users, n)
		}
	})
}

// TestListNamedIgnoredFilter reads a few of 2,500 users from a server that
// ignores user_id_in and answers with everyone: the client yields only
// the users it asked for from that answer, sees the filter was ignored,
// and reads the rest as pages once, so the plan is the exact one.
func TestListNamedIgnoredFilter(t *testing.T) {
	t.Parallel()
	users := seed(2500)
	id := func(i int) string { return strconv.FormatInt(users[i].UserID, 10) }
	ids := []string{id(7), id(1500), id(2400), id(2499), "99999999"}
	for _, ignore := range []bool{false, true} {
		t.Run(fmt.Sprint("ignored=", ignore), func(t *testing.T) {
			fake, c := start(t, dnltest.Config{IgnoreIDFilter: ignore}, users, rest.Config{})
			got := map[string]int{}
			total, err := c.ListNamed(t.Context(), ids, func(u model.User) error { got[u.ID]++; return nil })
			if err != nil || total != len(users) {
				t.Fatalf("ListNamed = %d, %v; want the total %d", total, err, len(users))
			}
			for id, k := range got {
				if k != 1 {
					t.Errorf("user %s yielded %d times", id, k)
				}
			}
			for _, want := range ids[:4] {
				if got[want] != 1 {
					t.Errorf("user %s not read", want)
				}
			}
			// The first page, then one user_id_in read; when it was ignored,
			// the two pages left.
			if want := map[bool]int{false: 2, true: 4}[ignore]; len(fake.Requests()) != want {
				t.Errorf("%d requests, want %d", len(fake.Requests()), want)
			}
			if !ignore && len(got) != 1000+3 {
				t.Errorf("%d users yielded, want the first page and the 3 asked for past it", len(got))
			}

			rows := make([]model.Row, len(ids))
			f := dnl.Target.Table.Field("report_fields")
			for i, id := range ids {
				rows[i] = model.Row{N: i + 1, Key: id, Values: []model.Value{{Field: f, V: "x" + id}}}
			}
			p, err := plan.Planner{Target: dnl.Target, Reader: c}.Plan(t.Context(), rows)
			if err != nil {
				t.Fatal(err)
			}
			for _, it := range p.Items[:4] {
				if it.Status != model.Planned || it.UserID != it.Key || it.Body["report_fields"] != "x"+it.Key {
					t.Errorf("row %d: %s user %s %v", it.Row, it.Status, it.UserID, it.Body)
				}
			}
			if it := p.Items[4]; it.Status != model.Failed || !strings.Contains(it.Err.Error(), "no user") {
				t.Errorf("the unknown id: %s %v", it.Status, it.Err)
			}
		})
	}
}
