package vendortest

import (
	"errors"
	"testing"

	"github.com/rostersync/rostersync/sync/model"
	"github.com/rostersync/rostersync/sync/plan"
	"github.com/rostersync/rostersync/sync/vendors"
	"github.com/rostersync/rostersync/sync/vendors/rest"
)

// pages is how many list requests a listing of n users takes.
func pages(v *vendors.Vendor, n int) int { return max(1, (n+v.PageSize-1)/v.PageSize) }

// testList lists every user once, across as many pages as the page size
// asks, each user carrying the fields the table says a list item holds.
func testList(t *testing.T, v *vendors.Vendor) {
	p := v.PageSize
	for _, n := range []int{0, 1, p, p + 1, 2*p + 1} {
		t.Run(id(n), func(t *testing.T) {
			h := serve(t, v, vendors.FakeConfig{Users: n})
			got := listAll(t, t.Context(), h.client(rest.Config{}))
			if len(got) != n {
				t.Errorf("List gave %d users of %d", len(got), n)
			}
			for i := 1; i <= n; i++ {
				u, ok := got[id(i)]
				if !ok {
					t.Errorf("user %s not listed", id(i))
					continue
				}
				if u.Full {
					t.Errorf("user %s: a list item says it is a full read", u.ID)
				}
				for _, f := range v.Table.Fields() {
					if u.Has(f.Name) == f.List.Zero() {
						t.Errorf("user %s: the table says a list item holds %s: %v; the item: %v", u.ID, f.Name, !f.List.Zero(), u.Has(f.Name))
					}
				}
			}
			reqs := h.fake.Requests()
			if len(reqs) != pages(v, n) {
				t.Errorf("%d requests for %d users, want %d pages of %d", len(reqs), n, pages(v, n), p)
			}
			for _, r := range reqs {
				if r.Method != "GET" {
					t.Errorf("a list sent %s %s", r.Method, r.Path)
				}
			}
		})
	}
}

// testListShortTotal serves listings that end before what their answers
// report: List must fail, never hand over a partial state as the whole.
func testListShortTotal(t *testing.T, v *vendors.Vendor) {
	p := v.PageSize
	for _, n := range []int{0, 1, p, p + 1} {
		t.Run(id(n), func(t *testing.T) {
			h := serve(t, v, vendors.FakeConfig{Users: n, ShortLists: true})
			err := h.client(rest.Config{}).List(t.Context(), func(model.User) error { return nil })
			if err == nil {
				t.Fatal("List of a listing that ends early succeeded: a partial state taken for the whole")
			}
			if errors.Is(err, model.ErrAuth) || errors.Is(err, model.ErrNotFound) {
				t.Errorf("List = %v: a short listing is neither a credentials failure nor an unknown user", err)
			}
			if got := h.requests(); got > pages(v, n)+1 {
				t.Errorf("%d requests for %d users: the client went on reading past the listing's end", got, n)
			}
		})
	}
}

// testListStopsOnYieldError has yield fail on the first user and on the
// last of the first page: List returns that error and reads no further
// page.
func testListStopsOnYieldError(t *testing.T, v *vendors.Vendor) {
	p := v.PageSize
	for _, at := range []int{1, p} {
		t.Run(id(at), func(t *testing.T) {
			h := serve(t, v, vendors.FakeConfig{Users: p + 1})
			stop := errors.New("enough")
			count := 0
			err := h.client(rest.Config{}).List(t.Context(), func(model.User) error {
				count++
				if count == at {
					return stop
				}
				return nil
			})
			if !errors.Is(err, stop) || count != at {
				t.Errorf("List = %v after %d users, want the yield's error after %d", err, count, at)
			}
			if n := h.requests(); n != 1 {
				t.Errorf("%d requests, want 1: a yield error stops the list before the next page", n)
			}
		})
	}
}

