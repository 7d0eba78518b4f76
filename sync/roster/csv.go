package roster

import (
	"bufio"
	"cmp"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/gocarina/gocsv"
	"github.com/rostersync/rostersync/sync/model"
)

// Hidden columns the record source adds for gocsv to carry through.
const (
	colKey   = "#key"
	colLine  = "#line"
	colError = "#error"
	colSkip  = "#skip" // a column the mapping ignores
)

// record is one CSV record as gocsv hands it over: every cell, in the
// order of the columns the record source gave gocsv (the header's, then
// colLine and colError). Line is tagged so gocsv accepts the type; its
// value arrives through UnmarshalCSVWithFields like every other cell.
type record struct {
	Line  string `csv:"#line"`
	cells []string
}

// recordBatch is how many records gocsv may read ahead of readCSV.
const recordBatch = 256

// recordCap is the room a record starts with: enough for the columns of
// most rosters, so that a record is one allocation, not one per doubling.
const recordCap = 16

// UnmarshalCSVWithFields implements gocsv.TypeUnmarshalCSVWithFields.
// gocsv hands the cells over in column order, so the column name is
// not kept: the cell's position tells it.
func (r *record) UnmarshalCSVWithFields(_, cell string) error {
	if r.cells == nil {
		r.cells = make([]string, 0, recordCap)
	}
	r.cells = append(r.cells, cell)
	return nil
}

// cellColumn is what a reader does with the cell at one position of a
// record.
type cellColumn struct {
	field *model.Field // the field it sets, or nil
	key   bool         // the key
	err   bool         // the record source's reason the row fails
}

// layout is a header resolved into what each position of a record holds:
// CSV and workbook rows become model.Rows through it, and so through the
// same builder, with the same checks.
type layout struct {
	s       *schema
	cols    []cellColumn
	nFields int
	// inFile and byName are orders to read a record's cells in: as they
	// stand in the file, and by their fields' names (then the rest), so
	// that a row's values come out sorted as Row wants them and sorting
	// them in done is one pass. A row with more than one bad cell is read
	// again in file order, so that its error names them as they stand.
	inFile, byName []int
}

// newLayout resolves a header (see resolveHeader); extra are columns the
// reader adds after the header's. It returns the column ids too.
func newLayout(header []string, s *schema, extra ...cellColumn) ([]string, *layout, error) {
	columns, fields, err := resolveHeader(header, s)
	if err != nil {
		return nil, nil, err
	}
	cols := make([]cellColumn, len(columns), len(columns)+len(extra))
	for i, id := range columns {
		cols[i] = cellColumn{field: fields[id], key: id == colKey}
	}
	cols = append(cols, extra...)
	inFile := make([]int, len(cols))
	for i := range inFile {
		inFile[i] = i
	}
	byName := slices.Clone(inFile)
	slices.SortStableFunc(byName, func(i, j int) int {
		a, b := cols[i].field, cols[j].field
		if a == nil || b == nil {
			return cmp.Compare(btoi(a == nil), btoi(b == nil))
		}
		return strings.Compare(a.Name, b.Name)
	})
	return columns, &layout{s: s, cols: cols, nFields: len(fields), inFile: inFile, byName: byName}, nil
}

// row builds data row n (sheet: its number in its worksheet, or 0) from
// its cells, by position; a cell past the layout's columns is not read.
// bad are reasons the row fails that the reader found itself.
func (l *layout) row(n, sheet int, cells []string, bad []error) model.Row {
	b := l.read(n, sheet, cells, bad, l.byName)
	if len(b.errs) > 1 {
		b = l.read(n, sheet, cells, bad, l.inFile)
	}
	return b.done(l.s.Key)
}

// read reads a record's cells in the given order.
func (l *layout) read(n, sheet int, cells []string, bad []error, order []int) builder {
	b := newBuilder(n, l.s, l.nFields)
	b.row.Sheet = sheet
	for _, err := range bad {
		b.fail(err)
	}
	for _, i := range order {
		if i >= len(cells) {
			continue
		}
		switch c, cell := l.cols[i], cells[i]; {
		case c.field != nil:
			b.cell(c.field, cell)
		case c.key:
			b.key(cell)
		case c.err && cell != "":
			b.fail(errors.New(cell)) // a reason the record source put in the error column
		}
	}
	return *b
}

func readCSV(br *bufio.Reader, lim *budget, s *schema) ([]model.Row, error) {
	first, err := br.Peek(br.Size())
	if len(first) == 0 {
		if err == nil || errors.Is(err, io.EOF) {
			return nil, errEmpty
		}
		return nil, err
	}
	cr := csv.NewReader(br)
	cr.Comma = sniffDelimiter(first)
	cr.FieldsPerRecord = -1 // a short or long row fails alone, below
	cr.ReuseRecord = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, errEmpty // only blank lines
	}
	if err != nil {
		return nil, fmt.Errorf("reading the header: %w", err)
	}
	columns, lay, err := newLayout(header, s, cellColumn{}, cellColumn{err: true}) // colLine, colError
	if err != nil {
		return nil, err
	}

	var rows []model.Row
	src := &recordSource{r: cr, header: columns, noLines: true, budget: lim}
	// gocsv fills records on its own goroutine, a batch ahead: a channel
	// with room hands them over without a switch per record (its callback
	// form would cost one, and a reflective call).
	records := make(chan record, recordBatch)
	done := make(chan error, 1)
	go func() { done <- gocsv.UnmarshalDecoderToChan(gocsv.NewSimpleDecoderFromCSVReader(src), records) }()
	for rec := range records {
		rows = append(rows, lay.row(len(rows)+1, 0, rec.cells, nil))
	}
	if err := <-done; err != nil {
		return nil, err
	}
	if src.err != nil {
		return nil, src.err
	}
	return rows, nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// resolveHeader maps each header name to a column id for gocsv (colKey,
