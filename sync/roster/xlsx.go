package roster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/xuri/excelize/v2"

	"github.com/rostersync/rostersync/sync/model"
)

// Limits of what a workbook may take while it is read. A worksheet or
// shared-strings part larger than xlsxInMemory (unzipped) is read from a
// temporary file rather than held (excelize's UnzipXMLSizeLimit), which
// keeps a 100,000-row sheet within the memory goal; xlsxMaxUnzipped
// bounds the whole unzipped workbook, so that a zip bomb stops the run.
const (
	xlsxInMemory    = 4 << 20
	xlsxMaxUnzipped = 2 << 30
)

// readWorkbook reads one worksheet of an .xlsx workbook: the first, or
// s.Sheet. Its rows stream through excelize's row iterator. Cells are
// read as stored, not as shown (see storedValues); the header is the
// first row that is not empty, empty rows are passed over, and each row
// is built by the layout the CSV reader uses, so that a row is checked
// alike whatever its format. A row's N counts data rows as for CSV, and
// its Sheet is its number in the worksheet.
func readWorkbook(ctx context.Context, path string, s *schema) ([]model.Row, error) {
	if err := sniffWorkbook(path); err != nil {
		return nil, err
	}
	f, err := excelize.OpenFile(path, excelize.Options{UnzipXMLSizeLimit: xlsxInMemory, UnzipSizeLimit: xlsxMaxUnzipped})
	if err != nil {
		if errors.Is(err, excelize.ErrWorkbookFileFormat) || errors.Is(err, excelize.ErrWorkbookPassword) {
			return nil, errors.New(encryptedWorkbook)
		}
		return nil, fmt.Errorf("not a readable .xlsx workbook (%w): is it damaged? open it in Excel and save it again", err)
	}
	defer f.Close()
	sheet, err := pickSheet(f, s.Sheet)
	if err != nil {
		return nil, err
	}
	if err := storedValues(f); err != nil {
		return nil, fmt.Errorf("reading the workbook's number formats: %w", err)
	}
	it, err := f.Rows(sheet)
	if err != nil {
		return nil, fmt.Errorf("sheet %q: %w", sheet, err)
	}
	defer it.Close()

	var (
		rows   []model.Row
		lay    *layout
		width  int // the header's columns
		line   int // the sheet's row number
		header []string
	)
	for it.Next() {
		line++
		if err := ctx.Err(); err != nil {
			return nil, context.Cause(ctx)
		}
		cells, err := it.Columns()
		if err != nil {
			return nil, fmt.Errorf("sheet %q row %d: %w", sheet, line, err)
		}
		if blank(cells) {
			continue
		}
		if lay == nil {
			header = trimRight(cells)
			for i, name := range header {
				if strings.TrimSpace(name) == "" {
					return nil, fmt.Errorf("sheet %q, header (sheet row %d): column %s has no name", sheet, line, columnName(i))
				}
			}
			if _, lay, err = newLayout(header, s); err != nil {
				return nil, fmt.Errorf("sheet %q, header (sheet row %d): %w", sheet, line, err)
			}
			width = len(header)
			continue
		}
		rows = append(rows, lay.row(len(rows)+1, line, cells, cellProblems(cells, lay, width, line)))
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("sheet %q: %w", sheet, err)
	}
	if lay == nil {
		return nil, fmt.Errorf("sheet %q is empty: a roster starts with a header row", sheet)
	}
	return rows, nil
}

// encryptedWorkbook is the message for a workbook that is encrypted, which
// is what a password to open it makes of it.
const encryptedWorkbook = "the workbook is password-protected (encrypted), so it cannot be read: " +
	"save a copy without a password (Excel: File > Info > Protect Workbook > Encrypt with Password, empty) and use that"