// testListNamed checks a client that reads named users (plan.NamedLister):
// every named user that exists is yielded once, the total is the whole
// listing's, a short listing fails and a yield error stops it; and from a
// server that ignores the filter and answers with everyone, the same users
// and a plan that changes exactly the named users.
func testListNamed(t *testing.T, v *vendors.Vendor) {
	p := v.PageSize
	n := 2*p + 1
	ids := []string{id(1), id(p + 1), id(n), unknownID}
	for _, ignored := range []bool{false, true} {
		t.Run(map[bool]string{false: "filtered", true: "filter ignored"}[ignored], func(t *testing.T) {
			t.Parallel()
			h := serve(t, v, vendors.FakeConfig{Users: n, IgnoreIDFilter: ignored})
			c := h.client(rest.Config{})
			nl, ok := c.(plan.NamedLister)
			if !ok {
				t.Skipf("the %s client reads no named users", v.Name)
			}
			got := map[string]int{}
			total, err := nl.ListNamed(t.Context(), ids, func(u model.User) error {
				got[u.ID]++
				return nil
			})
			if err != nil || total != n {
				t.Fatalf("ListNamed = %d, %v; want the total %d", total, err, n)
			}
			for _, want := range ids[:3] {
				if got[want] != 1 {
					t.Errorf("user %s read %d times, want once", want, got[want])
				}
			}
			for id, k := range got {
				if k > 1 {
					t.Errorf("user %s read %d times", id, k)
				}
			}
			if got[unknownID] > 0 {
				t.Errorf("user %s read though it does not exist", unknownID)
			}
			rows := make([]model.Row, len(ids))
			for i, key := range ids {
				rows[i] = sampleRow(v, i+1, key)
			}
			pl, err := plan.Planner{Target: v.Target, Reader: c}.Plan(t.Context(), rows)
			if err != nil {
				t.Fatal(err)
			}
			for _, it := range pl.Items[:3] {
				if it.Status != model.Planned || it.UserID != it.Key {
					t.Errorf("row %d: %s user %q %v; want the sample edit planned for user %s", it.Row, it.Status, it.UserID, it.Err, it.Key)
				}
			}
			if it := pl.Items[3]; it.Status != model.Failed {
				t.Errorf("the row naming no user: %s", it.Status)
			}
		})
	}

	h := serve(t, v, vendors.FakeConfig{Users: n})
	nl, ok := h.client(rest.Config{}).(plan.NamedLister)
	if !ok {
		return
	}
	stop := errors.New("enough")
	if _, err := nl.ListNamed(t.Context(), ids, func(model.User) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("ListNamed with a failing yield = %v, want its error", err)
	}

	short := serve(t, v, vendors.FakeConfig{Users: n, ShortLists: true})
	snl := short.client(rest.Config{}).(plan.NamedLister)
	if _, err := snl.ListNamed(t.Context(), ids, func(model.User) error { return nil }); err == nil {
		t.Error("ListNamed of a listing that ends early succeeded")
	}
}

// testListRepeatsAUser serves listings that hold a user twice and lack
// another while their counts add up (offset paging in no stable order):
// the listing itself passes the client's count checks, so the plan must
// refuse it, for rows matched by id and by a match field, with no write.
func testListRepeatsAUser(t *testing.T, v *vendors.Vendor) {
	const n = 4
	h := serve(t, v, vendors.FakeConfig{Users: n, RepeatInList: true})
	c := h.client(rest.Config{})
	seen := map[string]int{}
	if err := c.List(t.Context(), func(u model.User) error { seen[u.ID]++; return nil }); err != nil {
		t.Fatalf("List: %v", err)
	}
	if len(seen) == n {
		t.Fatal("the fake's listing holds every user once: the case proves nothing")
	}
	// A text field the list holds, so that rows matched by id are planned
	// from the listing.
	var listed *model.Field
	for i, f := range v.Table.Fields() {
		if !f.List.Zero() && !f.Secret && f.Kind == model.Text {
			listed = &v.Table.Fields()[i]
			break
		}
	}
	if listed == nil {
		t.Fatalf("%s: no text field in the list", v.Name)
	}
	for _, match := range append([]string{v.Key}, v.MatchFields...) {
		t.Run("by "+match, func(t *testing.T) {
			key := id(2)
			if match != v.Key {
				u, err := c.Get(t.Context(), id(2))
				if err != nil {
					t.Fatal(err)
				}
				key, _ = u.Values[match].(string)
			}
			rows := []model.Row{{N: 1, Key: key, Values: []model.Value{{Field: listed, V: "Listed twice"}}}}
			p, err := plan.Planner{Target: v.Target, Reader: c, Match: match}.Plan(t.Context(), rows)
			if !errors.Is(err, plan.ErrListedTwice) || p != nil {
				t.Errorf("Plan = %v, %v; want no plan and ErrListedTwice", p, err)
			}
		})
	}
	if w := h.fake.Writes(); w != 0 {
		t.Errorf("%d writes", w)
	}
}

