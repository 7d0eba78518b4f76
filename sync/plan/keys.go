package plan

import "strconv"

// keyIndex finds a row's index by its key. Keys that are small canonical
// integers (both vendors' ids, mostly) index a slice, other integers a
// map of integers, the rest a map of strings: for a million rows keyed
// 1 to 1,000,000 that is four megabytes, where a map of strings takes
// sixty.
type keyIndex struct {
	dense []int32 // by key: the index plus one; 0 = none
	limit int64   // the keys dense may hold are below it
	nums  map[int64]int32
	strs  map[string]int32
	n     int
}

func newKeyIndex(size int) *keyIndex {
	return &keyIndex{limit: denseLimit(size)}
}

// denseLimit bounds the keys a dense index holds: four slots a row, or a
// million (four megabytes), whichever is more.
func denseLimit(size int) int64 { return max(1<<20, 4*int64(size)) }

func (x *keyIndex) get(k string) (int32, bool) {
	n, ok := canonicalInt(k)
	switch {
	case !ok:
		i, found := x.strs[k]
		return i, found
	case n >= 0 && n < int64(len(x.dense)):
		i := x.dense[n]
		return i - 1, i > 0
	}
	i, found := x.nums[n]
	return i, found
}

func (x *keyIndex) set(k string, i int32) {
	if _, found := x.get(k); !found {
		x.n++
	}
	n, ok := canonicalInt(k)
	switch {
	case !ok:
		if x.strs == nil {
			x.strs = map[string]int32{}
		}
		x.strs[k] = i
	case n >= 0 && n < x.limit:
		x.dense = grown(x.dense, int(n)+1)
		x.dense[n] = i + 1
	default:
		if x.nums == nil {
			x.nums = map[int64]int32{}
		}
		x.nums[n] = i
	}
}

func (x *keyIndex) len() int { return x.n }

// keys returns every key held.
func (x *keyIndex) keys() []string {
	out := make([]string, 0, x.n)
	for n, i := range x.dense {
		if i > 0 {
			out = append(out, strconv.Itoa(n))
		}
	}
	for n := range x.nums {
		out = append(out, strconv.FormatInt(n, 10))
	}
	for k := range x.strs {
		out = append(out, k)
	}
	return out
}

// grown returns s with at least n elements, the new ones zero, growing
// its array by doubling.
func grown[T any](s []T, n int) []T {
	if n <= len(s) {
		return s
	}
	if n <= cap(s) {
		return s[:n]
	}
	g := make([]T, n, max(n, 2*cap(s)))
	copy(g, s)
	return g
}

// idSet is a set of user ids: small integers as bits, other integers in a
// map, anything else in a map of strings. A million ids 1 to 1,000,000
// take 125 kilobytes.
type idSet struct {
	bits  []uint64
	limit int64
	nums  map[int64]struct{}
	strs  map[string]struct{}
}

func newIDSet(size int) *idSet { return &idSet{limit: 16 * denseLimit(size)} }

// add adds id and reports whether the set held it already.
func (s *idSet) add(id string) (had bool) {
	n, ok := canonicalInt(id)
	switch {
	case !ok:
		if s.strs == nil {
			s.strs = map[string]struct{}{}
		}
		_, had = s.strs[id]
		s.strs[id] = struct{}{}
	case n >= 0 && n < s.limit:
		w := n / 64
		s.bits = grown(s.bits, int(w)+1)
		bit := uint64(1) << (n % 64)
		had = s.bits[w]&bit != 0
		s.bits[w] |= bit
	default:
		if s.nums == nil {
			s.nums = map[int64]struct{}{}
		}
		_, had = s.nums[n]
		s.nums[n] = struct{}{}
	}
	return had
}

// canonicalInt reads s as an integer when s is one written the one way
// strconv.FormatInt writes it (no sign but a minus, no leading zero), so
// that the integer stands for s alone.
func canonicalInt(s string) (int64, bool) {
	digits := s
	if len(s) > 0 && s[0] == '-' {
		digits = s[1:]
	}
	if digits == "" || len(digits) > 18 || (digits[0] == '0' && len(s) > 1) {
		return 0, false
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}
