package model

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Kind parses, compares and encodes the values of one type of field.
//
// Values are held in a canonical form: string, bool, int64, []any of the
// item kind's values, or nil for a JSON null.
type Kind interface {
	// Parse reads a roster cell that is neither empty nor the clear token.
	Parse(cell string) (any, error)
	// Decode reads a value decoded from JSON (a JSON roster or an API read),
	// with numbers as json.Number; nil asks for the kind's cleared value.
	Decode(v any) (any, error)
	// Encode gives the value as it goes into a PATCH body.
	Encode(v any) any
	// Equal reports whether two canonical values are the same.
	Equal(a, b any) bool
	// Format renders a canonical value for plans and logs.
	Format(v any) string
}

// Clear is the roster cell that asks to clear a field, matched without
// regard to case ("(CLEAR)"); an empty cell leaves it as it is. In JSON
// rosters a null does the same.
const Clear = "(clear)"

// Text is a plain string. API reads that hold a number where a string is
// written (Smartflo's role id) are read as its digits.
var Text Kind = textKind{}

// Email is a string holding one address, compared without regard to case.
var Email Kind = emailKind{}

// Bool is a boolean; cells accept true/false, yes/no, y/n and 1/0 in any case.
var Bool Kind = boolKind{}

// Int is a whole number that may be null at the API.
var Int Kind = intKind{}

// List is an array of item values, "|"-separated in a CSV cell. With key
// set, each item travels as an object {key: item} (DNL's auth_ip). Order
// does not matter when comparing.
func List(item Kind, key string) Kind { return listKind{item: item, key: key} }

type textKind struct{}

func (textKind) Parse(cell string) (any, error) { return cell, nil }

func (textKind) Decode(v any) (any, error) {
	switch s := v.(type) {
	case nil:
		return "", nil
	case string:
		return v, nil // v already holds the string: boxing it again would allocate
	case json.Number:
		if _, err := s.Int64(); err == nil {
			return s.String(), nil
		}
	}
	return nil, fmt.Errorf("%s is not a string", describe(v))
}

func (textKind) Encode(v any) any { return v }

func (textKind) Equal(a, b any) bool { return str(a) == str(b) }

func (textKind) Format(v any) string { return strconv.Quote(str(v)) }

type emailKind struct{ textKind }

func (emailKind) Parse(cell string) (any, error) {
	if err := checkEmail(cell); err != nil {
		return nil, err
	}
	return cell, nil
}

func (k emailKind) Decode(v any) (any, error) {
	s, err := k.textKind.Decode(v)
	if err != nil || s == "" {
		return s, err
	}
	if err := checkEmail(s.(string)); err != nil {
		return nil, err
	}
	return s, nil
}

func (emailKind) Equal(a, b any) bool { return strings.EqualFold(str(a), str(b)) }

// checkEmail accepts s when it is one bare address, as net/mail reads it.
func checkEmail(s string) error {
	if plainAddress(s) {
		return nil
	}
	addr, err := mail.ParseAddress(s)
	if err != nil || addr.Address != s || addr.Name != "" {
		return fmt.Errorf("%q is not an email address", s)
	}
	return nil
}

// plainAddress reports whether s is local@domain with both parts ASCII
// dot-atoms (RFC 5322 atext and single inner dots): the common address,
// which net/mail reads as exactly s with no name. It saves checkEmail
// the parser's allocations; anything else goes to net/mail.
func plainAddress(s string) bool {
	at := strings.IndexByte(s, '@')
	return at >= 0 && dotAtom(s[:at]) && dotAtom(s[at+1:])
}

// dotAtom reports whether s is an ASCII RFC 5322 dot-atom.
func dotAtom(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '.':
			if s[i-1] == '.' {
				return false
			}
		case c < '!' || c > '~' || strings.IndexByte(`()<>[]:;@\,"`, c) >= 0:
			return false
		}
	}
	return true
}