// testGet reads users in full: each carries every field the table says
// the read returns, no write-only field, and the values the list shows,
// for a blocked user too (the list and the read may say so differently).
func testGet(t *testing.T, v *vendors.Vendor) {
	const n = 5
	h := serve(t, v, vendors.FakeConfig{Users: n})
	c := h.client(rest.Config{})
	for _, f := range v.Table.Fields() {
		if f.Blocks != nil {
			body := map[string]any{}
			setPath(body, f.Name, f.Kind.Encode(f.Blocks))
			if _, err := c.Patch(t.Context(), "1", body); err != nil {
				t.Fatalf("blocking user 1: %v", err)
			}
			if u, err := c.Get(t.Context(), "1"); err != nil || !f.Kind.Equal(u.Values[f.Name], f.Blocks) {
				t.Errorf("after blocking user 1 the read says %s = %v (%v)", f.Name, u.Values[f.Name], err)
			}
		}
	}
	listed := listAll(t, t.Context(), c)
	for i := 1; i <= n; i++ {
		u, err := c.Get(t.Context(), id(i))
		if err != nil {
			t.Fatalf("Get(%s): %v", id(i), err)
		}
		if u.ID != id(i) || !u.Full {
			t.Errorf("Get(%s) gave id %s, full %v", id(i), u.ID, u.Full)
		}
		for _, f := range v.Table.Fields() {
			if u.Has(f.Name) == f.WriteOnly() {
				t.Errorf("user %s: the table says the read returns %s: %v; the read: %v", u.ID, f.Name, !f.WriteOnly(), u.Has(f.Name))
			}
			l, inList := listed[u.ID].Values[f.Name]
			if inList && !f.WriteOnly() && !unknown(&f, l) && !f.Kind.Equal(l, u.Values[f.Name]) {
				t.Errorf("user %s: the list says %s = %s, the read %s", u.ID, f.Name, f.Kind.Format(l), f.Kind.Format(u.Values[f.Name]))
			}
		}
	}
}

// unknown reports whether a value read is null where f's kind has none of
// its own (a boolean): the read could not tell, so the plan reads the user
// in full.
func unknown(f *model.Field, v any) bool {
	if v != nil {
		return false
	}
	_, err := f.Kind.Decode(nil)
	return err != nil
}

// testBlocksAgree sets every combination of the fields that block a user
// (Smartflo: block_agent and disable_agent; DNL: active) and reads them
// back both ways: the one-user read shows each as set, and the list shows
// the same or, where one status stands for several flags, leaves it
// unknown, never the opposite.
func testBlocksAgree(t *testing.T, v *vendors.Vendor) {
	var flags []*model.Field
	for i, f := range v.Table.Fields() {
		if _, ok := f.Blocks.(bool); ok && f.Kind == model.Bool {
			flags = append(flags, &v.Table.Fields()[i])
		}
	}
	if len(flags) == 0 {
		t.Skipf("%s has no boolean that blocks a user", v.Name)
	}
	n := 1 << len(flags)
	h := serve(t, v, vendors.FakeConfig{Users: n})
	c := h.client(rest.Config{})
	want := map[string]map[string]bool{}
	for i := range n {
		body := map[string]any{}
		set := map[string]bool{}
		for j, f := range flags {
			on := i&(1<<j) != 0
			val := f.Blocks.(bool) == on // blocks when on
			setPath(body, f.Name, val)
			set[f.Name] = val
		}
		if _, err := c.Patch(t.Context(), id(i+1), body); err != nil {
			t.Fatalf("Patch(%s, %v): %v", id(i+1), body, err)
		}
		want[id(i+1)] = set
	}
	listed := listAll(t, t.Context(), c)
	for uid, set := range want {
		u, err := c.Get(t.Context(), uid)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range flags {
			if got := u.Values[f.Name]; got != set[f.Name] {
				t.Errorf("user %s set %v: the read says %s = %v", uid, set, f.Name, got)
			}
			if f.List.Zero() {
				continue
			}
			if got := listed[uid].Values[f.Name]; got != set[f.Name] && !unknown(f, got) {
				t.Errorf("user %s set %v: the list says %s = %v, the read %v", uid, set, f.Name, got, set[f.Name])
			}
		}
	}
}
