package roster_test

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/rostersync/rostersync/sync/roster"
)

// hrMap is testdata/hr_mapping.csv as ReadMap gives it.
var hrMap = map[string]string{
	"Employee No": "", "Smartflo ID": "id", "Full Name": "name", "Work E-mail": "email",
	"Mobile": "number", "Straße": "", "Job Title": "designation", "Leaver": "block_agent",
}

func withMap(m map[string]string) roster.Schema {
	s := smartfloSchema()
	s.Map = m
	return s
}

func TestReadMapFixture(t *testing.T) {
	var w warnings
	s := smartfloSchema()
	s.Warn = w.warn
	m, err := roster.ReadMap(t.Context(), "testdata/hr_mapping.csv", s)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(m, hrMap) {
		t.Errorf("map\n got %q\nwant %q", m, hrMap)
	}
	if len(w) != 1 || !strings.Contains(w[0], "mapping testdata/hr_mapping.csv: the mapping file is not valid UTF-8 (line 7); read as Windows-1252 (save it as UTF-8 to say otherwise)") {
		t.Errorf("warnings %q, want one about the mapping file's encoding", w)
	}

	// The HR export it is for.
	s.Map = m
	rows, err := roster.ReadFile(t.Context(), "testdata/hr_export.csv", nil, s)
	if err != nil {
		t.Fatal(err)
	}
	checkRows(t, rows, []want{
		ok("314678", map[string]any{
			"name": "José Müller", "email": "jose@example.com", "number": "+919810000001",
			"designation": "Team lead", "block_agent": false,
		}),
		bad(`row 2: field number: "919810000002" lacks the leading +`),
		ok("370823", map[string]any{"name": "Anders Ångström"}),
	})
}