type boolKind struct{}

func (boolKind) Parse(cell string) (any, error) {
	switch strings.ToLower(cell) {
	case "true", "yes", "y", "1":
		return true, nil
	case "false", "no", "n", "0":
		return false, nil
	}
	return nil, fmt.Errorf("%q is not a boolean (use true/false, yes/no, y/n or 1/0)", cell)
}

func (k boolKind) Decode(v any) (any, error) {
	switch v := v.(type) {
	case bool:
		return v, nil
	case string:
		return k.Parse(v)
	case nil:
		return nil, errors.New("a boolean cannot be cleared; give true or false")
	}
	return nil, fmt.Errorf("%s is not a boolean", describe(v))
}

func (boolKind) Encode(v any) any { return v }

func (boolKind) Equal(a, b any) bool { return a == b }

func (boolKind) Format(v any) string {
	if b, ok := v.(bool); ok {
		return strconv.FormatBool(b)
	}
	return fmt.Sprint(v)
}

type intKind struct{}

func (intKind) Parse(cell string) (any, error) {
	n, err := strconv.ParseInt(cell, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("%q is not a whole number", cell)
	}
	return n, nil
}

func (k intKind) Decode(v any) (any, error) {
	switch v := v.(type) {
	case nil:
		return nil, nil
	case json.Number:
		return k.Parse(v.String())
	case string:
		return k.Parse(v)
	}
	return nil, fmt.Errorf("%s is not a whole number", describe(v))
}

func (intKind) Encode(v any) any { return v }

func (intKind) Equal(a, b any) bool { return a == b }

func (intKind) Format(v any) string {
	switch n := v.(type) {
	case nil:
		return "null"
	case int64:
		return strconv.FormatInt(n, 10)
	}
	return fmt.Sprint(v)
}

type listKind struct {
	item Kind
	key  string
}

