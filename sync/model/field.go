package model

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Field describes one PATCH field of a target: how its values look, where
// the reads hold it, and how carefully it must be handled.
type Field struct {
	Name   string // PATCH field name; nested fields are dotted ("client.is_panel_trunks")
	Kind   Kind
	Read   Path   // where the one-user read holds it; zero = never returned (write-only)
	List   Path   // where a list item holds it; zero = the list lacks it
	Secret bool   // never shown, logged or reported; compared against a bcrypt hash
	Group  string // fields of one group are sent together when any of them changes
	Blocks any    // the value that blocks a user (Smartflo block_agent true, DNL active false); nil = none
}

// WriteOnly reports whether no read returns the field, so the diff compares
// it against the ledger of what this tool last wrote.
func (f *Field) WriteOnly() bool { return f.Read.Zero() }

// Path locates a value inside a decoded JSON object: dotted keys, and
// optionally a number the value is compared with (yielding a bool).
type Path struct {
	keys    []string
	is      *int64
	unknown []int64 // with is: numbers that yield null, as they tell nothing
}

// At returns the path of a dotted key list, such as "team_member.email".
func At(dotted string) Path { return Path{keys: strings.Split(dotted, ".")} }

// Is returns a path that yields whether the value at p is the number n
// (Smartflo tells a block by a status code). The number may come as a
// JSON number or as a string of digits; anything else yields null.
func (p Path) Is(n int64) Path {
	p.is = &n
	return p
}

// UnknownAt returns a path like p (made with Is) that yields null, not
// false, where the number is one of codes: a status that shows another
// state in place of the one asked about (Smartflo's agent.status shows
// "disabled" whether or not the agent is also blocked).
func (p Path) UnknownAt(codes ...int64) Path {
	p.unknown = append(slices.Clip(p.unknown), codes...)
	return p
}

// Zero reports whether p locates nothing.
func (p Path) Zero() bool { return len(p.keys) == 0 }

// at returns the value at p's keys in doc, before p's Is applies, with
// absent keys and null parents read as null.
func (p Path) at(doc map[string]any) any {
	var v any = doc
	for _, k := range p.keys {
		obj, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = obj[k]
	}
	return v
}

// interpret turns the value found at p's keys into p's value: itself, or
// for a path made with Is, whether it is the number.
func (p Path) interpret(v any) any {
	if p.is == nil {
		return v
	}
	var text string
	switch n := v.(type) {
	case json.Number:
		text = n.String()
	case string:
		text = strings.TrimSpace(n)
	default:
		return nil
	}
	got, err := strconv.ParseInt(text, 10, 64)
	if err != nil || slices.Contains(p.unknown, got) {
		return nil
	}
	return got == *p.is
}

func (p Path) String() string { return strings.Join(p.keys, ".") }

// Table is a target's fields, in a stable order, looked up by name.
type Table struct {
	fields     []Field
	index      map[string]int
	list, read *Pick // every field each read holds
}

// NewTable builds a table. It panics on a duplicate name: tables are
// written by hand, once per target.
func NewTable(fields ...Field) *Table {
	t := &Table{fields: fields, index: make(map[string]int, len(fields))}
	for i, f := range fields {
		if _, dup := t.index[f.Name]; dup {
			panic("sync: duplicate field " + f.Name)
		}
		t.index[f.Name] = i
	}
	t.list, t.read = t.pick(nil, false), t.pick(nil, true)
	return t
}

// Fields returns the table's fields in order.
func (t *Table) Fields() []Field { return t.fields }

// Field returns the named field, or nil.
func (t *Table) Field(name string) *Field {
	i, ok := t.index[name]
	if !ok {
		return nil
	}
	return &t.fields[i]
}

// Block returns the field whose value blocks a user (Field.Blocks), or nil.
func (t *Table) Block() *Field {
	for i := range t.fields {
		if t.fields[i].Blocks != nil {
			return &t.fields[i]
		}
	}
	return nil
}

// Names returns every field name, sorted.
func (t *Table) Names() []string {
	names := make([]string, len(t.fields))
	for i, f := range t.fields {
		names[i] = f.Name
	}
	slices.Sort(names)
	return names
}

// User is a user as read from the target: its id and the current value of
// every field the read carried.
type User struct {
	ID     string
	Values map[string]any
	Full   bool // from the one-user read, so every readable field is known
}

// Has reports whether the read carried the named field.
func (u *User) Has(name string) bool {
	_, ok := u.Values[name]
	return ok
}

