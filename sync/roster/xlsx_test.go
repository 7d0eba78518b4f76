package roster_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/rostersync/rostersync/sync/model"
	"github.com/rostersync/rostersync/sync/roster"
)

// workbook is the LibreOffice-made workbook the tests read (see
// testdata/workbooks/make_workbooks.sh).
const workbook = "testdata/workbooks/staff.xlsx"

func readSheet(t *testing.T, sheet string, s roster.Schema) ([]model.Row, error) {
	t.Helper()
	s.Sheet = sheet
	return roster.ReadFile(t.Context(), workbook, nil, s)
}

// sheetRows gives each row's number in its sheet.
func sheetRows(rows []model.Row) []int {
	out := make([]int, len(rows))
	for i, r := range rows {
		out[i] = r.Sheet
	}
	return out
}

// TestWorkbookCellsAsStored reads each sheet of the workbook: numbers
// keep their digits, text keeps its leading zeros and +, dates are ISO,
// formulas give their cached values, booleans are booleans; empty rows
// are passed over, the header is the first row that is not empty, and
// failed rows name their sheet row.
func TestWorkbookCellsAsStored(t *testing.T) {
	t.Parallel()
	tests := []struct {
		sheet  string
		wants  []want
		sheets []int
	}{
		{"", []want{ // the first sheet, Staff
			ok("314678", map[string]any{"name": "José Müller", "email": "jose@example.com", "number": "+919810000001",
				"designation": "Lead, Ops", "block_agent": false, "user_for_cdr.type": "agent",
				"user_for_cdr.value": []any{"0502842370097", "0502842370098"}}),
			ok("370822", map[string]any{"name": "Zoë Renée", "email": "zoe@example.com", "number": "+919810000002",
				"designation": "Büro Köln", "block_agent": true, "user_for_cdr.type": "all"}),
			ok("370823", map[string]any{"name": "Anders Ångström", "number": "+49301234567", "designation": "", "block_agent": false}),
		}, []int{3, 5, 6}},
		{"phones", []want{ // the name compares without regard to case
			ok("314678", map[string]any{"name": "José Müller", "number": "+919810000001"}),
			bad("row 2 (sheet row 3): field number", `"919810000002" lacks the leading +`),
			ok("370823", map[string]any{"name": "Anders Ångström", "number": "+919810000003"}),
		}, []int{2, 3, 4}},
		{"Agent ids", []want{
			ok("314678", map[string]any{"user_for_cdr.type": "agent", "user_for_cdr.value": []any{"0502842370097"}}),
			ok("370822", map[string]any{"user_for_cdr.type": "agent", "user_for_cdr.value": []any{"0502842370097", "0502842370098"}}),
			bad("row 3 (sheet row 4): field user_for_cdr.value", `"502842370098" has 12 digits`, "leading 0"),
		}, []int{2, 3, 4}},
		{"Types", []want{
			ok("1", map[string]any{"designation": "2025-04-01", "block_agent": true}),           // a date shown 01/04/2025
			ok("2", map[string]any{"designation": "2025-04-01 13:45:00", "block_agent": false}), // a date and time
			ok("3", map[string]any{"designation": "1234.567", "block_agent": true}),             // ₹1,234.57; a formula's TRUE
			ok("4", map[string]any{"designation": "0.15"}),                                      // 15%
			ok("5", map[string]any{"designation": "123456789012345"}),                           // shown 1.23457E+14
			ok("6", map[string]any{"designation": "600.5"}),                                     // a formula's number
			bad("row 7 (sheet row 8): field designation: cell B8 shows the error #DIV/0!"),
			ok("8", map[string]any{"designation": "007"}), // a number typed as text; a formula giving ""
			bad("row 9 (sheet row 10): cell D10 has a value, but its column has no header"),
		}, []int{2, 3, 4, 5, 6, 7, 8, 9, 10}},
	}
	for _, tt := range tests {
		t.Run(tt.sheet, func(t *testing.T) {
			t.Parallel()
			rows, err := readSheet(t, tt.sheet, smartfloSchema())
			if err != nil {
				t.Fatal(err)
			}
			checkRows(t, rows, tt.wants)
			if got := sheetRows(rows); !reflect.DeepEqual(got, tt.sheets) {
				t.Errorf("sheet rows %v, want %v", got, tt.sheets)
			}
		})
	}
}