func TestReadMapErrors(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		name    string
		in      string
		want    map[string]string
		wantErr []string
	}{
		{
			name: "header in any case, padded, the key, blank lines",
			in:   " COLUMN , Field \r\nSmartflo ID,ID\r\n,\r\n\r\nMobile , Number \r\nNotes,\r\n",
			want: map[string]string{"Smartflo ID": "id", "Mobile": "number", "Notes": ""},
		},
		{
			name: "semicolons",
			in:   "column;field\nMobile;number\nFull Name, first;name\n",
			want: map[string]string{"Mobile": "number", "Full Name, first": "name"},
		},
		{name: "header only", in: "column,field\n", want: map[string]string{}},
		{name: "empty", in: "", wantErr: []string{"empty", "column,field"}},
		{name: "wrong header", in: "col,field\nMobile,number\n", wantErr: []string{"line 1: the header must be column,field, not col,field"}},
		{name: "header too long", in: "column,field,note\n", wantErr: []string{"line 1: the header must be column,field"}},
		{name: "header swapped", in: "field,column\n", wantErr: []string{"line 1: the header must be column,field"}},
		{
			name:    "unknown field, with a near one",
			in:      "column,field\nFull Name,name\nMobile,numbr\n",
			wantErr: []string{`line 3: column "Mobile": unknown field "numbr": did you mean "number"?`},
		},
		{
			name:    "a column mapped twice",
			in:      "column,field\nMobile,number\nFull Name,name\n mobile ,designation\n",
			wantErr: []string{`line 4: column "mobile" is mapped twice (line 2 too)`},
		},
		{
			name:    "a column mapped twice to the same field",
			in:      "column,field\nMobile,number\nMOBILE,number\n",
			wantErr: []string{`line 3: column "MOBILE" is mapped twice (line 2 too)`},
		},
		{name: "no column name", in: "column,field\n,name\n", wantErr: []string{`line 2: no column name for field "name"`}},
		{name: "too many cells", in: "column,field\nMobile,number,x\n", wantErr: []string{"line 2 has 3 cells, the header has 2"}},
		{name: "bad quoting", in: "column,field\n\"Mobile,number\n", wantErr: []string{"line 2", "not valid CSV"}},
		{
			name: "every bad line is told",
			in:   "column,field\nA,nmae\nB,name\nb,email\nC\n",
			wantErr: []string{
				`line 2: column "A": unknown field "nmae": did you mean "name"?`,
				`line 4: column "b" is mapped twice (line 3 too)`,
				"line 5 has 1 cells, the header has 2",
			},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "_")+".csv")
			if err := os.WriteFile(p, []byte(c.in), 0o600); err != nil {
				t.Fatal(err)
			}
			m, err := roster.ReadMap(t.Context(), p, smartfloSchema())
			if c.wantErr != nil {
				checkErr(t, err, append(c.wantErr, "mapping "+p))
				if m != nil {
					t.Errorf("map %v returned with the error", m)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(m, c.want) {
				t.Errorf("map\n got %q\nwant %q", m, c.want)
			}
		})
	}
	t.Run("missing file", func(t *testing.T) {
		_, err := roster.ReadMap(t.Context(), filepath.Join(dir, "nope.csv"), smartfloSchema())
		if !errors.Is(err, os.ErrNotExist) {
			t.Errorf("error %v is not ErrNotExist", err)
		}
	})
	t.Run("the key of the run", func(t *testing.T) {
		p := filepath.Join(dir, "key.csv")
		if err := os.WriteFile(p, []byte("column,field\nWork E-mail,email\nSmartflo ID,id\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		s := smartfloSchema()
		s.Key = "email"
		_, err := roster.ReadMap(t.Context(), p, s)
		checkErr(t, err, []string{`line 3: column "Smartflo ID": unknown field "id"`})
	})
}

func TestReadMapped(t *testing.T) {
	m := map[string]string{" mobile ": "number", "Full Name": "name", "Notes": "", "Smartflo ID": "id", "HR": "", "contact.work": "email"}
	runReadCases(t, roster.CSV, []readCase{
		{
			name:   "mapped, ignored and unmapped columns, in any case",
			schema: withMap(m),
			in:     "SMARTFLO ID,Full name, Mobile ,notes,designation\n1,Asha,+91 98100 00001,left early,Lead\n",
			rows:   []want{ok("1", map[string]any{"name": "Asha", "number": "+919810000001", "designation": "Lead"})},
		},
		{
			name:   "a mapped name goes through the map, not as the field of that name",
			schema: withMap(map[string]string{"name": "designation", "full name": "name", "id": "id"}),
			in:     "id,name,full name\n1,Lead,Asha\n",
			rows:   []want{ok("1", map[string]any{"name": "Asha", "designation": "Lead"})},
		},
		{
			name:   "a field's own column can be ignored",
			schema: withMap(map[string]string{"email": ""}),
			in:     "id,email\n1,not-an-email\n",
			rows:   []want{ok("1", nil)},
		},
		{
			name:    "an unmapped unknown column stops the run, a mapped name suggested",
			schema:  withMap(m),
			in:      "Smartflo ID,Mobil\n1,x\n",
			wantErr: []string{`unknown column "Mobil": did you mean "mobile"?`},
		},
		{
			name:    "two columns for one field",
			schema:  withMap(m),
			in:      "id,Mobile,number\n1,+919810000001,+919810000002\n",
			wantErr: []string{`columns 2 ("Mobile") and 3 ("number") both give number`},
		},
		{
			name:    "two columns for the key",
			schema:  withMap(m),
			in:      "id,Smartflo ID\n1,1\n",
			wantErr: []string{`columns 1 ("id") and 2 ("Smartflo ID") both give the key id`},
		},
		{
			name:    "a mapping to an unknown field",
			schema:  withMap(map[string]string{"Full Name": "nmae"}),
			in:      "id\n1\n",
			wantErr: []string{`mapping column "Full Name": unknown field "nmae": did you mean "name"?`},
		},
		{
			name:    "a mapping with one column twice",
			schema:  withMap(map[string]string{"Mobile": "number", "mobile": "designation"}),
			in:      "id\n1\n",
			wantErr: []string{"is mapped twice"},
		},
	})
	runReadCases(t, roster.JSON, []readCase{
		{
			name:   "JSON: mapped names, dotted; an ignored object ignores what it holds",
			schema: withMap(m),
			in: `[{"Smartflo ID": 1, "Full Name": "Asha", "contact": {"work": "asha@example.com"},
			       "HR": {"grade": 7, "cost": {"centre": "x"}}, "notes": null}]`,
			rows: []want{ok("1", map[string]any{"name": "Asha", "email": "asha@example.com"})},
		},
		{
			name:   "JSON: a mapped name and the field itself",
			schema: withMap(m),
			in:     `[{"id": 1, "Mobile": "+919810000001", "number": "+919810000001"}, {"id": 2, "mobile": "+919810000002"}]`,
			rows:   []want{bad("row 1", `"Mobile" and "number" are the same field`), ok("2", map[string]any{"number": "+919810000002"})},
		},
		{
			name:    "JSON: an unknown name stops the run",
			schema:  withMap(m),
			in:      `[{"id": 1, "HRX": {"grade": 7}}]`,
			wantErr: []string{`unknown column "HRX.grade"`},
		},
	})
}
