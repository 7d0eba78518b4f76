package vendortest

import (
	"errors"
	"reflect"
	"testing"

	"github.com/rostersync/rostersync/sync/model"
	"github.com/rostersync/rostersync/sync/vendors"
	"github.com/rostersync/rostersync/sync/vendors/rest"
)

// testPatchThenGet sends the vendor's sample edit to one user: one
// request, and the read then shows it while every other user is as it was.
func testPatchThenGet(t *testing.T, v *vendors.Vendor) {
	const n, target = 3, "2"
	h := serve(t, v, vendors.FakeConfig{Users: n})
	c := h.client(rest.Config{})
	before, err := c.Get(t.Context(), target)
	if err != nil {
		t.Fatal(err)
	}
	if holdsSample(v, before) {
		t.Fatalf("user %s holds the sample edit already: the case would prove nothing", target)
	}
	others := readAll(t, t.Context(), c, n)

	res, err := c.Patch(t.Context(), target, sampleBody(v))
	if err != nil {
		t.Fatalf("Patch: %v", err)
	}
	if res.Attempts != 1 || res.HTTPStatus < 200 || res.HTTPStatus > 299 {
		t.Errorf("Patch = %+v, want one request answered 2xx", res)
	}
	if w := h.fake.Writes(); w != 1 {
		t.Errorf("the fake received %d writes, want 1", w)
	}
	after, err := c.Get(t.Context(), target)
	if err != nil {
		t.Fatal(err)
	}
	if !holdsSample(v, after) {
		f := v.Table.Field(v.Sample.Field)
		t.Errorf("after the patch the read says %s = %s, want %s", f.Name, f.Kind.Format(after.Values[f.Name]), f.Kind.Format(v.Sample.Value))
	}
	for id, u := range readAll(t, t.Context(), c, n) {
		if id != target && !reflect.DeepEqual(u.Values, others[id].Values) {
			t.Errorf("user %s changed too:\n was %v\n now %v", id, others[id].Values, u.Values)
		}
	}
}

// testUnknownID reads and patches ids no user has: model.ErrNotFound, at
// once and without a retry, and nothing changes.
func testUnknownID(t *testing.T, v *vendors.Vendor) {
	h := serve(t, v, vendors.FakeConfig{Users: 3})
	c := h.client(rest.Config{})
	for _, bad := range []string{unknownID, "abc"} {
		t.Run(bad, func(t *testing.T) {
			if _, err := c.Get(t.Context(), bad); !errors.Is(err, model.ErrNotFound) || errors.Is(err, model.ErrAuth) {
				t.Errorf("Get(%s) = %v, want ErrNotFound", bad, err)
			}
			res, err := c.Patch(t.Context(), bad, sampleBody(v))
			if !errors.Is(err, model.ErrNotFound) || errors.Is(err, model.ErrAuth) || res.Attempts != 1 {
				t.Errorf("Patch(%s) = %+v, %v; want ErrNotFound after one request", bad, res, err)
			}
		})
	}
	for id, u := range readAll(t, t.Context(), c, 3) {
		if holdsSample(v, u) {
			t.Errorf("user %s changed by a patch of an unknown id", id)
		}
	}
}
