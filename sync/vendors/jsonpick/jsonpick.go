// Package jsonpick reads large JSON answers (a list page of a thousand
// users) in one pass: it walks objects and arrays, decodes only the values
// it is asked for, and skips the rest without building them. A value it
// decodes is what encoding/json gives when decoding into an any with
// UseNumber (string, json.Number, bool, nil, []any, map[string]any), so
// code that read such values reads these the same way. It checks the
// syntax of everything it passes over, skipped values included, as
// encoding/json does: a document that is not JSON is an error, never a
// partial reading. What the values mean is the caller's business.
package jsonpick

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/bits"
	"strconv"
	"unicode/utf8"
)

// Scanner reads one JSON document from a byte slice.
type Scanner struct {
	data  []byte
	pos   int
	depth int // objects and arrays open
}

// maxDepth is how deep objects and arrays may nest, as in encoding/json:
// an answer of eight megabytes of '[' must not take the stack.
const maxDepth = 10000

func (s *Scanner) enter() error {
	if s.depth++; s.depth > maxDepth {
		return s.fail("exceeded max depth")
	}
	return nil
}

// New returns a Scanner at the start of data.
func New(data []byte) *Scanner { return &Scanner{data: data} }

// SyntaxError is a document that is not JSON: what was wrong, and where.
type SyntaxError struct {
	Offset int
	msg    string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("%s at offset %d", e.msg, e.Offset) }

func (s *Scanner) fail(msg string) error { return &SyntaxError{Offset: s.pos, msg: msg} }

// ErrType is a value of another JSON type than the one asked for.
var ErrType = errors.New("a value of another type")

