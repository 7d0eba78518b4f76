package plan

import (
	"strconv"
	"testing"
)

// TestKeyIndexAndIDSet holds keys of every form: small integers, large
// ones, negative ones, and strings that only look like integers.
func TestKeyIndexAndIDSet(t *testing.T) {
	keys := []string{"1", "0", "7", "1000000", "99999999999", "-3", "007", "+7", "7 ", "a", "", "12345678901234567890"}
	x := newKeyIndex(4)
	s := newIDSet(4)
	for i, k := range keys {
		x.set(k, int32(i))
		if s.add(k) {
			t.Errorf("idSet: %q held before it was added", k)
		}
	}
	for i, k := range keys {
		if j, ok := x.get(k); !ok || j != int32(i) {
			t.Errorf("keyIndex.get(%q) = %d, %v; want %d", k, j, ok, i)
		}
		if !s.add(k) {
			t.Errorf("idSet: %q not held", k)
		}
	}
	for _, k := range []string{"2", "70", "08", "-7", "b", strconv.Itoa(1 << 30)} {
		if _, ok := x.get(k); ok {
			t.Errorf("keyIndex holds %q, never set", k)
		}
	}
	if x.len() != len(keys) || len(x.keys()) != len(keys) {
		t.Errorf("len %d, keys %v; want %d", x.len(), x.keys(), len(keys))
	}
	x.set("7", 99) // again: the same key, a new index
	if j, _ := x.get("7"); j != 99 || x.len() != len(keys) {
		t.Errorf("after setting 7 again: %d, len %d", j, x.len())
	}
}
