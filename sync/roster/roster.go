// Package roster reads roster files (CSV, a JSON array, JSON Lines, or a
// worksheet of an .xlsx workbook) in UTF-8, UTF-16 or a legacy encoding
// into rows of a target's fields, with
// an optional mapping of an export's columns to fields (ReadMap) and
// values every row sets (ParseSet). A bad header, a mapping or setter that
// does not fit the target, or a file that cannot be read is an error that
// stops the run; a bad cell fails only its row. What a field's values may
// be is its Kind's business (package sync), not this package's.
package roster

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"

	"github.com/rostersync/rostersync/sync/model"
)

// Format is a roster file format.
type Format string

// The roster formats.
const (
	CSV   Format = "csv"
	JSON  Format = "json"
	JSONL Format = "jsonl"
	XLSX  Format = "xlsx" // an Excel workbook (Office Open XML), read from a file
)

// FormatOf picks the format from a file name; "-" (stdin) is CSV.
func FormatOf(path string) (Format, error) {
	if path == "-" {
		return CSV, nil
	}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".csv":
		return CSV, nil
	case ".json":
		return JSON, nil
	case ".jsonl", ".ndjson":
		return JSONL, nil
	case ".xlsx", ".xlsm":
		return XLSX, nil
	case ".xls", ".ods", ".numbers":
		return "", fmt.Errorf("roster %s: save the workbook as Excel Workbook (.xlsx), or as CSV", path)
	}
	return "", fmt.Errorf("roster %s: the name must end in .csv, .json, .jsonl or .xlsx", path)
}

// Schema is what a roster's columns may be: the target's fields and the
// column that names each row's user, and how to read the file.
type Schema struct {
	Table *model.Table
	// Key is the column that names each row's user: the target's id
	// column, or a field the run matches users on ("email"). The key
	// column is not a field the row sets.
	Key string
	// Map maps a roster column name (compared case-insensitively, trimmed)
	// to a field name, to Key, or to "" to ignore the column, for exports
	// whose columns are not named after fields. A column it does not name
	// resolves by its own name. In a JSON roster, ignoring an object
	// ignores everything in it.
	Map map[string]string
	// Set holds the values every row sets (--set field=value), as
	// ParseSet makes them. A roster column that sets one of these fields
	// is an error.
	Set []model.Value
	// Encoding names the file's character encoding (see Encodings); ""
	// detects it: UTF-8 with or without a byte order mark, UTF-16 with
	// one, else Windows-1252, which Warn is told about.
	Encoding string
	// Warn, when set, is told what the reader guessed (an encoding).
	Warn func(msg string)
	// Sheet names the worksheet of an .xlsx roster to read (compared
	// without regard to case); "" reads the first. Other formats have no
	// sheets, and refuse one.
	Sheet string
}

// schema is a Schema checked and made ready to resolve column names.
type schema struct {
	Schema
	mapped map[string]string // Map with keys lower-cased and trimmed
	set    map[string]bool   // the fields of Set
}

// prepare checks the parts of s that hold for every roster: the key, the
// mapping's targets and the constant values.
func (s Schema) prepare() (*schema, error) {
	if s.Table == nil || s.Key == "" {
		return nil, errors.New("roster: the schema has no table or key")
	}
	p := &schema{Schema: s, mapped: make(map[string]string, len(s.Map)), set: make(map[string]bool, len(s.Set))}
	for col, target := range s.Map {
		lc := strings.ToLower(strings.TrimSpace(col))
		target = strings.ToLower(strings.TrimSpace(target))
		if err := s.checkTarget(target); err != nil {
			return nil, fmt.Errorf("mapping column %q: %w", col, err)
		}
		if prev, dup := p.mapped[lc]; dup && prev != target {
			return nil, fmt.Errorf("mapping: column %q is mapped twice", col)
		}
		p.mapped[lc] = target
	}
	for _, v := range s.Set {
		switch {
		case v.Field == nil || s.Table.Field(v.Field.Name) != v.Field:
			return nil, errors.New("--set: a value without a field of the target")
		case strings.EqualFold(v.Field.Name, s.Key):
			return nil, fmt.Errorf("--set %s: %s is the key column of this run, which names each row's user", v.Field.Name, s.Key)
		case p.set[v.Field.Name]:
			return nil, fmt.Errorf("--set %s is given twice", v.Field.Name)
		}
		p.set[v.Field.Name] = true
	}
	return p, nil
}

// checkTarget checks what a mapping maps a column to: a field, the key,
// or "" to ignore it.
func (s Schema) checkTarget(target string) error {
	if target == "" || target == strings.ToLower(s.Key) || s.Table.Field(target) != nil {
		return nil
	}
	return unknown("field", target, append([]string{s.Key}, s.Table.Names()...))
}

