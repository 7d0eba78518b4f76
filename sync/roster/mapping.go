package roster

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/gocarina/gocsv"
)

// mapLine is one line of a mapping file: a roster column and the field it
// holds ("" to ignore the column). Line and Err come from the record
// source, as for rosters.
type mapLine struct {
	Column string `csv:"column"`
	Field  string `csv:"field"`
	Line   int    `csv:"#line"`
	Err    string `csv:"#error"`
}

// ReadMap reads a mapping file for Schema.Map: a CSV with the header
// column,field and one line per roster column; an empty field ignores the
// column. Its encoding is detected as a roster's is. Every bad line is
// reported, each by its line number: a field that is not the schema's (or
// its key), a column mapped twice, a malformed line; so is a wrong header.
// It reads under ctx, as ReadFile does.
func ReadMap(ctx context.Context, path string, s Schema) (map[string]string, error) {
	f, err := openFile(ctx, path)
	if err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		return nil, fmt.Errorf("opening the mapping: %w", err)
	}
	defer f.Close()
	if warn := s.Warn; warn != nil {
		s.Warn = func(msg string) { warn(fmt.Sprintf("mapping %s: %s", path, msg)) }
	}
	src := newCtxReader(ctx, f)
	defer src.stop()
	m, err := readMap(src, s)
	if ctx.Err() != nil {
		return nil, context.Cause(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("mapping %s: %w", path, err)
	}
	return m, nil
}

// readMap reads a mapping file from r.
func readMap(r io.Reader, s Schema) (map[string]string, error) {
	if s.Table == nil {
		return nil, errors.New("the schema has no table")
	}
	text, err := decode(r, "", s.Warn, "the mapping file", "save it as UTF-8 to say otherwise")
	if err != nil {
		return nil, err
	}
	lim := newBudget(text)
	br := bufio.NewReaderSize(lim, 4<<10)
	if bom, _ := br.Peek(3); bytes.Equal(bom, []byte(utf8BOM)) {
		_, _ = br.Discard(3)
	}
	head, _ := br.Peek(br.Size())
	cr := csv.NewReader(br)
	cr.Comma = sniffDelimiter(head)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, errors.New("the file is empty: a mapping starts with the header column,field")
	}
	if err != nil {
		return nil, fmt.Errorf("reading the header: %w", err)
	}
	names := make([]string, len(header))
	for i, h := range header {
		names[i] = strings.ToLower(strings.TrimSpace(h))
	}
	if len(names) != 2 || names[0] != "column" || names[1] != "field" {
		return nil, fmt.Errorf("line 1: the header must be column,field, not %s", strings.Join(header, string(cr.Comma)))
	}
	src := &recordSource{r: cr, header: names, budget: lim}
	var lines []mapLine
	if err := gocsv.UnmarshalCSV(src, &lines); err != nil {
		return nil, err
	}
	if src.err != nil {
		return nil, src.err
	}

	out := make(map[string]string, len(lines))
	where := map[string]int{} // lower-cased column -> its line
	var errs []error
	for _, l := range lines {
		col := strings.TrimSpace(l.Column)
		target := strings.ToLower(strings.TrimSpace(l.Field))
		lc := strings.ToLower(col)
		switch {
		case l.Err != "":
			errs = append(errs, errors.New(l.Err))
		case col == "" && target == "":
			// a blank line as spreadsheets write it (";")
		case col == "":
			errs = append(errs, fmt.Errorf("line %d: no column name for field %q", l.Line, target))
		case where[lc] != 0:
			errs = append(errs, fmt.Errorf("line %d: column %q is mapped twice (line %d too)", l.Line, col, where[lc]))
		default:
			where[lc] = l.Line
			if err := s.checkTarget(target); err != nil {
				errs = append(errs, fmt.Errorf("line %d: column %q: %w", l.Line, col, err))
				continue
			}
			out[col] = target
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}