func (s *Scanner) ws() {
	if s.pos < len(s.data) && s.data[s.pos] > ' ' {
		return // the common case: no white space at all
	}
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// Peek returns the first byte of the next value ('{', '[', '"', 't', 'f',
// 'n', or a number's first byte), or 0 at the end of the data.
func (s *Scanner) Peek() byte {
	s.ws()
	if s.pos >= len(s.data) {
		return 0
	}
	return s.data[s.pos]
}

// Null consumes a null and reports whether there was one.
func (s *Scanner) Null() bool {
	if s.Peek() == 'n' && bytes.HasPrefix(s.data[s.pos:], []byte("null")) {
		s.pos += 4
		return true
	}
	return false
}

// Object walks the object that comes next: for each member it calls fn
// with the member's key, unescaped (it may alias the data: copy it to
// keep it), and fn must consume the member's value with one of the
// Scanner's methods. A next value that is not an object fails with
// ErrType, before anything is consumed.
func (s *Scanner) Object(fn func(key []byte) error) error {
	if s.Peek() != '{' {
		return s.typeErr("an object")
	}
	if err := s.enter(); err != nil {
		return err
	}
	defer func() { s.depth-- }()
	s.pos++
	if s.Peek() == '}' {
		s.pos++
		return nil
	}
	for {
		if s.Peek() != '"' {
			return s.fail("expected a key")
		}
		key, err := s.key()
		if err != nil {
			return err
		}
		if s.Peek() != ':' {
			return s.fail("expected ':' after a key")
		}
		s.pos++
		if err := fn(key); err != nil {
			return err
		}
		switch s.Peek() {
		case ',':
			s.pos++
		case '}':
			s.pos++
			return nil
		default:
			return s.fail("expected ',' or '}' in an object")
		}
	}
}

// Array walks the array that comes next, calling fn for each element;
// fn must consume it. A next value that is not an array fails with
// ErrType, before anything is consumed.
func (s *Scanner) Array(fn func() error) error {
	if s.Peek() != '[' {
		return s.typeErr("an array")
	}
	if err := s.enter(); err != nil {
		return err
	}
	defer func() { s.depth-- }()
	s.pos++
	if s.Peek() == ']' {
		s.pos++
		return nil
	}
	for {
		if err := fn(); err != nil {
			return err
		}
		switch s.Peek() {
		case ',':
			s.pos++
		case ']':
			s.pos++
			return nil
		default:
			return s.fail("expected ',' or ']' in an array")
		}
	}
}

func (s *Scanner) typeErr(want string) error {
	if s.pos >= len(s.data) {
		return s.fail("unexpected end of the data")
	}
	return fmt.Errorf("%w: expected %s at offset %d", ErrType, want, s.pos)
}

// Skip passes over the next value, checking its syntax.
func (s *Scanner) Skip() error {
	switch c := s.Peek(); c {
	case '{':
		return s.Object(func([]byte) error { return s.Skip() })
	case '[':
		return s.Array(s.Skip)
	case '"':
		_, _, err := s.stringSpan()
		return err
	case 't', 'f', 'n':
		_, err := s.literal()
		return err
	case 0:
		return s.fail("unexpected end of the data")
	default:
		_, err := s.numberSpan()
		return err
	}
}

// Raw passes over the next value, checking it, and returns its bytes (they
// alias the data).
func (s *Scanner) Raw() ([]byte, error) {
	s.ws()
	start := s.pos
	err := s.Skip()
	return s.data[start:s.pos], err
}

// Value decodes the next value as encoding/json decodes into an any with
// UseNumber.
func (s *Scanner) Value() (any, error) {
	switch c := s.Peek(); c {
	case '{':
		m := map[string]any{}
		err := s.Object(func(key []byte) error {
			v, err := s.Value()
			m[string(key)] = v
			return err
		})
		return m, err
	case '[':
		list := []any{}
		err := s.Array(func() error {
			v, err := s.Value()
			list = append(list, v)
			return err
		})
		return list, err
	case '"':
		return s.String()
	case 't', 'f', 'n':
		return s.literal()
	case 0:
		return nil, s.fail("unexpected end of the data")
	default:
		n, err := s.number()
		return json.Number(n), err
	}
}

// String decodes the next value, which must be a string.
func (s *Scanner) String() (string, error) {
	if s.Peek() != '"' {
		return "", s.typeErr("a string")
	}
	start, plain, err := s.stringSpan()
	if err != nil {
		return "", err
	}
	raw := s.data[start:s.pos]
	if plain {
		return string(raw[1 : len(raw)-1]), nil
	}
	var out string
	err = json.Unmarshal(raw, &out) // escapes or bytes that are not UTF-8: as encoding/json reads them
	return out, err
}

// Number returns the text of the next value, which must be a number, or
// a string holding a valid number (as encoding/json fills a json.Number).
func (s *Scanner) Number() (json.Number, error) {
	switch c := s.Peek(); {
	case c == '"':
		start := s.pos
		str, err := s.String()
		if err != nil {
			return "", err
		}
		if !validNumber(str) {
			s.pos = start // a type error leaves the value unread, as every other one does
			return "", fmt.Errorf("%w: %q is not a number", ErrType, str)
		}
		return json.Number(str), nil
	case c == '-' || (c >= '0' && c <= '9'):
		n, err := s.number()
		return json.Number(n), err
	}
	return "", s.typeErr("a number")
}

// Int decodes the next value, which must be a whole number that fits an
// int.
func (s *Scanner) Int() (int, error) {
	c := s.Peek()
	if c != '-' && (c < '0' || c > '9') {
		return 0, s.typeErr("a number")
	}
	start := s.pos
	text, err := s.number()
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(text)
	if err != nil {
		s.pos = start // a type error leaves the value unread
		return 0, fmt.Errorf("%w: %s is not a whole number", ErrType, text)
	}
	return n, nil
}

// Bool decodes the next value, which must be true or false.
func (s *Scanner) Bool() (bool, error) {
	switch s.Peek() {
	case 't', 'f':
		v, err := s.literal()
		b, ok := v.(bool)
		if err == nil && !ok {
			err = s.typeErr("a boolean")
		}
		return b, err
	}
	return false, s.typeErr("a boolean")
}

// key reads an object key, unescaped.
func (s *Scanner) key() ([]byte, error) {
	start, plain, err := s.stringSpan()
	if err != nil {
		return nil, err
	}
	raw := s.data[start:s.pos]
	if plain {
		return raw[1 : len(raw)-1], nil
	}
	var out string
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, err
	}
	return []byte(out), nil
}

