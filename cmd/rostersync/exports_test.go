package main

import (
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/rostersync/rostersync/sync/vendors/smartflo/smartflotest"
)

const fixtures = "../../sync/roster/testdata/"

// exportUsers are the users the roster fixtures name, before any change.
func exportUsers() []smartflotest.User {
	u := func(id int64, name, email, number string) smartflotest.User {
		return smartflotest.User{ID: id, Name: name, Email: email, Number: number, Designation: "Agent", LoginID: name[:3],
			RoleID: 54631, RoleName: "Agent", AgentID: "0502842370001", UsersForCDR: smartflotest.CDR{Type: "all"}}
	}
	return []smartflotest.User{
		u(314678, "Jose Muller", "jose.old@example.com", "+919810000009"),
		u(370822, "Zoe Renee", "zoe@example.com", "+919810000008"),
		u(370823, "Anders Angstrom", "anders@example.com", "+919810000007"),
	}
}

// exportRun applies a fixture against a fresh fake and returns the fake's
// users afterwards, with the run's result.
func exportRun(t *testing.T, fixture string, args ...string) ([]smartflotest.User, result, *harness) {
	t.Helper()
	h := &harness{t: t, target: "smartflo", dir: t.TempDir()}
	h.sf = smartflotest.New(smartflotest.Config{Token: testToken}, exportUsers())
	h.fake = h.sf
	h.srv = httptest.NewServer(h.fake)
	t.Cleanup(h.srv.Close)
	h.env = map[string]string{"ROSTERSYNC_TOKEN": testToken, "XDG_STATE_HOME": h.dir}
	if !filepath.IsAbs(fixture) && !strings.HasPrefix(fixture, fixtures) {
		fixture = fixtures + fixture
	}
	res := h.run("apply", append([]string{"--roster", fixture, "--report", filepath.Join(h.dir, "r.csv"),
		"--max-block-share", "50"}, args...)...)
	return h.sf.Users(), res, h
}

// TestExcelExportsReachTheCleanState applies the same roster as saved by
// Excel and HR tools (BOM and CRLF, German ';', Windows-1252, UTF-16
// "Unicode text") and checks each leaves the target exactly as the clean
// UTF-8 file does.
func TestExcelExportsReachTheCleanState(t *testing.T) {
	t.Parallel()
	want, res, _ := exportRun(t, "smartflo_clean.csv")
	if res.code != exitOK {
		t.Fatalf("clean file: exit %d\n%s", res.code, res.stderr)
	}
	if u := want[0]; u.Name != "José Müller" || u.Number != "+919810000001" || u.Designation != "Lead, Ops" {
		t.Fatalf("the clean file did not apply: %+v", u)
	}
	for _, fixture := range []string{"smartflo_utf8_bom_crlf.csv", "smartflo_excel_de.csv", "smartflo_cp1252.csv", "smartflo_unicode_text.csv"} {
		t.Run(fixture, func(t *testing.T) {
			got, res, _ := exportRun(t, fixture)
			if res.code != exitOK {
				t.Fatalf("exit %d\n%s", res.code, res.stderr)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("final state differs from the clean file's:\n got %+v\nwant %+v", got, want)
			}
			warned := strings.Contains(res.stderr, "not valid UTF-8") && strings.Contains(res.stderr, "Windows-1252")
			if warned != (fixture == "smartflo_cp1252.csv") {
				t.Errorf("warning about the encoding: %v\n%s", warned, res.stderr)
			}
		})
	}
}

// TestExcelMangledPhones fails exactly the rows whose phone Excel turned
// into scientific notation or stripped of its +, naming row and field.
func TestExcelMangledPhones(t *testing.T) {
	t.Parallel()
	for fixture, want := range map[string]string{
		"smartflo_phone_scientific.csv": "E+11",
		"smartflo_phone_no_plus.csv":    "leading +",
	} {
		t.Run(fixture, func(t *testing.T) {
			_, res, h := exportRun(t, fixture)
			if res.code != exitRowsFailed {
				t.Fatalf("exit %d, want 1\n%s", res.code, res.stderr)
			}
			failed := 0
			for _, r := range readReport(t, filepath.Join(h.dir, "r.csv"), 3) {
				if r.Status == "failed" {
					failed++
					if !strings.Contains(r.Error, "field number") || !strings.Contains(r.Error, want) || !strings.HasPrefix(r.Error, "row ") {
						t.Errorf("row %d error %q: want it to name the row, the field number and %q", r.Row, r.Error, want)
					}
				}
			}
			if failed != 1 {
				t.Errorf("%d rows failed, want exactly the mangled one", failed)
			}
		})
	}
}