// UserFromRead builds a user from a one-user read decoded by encoding/json
// with UseNumber: what the clients' one-pass readings are held to.
func (t *Table) UserFromRead(id string, doc map[string]any) (User, error) {
	return t.read.userFrom(id, doc)
}

// UserFromList builds a user from an item of the list read, decoded as
// UserFromRead's.
func (t *Table) UserFromList(id string, doc map[string]any) (User, error) {
	return t.list.userFrom(id, doc)
}

// set stores a field's value read at p (raw, as encoding/json decodes it
// with UseNumber, p's Is applied) in the kind's form.
func (u *User) set(f *Field, p Path, raw any) error {
	if f.Secret {
		hash, _ := raw.(string) // a bcrypt hash, or nothing set
		u.Values[f.Name] = hash
		return nil
	}
	v, err := f.Kind.Decode(raw)
	switch {
	case err == nil:
	case raw == nil:
		v, err = nil, nil // null where the kind has no cleared value: unknown, differs from any value
	case isText(raw):
		// Text the kind would refuse from a roster (an agent id of 12
		// digits, a legacy email): the API holds it, so keep it as it is.
		v, err = raw, nil
	}
	if err != nil {
		return fmt.Errorf("user %s: the API's %s: %w", u.ID, p, err)
	}
	u.Values[f.Name] = v
	return nil
}

// Pick is a choice of a table's fields to read from one kind of read (the
// list's items, or the one-user read): the key paths a decoder picks out
// of each user, and how the values found there become a User. A plan
// picks only the fields it compares, sends or matches on, so that a
// decoder skips the rest of every user without building it.
type Pick struct {
	full   bool
	fields []*Field
	paths  []Path
	keys   [][]string
}

// PickList returns the fields of the list read that want names; want nil
// picks every field the list holds.
func (t *Table) PickList(want func(name string) bool) *Pick { return t.pick(want, false) }

// PickRead returns the fields of the one-user read that want names; want
// nil picks every field the read holds.
func (t *Table) PickRead(want func(name string) bool) *Pick { return t.pick(want, true) }

func (t *Table) pick(want func(string) bool, full bool) *Pick {
	if want == nil && t.list != nil { // every field: made once, in NewTable
		if full {
			return t.read
		}
		return t.list
	}
	pk := &Pick{full: full}
	for i := range t.fields {
		f := &t.fields[i]
		p := f.List
		if full {
			p = f.Read
		}
		if p.Zero() || (want != nil && !want(f.Name)) {
			continue
		}
		pk.fields = append(pk.fields, f)
		pk.paths = append(pk.paths, p)
		pk.keys = append(pk.keys, p.keys)
	}
	return pk
}

// Paths returns the key paths of the fields picked, in order: raw values
// for User come in this order.
func (pk *Pick) Paths() [][]string { return pk.keys }

// User builds a user from raw, the value found at each of Paths (nil when
// absent or under a parent that is not an object), as encoding/json
// decodes into an any with UseNumber: the same user UserFromList (or
// UserFromRead) builds from the whole decoded object, with only the
// fields picked.
func (pk *Pick) User(id string, raw []any) (User, error) {
	return pk.UserIn(id, raw, nil)
}

// userFrom is User with the values at Paths in doc, looked up one by one
// (no slice of them a user: the tests' reference readings build many).
func (pk *Pick) userFrom(id string, doc map[string]any) (User, error) {
	u := User{ID: id, Values: make(map[string]any, len(pk.fields)), Full: pk.full}
	for i, f := range pk.fields {
		if err := u.set(f, pk.paths[i], pk.paths[i].interpret(pk.paths[i].at(doc))); err != nil {
			return User{}, err
		}
	}
	return u, nil
}

// UserIn is User with the values put in values, emptied first, when it is
// not nil: a reader that lends its users until its caller's yield returns
// reuses their maps, a million of which would be a quarter of a gigabyte.
func (pk *Pick) UserIn(id string, raw []any, values map[string]any) (User, error) {
	if values == nil {
		values = make(map[string]any, len(pk.fields))
	} else {
		clear(values)
	}
	u := User{ID: id, Values: values, Full: pk.full}
	for i, f := range pk.fields {
		if err := u.set(f, pk.paths[i], pk.paths[i].interpret(raw[i])); err != nil {
			return User{}, err
		}
	}
	return u, nil
}

// isText reports whether a decoded JSON value is a string or a list of
// strings.
func isText(v any) bool {
	switch v := v.(type) {
	case string:
		return true
	case []any:
		for _, e := range v {
			if _, ok := e.(string); !ok {
				return false
			}
		}
		return true
	}
	return false
}