// unknown is the error for a name that is none of valid, with the closest
// valid name when one is near.
func unknown(what, name string, valid []string) error {
	msg := fmt.Sprintf("unknown %s %q", what, name)
	if near := closest(strings.ToLower(name), valid); near != "" {
		msg += fmt.Sprintf(": did you mean %q?", near)
	}
	return fmt.Errorf("%s (valid %ss: %s)", msg, what, strings.Join(valid, ", "))
}

// column is what a roster column holds.
type column struct {
	field *model.Field // the field it sets; nil for the key or an ignored column
	key   bool         // the key column
	skip  bool         // mapped to "", ignored
}

// id names the column's target for duplicate checks: the key, a field
// name, or "" for an ignored column.
func (c column) id() string {
	switch {
	case c.key:
		return colKey
	case c.field != nil:
		return c.field.Name
	}
	return ""
}

// column resolves a header name (or a dotted JSON name): through the
// mapping first, else as the key or a field's name.
func (s *schema) column(name string) (column, error) {
	lc := strings.ToLower(strings.TrimSpace(name))
	target, mapped := s.mapped[lc]
	if !mapped {
		target = lc
		for prefix := lc; len(s.mapped) > 0; { // an ignored JSON object ignores what it holds
			i := strings.LastIndexByte(prefix, '.')
			if i < 0 {
				break
			}
			prefix = prefix[:i]
			if t, ok := s.mapped[prefix]; ok && t == "" {
				return column{skip: true}, nil
			}
		}
	}
	var c column
	switch {
	case mapped && target == "":
		return column{skip: true}, nil
	case target == strings.ToLower(s.Key):
		c.key = true
	default:
		c.field = s.Table.Field(target)
	}
	if c.field == nil && !c.key {
		valid := append([]string{s.Key}, s.Table.Names()...)
		cols := make([]string, 0, len(s.Map))
		for col := range s.Map {
			cols = append(cols, strings.TrimSpace(col))
		}
		slices.Sort(cols)
		valid = append(valid, cols...)
		return column{}, unknown("column", name, valid)
	}
	if c.field != nil && s.set[c.field.Name] {
		via := ""
		if mapped {
			via = " (mapped to " + c.field.Name + ")"
		}
		return column{}, fmt.Errorf("column %q%s sets %s, which --set %s also sets: drop one", name, via, c.field.Name, c.field.Name)
	}
	return c, nil
}

// ReadFile reads a roster from path; "-" reads CSV from stdin. It reads
// under ctx: when ctx ends, it returns ctx's cause at once, even while
// opening a FIFO that has no writer or waiting on one that sends nothing.
func ReadFile(ctx context.Context, path string, stdin io.Reader, s Schema) ([]model.Row, error) {
	format, err := FormatOf(path)
	if err != nil {
		return nil, err
	}
	if format == XLSX {
		ps, err := s.prepare()
		var rows []model.Row
		if err == nil {
			rows, err = readWorkbook(ctx, path, ps)
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil, err
			}
			return nil, fmt.Errorf("roster %s: %w", path, err)
		}
		return rows, nil
	}
	in := stdin
	if path != "-" {
		f, err := openFile(ctx, path)
		if err != nil {
			if ctx.Err() != nil {
				return nil, err
			}
			return nil, fmt.Errorf("opening the roster: %w", err)
		}
		defer f.Close()
		in = f
	}
	if warn := s.Warn; warn != nil {
		s.Warn = func(msg string) { warn(fmt.Sprintf("roster %s: %s", path, msg)) }
	}
	rows, err := Read(ctx, in, format, s)
	if err != nil {
		return nil, fmt.Errorf("roster %s: %w", path, err)
	}
	return rows, nil
}