// sniffWorkbook tells a file that is no .xlsx workbook by its first bytes,
// before excelize reads it whole: an encrypted workbook or an old .xls
// (both OLE compound files), or something else under the name. A pipe
// cannot hold a workbook: a zip archive is read out of order.
func sniffWorkbook(path string) error {
	info, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("opening the roster: %w", err)
	}
	if !info.Mode().IsRegular() {
		return errors.New("not a regular file: a workbook is read out of order, so it cannot come through a pipe or a FIFO")
	}
	file, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("opening the roster: %w", err)
	}
	defer file.Close()
	head := make([]byte, 8)
	n, err := io.ReadFull(file, head)
	switch {
	case n == 0 && (err == nil || errors.Is(err, io.EOF)):
		return errors.New("the file is empty: a roster starts with a header row")
	case bytes.HasPrefix(head[:n], []byte("PK\x03\x04")):
		return nil
	case bytes.Equal(head[:n], []byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}):
		// An OLE compound file: encrypted OOXML keeps its key in a stream
		// named EncryptionInfo (MS-OFFCRYPTO), named in UTF-16 in the
		// directory; anything else is a legacy binary workbook.
		if _, err := file.Seek(0, io.SeekStart); err == nil {
			name := []byte("E\x00n\x00c\x00r\x00y\x00p\x00t\x00i\x00o\x00n\x00I\x00n\x00f\x00o\x00")
			if data, err := io.ReadAll(io.LimitReader(file, 64<<20)); err == nil && bytes.Contains(data, name) {
				return errors.New(encryptedWorkbook)
			}
		}
		return errors.New("an Excel 97-2003 workbook (.xls) under an .xlsx name: save it as Excel Workbook (.xlsx)")
	}
	return errors.New("not an .xlsx workbook (a zip archive): is this the roster? A CSV file must be named .csv")
}

// pickSheet returns the worksheet to read: the first, or the one named
// (without regard to case, as Excel compares sheet names).
func pickSheet(f *excelize.File, name string) (string, error) {
	sheets := f.GetSheetList()
	if len(sheets) == 0 {
		return "", errors.New("the workbook has no sheet")
	}
	if name == "" {
		return sheets[0], nil
	}
	for _, s := range sheets {
		if strings.EqualFold(s, name) {
			return s, nil
		}
	}
	return "", fmt.Errorf("--sheet %q: the workbook has no such sheet; its sheets: %q", name, sheets)
}

// storedValues makes the row iterator give each cell as it is stored, not
// as its number format shows it. excelize gives a cell either raw (a date
// is then its day number, a boolean 1 or 0) or through its number format
// (a 12-digit phone in General or scientific format comes back as
// 9.1981E+11, an id shown with leading zeros gains them); and the
// iterator does not hand out a cell's style. So before reading, every
// cell style's number format is replaced in the opened workbook (never
// saved): a date's by yyyy-mm-dd, a time's by hh:mm:ss, a date and time's
// by both, every other by asStored. Booleans come out TRUE or FALSE, text
// as it is, a formula as its cached value.
func storedValues(f *excelize.File) error {
	if f.Styles == nil || f.Styles.CellXfs == nil || len(f.Styles.CellXfs.Xf) == 0 {
		return nil // no styles: every cell is shown as General already
	}
	iso := map[formatKind]int{}
	for kind, code := range map[formatKind]string{isDate: "yyyy-mm-dd", isTime: "hh:mm:ss", isDateTime: "yyyy-mm-dd hh:mm:ss"} {
		style, err := f.NewStyle(&excelize.Style{CustomNumFmt: &code})
		if err != nil {
			return err
		}
		id := f.Styles.CellXfs.Xf[style].NumFmtID
		if id == nil {
			return fmt.Errorf("number format %q was not registered", code)
		}
		iso[kind] = *id
	}
	custom := map[int]string{}
	if f.Styles.NumFmts != nil {
		for _, nf := range f.Styles.NumFmts.NumFmt {
			custom[nf.NumFmtID] = nf.FormatCode
		}
	}
	for i := range f.Styles.CellXfs.Xf {
		xf := &f.Styles.CellXfs.Xf[i]
		id := 0
		if xf.NumFmtID != nil {
			id = *xf.NumFmtID
		}
		kind := builtinKind(id)
		if code, ok := custom[id]; ok {
			kind = codeKind(code)
		}
		n := asStored
		if kind != isNumber {
			n = iso[kind]
		}
		xf.NumFmtID = &n
	}
	return nil
}

