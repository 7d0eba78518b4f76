package sync

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"slices"
	"strconv"
	"strings"
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

// Clear is the roster cell that asks to clear a field; an empty cell leaves
// it as it is. In JSON rosters a null does the same.
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
	switch v := v.(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	case json.Number:
		if _, err := v.Int64(); err == nil {
			return v.String(), nil
		}
	}
	return nil, fmt.Errorf("%s is not a string", describe(v))
}

func (textKind) Encode(v any) any { return v }

func (textKind) Equal(a, b any) bool { return str(a) == str(b) }

func (textKind) Format(v any) string { return strconv.Quote(str(v)) }

type emailKind struct{ textKind }

func (emailKind) Parse(cell string) (any, error) { return checkEmail(cell) }

func (k emailKind) Decode(v any) (any, error) {
	s, err := k.textKind.Decode(v)
	if err != nil || s == "" {
		return s, err
	}
	return checkEmail(s.(string))
}

func (emailKind) Equal(a, b any) bool { return strings.EqualFold(str(a), str(b)) }

func checkEmail(s string) (any, error) {
	addr, err := mail.ParseAddress(s)
	if err != nil || addr.Address != s || addr.Name != "" {
		return nil, fmt.Errorf("%q is not an email address", s)
	}
	return s, nil
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

func (boolKind) Format(v any) string { return fmt.Sprint(v) }

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
	if v == nil {
		return "null"
	}
	return fmt.Sprint(v)
}

type listKind struct {
	item Kind
	key  string
}

func (k listKind) Parse(cell string) (any, error) {
	parts := strings.Split(cell, "|")
	out := make([]any, 0, len(parts))
	for _, p := range parts {
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

func (k listKind) Equal(a, b any) bool {
	return slices.Equal(k.sorted(a), k.sorted(b))
}

func (k listKind) sorted(v any) []string {
	items, _ := v.([]any)
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
	return k.Parse(s)
}
