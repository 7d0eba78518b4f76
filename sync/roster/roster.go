// Package roster reads roster files (CSV, a JSON array, or JSON Lines)
// into rows of a target's fields. A bad header or a file that cannot be
// read is an error that stops the run; a bad cell fails only its row.
package roster

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/rostersync/rostersync/sync"
)

// Format is a roster file format.
type Format string

// The roster formats.
const (
	CSV   Format = "csv"
	JSON  Format = "json"
	JSONL Format = "jsonl"
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
	}
	return "", fmt.Errorf("roster %s: the name must end in .csv, .json or .jsonl", path)
}

// Schema is what a roster's columns may be: the target's fields and the
// column that names each row's user.
type Schema struct {
	Table *sync.Table
	Key   string
}

// column resolves a header name to the key (nil field) or a field.
func (s Schema) column(name string) (f *sync.Field, isKey bool, err error) {
	if strings.EqualFold(name, s.Key) {
		return nil, true, nil
	}
	if f := s.Table.Field(strings.ToLower(name)); f != nil {
		return f, false, nil
	}
	valid := append([]string{s.Key}, s.Table.Names()...)
	msg := fmt.Sprintf("unknown column %q", name)
	if near := closest(strings.ToLower(name), valid); near != "" {
		msg += fmt.Sprintf(": did you mean %q?", near)
	}
	return nil, false, fmt.Errorf("%s (valid columns: %s)", msg, strings.Join(valid, ", "))
}

// ReadFile reads a roster from path; "-" reads CSV from stdin.
func ReadFile(path string, stdin io.Reader, s Schema) ([]sync.Row, error) {
	format, err := FormatOf(path)
	if err != nil {
		return nil, err
	}
	in := stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("opening the roster: %w", err)
		}
		defer f.Close()
		in = f
	}
	rows, err := Read(in, format, s)
	if err != nil {
		return nil, fmt.Errorf("roster %s: %w", path, err)
	}
	return rows, nil
}

// Read reads a roster in the given format.
func Read(r io.Reader, format Format, s Schema) ([]sync.Row, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	if bom, _ := br.Peek(3); bytes.Equal(bom, []byte("\xef\xbb\xbf")) {
		_, _ = br.Discard(3) // Excel's UTF-8 byte order mark
	}
	switch format {
	case CSV:
		return readCSV(br, s)
	case JSON:
		return readJSON(br, s)
	case JSONL:
		return readJSONL(br, s)
	}
	return nil, fmt.Errorf("unknown roster format %q", format)
}

// builder turns a row's named cells or JSON values into a sync.Row,
// collecting every bad value of the row into one error.
type builder struct {
	row  sync.Row
	errs []string
}

func newBuilder(n int) *builder { return &builder{row: sync.Row{N: n}} }

func (b *builder) key(v string) { b.row.Key = strings.TrimSpace(v) }

// cell sets a field from a CSV cell: empty leaves the field as it is.
func (b *builder) cell(f *sync.Field, raw string) {
	raw = strings.TrimSpace(raw)
	switch raw {
	case "":
		return
	case sync.Clear:
		b.decoded(f, nil)
		return
	}
	v, err := f.Kind.Parse(raw)
	b.set(f, v, err)
}

// decoded sets a field from a JSON value (nil clears it).
func (b *builder) decoded(f *sync.Field, raw any) {
	v, err := f.Kind.Decode(raw)
	b.set(f, v, err)
}

func (b *builder) set(f *sync.Field, v any, err error) {
	if err != nil {
		b.fail(fmt.Sprintf("field %s: %v", f.Name, err))
		return
	}
	b.row.Values = append(b.row.Values, sync.Value{Field: f, V: v})
}

func (b *builder) fail(msg string) { b.errs = append(b.errs, msg) }

// done finishes the row; a row with bad values, or no key, fails.
func (b *builder) done(key string) sync.Row {
	if b.row.Key == "" && len(b.errs) == 0 {
		b.fail(fmt.Sprintf("%s is empty", key))
	}
	if len(b.errs) > 0 {
		b.row.Err = fmt.Errorf("row %d: %s", b.row.N, strings.Join(b.errs, "; "))
		b.row.Values = nil
	}
	sync.SortValues(b.row.Values)
	return b.row
}

// closest returns the valid name nearest to name by edit distance, when it
// is near enough to be a likely typo.
func closest(name string, valid []string) string {
	best, bestD := "", max(2, len(name)/3)+1
	for _, v := range valid {
		if d := distance(name, v); d < bestD {
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