func (k listKind) Parse(cell string) (any, error) {
	out := make([]any, 0, strings.Count(cell, "|")+1)
	for p := range strings.SplitSeq(cell, "|") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		v, err := k.item.Parse(p)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

func (k listKind) Decode(v any) (any, error) {
	switch v := v.(type) {
	case nil:
		return []any{}, nil
	case string:
		return k.Parse(v)
	case []any:
		out := make([]any, 0, len(v))
		for _, e := range v {
			if obj, ok := e.(map[string]any); ok && k.key != "" {
				e = obj[k.key]
			}
			if e == nil {
				return nil, errors.New("a list item is null")
			}
			item, err := k.item.Decode(e)
			if err != nil {
				return nil, err
			}
			out = append(out, item)
		}
		return out, nil
	}
	return nil, fmt.Errorf("%s is not a list", describe(v))
}

func (k listKind) Encode(v any) any {
	items, _ := v.([]any)
	out := make([]any, len(items))
	for i, e := range items {
		if k.key != "" {
			out[i] = map[string]any{k.key: k.item.Encode(e)}
		} else {
			out[i] = k.item.Encode(e)
		}
	}
	return out
}

// Equal reports whether a and b hold the same items, each as often,
// in any order; items are told apart by their Format.
func (k listKind) Equal(a, b any) bool {
	x, _ := a.([]any)
	y, _ := b.([]any)
	switch {
	case len(x) != len(y):
		return false
	case len(x) > 64:
		return slices.Equal(k.sorted(x), k.sorted(y))
	}
	// Few items (lists are short): match each of x with an unused equal
	// item of y, without formatting every item into a new slice.
	var used uint64
next:
	for _, e := range x {
		for j, f := range y {
			if used&(1<<j) == 0 && k.sameItem(e, f) {
				used |= 1 << j
				continue next
			}
		}
		return false
	}
	return true
}

// sameItem reports whether two items format alike. The string kinds
// format a value as its quoted text, so their items format alike when
// their texts are equal, which needs no formatting.
func (k listKind) sameItem(a, b any) bool {
	switch k.item.(type) {
	case textKind, emailKind, digitsKind, phoneKind, enumKind:
		return str(a) == str(b)
	}
	return k.item.Format(a) == k.item.Format(b)
}

func (k listKind) sorted(items []any) []string {
	out := make([]string, len(items))
	for i, e := range items {
		out[i] = k.item.Format(e)
	}
	slices.Sort(out)
	return out
}

func (k listKind) Format(v any) string {
	items, _ := v.([]any)
	parts := make([]string, len(items))
	for i, e := range items {
		parts[i] = k.item.Format(e)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// describe names a decoded JSON value for an error message without
// repeating long or sensitive content.
func describe(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case bool:
		return fmt.Sprint(v)
	case json.Number:
		return "the number " + v.String()
	case string:
		return "a string"
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("a %T", v)
}

// OneOf is a string that must be one of the given words.
func OneOf(words ...string) Kind { return enumKind{words: words} }

type enumKind struct {
	textKind
	words []string
}

func (k enumKind) Parse(cell string) (any, error) {
	if !slices.Contains(k.words, cell) {
		return nil, fmt.Errorf("%q is not one of %s", cell, strings.Join(k.words, ", "))
	}
	return cell, nil
}

func (k enumKind) Decode(v any) (any, error) {
	s, ok := v.(string)
	if !ok {
		return nil, fmt.Errorf("%s is not one of %s", describe(v), strings.Join(k.words, ", "))
	}
	if _, err := k.Parse(s); err != nil {
		return nil, err
	}
	return v, nil
}

// Phone is an international phone number: a + and then 8 to 15 digits,
// the country code first. Cells may group the digits with spaces, dashes,
// dots, slashes and parentheses, and may mark a national trunk 0 as "(0)"
// ("+49 (0)30 1234567"); values are held without them ("+49301234567"),
// so they compare equal however they were written. Cells that a
// spreadsheet has mangled (scientific notation, a dropped +) fail with a
// reason that says so.
var Phone Kind = phoneKind{}

type phoneKind struct{ textKind }

func (phoneKind) Parse(cell string) (any, error) {
	if isScientific(cell) {
		return nil, excelMangled(cell)
	}
	number, plus, ok := phoneDigits(cell)
	digits := strings.TrimPrefix(number, "+")
	n := len(digits)
	switch {
	case !ok || n == 0:
	case plus && digits[0] == '0':
		return nil, fmt.Errorf("%q is not a phone number in international form +<country code><number>: no country code starts with 0", cell)
	case plus && (n < minPhoneDigits || n > maxPhoneDigits):
		return nil, fmt.Errorf("%q has %d digits after the +; an international number has %d to %d", cell, n, minPhoneDigits, maxPhoneDigits)
	case plus:
		return number, nil
	case strings.HasPrefix(digits, "00") && n-2 >= minPhoneDigits && n-2 <= maxPhoneDigits && digits[2] != '0':
		return nil, fmt.Errorf("%q starts with 00, the international call prefix: write + in its place (+%s)", cell, digits[2:])
	case digits[0] == '0':
		return nil, fmt.Errorf("%q is a local number (it starts with 0): write it in international form +<country code><number>", cell)
	case n >= minPhoneDigits && n <= maxPhoneDigits:
		return nil, fmt.Errorf("%q lacks the leading +, which Excel drops; format the column as Text and export again, or write +%s", cell, digits)
	}
	return nil, fmt.Errorf("%q is not a phone number in international form +<country code><number>", cell)
}

// The number of digits an international phone number has after the +
// (ITU-T E.164 allows at most 15).
const (
	minPhoneDigits = 8
	maxPhoneDigits = 15
)

// phoneDigits strips the separators people and spreadsheets put in phone
// numbers and a "(0)" trunk mark after a +. It returns the digits, after
// a + when the number started with one, and reports whether it did and
// whether only digits and separators were left.
func phoneDigits(s string) (number string, plus, ok bool) {
	rest, plus := strings.CutPrefix(s, "+")
	if allDigits(rest) {
		return s, plus, true // nothing to strip
	}
	if plus {
		rest = strings.Replace(rest, "(0)", "", 1)
	}
	var b strings.Builder
	b.Grow(len(s))
	if plus {
		b.WriteByte('+')
	}
	for _, r := range rest {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == ' ' || r == '\u00a0' || r == '\u202f' || r == '\u2009', // spaces, no-break and thin
			r == '-' || r == '\u2010' || r == '\u2011' || r == '\u2012' || r == '\u2013', // dashes
			r == '.' || r == '/' || r == '(' || r == ')':
		default:
			return "", plus, false
		}
	}
	return b.String(), plus, true
}

func (k phoneKind) Decode(v any) (any, error) {
	return decodeQuoted(v, k.Parse, "a phone number", `as a string with its leading + ("+<country code><number>")`)
}

// decodeQuoted decodes a JSON value for a kind whose values must be quoted
// strings (a spreadsheet or script would mangle them as numbers): a blank
// or null is "", a string goes through parse, a number is refused with a
// hint how to quote it.
func decodeQuoted(v any, parse func(string) (any, error), what, hint string) (any, error) {
	switch v := v.(type) {
	case nil:
		return "", nil
	case string:
		s := strings.TrimSpace(v)
		if s == "" {
			return "", nil
		}
		return parse(s)
	case json.Number:
		return nil, fmt.Errorf("the number %s is not %s: quote it, %s", v, what, hint)
	}
	return nil, fmt.Errorf("%s is not %s", describe(v), what)
}

// Equal compares the numbers' digits, so a value the API holds with
// spaces equals the same number without.
func (phoneKind) Equal(a, b any) bool {
	x, y := str(a), str(b)
	return x == y || phoneKey(x) == phoneKey(y)
}

func phoneKey(s string) string {
	if number, plus, ok := phoneDigits(s); ok && plus {
		return number
	}
	return s
}

// Digits is a string of exactly n digits that may start with 0: an id that
// a spreadsheet would turn into a number, losing its leading zeros. what
// names such a value in messages ("agent id").
func Digits(n int, what string) Kind { return digitsKind{n: n, what: what} }

type digitsKind struct {
	textKind
	n    int
	what string
}

func (k digitsKind) Parse(cell string) (any, error) {
	if isScientific(cell) {
		return nil, excelMangled(cell)
	}
	if strings.Trim(cell, "0123456789") != "" || cell == "" {
		return nil, fmt.Errorf("%q is not %s %s (%d digits)", cell, article(k.what), k.what, k.n)
	}
	switch n := len(cell); {
	case n < k.n && cell[0] != '0':
		return nil, fmt.Errorf("%q has %d digits, %ss have %d: Excel dropped the leading 0(s); format the column as Text and export again", cell, n, k.what, k.n)
	case n != k.n:
		return nil, fmt.Errorf("%q has %d digits, %ss have %d", cell, n, k.what, k.n)
	}
	return cell, nil
}

func (k digitsKind) Decode(v any) (any, error) {
	return decodeQuoted(v, k.Parse, article(k.what)+" "+k.what, fmt.Sprintf("as a string of %d digits with its leading zeros", k.n))
}

// isScientific reports whether a cell holds a number in scientific
// notation, as Excel writes a long number ("9.19876E+11"; "9,19876E+11"
// from a German Excel).
func isScientific(s string) bool {
	mant, exp, ok := strings.Cut(strings.ToUpper(s), "E")
	if !ok {
		return false
	}
	mant = strings.TrimPrefix(mant, "+")
	whole, frac, _ := strings.Cut(strings.Replace(mant, ",", ".", 1), ".")
	exp = strings.TrimPrefix(exp, "+")
	return allDigits(whole) && (frac == "" || allDigits(frac)) && allDigits(exp)
}

func allDigits(s string) bool { return s != "" && strings.Trim(s, "0123456789") == "" }

func excelMangled(cell string) error {
	return fmt.Errorf("looks like Excel turned the number into %s, which has lost digits; format the column as Text and export again", cell)
}

func article(noun string) string {
	if noun != "" && strings.ContainsRune("aeiouAEIOU", rune(noun[0])) {
		return "an"
	}
	return "a"
}

// The most characters one value of a roster may hold. A roster's value
// past a limit, or holding a control character, fails its row (see
// Field.CheckCell); values read from the target are kept as they are.
const (
	// MaxText bounds a single value (a name, a designation, an email, a
	// phone, an id) and each item of a list.
	MaxText = 1000
	// MaxList bounds a list: all its items together, with the "|"
	// between them in a CSV cell.
	MaxList = 10 * MaxText
)

// maxLen is the most characters a whole value of f may hold.
func (f *Field) maxLen() int {
	if _, ok := f.Kind.(listKind); ok {
		return MaxList
	}
	return MaxText
}

// CheckCell checks a roster's cell for f before it is parsed: at most
// MaxText characters (a list: MaxList in all, and MaxText an item), and
// no control character but tab and newline. Its error never repeats the
// cell, which may be long or secret.
func (f *Field) CheckCell(cell string) error {
	if err := checkText(cell, f.maxLen()); err != nil {
		return err
	}
	if f.maxLen() == MaxList && len(cell) > MaxText {
		for item := range strings.SplitSeq(cell, "|") {
			if err := checkText(strings.TrimSpace(item), MaxText); err != nil {
				return fmt.Errorf("an item of the list: %w", err)
			}
		}
	}
	return nil
}

// CheckJSON checks a value a JSON roster gives f (as decoded, with
// numbers as json.Number) as CheckCell checks a cell: every string and
// number in it, a list's items each and together.
func (f *Field) CheckJSON(v any) error {
	total := 0
	var walk func(v any, item bool) error
	walk = func(v any, item bool) error {
		var s string
		switch v := v.(type) {
		case string:
			s = v
		case json.Number:
			s = v.String()
		case []any:
			for _, e := range v {
				if err := walk(e, true); err != nil {
					return err
				}
			}
			return nil
		case map[string]any: // an item of a list of objects (DNL's auth_ip)
			for _, e := range v {
				if err := walk(e, item); err != nil {
					return err
				}
			}
			return nil
		default:
			return nil
		}
		limit := f.maxLen()
		if item {
			limit = MaxText
		}
		if err := checkText(s, limit); err != nil {
			if item {
				return fmt.Errorf("an item of the list: %w", err)
			}
			return err
		}
		total += utf8.RuneCountInString(s)
		return nil
	}
	if err := walk(v, false); err != nil {
		return err
	}
	if limit := f.maxLen(); total > limit {
		return fmt.Errorf("%d characters in all, more than the %d a value may hold", total, limit)
	}
	return nil
}

// checkText checks that s holds at most max characters and no control
// character other than tab and newline, without repeating s.
func checkText(s string, max int) error {
	chars := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c&0xc0 == 0x80 {
			continue // inside a character
		}
		chars++
		// C0 controls and DEL are one byte; C1 controls (U+0080-U+009F) are 0xc2 0x80-0x9f.
		if c < 0x20 && c != '\t' && c != '\n' || c == 0x7f || c == 0xc2 && i+1 < len(s) && s[i+1] <= 0x9f {
			r, _ := utf8.DecodeRuneInString(s[i:])
			return fmt.Errorf("a control character (%U) at character %d; only tab and newline may be in a value", r, chars)
		}
	}
	if chars > max {
		return fmt.Errorf("%d characters, more than the %d a value may hold", chars, max)
	}
	return nil
}
