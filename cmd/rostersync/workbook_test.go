package main

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"

	"github.com/rostersync/rostersync/report"
)

// The workbook LibreOffice made of the fixtures (see
// sync/roster/testdata/workbooks/make_workbooks.sh).
const workbookFixture = "workbooks/staff.xlsx"

// sheetRow matches what a workbook row's error adds to the CSV's.
var sheetRow = regexp.MustCompile(` \(sheet row \d+\)`)

// reportOf reads a run's report by row.
func reportOf(t *testing.T, h *harness, n int) map[int]report.Row {
	t.Helper()
	return readReport(t, filepath.Join(h.dir, "r.csv"), n)
}

// TestWorkbookSheetsLeaveTheFakeAsTheirCSV applies each sheet of the
// workbook and the CSV file holding the same values against fresh fakes:
// the same exit code, the same final state, the same row statuses, and
// the same errors but for the sheet row they add.
func TestWorkbookSheetsLeaveTheFakeAsTheirCSV(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	agentIDs := filepath.Join(dir, "agent_ids.csv") // the Agent ids sheet's values, as a CSV file would hold them
	if err := os.WriteFile(agentIDs, []byte("id,user_for_cdr.type,user_for_cdr.value\n"+
		"314678,agent,0502842370097\n370822,agent,0502842370097|0502842370098\n370823,agent,502842370098\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		sheet, csv string
		code       int
	}{
		{"", "smartflo_clean.csv", exitOK}, // the first sheet, Staff
		{"Phones", "smartflo_phone_no_plus.csv", exitRowsFailed},
		{"Agent ids", agentIDs, exitRowsFailed},
	}
	for _, tt := range tests {
		t.Run(tt.csv, func(t *testing.T) {
			t.Parallel()
			csvPath := tt.csv
			if !filepath.IsAbs(csvPath) {
				csvPath = fixtures + csvPath
			}
			want, wantRes, wantH := exportRun(t, csvPath)
			args := []string{}
			if tt.sheet != "" {
				args = append(args, "--sheet", tt.sheet)
			}
			got, gotRes, gotH := exportRun(t, fixtures+workbookFixture, args...)
			if wantRes.code != tt.code || gotRes.code != tt.code {
				t.Fatalf("exit %d (CSV) and %d (workbook), want %d\n%s\n%s", wantRes.code, gotRes.code, tt.code, wantRes.stderr, gotRes.stderr)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("final state differs from the CSV's:\n got %+v\nwant %+v", got, want)
			}
			csvRows, xlsxRows := reportOf(t, wantH, 3), reportOf(t, gotH, 3)
			for n, c := range csvRows {
				x := xlsxRows[n]
				if x.Status != c.Status || x.Key != c.Key || x.Fields != c.Fields || sheetRow.ReplaceAllString(x.Error, "") != c.Error {
					t.Errorf("row %d: workbook %s %q %q %q; CSV %s %q %q %q", n, x.Status, x.Key, x.Fields, x.Error, c.Status, c.Key, c.Fields, c.Error)
				}
				if x.Status == "failed" && !sheetRow.MatchString(x.Error) {
					t.Errorf("row %d's error does not name its sheet row: %q", n, x.Error)
				}
			}
		})
	}
}

// TestWorkbookKeepsWhatCSVMangles applies the agent ids Excel mangles in
// CSV (a leading 0 dropped, scientific notation): the CSV fails those
// rows, the workbook, where they are stored as text, applies them.
func TestWorkbookKeepsWhatCSVMangles(t *testing.T) {
	t.Parallel()
	_, csvRes, csvH := exportRun(t, fixtures+"smartflo_agent_ids_mangled.csv")
	users, xlsxRes, xlsxH := exportRun(t, fixtures+workbookFixture, "--sheet", "Agent ids")
	if csvRes.code != exitRowsFailed || xlsxRes.code != exitRowsFailed {
		t.Fatalf("exit %d (CSV), %d (workbook); want 1 for both (the last sheet row holds a number)", csvRes.code, xlsxRes.code)
	}
	csvRows, xlsxRows := reportOf(t, csvH, 3), reportOf(t, xlsxH, 3)
	for _, n := range []int{1, 2} {
		if csvRows[n].Status != "failed" || xlsxRows[n].Status != "applied" {
			t.Errorf("row %d: CSV %s %q, workbook %s %q; want failed, then applied", n, csvRows[n].Status, csvRows[n].Error, xlsxRows[n].Status, xlsxRows[n].Error)
		}
	}
	if u := users[1]; !reflect.DeepEqual(u.UsersForCDR.Value, []string{"0502842370097", "0502842370098"}) {
		t.Errorf("user 370822's agent ids = %q", u.UsersForCDR.Value)
	}
	if r := xlsxRows[3]; r.Status != "failed" || !strings.Contains(r.Error, "row 3 (sheet row 4): field user_for_cdr.value") {
		t.Errorf("row 3 (a number in the sheet): %s %q", r.Status, r.Error)
	}
}

// TestWorkbookPlanErrorsNameTheSheetRow fails rows when planning (ids no
// user has): their errors, in the report and the plan, name the sheet row.
func TestWorkbookPlanErrorsNameTheSheetRow(t *testing.T) {
	t.Parallel()
	_, res, h := exportRun(t, fixtures+workbookFixture, "--sheet", "Types")
	if res.code != exitRowsFailed {
		t.Fatalf("exit %d\n%s", res.code, res.stderr)
	}
	rows := reportOf(t, h, 9)
	for n, want := range map[int]string{
		1: `row 1 (sheet row 2): no user with id "1"`,
		7: `row 7 (sheet row 8): field designation: cell B8 shows the error #DIV/0!`,
		9: `row 9 (sheet row 10): cell D10 has a value, but its column has no header`,
	} {
		if !strings.Contains(rows[n].Error, want) {
			t.Errorf("row %d: %q, want %q", n, rows[n].Error, want)
		}
	}
	if !strings.Contains(res.stdout, `✗ row 1 (sheet row 2): no user with id "1"`) {
		t.Errorf("the plan does not name the sheet row:\n%s", res.stdout)
	}
}

// TestUnreadableWorkbookStopsBeforeAnyRequest runs an encrypted and a
// damaged workbook: exit 2, not one request, and a message that says why.
func TestUnreadableWorkbookStopsBeforeAnyRequest(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	enc := excelize.NewFile()
	encrypted := filepath.Join(dir, "encrypted.xlsx")
	if err := enc.SaveAs(encrypted, excelize.Options{Password: "secret"}); err != nil {
		t.Fatal(err)
	}
	good := must(os.ReadFile(fixtures + workbookFixture))
	damaged := filepath.Join(dir, "damaged.xlsx")
	if err := os.WriteFile(damaged, good[:len(good)-200], 0o600); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{encrypted: "password-protected", damaged: "not a readable .xlsx workbook"} {
		t.Run(filepath.Base(path), func(t *testing.T) {
			t.Parallel()
			_, res, h := exportRun(t, path)
			if res.code != exitNotStarted || len(h.requests()) != 0 {
				t.Fatalf("exit %d after %d requests, want 2 before any\n%s", res.code, len(h.requests()), res.stderr)
			}
			if !strings.Contains(res.stderr, want) {
				t.Errorf("the error does not say %q:\n%s", want, res.stderr)
			}
			if _, err := os.Stat(filepath.Join(h.dir, "r.csv")); err == nil {
				t.Error("a report was written")
			}
		})
	}
}
