package model

import (
	"cmp"
	"slices"
)

// Status is a row's outcome, in the report's words.
type Status string

// The statuses a row can end with.
const (
	Applied   Status = "applied"
	Unchanged Status = "unchanged"
	Planned   Status = "planned"
	Failed    Status = "failed"
	Skipped   Status = "skipped"
)

// Statuses lists every status, in the order summaries list them.
var Statuses = []Status{Applied, Unchanged, Planned, Failed, Skipped}

// Row is one roster row: the user it names and the fields it sets.
type Row struct {
	N      int     // 1-based data row (header not counted; JSON element index from 1)
	Key    string  // the key field's value
	Values []Value // the fields the row sets, sorted by name
	Err    error   // why the row cannot be used; it fails
}

// Value is one field a row sets, in canonical form.
type Value struct {
	Field *Field
	V     any
}

// SortValues orders a row's values by field name, as Row requires.
func SortValues(vs []Value) {
	slices.SortFunc(vs, func(a, b Value) int { return cmp.Compare(a.Field.Name, b.Field.Name) })
}