// stringSpan passes over a string, checking it, and returns where it
// started and whether its bytes between the quotes are its value as they
// are: no escapes, and valid UTF-8.
func (s *Scanner) stringSpan() (start int, plain bool, err error) {
	start = s.pos
	s.pos++ // the opening quote
	plain = true
	ascii := true
	d := s.data
	for s.pos < len(d) {
		// Eight plain bytes at a time: none a quote, a backslash, a
		// control character or past ASCII.
		for s.pos+8 <= len(d) {
			if sp := special(binary.LittleEndian.Uint64(d[s.pos:])); sp != 0 {
				// The lowest byte flagged is a special one (a flag past
				// it may be a borrow's): go straight to it.
				s.pos += bits.TrailingZeros64(sp) / 8
				break
			}
			s.pos += 8
		}
		if s.pos >= len(d) {
			break
		}
		c := d[s.pos]
		switch {
		case c == '"':
			s.pos++
			if !ascii && !utf8.Valid(d[start+1:s.pos-1]) {
				plain = false
			}
			return start, plain, nil
		case c == '\\':
			plain = false
			if s.pos+1 >= len(d) {
				return start, false, s.fail("unexpected end of the data in a string")
			}
			switch d[s.pos+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.pos += 2
			case 'u':
				if s.pos+6 > len(d) || !isHex4(d[s.pos+2:s.pos+6]) {
					return start, false, s.fail(`invalid \u escape in a string`)
				}
				s.pos += 6
			default:
				return start, false, s.fail("invalid escape in a string")
			}
		case c < 0x20:
			return start, false, s.fail("control character in a string")
		default:
			if c >= utf8.RuneSelf {
				ascii = false
			}
			s.pos++
		}
	}
	return start, false, s.fail("unexpected end of the data in a string")
}

const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// special returns a word with the high bit set in each byte of w that is
// a quote, a backslash, below 0x20 or above 0x7f (and perhaps in bytes
// after such a byte): zero when every byte of w is plain.
func special(w uint64) uint64 {
	quote := w ^ (ones * '"')
	slash := w ^ (ones * '\\')
	return ((quote-ones) & ^quote | (slash-ones) & ^slash | (w - ones*0x20) | w) & highs
}

func isHex4(b []byte) bool {
	for _, c := range b {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// literal reads true, false or null.
func (s *Scanner) literal() (any, error) {
	rest := s.data[s.pos:]
	switch {
	case bytes.HasPrefix(rest, []byte("true")):
		s.pos += 4
		return true, s.delimited()
	case bytes.HasPrefix(rest, []byte("false")):
		s.pos += 5
		return false, s.delimited()
	case bytes.HasPrefix(rest, []byte("null")):
		s.pos += 4
		return nil, s.delimited()
	}
	return nil, s.fail("invalid literal")
}

// delimited checks that a literal or number is not glued to what follows
// ("truex", "12a").
func (s *Scanner) delimited() error {
	if s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r', ',', '}', ']', ':':
		default:
			return s.fail("invalid character after a value")
		}
	}
	return nil
}

// number reads a number as JSON writes it and returns its text.
func (s *Scanner) number() (string, error) {
	start := s.pos
	if _, err := s.numberSpan(); err != nil {
		return "", err
	}
	return string(s.data[start:s.pos]), nil
}

