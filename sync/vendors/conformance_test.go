package vendors_test

import (
	"testing"

	"github.com/rostersync/rostersync/sync/vendors"
	"github.com/rostersync/rostersync/sync/vendors/vendortest"
)

// TestConformance runs the conformance suite for every entry of the
// vendor table, against the vendor's own shipped fake.
func TestConformance(t *testing.T) {
	for i := range vendors.All {
		v := &vendors.All[i]
		t.Run(v.Name, func(t *testing.T) {
			t.Parallel()
			vendortest.Run(t, v)
		})
	}
}