// TestWorkbookReadsAsItsCSV reads the Staff sheet and the CSV file it
// copies: the same rows, the same values.
func TestWorkbookReadsAsItsCSV(t *testing.T) {
	t.Parallel()
	for _, s := range []roster.Schema{
		smartfloSchema(),
		{Table: smartfloSchema().Table, Key: "email", Map: map[string]string{"ID": "", "Name": ""}}, // --match email, ids ignored
		{Table: smartfloSchema().Table, Key: "id", Set: []model.Value{must(roster.ParseSet(smartfloSchema().Table, "international_outbound=yes"))}},
	} {
		csv, err := roster.ReadFile(t.Context(), "testdata/smartflo_clean.csv", nil, s)
		if err != nil {
			t.Fatal(err)
		}
		xlsx, err := readSheet(t, "Staff", s)
		if err != nil {
			t.Fatal(err)
		}
		if len(csv) != len(xlsx) {
			t.Fatalf("key %s: %d rows from the CSV, %d from the workbook", s.Key, len(csv), len(xlsx))
		}
		for i := range csv {
			c, x := csv[i], xlsx[i]
			if c.N != x.N || c.Key != x.Key || !reflect.DeepEqual(values(t, c), values(t, x)) || (c.Err == nil) != (x.Err == nil) {
				t.Errorf("key %s, row %d: CSV %q %v %v; workbook %q %v %v", s.Key, c.N, c.Key, values(t, c), c.Err, x.Key, values(t, x), x.Err)
			}
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestWorkbookSchemaErrors are the header and schema errors of a CSV
// roster, from a sheet.
func TestWorkbookSchemaErrors(t *testing.T) {
	t.Parallel()
	set := must(roster.ParseSet(smartfloSchema().Table, "name=X"))
	tests := []struct {
		name    string
		sheet   string
		schema  roster.Schema
		wantErr []string
	}{
		{"no such sheet", "Leavers", smartfloSchema(), []string{`--sheet "Leavers"`, `"Staff" "Phones" "Agent ids" "Types"`}},
		{"column and --set", "", roster.Schema{Table: smartfloSchema().Table, Key: "id", Set: []model.Value{set}}, []string{`column "name"`, "--set name"}},
		{"unknown column", "", roster.Schema{Table: smartfloSchema().Table, Key: "id", Map: map[string]string{"email": "emial"}}, []string{`"emial"`}},
		{"no key column", "", roster.Schema{Table: smartfloSchema().Table, Key: "login_id", Map: map[string]string{"id": ""}}, []string{`sheet "Staff", header (sheet row 2)`, `no "login_id" column`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := readSheet(t, tt.sheet, tt.schema)
			checkErr(t, err, append(tt.wantErr, workbook))
		})
	}
	t.Run("--sheet of a CSV roster", func(t *testing.T) {
		s := smartfloSchema()
		s.Sheet = "Staff"
		_, err := roster.ReadFile(t.Context(), "testdata/smartflo_clean.csv", nil, s)
		checkErr(t, err, []string{"--sheet", ".xlsx"})
	})
}

// TestUnreadableWorkbooks stops the run, with a message that says what
// the file is, for an encrypted workbook, a damaged one, a CSV named
// .xlsx, an old .xls, a FIFO and an empty sheet.
func TestUnreadableWorkbooks(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := must(os.ReadFile(workbook))
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// An encrypted workbook: LibreOffice's --convert-to cannot set a
	// password, so excelize encrypts one (ECMA-376 agile encryption, as
	// Excel does).
	enc := excelize.NewFile()
	if err := enc.SetCellStr("Sheet1", "A1", "id"); err != nil {
		t.Fatal(err)
	}
	encrypted := filepath.Join(dir, "encrypted.xlsx")
	if err := enc.SaveAs(encrypted, excelize.Options{Password: "secret"}); err != nil {
		t.Fatal(err)
	}
	empty := excelize.NewFile()
	emptySheet := filepath.Join(dir, "empty-sheet.xlsx")
	if err := empty.SaveAs(emptySheet); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo.xlsx")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	ole := append([]byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}, make([]byte, 1024)...)
	tests := []struct {
		name, path string
		wantErr    []string
	}{
		{"encrypted", encrypted, []string{"password-protected", "without a password"}},
		{"damaged", write("damaged.xlsx", good[:len(good)/2]), []string{"not a readable .xlsx workbook", "damaged"}},
		{"a CSV named .xlsx", write("csv.xlsx", []byte("id,name\n1,x\n")), []string{"not an .xlsx workbook", ".csv"}},
		{"an old .xls named .xlsx", write("old.xlsx", ole), []string{"Excel 97-2003", "save it as Excel Workbook (.xlsx)"}},
		{"empty file", write("empty.xlsx", nil), []string{"the file is empty"}},
		{"empty sheet", emptySheet, []string{`sheet "Sheet1" is empty`}},
		{"a FIFO", fifo, []string{"not a regular file"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			_, err := roster.ReadFile(t.Context(), tt.path, nil, smartfloSchema())
			checkErr(t, err, append(tt.wantErr, tt.path))
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("took %v", took)
			}
		})
	}
}

// TestWorkbookStopsWithItsContext returns the context's cause at once
// from a workbook whose reading was canceled.
func TestWorkbookStopsWithItsContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancelCause(t.Context())
	cancel(errors.New("stopped by the test"))
	_, err := roster.ReadFile(ctx, workbook, nil, smartfloSchema())
	if err == nil || !strings.Contains(err.Error(), "stopped by the test") {
		t.Errorf("error %v, want the context's cause", err)
	}
}

// TestNumberFormatKinds classifies number format codes as Excel and
// LibreOffice write them.
func TestNumberFormatKinds(t *testing.T) {
	t.Parallel()
	for code, want := range map[string]string{
		"General": "number", "0": "number", "0.00E+00": "number", "#,##0.00": "number", "@": "number",
		`[$₹]#,##0.00`: "number", `[Red]0.00;[Blue]-0.00`: "number", `"TRUE";"TRUE";"FALSE"`: "number",
		`0" days"`: "number", `\d0`: "number", `_-* #,##0_-`: "number", "0000000000000": "number",
		"dd/mm/yyyy": "date", "d-mmm-yy": "date", "mmmm": "date", `[$-409]mmmm d, yyyy`: "date", "YYYY-MM-DD": "date",
		"h:mm": "time", "mm:ss": "time", "[h]:mm:ss": "time", "h:mm AM/PM": "time", "[ss]": "time",
		`dd\.mm\.yyyy\ hh:mm`: "datetime", "m/d/yy h:mm": "datetime", "yyyy-mm-dd hh:mm:ss": "datetime",
	} {
		if got := roster.CodeKind(code); got != want {
			t.Errorf("CodeKind(%q) = %s, want %s", code, got, want)
		}
	}
}

// FuzzReadWorkbook reads any bytes as a workbook: an error or rows, never
// a panic or a hang.
func FuzzReadWorkbook(f *testing.F) {
	f.Add(must(os.ReadFile(workbook)))
	f.Add([]byte("PK\x03\x04"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(t.TempDir(), "fuzz.xlsx")
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		rows, err := roster.ReadFile(t.Context(), p, nil, smartfloSchema())
		if err == nil {
			for _, r := range rows {
				if r.Sheet < 2 {
					t.Errorf("row %d has sheet row %d, below its header", r.N, r.Sheet)
				}
			}
		}
	})
}