// numberSpan passes over a number as JSON writes it, checking it.
func (s *Scanner) numberSpan() (int, error) {
	start := s.pos
	d := s.data
	i := s.pos
	if i < len(d) && d[i] == '-' {
		i++
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case i < len(d) && d[i] >= '1' && d[i] <= '9':
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
	default:
		s.pos = i
		return start, s.fail("invalid number")
	}
	if i < len(d) && d[i] == '.' {
		i++
		if i >= len(d) || d[i] < '0' || d[i] > '9' {
			s.pos = i
			return start, s.fail("invalid number")
		}
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		if i >= len(d) || d[i] < '0' || d[i] > '9' {
			s.pos = i
			return start, s.fail("invalid number")
		}
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
	}
	s.pos = i
	return start, s.delimited()
}

// validNumber reports whether s is a number as JSON writes it.
func validNumber(str string) bool {
	sc := New([]byte(str))
	n, err := sc.number()
	return err == nil && n == str
}

// Done checks that nothing but white space follows the value read.
func (s *Scanner) Done() error {
	if s.ws(); s.pos < len(s.data) {
		return s.fail("invalid character after the top-level value")
	}
	return nil
}

// Paths is a set of key paths to pick out of objects, each numbered by
// its place in the list it was made from.
type Paths struct {
	root *node
	n    int
}

type node struct {
	leaf  []int            // the paths that end here
	kids  map[string]*node // the paths that go on, by their next key
	names []string         // the keys of kids, when few: compared in turn, cheaper than a hash
	all   []int            // every path that ends here or below
}

// kid returns the node under key, or nil.
func (n *node) kid(key []byte) *node {
	if n.names != nil {
		for _, name := range n.names {
			if string(key) == name {
				return n.kids[name]
			}
		}
		return nil
	}
	return n.kids[string(key)]
}

// NewPaths returns the set of paths, each a list of keys from the
// object's top ("team_member", "email").
func NewPaths(paths [][]string) *Paths {
	p := &Paths{root: &node{}, n: len(paths)}
	for i, keys := range paths {
		n := p.root
		n.all = append(n.all, i)
		for _, k := range keys {
			if n.kids == nil {
				n.kids = map[string]*node{}
			}
			next := n.kids[k]
			if next == nil {
				next = &node{}
				n.kids[k] = next
			}
			n = next
			n.all = append(n.all, i)
		}
		n.leaf = append(n.leaf, i)
	}
	p.root.index()
	return p
}

// fewKids is how many keys a node compares in turn rather than hash.
const fewKids = 6

func (n *node) index() {
	if len(n.kids) > 0 && len(n.kids) <= fewKids {
		for k := range n.kids {
			n.names = append(n.names, k)
		}
	}
	for _, kid := range n.kids {
		kid.index()
	}
}

// Len returns how many paths p holds.
func (p *Paths) Len() int { return p.n }

// Pick walks the object that comes next and sets out[i] (out holds
// p.Len() values) to the value at the i-th path, as looking it up in
// encoding/json's decoding of the object would find it: nil when a key is
// absent or a parent is not an object, and the last of keys given twice.
// Only the values picked are decoded; the rest is checked and skipped.
func (s *Scanner) Pick(p *Paths, out []any) error {
	clear(out)
	return s.pick(p.root, out)
}

func (s *Scanner) pick(n *node, out []any) error {
	return s.Object(func(key []byte) error {
		k := n.kid(key)
		if k == nil {
			return s.Skip()
		}
		for _, i := range k.all {
			out[i] = nil // a key given again replaces what the first gave
		}
		if len(k.leaf) > 0 {
			v, err := s.Value()
			if err != nil {
				return err
			}
			k.fill(v, out)
			return nil
		}
		if s.Peek() == '{' {
			return s.pick(k, out)
		}
		return s.Skip()
	})
}

// fill sets the paths at and below n from v, a value decoded already.
func (n *node) fill(v any, out []any) {
	for _, i := range n.leaf {
		out[i] = v
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return
	}
	for k, kid := range n.kids {
		if kv, ok := obj[k]; ok {
			kid.fill(kv, out)
		}
	}
}
