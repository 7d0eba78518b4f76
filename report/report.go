// Package report writes and reads the per-row report of a run: one row per
// roster row, as CSV or JSON Lines, each row written and flushed as it
// finishes so that a report read mid-run or after a crash holds every
// finished row. It knows nothing of targets or plans.
package report

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// Row is one report row.
type Row struct {
	Row        int    `json:"row"`
	Key        string `json:"key"`
	UserID     string `json:"user_id"`
	Status     string `json:"status"`
	HTTPStatus int    `json:"http_status"` // 0 when no answer arrived
	Attempts   int    `json:"attempts"`
	Fields     string `json:"fields"` // changed field names, sorted, "|"-joined
	Error      string `json:"error"`
	Digest     string `json:"digest"` // what the roster row held, keyed (for --resume); "" in older reports
}

// Columns are the report's columns, in order. Reports written before the
// digest column existed lack it; they are still read.
var Columns = []string{"row", "key", "user_id", "status", "http_status", "attempts", "fields", "error", "digest"}

// required are the columns a report must have to be read back.
var required = Columns[:8]

// Format is a report file format.
type Format string

// The report formats.
const (
	CSV   Format = "csv"
	JSONL Format = "jsonl"
)

// FormatOf picks the format from a file name's extension.
func FormatOf(path string) (Format, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".csv":
		return CSV, nil
	case ".jsonl":
		return JSONL, nil
	}
	return "", fmt.Errorf("report %s: the name must end in .csv or .jsonl", path)
}

// Writer writes report rows, safe for use from many goroutines.
type Writer struct {
	mu     sync.Mutex
	format Format
	w      io.Writer
	csv    *csv.Writer
	json   *json.Encoder
	closer io.Closer
	err    error
	// Room for the row being written, kept from row to row so that
	// writing one does not allocate it again.
	rec [9]string // a CSV record
	row Row       // what the JSON encoder is handed
}

// Create creates (or truncates) a report file readable by its owner only:
// reports hold personal data.
func Create(path string) (*Writer, error) {
	format, err := FormatOf(path)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("creating the report: %w", err)
	}
	if err := f.Chmod(0o600); err != nil { // an existing file keeps its mode otherwise
		f.Close()
		return nil, fmt.Errorf("creating the report: %w", err)
	}
	w, err := NewWriter(f, format)
	if err != nil {
		f.Close()
		return nil, err
	}
	w.closer = f
	return w, nil
}

// NewWriter writes a report to w; a CSV report starts with its header.
func NewWriter(w io.Writer, format Format) (*Writer, error) {
	rw := &Writer{format: format, w: w}
	if format != CSV {
		// Encode writes a row and its newline in one Write, as
		// json.Marshal would give them, without a new buffer per row.
		rw.json = json.NewEncoder(w)
		return rw, nil
	}
	rw.csv = csv.NewWriter(w)
	if err := rw.csv.Write(Columns); err != nil {
		return nil, err
	}
	rw.csv.Flush()
	if err := rw.csv.Error(); err != nil {
		return nil, fmt.Errorf("writing the report: %w", err)
	}
	return rw, nil
}

// Write writes one row and flushes it to the file. After a failed write
// every later call returns the same error.
func (w *Writer) Write(r Row) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	r.Error = shorten(r.Error)
	if w.format == CSV {
		w.csv.Write(csvRecord(w.rec[:0], r))
		w.csv.Flush()
		w.err = w.csv.Error()
	} else {
		w.row = r
		w.err = w.json.Encode(&w.row)
	}
	if w.err != nil {
		w.err = fmt.Errorf("writing the report: %w", w.err)
	}
	return w.err
}

// maxError bounds an error cell, so that a server's huge error page cannot
// make a report line too long to read back.
const maxError = 2000

// shorten cuts s to maxError bytes at a character boundary.
func shorten(s string) string {
	if len(s) <= maxError {
		return s
	}
	cut := maxError
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// Close closes the file; it returns the first write error, if any.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closer != nil {
		if err := w.closer.Close(); err != nil && w.err == nil {
			w.err = fmt.Errorf("closing the report: %w", err)
		}
		w.closer = nil
	}
	return w.err
}

