package roster

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/gocarina/gocsv"

	"github.com/rostersync/rostersync/sync"
)

// Hidden columns the record source adds for gocsv to carry through.
const (
	colKey   = "#key"
	colLine  = "#line"
	colError = "#error"
	colSkip  = "#skip" // a column the mapping ignores
)

// record is one CSV record as gocsv hands it over: every (column, cell)
// pair, in order. Line is tagged so gocsv accepts the type; its value
// arrives through UnmarshalCSVWithFields like every other cell.
type record struct {
	Line  string `csv:"#line"`
	cells [][2]string
}

// UnmarshalCSVWithFields implements gocsv.TypeUnmarshalCSVWithFields.
func (r *record) UnmarshalCSVWithFields(column, cell string) error {
	r.cells = append(r.cells, [2]string{column, cell})
	return nil
}

func readCSV(br *bufio.Reader, s *schema) ([]sync.Row, error) {
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
	columns, fields, err := resolveHeader(header, s)
	if err != nil {
		return nil, err
	}

	var rows []sync.Row
	src := &recordSource{r: cr, header: columns}
	err = gocsv.UnmarshalDecoderToCallback(gocsv.NewSimpleDecoderFromCSVReader(src), func(rec record) {
		b := newBuilder(len(rows)+1, s, len(fields))
		for _, c := range rec.cells {
			switch {
			case c[0] == colLine, strings.HasPrefix(c[0], colSkip):
			case c[0] == colError:
				if c[1] != "" {
					b.fail(c[1])
				}
			case c[0] == colKey:
				b.key(c[1])
			default:
				b.cell(fields[c[0]], c[1])
			}
		}
		rows = append(rows, b.done(s.Key))
	})
	if err != nil {
		return nil, err
	}
	if src.err != nil {
		return nil, src.err
	}
	return rows, nil
}

// resolveHeader maps each header name to a column id for gocsv (colKey,
// colSkip or the field name) and checks the header as a whole.
func resolveHeader(header []string, s *schema) ([]string, map[string]*sync.Field, error) {
	columns := make([]string, len(header))
	fields := map[string]*sync.Field{}
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
	r      *csv.Reader
	header []string
	sent   bool
	out    []string
	err    error // a read error that is not about one record
}

// Read implements gocsv.CSVReader.
func (s *recordSource) Read() ([]string, error) {
	if !s.sent {
		s.sent = true
		return append(append([]string(nil), s.header...), colLine, colError), nil
	}
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
			reason = fmt.Sprintf("line %d has %d cells, the header has %d", line, len(rec), len(s.header))
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
	return append(s.out, strconv.Itoa(line), reason), nil
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