// colSkip or the field name) and checks the header as a whole.
func resolveHeader(header []string, s *schema) ([]string, map[string]*model.Field, error) {
	columns := make([]string, len(header))
	fields := map[string]*model.Field{}
	seen := map[string]int{}
	hasKey := false
	for i, name := range header {
		name = strings.TrimSpace(name)
		header[i] = name
		if name == "" {
			return nil, nil, fmt.Errorf("header: column %d has no name", i+1)
		}
		col, err := s.column(name)
		if err != nil {
			return nil, nil, fmt.Errorf("header: %w", err)
		}
		id := col.id()
		switch {
		case col.skip:
			columns[i] = colSkip + strconv.Itoa(i) // gocsv wants names unique
			continue
		case col.field != nil:
			fields[id] = col.field
		}
		hasKey = hasKey || col.key
		if j, dup := seen[id]; dup {
			if strings.EqualFold(header[j], name) {
				return nil, nil, fmt.Errorf("header: columns %d and %d are both %q", j+1, i+1, name)
			}
			what := "the key " + s.Key
			if col.field != nil {
				what = id
			}
			return nil, nil, fmt.Errorf("header: columns %d (%q) and %d (%q) both give %s", j+1, header[j], i+1, name, what)
		}
		seen[id] = i
		columns[i] = id
	}
	if !hasKey {
		return nil, nil, fmt.Errorf("header: no %q column, which names each row's user", s.Key)
	}
	return columns, fields, nil
}

// recordSource feeds gocsv: first the resolved header, then every record
// padded to the header's width, each with its line number and, for a
// malformed record, the reason it fails. A record gocsv cannot be given
// would stop it at the first bad line; this keeps bad lines to their rows.
type recordSource struct {
	r       *csv.Reader
	budget  *budget // what the csv.Reader reads through; each record gets MaxRecord
	header  []string
	noLines bool // leave the colLine cell empty: the reader does not use it
	sent    bool
	out     []string
	err     error // a read error that is not about one record
}

// Read implements gocsv.CSVReader.
func (s *recordSource) Read() ([]string, error) {
	if !s.sent {
		s.sent = true
		return append(append([]string(nil), s.header...), colLine, colError), nil
	}
	s.budget.next()
	rec, err := s.r.Read()
	line := 0
	reason := ""
	var pe *csv.ParseError
	switch {
	case errors.Is(err, io.EOF):
		return nil, io.EOF
	case errors.As(err, &pe):
		// FieldPos panics here when the first field is the bad one.
		line = pe.StartLine
		reason = fmt.Sprintf("line %d: not valid CSV: %v", pe.StartLine, pe.Err)
		rec = nil
	case err != nil:
		s.err = err
		return nil, io.EOF
	default:
		line, _ = s.r.FieldPos(0)
		if len(rec) != len(s.header) {
			// The cells no longer line up with their columns (a comma in an
			// unquoted value): none is read, lest one be shown under another
			// column's name (half a password in an error about a boolean).
			reason = fmt.Sprintf("line %d has %d cells, the header has %d", line, len(rec), len(s.header))
			rec = nil
		}
	}
	s.out = s.out[:0]
	for i := range s.header {
		cell := ""
		if i < len(rec) {
			cell = rec[i]
		}
		s.out = append(s.out, cell)
	}
	lineCell := ""
	if !s.noLines {
		lineCell = strconv.Itoa(line)
	}
	s.out = append(s.out, lineCell, reason) // kept: gocsv is done with a record before it asks for the next
	return s.out, nil
}

// ReadAll implements gocsv.CSVReader.
func (s *recordSource) ReadAll() ([][]string, error) {
	var all [][]string
	for {
		rec, err := s.Read()
		if errors.Is(err, io.EOF) {
			return all, nil
		}
		if err != nil {
			return nil, err
		}
		all = append(all, append([]string(nil), rec...))
	}
}

// sniffDelimiter picks the delimiter of the header line: the most common of
// comma, semicolon (German Excel) and tab outside quotes; comma on a tie.
func sniffDelimiter(head []byte) rune {
	counts := map[rune]int{}
	quoted := false
	for _, c := range string(head) {
		if c == '"' {
			quoted = !quoted
		}
		if c == '\n' && !quoted {
			break
		}
		if !quoted {
			counts[c]++
		}
	}
	best := ','
	for _, d := range []rune{';', '\t'} {
		if counts[d] > counts[best] {
			best = d
		}
	}
	return best
}