// csvRecord appends r's cells to rec, in the order of Columns.
func csvRecord(rec []string, r Row) []string {
	status := ""
	if r.HTTPStatus != 0 {
		status = strconv.Itoa(r.HTTPStatus)
	}
	return append(rec, strconv.Itoa(r.Row), cell(r.Key), cell(r.UserID), r.Status, status,
		strconv.Itoa(r.Attempts), r.Fields, cell(r.Error), r.Digest)
}

// cell puts text on one line, so a torn last line is always the last
// record, and defuses formulas.
func cell(s string) string {
	if strings.ContainsAny(s, "\r\n") {
		s = strings.Join(strings.Fields(s), " ")
	}
	return Escape(s)
}

// Escape defuses a CSV cell that a spreadsheet would run as a formula (it
// starts with =, +, -, @, a tab or a CR) by prefixing a quote; plain
// numbers such as -5 or +919800000001 stay as they are. A cell that
// already looks escaped (a quote, then one of those or another quote) gets
// a quote too, so that reading the report back gives the cell unchanged.
func Escape(cell string) string {
	if escaped(cell) {
		return "'" + cell
	}
	if cell == "" || !strings.ContainsRune(formulaStart, rune(cell[0])) {
		return cell
	}
	if _, err := strconv.ParseFloat(cell, 64); err == nil {
		return cell
	}
	return "'" + cell
}

// formulaStart holds the first characters of a cell a spreadsheet runs.
const formulaStart = "=+-@\t\r"

// escaped reports whether cell starts with the quote Escape adds.
func escaped(cell string) bool {
	return len(cell) > 1 && cell[0] == '\'' && strings.ContainsRune(formulaStart+"'", rune(cell[1]))
}

// unescape reverses Escape for reading a report back.
func unescape(cell string) string {
	if escaped(cell) {
		return cell[1:]
	}
	return cell
}

// ReadFile reads a report written by a Writer. A torn last line, left by
// a crash mid-write, is dropped; damage anywhere else is an error.
func ReadFile(path string) ([]Row, error) {
	format, err := FormatOf(path)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the report: %w", err)
	}
	rows, err := Parse(data, format)
	if err != nil {
		return nil, fmt.Errorf("report %s: %w", path, err)
	}
	return rows, nil
}

// Parse reads report rows from data.
func Parse(data []byte, format Format) ([]Row, error) {
	if i := bytes.LastIndexByte(data, '\n'); i < len(data)-1 {
		data = data[:i+1] // a torn last line: what a crash mid-write leaves
	}
	if format == JSONL {
		return parseJSONL(data)
	}
	return parseCSV(data)
}

func parseJSONL(data []byte) ([]Row, error) {
	var rows []Row
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var r Row
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		rows = append(rows, r)
	}
	return rows, sc.Err()
}

func parseCSV(data []byte) ([]Row, error) {
	cr := csv.NewReader(bytes.NewReader(data))
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	col := map[string]int{}
	for i, h := range header {
		col[h] = i
	}
	for _, c := range required {
		if _, ok := col[c]; !ok {
			return nil, fmt.Errorf("no %q column: not a rostersync report", c)
		}
	}
	var rows []Row
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return rows, nil
		}
		if err != nil {
			return nil, err
		}
		get := func(name string) string {
			if i, ok := col[name]; ok {
				return rec[i]
			}
			return ""
		}
		var r Row
		if r.Row, err = strconv.Atoi(get("row")); err != nil {
			line, _ := cr.FieldPos(0)
			return nil, fmt.Errorf("line %d: row %q is not a number", line, get("row"))
		}
		r.HTTPStatus, _ = strconv.Atoi(get("http_status"))
		r.Attempts, _ = strconv.Atoi(get("attempts"))
		r.Key, r.UserID, r.Status = unescape(get("key")), unescape(get("user_id")), get("status")
		r.Fields, r.Error, r.Digest = get("fields"), unescape(get("error")), get("digest")
		rows = append(rows, r)
	}
}