// asStored is the number format id given to every style that does not
// show a date or a time: an id no format has, which excelize shows as the
// value itself, as it does a cell with no style. A number then keeps all
// its digits (up to the 15 significant digits a spreadsheet keeps), in
// plain notation.
const asStored = -1

// formatKind is what a number format shows a number as.
type formatKind int

const (
	isNumber formatKind = iota
	isDate
	isTime
	isDateTime
)

// builtinKind classifies the number formats built into Excel, by id
// (ECMA-376 part 1, 18.8.30; 27-36 and 50-58 are the East Asian dates).
func builtinKind(id int) formatKind {
	switch {
	case id >= 14 && id <= 17, id >= 27 && id <= 31, id == 36, id >= 50 && id <= 58:
		return isDate
	case id >= 18 && id <= 21, id >= 32 && id <= 35, id >= 45 && id <= 47:
		return isTime
	case id == 22:
		return isDateTime
	}
	return isNumber
}

// codeKind classifies a custom number format code by its date and time
// tokens (y, d, m, h, s), leaving out quoted text, escaped characters and
// bracketed parts other than elapsed time ([h], [mm], [ss]). An m is a
// month unless the code also holds hours or seconds, when it is minutes.
func codeKind(code string) formatKind {
	var date, clock, month bool
	lower := strings.ToLower(code)
	for i := 0; i < len(lower); i++ {
		switch c := lower[i]; c {
		case '"':
			if j := strings.IndexByte(lower[i+1:], '"'); j >= 0 {
				i += j + 1
			} else {
				i = len(lower)
			}
		case '\\', '_', '*':
			i++ // an escaped character, or the one a space or fill is sized by
		case '[':
			j := strings.IndexByte(lower[i:], ']')
			if j < 0 {
				i = len(lower)
				break
			}
			if inner := strings.Trim(lower[i+1:i+j], "hms"); inner == "" && j > 1 {
				clock = true // elapsed time
			}
			i += j
		case 'y', 'd':
			date = true
		case 'h', 's':
			clock = true
		case 'm':
			month = true
		}
	}
	date = date || (month && !clock)
	switch {
	case date && clock:
		return isDateTime
	case date:
		return isDate
	case clock:
		return isTime
	}
	return isNumber
}

// cellProblems finds what fails a data row before its cells are read:
// a cell showing a formula's error (#N/A, #DIV/0! ...) in a column that is
// read, which is blanked so that it is not taken for text, and a value
// right of the header, in a column that has none.
func cellProblems(cells []string, lay *layout, width, line int) []error {
	var bad []error
	for i, cell := range cells {
		v := strings.TrimSpace(cell)
		switch {
		case v == "":
		case i >= width:
			bad = append(bad, fmt.Errorf("cell %s%d has a value, but its column has no header", columnName(i), line))
		case isErrorValue(v) && (lay.cols[i].field != nil || lay.cols[i].key):
			name := lay.s.Key
			if f := lay.cols[i].field; f != nil {
				name = f.Name
			}
			bad = append(bad, fmt.Errorf("field %s: cell %s%d shows the error %s, not a value", name, columnName(i), line, v))
			cells[i] = ""
		}
	}
	return bad
}

// isErrorValue reports whether s is one of the error values a formula
// gives in Excel or LibreOffice.
func isErrorValue(s string) bool {
	switch s {
	case "#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A", "#GETTING_DATA",
		"#SPILL!", "#CALC!", "#FIELD!", "#BLOCKED!", "#CONNECT!", "#BUSY!", "#UNKNOWN!":
		return true
	}
	return false
}

// blank reports whether a row holds nothing but spaces.
func blank(cells []string) bool {
	for _, c := range cells {
		if strings.TrimSpace(c) != "" {
			return false
		}
	}
	return true
}

// trimRight drops the blank cells that end a row.
func trimRight(cells []string) []string {
	for len(cells) > 0 && strings.TrimSpace(cells[len(cells)-1]) == "" {
		cells = cells[:len(cells)-1]
	}
	return cells
}

// columnName is a column's letters, from its index from 0.
func columnName(i int) string {
	name, err := excelize.ColumnNumberToName(i + 1)
	if err != nil {
		return fmt.Sprint(i + 1)
	}
	return name
}