// Read reads a roster in the given format, decoding it as s says (see
// Schema.Encoding) and resolving its columns through s.Map. It reads
// under ctx (see ReadFile), and within bounds: a record past MaxRecord
// stops it, a value past model.MaxText fails its row.
func Read(ctx context.Context, r io.Reader, format Format, s Schema) ([]model.Row, error) {
	switch format {
	case CSV, JSON, JSONL:
	case XLSX:
		return nil, errors.New("a workbook is read from its file, out of order (ReadFile), not as a stream")
	default:
		return nil, fmt.Errorf("unknown roster format %q", format)
	}
	if s.Sheet != "" {
		return nil, fmt.Errorf("--sheet %q: only an .xlsx roster has sheets", s.Sheet)
	}
	ps, err := s.prepare()
	if err != nil {
		return nil, err
	}
	src := newCtxReader(ctx, r)
	defer src.stop()
	text, err := decode(src, s.Encoding, s.Warn, "the roster", "use --encoding to say otherwise")
	if err != nil {
		return nil, err
	}
	lim := newBudget(text)
	br := bufio.NewReaderSize(lim, 64<<10)
	if bom, _ := br.Peek(3); bytes.Equal(bom, []byte(utf8BOM)) {
		_, _ = br.Discard(3) // Excel's UTF-8 byte order mark
	}
	var rows []model.Row
	switch format {
	case CSV:
		rows, err = readCSV(br, lim, ps)
	case JSON:
		rows, err = readJSON(br, lim, ps)
	case JSONL:
		rows, err = readJSONL(br, lim, ps)
	}
	if ctx.Err() != nil {
		return nil, context.Cause(ctx) // stopped: what the parser made of it is beside the point
	}
	var encErr *encodingError
	var tooLong *tooLongError
	switch {
	case errors.As(err, &encErr):
		return nil, encErr // found mid-file: what the parser made of it is beside the point
	case errors.As(err, &tooLong):
		return nil, tooLong
	}
	return rows, err
}

// builder turns a row's named cells or JSON values into a model.Row,
// collecting every bad value of the row into one error.
type builder struct {
	row   model.Row
	every []model.Value // the values every row sets (Schema.Set)
	errs  []error
}

// newBuilder starts row n, which sets at most most fields of its own.
func newBuilder(n int, s *schema, most int) *builder {
	b := &builder{row: model.Row{N: n}, every: s.Set}
	if most += len(s.Set); most > 0 {
		b.row.Values = make([]model.Value, 0, most) // one allocation per row
	}
	return b
}

func (b *builder) key(v string) { b.row.Key = strings.TrimSpace(v) }

// cell sets a field from a CSV cell: empty leaves the field as it is. A
// cell past the limits of model.MaxText, or holding a control character,
// fails the row before it is parsed, so that no message repeats it.
func (b *builder) cell(f *model.Field, raw string) {
	raw = strings.TrimSpace(raw)
	switch {
	case raw == "":
		return
	case strings.EqualFold(raw, model.Clear):
		b.decoded(f, nil)
		return
	}
	if err := f.CheckCell(raw); err != nil {
		b.fail(fmt.Errorf("field %s: %w", f.Name, err))
		return
	}
	v, err := f.Kind.Parse(raw)
	b.set(f, v, err)
}

// decoded sets a field from a JSON value (nil clears it), checked as
// cell checks a cell.
func (b *builder) decoded(f *model.Field, raw any) {
	if err := f.CheckJSON(raw); err != nil {
		b.fail(fmt.Errorf("field %s: %w", f.Name, err))
		return
	}
	v, err := f.Kind.Decode(raw)
	b.set(f, v, err)
}

func (b *builder) set(f *model.Field, v any, err error) {
	switch {
	case err != nil && f.Secret:
		b.fail(fmt.Errorf("field %s: not a valid value (not shown: it is secret)", f.Name))
		return
	case err != nil:
		b.fail(fmt.Errorf("field %s: %w", f.Name, err))
		return
	}
	b.row.Values = append(b.row.Values, model.Value{Field: f, V: v})
}

func (b *builder) fail(err error) { b.errs = append(b.errs, err) }

// done finishes the row; a row with bad values, or no key, fails. A row
// that does not fail gets the values every row sets.
func (b *builder) done(key string) model.Row {
	if b.row.Key == "" && len(b.errs) == 0 {
		b.fail(fmt.Errorf("%s is empty", key))
	}
	if len(b.errs) > 0 {
		b.row.Err = fmt.Errorf("%s: %w", b.row.Label(), valueErrors(b.errs))
		b.row.Values = nil
	} else {
		b.row.Values = append(b.row.Values, b.every...)
	}
	model.SortValues(b.row.Values)
	return b.row
}

// valueErrors are the bad values of one row, shown on one line; each
// stays matchable with errors.Is and errors.As.
type valueErrors []error

func (e valueErrors) Error() string {
	var b strings.Builder
	for i, err := range e {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(err.Error())
	}
	return b.String()
}

func (e valueErrors) Unwrap() []error { return e }

// closest returns the valid name nearest to name by edit distance, when it
// is near enough to be a likely typo.
func closest(name string, valid []string) string {
	best, bestD := "", max(2, len(name)/3)+1
	for _, v := range valid {
		if d := distance(name, strings.ToLower(v)); d < bestD {
			best, bestD = v, d
		}
	}
	return best
}

// distance is the Levenshtein distance between a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

var errEmpty = errors.New("the file is empty: a roster starts with a header line")