// TestHRExportWithMapping applies an HR system's Windows-1252 export whose
// columns are not field names, through a mapping file that also ignores
// columns: names and titles land, the leaver is blocked, and the mobile
// number that lost its + fails its row alone.
func TestHRExportWithMapping(t *testing.T) {
	t.Parallel()
	users, res, h := exportRun(t, "hr_export.csv", "--map", fixtures+"hr_mapping.csv")
	if res.code != exitRowsFailed {
		t.Fatalf("exit %d, want 1 (one bad phone)\n%s", res.code, res.stderr)
	}
	rows := readReport(t, filepath.Join(h.dir, "r.csv"), 3)
	if rows[1].Status != "applied" || users[0].Name != "José Müller" || users[0].Designation != "Team lead" || users[0].Blocked {
		t.Errorf("row 1: %+v; user %+v", rows[1], users[0])
	}
	if rows[2].Status != "failed" || !strings.Contains(rows[2].Error, "field number") {
		t.Errorf("row 2: %+v, want failed on its number", rows[2])
	}
	if rows[3].Status != "applied" || rows[3].Fields != "name" || users[2].Name != "Anders Ångström" {
		t.Errorf("row 3 (a name, the other cells empty): %+v, want only the name applied; user %+v", rows[3], users[2])
	}
}

// TestOffboardingByEmail blocks the users on a list of emails, in another
// case and padded, with --match email and --set block_agent=true.
func TestOffboardingByEmail(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "smartflo")
	roster := h.file("leavers.csv", "Email\n ROHIT.SHARMA@example.com\npriya.nair@example.com \n")
	out := filepath.Join(h.dir, "r.csv")
	res := h.run("apply", "--roster", roster, "--report", out, "--match", "email", "--set", "block_agent=true")
	if res.code != exitOK || res.writes != 2 {
		t.Fatalf("exit %d, %d writes; want 0, 2\n%s", res.code, res.writes, res.stderr)
	}
	for _, id := range []int64{314702, 314735} {
		if u, _ := h.sf.User(id); !u.Blocked {
			t.Errorf("user %d not blocked", id)
		}
	}
	if !strings.Contains(res.stdout, "BLOCK") || !strings.Contains(res.stdout, "2 of 30 users would be blocked") {
		t.Errorf("the plan should mark the blocks and the share:\n%s", res.stdout)
	}
	if got := h.patchBodies(); !reflect.DeepEqual(got, map[string][]string{"314702": {"block_agent"}, "314735": {"block_agent"}}) {
		t.Errorf("PATCH bodies %v, want only block_agent", got)
	}
}

// TestClearingAField clears a designation on purpose with (clear), while
// an empty cell beside it leaves the name as it is.
func TestClearingAField(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "smartflo")
	roster := h.file("roster.csv", "id,name,designation\n314702,,(CLEAR)\n")
	res := h.run("apply", "--roster", roster, "--report", filepath.Join(h.dir, "r.csv"))
	if res.code != exitOK || res.writes != 1 {
		t.Fatalf("exit %d, %d writes\n%s", res.code, res.writes, res.stderr)
	}
	if got := h.patchBodies(); !reflect.DeepEqual(got, map[string][]string{"314702": {"designation"}}) {
		t.Errorf("PATCH bodies %v, want only designation", got)
	}
	if u, _ := h.sf.User(314702); u.Designation != "" || u.Name != "Rohit Sharma" {
		t.Errorf("user = %q / %q, want the designation cleared and the name kept", u.Name, u.Designation)
	}
}
