package model

import (
	"cmp"
	"fmt"
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
	Sheet  int     // the row's own number in its worksheet (.xlsx rosters), which people find it by; 0 for other formats
	Key    string  // the key field's value
	Values []Value // the fields the row sets, sorted by name
	Err    error   // why the row cannot be used; it fails
}

// Label names the row in messages: "row 3", or "row 3 (sheet row 14)" for
// a row of a worksheet, so that the admin finds it in the spreadsheet.
func (r *Row) Label() string { return RowLabel(r.N, r.Sheet) }

// RowLabel is Row.Label for a row known by its numbers.
func RowLabel(n, sheet int) string {
	if sheet > 0 {
		return fmt.Sprintf("row %d (sheet row %d)", n, sheet)
	}
	return fmt.Sprintf("row %d", n)
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
