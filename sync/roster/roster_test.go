package roster_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/rostersync/rostersync/sync/model"
	"github.com/rostersync/rostersync/sync/roster"
	"github.com/rostersync/rostersync/sync/vendors/dnl"
	"github.com/rostersync/rostersync/sync/vendors/smartflo"
)

func smartfloSchema() roster.Schema {
	return roster.Schema{Table: smartflo.Target.Table, Key: smartflo.Target.Key}
}

func dnlSchema() roster.Schema {
	return roster.Schema{Table: dnl.Target.Table, Key: dnl.Target.Key}
}

// want is what one row should read as: its key and values, or (when errs
// is set) a failure whose message holds every one of errs.
type want struct {
	key  string
	vals map[string]any
	errs []string
}

func ok(key string, vals map[string]any) want { return want{key: key, vals: vals} }

func bad(errs ...string) want { return want{errs: errs} }

// values gives a row's values by field name, failing on a field set twice.
func values(t *testing.T, r model.Row) map[string]any {
	t.Helper()
	out := map[string]any{}
	for _, v := range r.Values {
		if _, dup := out[v.Field.Name]; dup {
			t.Errorf("row %d sets %s twice", r.N, v.Field.Name)
		}
		out[v.Field.Name] = v.V
	}
	return out
}

func checkRows(t *testing.T, rows []model.Row, wants []want) {
	t.Helper()
	if len(rows) != len(wants) {
		for _, r := range rows {
			t.Logf("got row %d key %q err %v values %v", r.N, r.Key, r.Err, values(t, r))
		}
		t.Fatalf("got %d rows, want %d", len(rows), len(wants))
	}
	for i, r := range rows {
		w := wants[i]
		if r.N != i+1 {
			t.Errorf("row %d: N = %d", i+1, r.N)
		}
		if !slices.IsSortedFunc(r.Values, func(a, b model.Value) int { return strings.Compare(a.Field.Name, b.Field.Name) }) {
			t.Errorf("row %d: values are not sorted by name", i+1)
		}
		if w.errs != nil {
			if r.Err == nil {
				t.Errorf("row %d: no error, want one with %q (key %q, values %v)", i+1, w.errs, r.Key, values(t, r))
				continue
			}
			for _, s := range w.errs {
				if !strings.Contains(r.Err.Error(), s) {
					t.Errorf("row %d: error %q does not contain %q", i+1, r.Err, s)
				}
			}
			if len(r.Values) != 0 {
				t.Errorf("row %d failed but keeps values %v", i+1, values(t, r))
			}
			continue
		}
		if r.Err != nil {
			t.Errorf("row %d: unexpected error %v", i+1, r.Err)
			continue
		}
		if r.Key != w.key {
			t.Errorf("row %d: key %q, want %q", i+1, r.Key, w.key)
		}
		got := values(t, r)
		if w.vals == nil {
			w.vals = map[string]any{}
		}
		if !reflect.DeepEqual(got, w.vals) {
			t.Errorf("row %d: values\n got %#v\nwant %#v", i+1, got, w.vals)
		}
	}
}

func checkErr(t *testing.T, err error, wantErr []string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one with %q", wantErr)
	}
	for _, s := range wantErr {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not contain %q", err, s)
		}
	}
}

type readCase struct {
	name    string
	schema  roster.Schema
	in      string
	rows    []want
	wantErr []string // the run stops with an error holding these
}

func runReadCases(t *testing.T, format roster.Format, cases []readCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := c.schema
			if s.Table == nil {
				s = smartfloSchema()
			}
			rows, err := roster.Read(t.Context(), strings.NewReader(c.in), format, s)
			if c.wantErr != nil {
				checkErr(t, err, c.wantErr)
				if rows != nil {
					t.Errorf("rows %v returned with the error", rows)
				}
				return
			}
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			checkRows(t, rows, c.rows)
		})
	}
}

func list(items ...any) []any {
	if items == nil {
		return []any{}
	}
	return items
}

func TestReadCSV(t *testing.T) {
	runReadCases(t, roster.CSV, []readCase{
		{
			name: "plain",
			in:   "id,name,email\n1,Asha,asha@example.com\n2,Ravi,ravi@example.com\n",
			rows: []want{
				ok("1", map[string]any{"name": "Asha", "email": "asha@example.com"}),
				ok("2", map[string]any{"name": "Ravi", "email": "ravi@example.com"}),
			},
		},
		{
			name: "no newline at the end",
			in:   "id,name\n1,Asha",
			rows: []want{ok("1", map[string]any{"name": "Asha"})},
		},
		{
			name: "header names in any case and padded",
			in:   " ID , Name ,EMAIL\n1,Asha,asha@example.com\n",
			rows: []want{ok("1", map[string]any{"name": "Asha", "email": "asha@example.com"})},
		},
		{
			name: "key column anywhere",
			in:   "name,id\nAsha,1\n",
			rows: []want{ok("1", map[string]any{"name": "Asha"})},
		},
		{
			name: "Excel: BOM and CRLF",
			in:   "\ufeffid,name,block_agent\r\n1,Asha,Yes\r\n2,Ravi,n\r\n",
			rows: []want{
				ok("1", map[string]any{"name": "Asha", "block_agent": true}),
				ok("2", map[string]any{"name": "Ravi", "block_agent": false}),
			},
		},
		{
			name: "semicolon header (German Excel)",
			in:   "id;name;caller_id\n1;Müller, Hans;101|102\n",
			rows: []want{ok("1", map[string]any{"name": "Müller, Hans", "caller_id": list("101", "102")})},
		},
		{
			name: "semicolons inside quotes do not outvote commas",
			in:   "id,\"name\",designation\n1,\"a;b;c\",x\n",
			rows: []want{ok("1", map[string]any{"name": "a;b;c", "designation": "x"})},
		},
		{
			name: "tab delimited",
			in:   "id\tname\temail\n1\tAsha, K\tasha@example.com\n",
			rows: []want{ok("1", map[string]any{"name": "Asha, K", "email": "asha@example.com"})},
		},
		{
			name: "quoted cells with commas, quotes and newlines",
			in:   "id,name,designation\n1,\"Doe, Jane\",\"Lead \"\"Ops\"\"\nsecond line\"\n2,Bob,x\n",
			rows: []want{
				ok("1", map[string]any{"name": "Doe, Jane", "designation": "Lead \"Ops\"\nsecond line"}),
				ok("2", map[string]any{"name": "Bob", "designation": "x"}),
			},
		},
		{
			name: "header only",
			in:   "id,name\n",
			rows: nil,
		},
		{
			name: "header only, Excel",
			in:   "\ufeffid;name\r\n\r\n\r\n",
			rows: nil,
		},
		{
			name: "blank lines are not rows",
			in:   "id,name\n\n1,Asha\n\n\n2,Ravi\n",
			rows: []want{ok("1", map[string]any{"name": "Asha"}), ok("2", map[string]any{"name": "Ravi"})},
		},
		{name: "empty file", in: "", wantErr: []string{"empty"}},
		{name: "only a BOM", in: "\ufeff", wantErr: []string{"empty"}},
		{name: "only blank lines", in: "\r\n\r\n", wantErr: []string{"empty"}},
		{
			name:    "duplicate column",
			in:      "id,email,Email\n1,a@example.com,b@example.com\n",
			wantErr: []string{"columns 2 and 3", `"Email"`},
		},
		{name: "duplicate key column", in: "id,name,ID\n1,a,1\n", wantErr: []string{"columns 1 and 3"}},
		{name: "missing key column", in: "name,email\nAsha,a@example.com\n", wantErr: []string{`no "id" column`}},
		{
			name:    "unknown column with a near name",
			in:      "id,emial\n1,a@example.com\n",
			wantErr: []string{`unknown column "emial"`, `did you mean "email"?`},
		},
		{
			name:    "unknown dotted column",
			in:      "id,user_for_cdr.typ\n1,all\n",
			wantErr: []string{`unknown column "user_for_cdr.typ"`, `did you mean "user_for_cdr.type"?`},
		},
		{
			name:    "unknown column far from any name",
			in:      "id,zzzzzzzzzzzz\n1,x\n",
			wantErr: []string{`unknown column "zzzzzzzzzzzz"`, "valid columns: id, "},
		},
		{name: "unnamed column", in: "id,,name\n1,x,y\n", wantErr: []string{"column 2 has no name"}},
		{name: "header not valid CSV", in: "id,\"name\n", wantErr: []string{"header"}},
		{
			name: "empty key cell fails its row only",
			in:   "id,name\n1,Asha\n,Ravi\n  ,Mina\n4,Om\n",
			rows: []want{
				ok("1", map[string]any{"name": "Asha"}),
				bad("row 2", "id is empty"),
				bad("row 3", "id is empty"),
				ok("4", map[string]any{"name": "Om"}),
			},
		},
		{
			name: "an empty cell leaves the field, cells are trimmed",
			in:   "id,name,email,designation\n 1 ,, bob@example.com ,\n",
			rows: []want{ok("1", map[string]any{"email": "bob@example.com"})},
		},
		{
			name: "(clear) clears text and lists",
			in:   "id,designation,caller_id,user_for_cdr.value\n1,(clear), (clear) ,(clear)\n",
			rows: []want{ok("1", map[string]any{"designation": "", "caller_id": list(), "user_for_cdr.value": list()})},
		},
		{
			name: "(clear) in any case, padded",
			in:   "id,designation,caller_id,name\n1,(CLEAR), (Clear) ,(cLeAr)\n",
			rows: []want{ok("1", map[string]any{"designation": "", "caller_id": list(), "name": ""})},
		},
		{
			name: "(clear) inside other text is text",
			in:   "id,designation\n1,(clear) soon\n",
			rows: []want{ok("1", map[string]any{"designation": "(clear) soon"})},
		},
		{
			name: "phone numbers are held without separators",
			in:   "id,number\n1,+91 98100-00001\n2,+91 (981) 000.0002\n3,+49 (0)30 1234567\n4,\n5,(clear)\n",
			rows: []want{
				ok("1", map[string]any{"number": "+919810000001"}),
				ok("2", map[string]any{"number": "+919810000002"}),
				ok("3", map[string]any{"number": "+49301234567"}),
				ok("4", nil),
				ok("5", map[string]any{"number": ""}),
			},
		},
		{
			name: "Excel-mangled numbers and agent ids fail their row, naming row, field and cause",
			in: "id;number;user_for_cdr.value\n" +
				"1;9,19876E+11;\n" +
				"2;919810000001;\n" +
				"3;09810000001;\n" +
				"4;+919810000004;502842370097\n" +
				"5;+919810000005;0502842370097|5.02842E+11\n" +
				"6;+919810000006;0502842370097\n",
			rows: []want{
				bad("row 1: field number: looks like Excel turned the number into 9,19876E+11, which has lost digits; format the column as Text and export again"),
				bad(`row 2: field number: "919810000001" lacks the leading +, which Excel drops`),
				bad(`row 3: field number: "09810000001" is a local number`),
				bad(`row 4: field user_for_cdr.value: "502842370097" has 12 digits, agent ids have 13: Excel dropped the leading 0(s)`),
				bad("row 5: field user_for_cdr.value: looks like Excel turned the number into 5.02842E+11"),
				ok("6", map[string]any{"number": "+919810000006", "user_for_cdr.value": list("0502842370097")}),
			},
		},
		{
			name: "(clear) on a boolean fails the row",
			in:   "id,block_agent\n1,(clear)\n",
			rows: []want{bad("row 1", "field block_agent", "cannot be cleared")},
		},
		{
			name: "booleans in every spelling",
			in:   "id,block_agent\n1,true\n2,FALSE\n3,Yes\n4,no\n5,Y\n6,n\n7,1\n8,0\n9,True\n",
			rows: []want{
				ok("1", map[string]any{"block_agent": true}),
				ok("2", map[string]any{"block_agent": false}),
				ok("3", map[string]any{"block_agent": true}),
				ok("4", map[string]any{"block_agent": false}),
				ok("5", map[string]any{"block_agent": true}),
				ok("6", map[string]any{"block_agent": false}),
				ok("7", map[string]any{"block_agent": true}),
				ok("8", map[string]any{"block_agent": false}),
				ok("9", map[string]any{"block_agent": true}),
			},
		},
		{
			name: "a bad cell fails its row only, naming row and field",
			in:   "id,name,block_agent,email\n1,Asha,yes,a@example.com\n2,Ravi,maybe,ravi\n3,Om,no,\n",
			rows: []want{
				ok("1", map[string]any{"name": "Asha", "block_agent": true, "email": "a@example.com"}),
				bad("row 2", "field block_agent", `"maybe"`, "field email", `"ravi"`),
				ok("3", map[string]any{"name": "Om", "block_agent": false}),
			},
		},
		{
			name: "an address with a display name is not an email",
			in:   "id,email\n1,Asha <asha@example.com>\n",
			rows: []want{bad("row 1", "field email")},
		},
		{
			name: "arrays are |-separated",
			in:   "id,caller_id,agent_group\n1,101| 102 ||103|,g1\n",
			rows: []want{ok("1", map[string]any{"caller_id": list("101", "102", "103"), "agent_group": list("g1")})},
		},
		{
			name: "dotted nested columns",
			in:   "id,user_for_cdr.type,user_for_cdr.value\n1,agent,0502842370097|0502842370098\n2,everyone,\n",
			rows: []want{
				ok("1", map[string]any{"user_for_cdr.type": "agent", "user_for_cdr.value": list("0502842370097", "0502842370098")}),
				bad("row 2", "field user_for_cdr.type", "everyone"),
			},
		},
		{
			name: "a malformed line fails its row only",
			in:   "id,name\n1,As\"ha\n2,Ravi\n",
			rows: []want{bad("row 1", "line 2", "not valid CSV"), ok("2", map[string]any{"name": "Ravi"})},
		},
		{
			name: "a bare quote in the first cell fails its row only",
			in:   "id,name\n1\"x,Asha\n2,Ravi\n",
			rows: []want{bad("row 1", "line 2", "not valid CSV"), ok("2", map[string]any{"name": "Ravi"})},
		},
		{
			name: "a stray quote after a quoted cell fails its row only",
			in:   "id,name\n\"1\"x,Asha\n2,Ravi\n",
			rows: []want{bad("row 1", "line 2", "not valid CSV"), ok("2", map[string]any{"name": "Ravi"})},
		},
		{
			name: "an unterminated quote at the end fails the last row",
			in:   "id,name\n1,Asha\n2,\"Ravi\n",
			rows: []want{ok("1", map[string]any{"name": "Asha"}), bad("row 2", "line 3", "not valid CSV")},
		},
		{
			name: "line numbers count the lines of multi-line cells",
			in:   "id,designation\n1,\"a\nb\nc\"\n2,x\"y\n",
			rows: []want{ok("1", map[string]any{"designation": "a\nb\nc"}), bad("row 2", "line 5")},
		},
		{
			name: "wrong cell counts fail their row only",
			in:   "id,name,email\n1,Asha\n2,Ravi,r@example.com,extra\n3,Om,o@example.com\n",
			rows: []want{
				bad("row 1", "line 2 has 2 cells, the header has 3"),
				bad("row 2", "line 3 has 4 cells, the header has 3"),
				ok("3", map[string]any{"name": "Om", "email": "o@example.com"}),
			},
		},
		{
			name:   "a run that matches on another column",
			schema: roster.Schema{Table: smartfloSchema().Table, Key: "email"},
			in:     "Email,name\nasha@example.com,Asha\n",
			rows:   []want{ok("asha@example.com", map[string]any{"name": "Asha"})},
		},
		{
			name:   "the key may be login_id: it is the key, not a field the row sets",
			schema: roster.Schema{Table: smartfloSchema().Table, Key: "login_id"},
			in:     " Login_ID ,name,email\n asha ,Asha,asha@example.com\n,Ravi,\n",
			rows:   []want{ok("asha", map[string]any{"name": "Asha", "email": "asha@example.com"}), bad("row 2", "login_id is empty")},
		},
		{
			name:   "DNL: the key may be name",
			schema: roster.Schema{Table: dnlSchema().Table, Key: "name"},
			in:     "NAME,first_name,active\nasha.rao,Asha,no\n",
			rows:   []want{ok("asha.rao", map[string]any{"first_name": "Asha", "active": false})},
		},
		{
			name:    "with the key on email, the id column is unknown",
			schema:  roster.Schema{Table: smartfloSchema().Table, Key: "email"},
			in:      "id,email\n1,a@example.com\n",
			wantErr: []string{`unknown column "id"`},
		},
		{
			name:    "with the key on email, no email column",
			schema:  roster.Schema{Table: smartfloSchema().Table, Key: "email"},
			in:      "name\nAsha\n",
			wantErr: []string{`no "email" column`},
		},
		{
			name:   "DNL: auth_ip as a |-list, ints, nested client panels",
			schema: dnlSchema(),
			in: "user_id,auth_ip,client_limits,reseller_id,client.is_panel_trunks,client.carrier_name\n" +
				"7,10.0.0.1|10.0.0.2,1|2,(clear),YES,Acme\n" +
				"8,,1|x,,,\n" +
				"9,,,12.5,,\n",
			rows: []want{
				ok("7", map[string]any{
					"auth_ip":                list("10.0.0.1", "10.0.0.2"),
					"client_limits":          list(int64(1), int64(2)),
					"reseller_id":            nil,
					"client.is_panel_trunks": true,
					"client.carrier_name":    "Acme",
				}),
				bad("row 2", "field client_limits", `"x"`),
				bad("row 3", "field reseller_id", "whole number"),
			},
		},
		{
			name:    "DNL: Smartflo's key is an unknown column",
			schema:  dnlSchema(),
			in:      "id,name\n1,x\n",
			wantErr: []string{`unknown column "id"`},
		},
	})
}

func TestReadJSON(t *testing.T) {
	d := dnlSchema()
	runReadCases(t, roster.JSON, []readCase{
		{
			name:   "nested objects and arrays of objects",
			schema: d,
			in: `[{"user_id": 7, "client": {"is_panel_trunks": true, "carrier_name": "Acme"},
			       "auth_ip": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}], "client_limits": [{"client_id": 3}]}]`,
			rows: []want{ok("7", map[string]any{
				"client.is_panel_trunks": true,
				"client.carrier_name":    "Acme",
				"auth_ip":                list("10.0.0.1", "10.0.0.2"),
				"client_limits":          list(int64(3)),
			})},
		},
		{
			name:   "auth_ip as a |-string and as a list of strings; dotted names",
			schema: d,
			in:     `[{"user_id": "7", "auth_ip": "10.0.0.1|10.0.0.2"}, {"user_id": "8", "auth_ip": ["10.0.0.3"], "client.is_panelaccess": "no"}]`,
			rows: []want{
				ok("7", map[string]any{"auth_ip": list("10.0.0.1", "10.0.0.2")}),
				ok("8", map[string]any{"auth_ip": list("10.0.0.3"), "client.is_panelaccess": false}),
			},
		},
		{
			name:   "null clears",
			schema: d,
			in:     `[{"user_id": 7, "last_name": null, "reseller_id": null, "auth_ip": null}]`,
			rows:   []want{ok("7", map[string]any{"last_name": "", "reseller_id": nil, "auth_ip": list()})},
		},
		{
			name:   "null on a boolean fails the row",
			schema: d,
			in:     `[{"user_id": 7, "active": null}, {"user_id": 8, "active": false}]`,
			rows:   []want{bad("row 1", "field active", "cannot be cleared"), ok("8", map[string]any{"active": false})},
		},
		{
			name:   "numbers as keys",
			schema: d,
			in:     `[{"user_id": 12}, {"user_id": 12345678901234567890}, {"user_id": " 13 "}, {"user_id": -4}]`,
			rows: []want{
				ok("12", nil),
				ok("12345678901234567890", nil),
				ok("13", nil),
				ok("-4", nil),
			},
		},
		{
			name:   "bad keys fail their row",
			schema: d,
			in:     `[{"user_id": true}, {"user_id": null}, {"user_id": ""}, {"name": "x"}, {"user_id": [1]}]`,
			rows: []want{
				bad("row 1", "user_id is not a string or number"),
				bad("row 2", "user_id is not a string or number"),
				bad("row 3", "user_id is empty"),
				bad("row 4", "user_id is empty"),
				bad("row 5", "user_id is not a string or number"),
			},
		},
		{
			name:    "a key that is an object names an unknown column",
			schema:  d,
			in:      `[{"user_id": {"a": 1}}]`,
			wantErr: []string{`unknown column "user_id.a"`},
		},
		{
			name:   "booleans as JSON booleans and as words; numbers are not booleans",
			schema: d,
			in:     `[{"user_id": 1, "active": true, "report_group": "Yes"}, {"user_id": 2, "active": 1}]`,
			rows: []want{
				ok("1", map[string]any{"active": true, "report_group": true}),
				bad("row 2", "field active", "not a boolean"),
			},
		},
		{
			name:   "elements that are not objects fail their row",
			schema: d,
			in:     `[{"user_id": 1}, 5, "x", null, [], {"user_id": 6}]`,
			rows: []want{
				ok("1", nil),
				bad("row 2", "not a JSON object"),
				bad("row 3", "not a JSON object"),
				bad("row 4", "not a JSON object"),
				bad("row 5", "not a JSON object"),
				ok("6", nil),
			},
		},
		{
			name:   "a bad value fails its row only",
			schema: d,
			in:     `[{"user_id": 1, "email": "nope", "reseller_id": "x"}, {"user_id": 2, "reseller_id": "5"}]`,
			rows: []want{
				bad("row 1", "field email", "field reseller_id"),
				ok("2", map[string]any{"reseller_id": int64(5)}),
			},
		},
		{
			name:   "the same field under two spellings fails the row",
			schema: d,
			in:     `[{"user_id": 1, "Email": "a@example.com", "email": "b@example.com"}, {"user_id": 2, "email": "c@example.com"}]`,
			rows: []want{
				bad("row 1", `"Email" and "email" are the same field`),
				ok("2", map[string]any{"email": "c@example.com"}),
			},
		},
		{
			name:   "a nested and a dotted name for one field fail the row",
			schema: d,
			in:     `[{"user_id": 1, "client": {"is_panel_trunks": true}, "client.is_panel_trunks": false}]`,
			rows:   []want{bad("row 1", `"client.is_panel_trunks" is given twice`)},
		},
		{
			name:   "the key twice fails the row",
			schema: d,
			in:     `[{"user_id": 1, "USER_ID": 2}]`,
			rows:   []want{bad("row 1", "same field")},
		},
		{name: "empty array", schema: d, in: " [ ] \n", rows: nil},
		{name: "BOM", schema: d, in: "\ufeff[{\"user_id\": 1}]", rows: []want{ok("1", nil)}},
		{name: "empty file", schema: d, in: "", wantErr: []string{"empty"}},
		{name: "only blanks", schema: d, in: " \n\t", wantErr: []string{"empty"}},
		{name: "an object, not an array", schema: d, in: `{"user_id": 1}`, wantErr: []string{"array", ".jsonl"}},
		{name: "not JSON", schema: d, in: "user_id,name\n", wantErr: []string{"not JSON"}},
		{
			name:    "an unknown key stops the run",
			schema:  d,
			in:      `[{"user_id": 1}, {"user_id": 2, "emial": "x"}]`,
			wantErr: []string{"element 2", `unknown column "emial"`, `did you mean "email"?`},
		},
		{
			name:    "an unknown nested key stops the run",
			schema:  d,
			in:      `[{"user_id": 1, "client": {"is_panel_trunk": true}}]`,
			wantErr: []string{`unknown column "client.is_panel_trunk"`, `did you mean "client.is_panel_trunks"?`},
		},
		{
			name:    "a syntax error stops the run",
			schema:  d,
			in:      `[{"user_id": 1}, {"user_id": }]`,
			wantErr: []string{"element 2", "not valid JSON"},
		},
		{name: "a missing comma stops the run", schema: d, in: `[{"user_id": 1} {"user_id": 2}]`, wantErr: []string{"JSON"}},
		{name: "an array that does not end", schema: d, in: `[{"user_id": 1}`, wantErr: []string{"does not end"}},
		{name: "a trailing comma", schema: d, in: `[{"user_id": 1},]`, wantErr: []string{"element 2"}},
		{name: "two arrays", schema: d, in: `[{"user_id": 1}] [{"user_id": 2}]`, wantErr: []string{"more after the array"}},
		{name: "garbage after the array", schema: d, in: "[{\"user_id\": 1}]\nx", wantErr: []string{"more after the array"}},
		{name: "blanks after the array", schema: d, in: "[{\"user_id\": 1}]\r\n\r\n", rows: []want{ok("1", nil)}},
	})
}

func TestReadJSONL(t *testing.T) {
	d := dnlSchema()
	runReadCases(t, roster.JSONL, []readCase{
		{
			name:   "objects, CRLF, blank lines not counted",
			schema: d,
			in:     "{\"user_id\": 1, \"client\": {\"is_panel_trunks\": \"y\"}}\r\n\r\n   \n{\"user_id\": \"2\", \"auth_ip\": [{\"ip\": \"10.0.0.1\"}]}\r\n",
			rows: []want{
				ok("1", map[string]any{"client.is_panel_trunks": true}),
				ok("2", map[string]any{"auth_ip": list("10.0.0.1")}),
			},
		},
		{
			name:   "a bad line fails its row only, naming row and line",
			schema: d,
			in:     "{\"user_id\": 1}\n\n{\"user_id\": 2\n{\"user_id\": 3}\n",
			rows:   []want{ok("1", nil), bad("row 2 (line 3)", "not valid JSON"), ok("3", nil)},
		},
		{
			name:   "two objects on a line",
			schema: d,
			in:     "{\"user_id\": 1} {\"user_id\": 2}\n{\"user_id\": 3}\n",
			rows:   []want{bad("row 1", "not valid JSON"), ok("3", nil)},
		},
		{
			name:   "a stray bracket after an object",
			schema: d,
			in:     "{\"user_id\": 1}]\n{\"user_id\": 2}}\n{\"user_id\": 3}\n",
			rows:   []want{bad("row 1", "not valid JSON"), bad("row 2", "not valid JSON"), ok("3", nil)},
		},
		{
			name:   "a JSON array pasted into a .jsonl",
			schema: d,
			in:     "[\n{\"user_id\": 1},\n{\"user_id\": 2}\n]\n",
			rows:   []want{bad("row 1", "line 1"), bad("row 2", "line 2"), ok("2", nil), bad("row 4", "line 4")},
		},
		{
			name:   "a line that is not an object",
			schema: d,
			in:     "[1]\nnull\n\"x\"\n{\"user_id\": 4}\n",
			rows:   []want{bad("row 1", "not a JSON object"), bad("row 2", "not a JSON object"), bad("row 3", "not a JSON object"), ok("4", nil)},
		},
		{
			name:   "bad values and null",
			schema: d,
			in:     "{\"user_id\": 1, \"active\": \"maybe\"}\n{\"user_id\": 2, \"card_id\": null, \"first_name\": \"Asha\"}\n",
			rows: []want{
				bad("row 1", "field active"),
				ok("2", map[string]any{"card_id": nil, "first_name": "Asha"}),
			},
		},
		{name: "empty file", schema: d, in: "", rows: nil},
		{name: "BOM", schema: d, in: "\ufeff{\"user_id\": 1}\n", rows: []want{ok("1", nil)}},
		{
			name:    "an unknown key stops the run",
			schema:  d,
			in:      "{\"user_id\": 1}\n\n{\"user_id\": 2, \"frist_name\": \"x\"}\n",
			wantErr: []string{"line 3", `unknown column "frist_name"`, `did you mean "first_name"?`},
		},
		{
			name:    "a line too long to read stops the run",
			schema:  d,
			in:      "{\"user_id\": 1}\n{\"user_id\": 2, \"name\": \"" + strings.Repeat("x", 5<<20) + "\"}\n",
			wantErr: []string{"line 2: a record longer than 4 MiB"},
		},
	})
}

func TestFormatOf(t *testing.T) {
	for _, c := range []struct {
		path string
		want roster.Format
	}{
		{"-", roster.CSV},
		{"users.csv", roster.CSV},
		{"dir.json/USERS.CSV", roster.CSV},
		{"users.json", roster.JSON},
		{"users.Json", roster.JSON},
		{"users.jsonl", roster.JSONL},
		{"users.ndjson", roster.JSONL},
		{"users.txt", ""},
		{"users", ""},
		{"users.csv.gz", ""},
	} {
		t.Run(c.path, func(t *testing.T) {
			got, err := roster.FormatOf(c.path)
			if got != c.want {
				t.Errorf("FormatOf(%q) = %q, want %q", c.path, got, c.want)
			}
			if (err != nil) != (c.want == "") {
				t.Errorf("FormatOf(%q): error %v", c.path, err)
			}
			if err != nil && !strings.Contains(err.Error(), c.path) {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}
}

func TestReadUnknownFormat(t *testing.T) {
	_, err := roster.Read(t.Context(), strings.NewReader("id\n1\n"), "xml", smartfloSchema())
	checkErr(t, err, []string{`"xml"`})
}

// TestReadFile reads the fixtures in testdata as a user's files.
func TestReadFile(t *testing.T) {
	for _, c := range []struct {
		name   string
		path   string
		schema roster.Schema
		rows   []want
	}{
		{
			name:   "Excel export: BOM, CRLF, semicolons, quoted newline",
			path:   "testdata/excel_export.csv",
			schema: smartfloSchema(),
			rows: []want{
				ok("1", map[string]any{
					"name": "Müller, Hans", "email": "hans@example.com", "block_agent": true,
					"caller_id": list("101", "102"), "designation": "Lead; \"Ops\"\nsecond line",
				}),
				ok("2", map[string]any{"name": "Asha", "block_agent": false, "caller_id": list()}),
				bad("row 3", "field email", "field block_agent"),
			},
		},
		{
			name:   "DNL JSON",
			path:   "testdata/dnl.json",
			schema: dnlSchema(),
			rows: []want{
				ok("101", map[string]any{
					"first_name": "Asha", "active": true, "reseller_id": nil,
					"auth_ip":                list("10.0.0.1", "10.0.0.2"),
					"client.is_panel_trunks": true, "client.carrier_name": "Acme",
				}),
				ok("102", map[string]any{
					"auth_ip":               list("10.0.0.3", "10.0.0.4"),
					"client_limits":         list(int64(5), int64(6)),
					"client.is_panelaccess": false,
				}),
				bad("row 3", "field active", "perhaps"),
			},
		},
		{
			name:   "DNL JSON Lines",
			path:   "testdata/dnl.jsonl",
			schema: dnlSchema(),
			rows: []want{
				ok("101", map[string]any{"client.is_panel_trunks": true}),
				bad("row 2 (line 3)", "not valid JSON"),
				ok("103", map[string]any{"auth_ip": list("10.0.0.9")}),
			},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			rows, err := roster.ReadFile(t.Context(), c.path, nil, c.schema)
			if err != nil {
				t.Fatal(err)
			}
			checkRows(t, rows, c.rows)
		})
	}
}

func TestReadFileErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	s := smartfloSchema()

	t.Run("missing file", func(t *testing.T) {
		_, err := roster.ReadFile(t.Context(), filepath.Join(dir, "nope.csv"), nil, s)
		if !errors.Is(err, os.ErrNotExist) {
			t.Errorf("error %v is not ErrNotExist", err)
		}
	})
	t.Run("bad extension is refused before opening", func(t *testing.T) {
		_, err := roster.ReadFile(t.Context(), write("users.txt", "id\n1\n"), nil, s)
		checkErr(t, err, []string{"users.txt", ".csv", ".xlsx"})
	})
	t.Run("errors name the file", func(t *testing.T) {
		p := write("users.csv", "id,emial\n")
		_, err := roster.ReadFile(t.Context(), p, nil, s)
		checkErr(t, err, []string{p, `did you mean "email"?`})
	})
	t.Run("extension picks the format", func(t *testing.T) {
		p := write("users.NDJSON", "{\"id\": 5, \"name\": \"x\"}\n")
		rows, err := roster.ReadFile(t.Context(), p, nil, s)
		if err != nil {
			t.Fatal(err)
		}
		checkRows(t, rows, []want{ok("5", map[string]any{"name": "x"})})
	})
	t.Run("a directory", func(t *testing.T) {
		p := filepath.Join(dir, "sub.csv")
		if err := os.Mkdir(p, 0o700); err != nil {
			t.Fatal(err)
		}
		if _, err := roster.ReadFile(t.Context(), p, nil, s); err == nil {
			t.Error("reading a directory gave no error")
		}
	})
}

func TestReadFileStdin(t *testing.T) {
	// A slow pipe: one byte per read.
	in := iotest.OneByteReader(strings.NewReader("\ufeffid;name\r\n1;Asha\r\n"))
	rows, err := roster.ReadFile(t.Context(), "-", in, smartfloSchema())
	if err != nil {
		t.Fatal(err)
	}
	checkRows(t, rows, []want{ok("1", map[string]any{"name": "Asha"})})
}

// TestReadBrokenReader checks that an I/O error mid-file stops the run
// rather than passing for the end of the roster.
func TestReadBrokenReader(t *testing.T) {
	boom := errors.New("disk on fire")
	for _, c := range []struct {
		format roster.Format
		head   string
	}{
		{roster.CSV, "id,name\n1,Asha\n"},
		{roster.JSON, `[{"id": 1}, `},
		{roster.JSONL, "{\"id\": 1}\n"},
	} {
		t.Run(string(c.format), func(t *testing.T) {
			r := io.MultiReader(strings.NewReader(c.head), iotest.ErrReader(boom))
			rows, err := roster.Read(t.Context(), r, c.format, smartfloSchema())
			if !errors.Is(err, boom) {
				t.Errorf("got rows %v, error %v; want %v", rows, err, boom)
			}
		})
	}
}

// TestBigRoster checks row numbering past the 64 KiB the reader peeks at
// to sniff the delimiter.
func TestBigRoster(t *testing.T) {
	var b strings.Builder
	b.WriteString("id;name\n")
	const n = 5000
	for i := 1; i <= n; i++ {
		b.WriteString(strconv.Itoa(i) + ";name " + strconv.Itoa(i) + "\n")
	}
	rows, err := roster.Read(t.Context(), strings.NewReader(b.String()), roster.CSV, smartfloSchema())
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != n {
		t.Fatalf("%d rows, want %d", len(rows), n)
	}
	for i, r := range rows {
		if r.N != i+1 || r.Key != strconv.Itoa(i+1) || r.Err != nil {
			t.Fatalf("row %d: %+v", i+1, r)
		}
	}
}

// checkInvariants is what every roster must give, however broken: rows
// numbered from 1, each failed or naming its user, a failed row carrying
// no values, and no field set twice.
func checkInvariants(t *testing.T, rows []model.Row) {
	t.Helper()
	for i, r := range rows {
		if r.N != i+1 {
			t.Fatalf("row %d has N = %d", i+1, r.N)
		}
		if r.Err == nil && r.Key == "" {
			t.Fatalf("row %d has neither an error nor a key", i+1)
		}
		if r.Err != nil && len(r.Values) > 0 {
			t.Fatalf("row %d failed but keeps values", i+1)
		}
		if !slices.IsSortedFunc(r.Values, func(a, b model.Value) int { return strings.Compare(a.Field.Name, b.Field.Name) }) {
			t.Fatalf("row %d: values are not sorted by name", i+1)
		}
		seen := map[string]bool{}
		for _, v := range r.Values {
			if v.Field == nil {
				t.Fatalf("row %d has a value without a field", i+1)
			}
			checkBounded(t, i+1, v)
			if seen[v.Field.Name] {
				t.Fatalf("row %d sets %s twice", i+1, v.Field.Name)
			}
			seen[v.Field.Name] = true
		}
	}
}

func FuzzReadCSV(f *testing.F) {
	for _, seed := range []string{
		"",
		"\ufeff",
		"id,name,email\n1,Asha,asha@example.com\n",
		"\ufeffid;name;block_agent\r\n1;\"M\u00fcller, Hans\";Yes\r\n",
		"id\tname\n1\tx\n",
		"id,name\n1,\"a,\nb\"\n2,x\"y\n3\"z,q\n,\n4\n5,a,b\n",
		"id,caller_id,user_for_cdr.type\n1,101|102,all\n2,(clear),(clear)\n",
		"id,emial\n",
		"id,id\n",
		"name\nx\n",
		"id,name\n\"1,Asha\n",
		"\"id\"\"\",name\n",
		"id,block_agent\n1,maybe\n2,\n",
		"id,number,user_for_cdr.value\n1,9.19876E+11,502842370097\n2,+91 (0)98100-00001,(CLEAR)\n",
		"id,name\n1,Jos\xe9\n",
		"\xff\xfei\x00d\x00\n\x001\x00\n\x00",
		"id,designation,caller_id\n1,a\x00b,1|2\n2,\x1b[31mred,3\x7f\n3,\u0085,\t4\n",
		"id,designation\n1," + strings.Repeat("é", 1001) + "\n2,ok\n",
	} {
		f.Add([]byte(seed))
	}
	addFixtures(f, "testdata/*.csv")
	s := smartfloSchema()
	f.Fuzz(func(t *testing.T, data []byte) {
		rows, err := roster.Read(t.Context(), strings.NewReader(string(data)), roster.CSV, s)
		if err != nil {
			return
		}
		checkInvariants(t, rows)
	})
}

func FuzzReadJSON(f *testing.F) {
	for _, seed := range []string{
		"",
		"[]",
		`[{"user_id": 1, "client": {"is_panel_trunks": true}, "auth_ip": [{"ip": "10.0.0.1"}]}]`,
		`[{"user_id": "2", "auth_ip": "a|b", "active": null, "reseller_id": null}]`,
		`[{"user_id": 1, "Email": "a@b.co", "email": "c@d.co"}, 5, null, "x"]`,
		`[{"user_id": 1, "client": {"is_panelaccess": "no"}, "client.is_panelaccess": "yes"}]`,
		`[{"user_id": 1e3}, {"user_id": true}, {}]`,
		`[{"user_id": 1}] [`,
		`[{"user_id": 1},]`,
		`{"user_id": 1}`,
		`[{"user_id": 1, "client": null}]`,
		"\ufeff[{\"user_id\": 1, \"client_limits\": [{\"client_id\": 1}, {\"client_id\": null}]}]",
		"[{\"user_id\": 1, \"first_name\": \"Jos\xe9\"}]",
		`[{"user_id": 1, "first_name": "a\u0000b", "auth_ip": [{"ip": "\u0007"}]}, {"user_id": 2, "reseller_id": 1e999}]`,
	} {
		f.Add([]byte(seed))
	}
	addFixtures(f, "testdata/*.json")
	s := dnlSchema()
	f.Fuzz(func(t *testing.T, data []byte) {
		rows, err := roster.Read(t.Context(), strings.NewReader(string(data)), roster.JSON, s)
		if err != nil {
			return
		}
		checkInvariants(t, rows)
	})
}

func FuzzReadJSONL(f *testing.F) {
	for _, seed := range []string{
		"",
		"{\"user_id\": 1}\n",
		"{\"user_id\": 1, \"client\": {\"is_panel_trunks\": \"y\"}}\r\n\r\n{\"user_id\": 2}",
		"{\"user_id\": 1}]\n{bad\n[1]\nnull\n",
		"{\"user_id\": 1} {\"user_id\": 2}\n",
		"{\"user_id\": 1, \"USER_ID\": 2}\n{\"user_id\": \"\"}\n",
		"{\"user_id\": 1, \"auth_ip\": [{\"ip\": \"a\"}, \"b\"]}\n",
		"{\"user_id\": 1, \"frist_name\": 1}\n",
		"{\"user_id\": 1, \"last_name\": \"M\xfcller\"}\n",
	} {
		f.Add([]byte(seed))
	}
	addFixtures(f, "testdata/*.jsonl")
	s := dnlSchema()
	f.Fuzz(func(t *testing.T, data []byte) {
		rows, err := roster.Read(t.Context(), strings.NewReader(string(data)), roster.JSONL, s)
		if err != nil {
			return
		}
		checkInvariants(t, rows)
	})
}

// addFixtures adds the files matching pattern as seeds.
func addFixtures(f *testing.F, pattern string) {
	f.Helper()
	paths, err := filepath.Glob(pattern)
	if err != nil || len(paths) == 0 {
		f.Fatalf("no fixtures %s: %v", pattern, err)
	}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
}

// FuzzReadMapped reads CSV through a mapping and constant setters, in a
// named encoding or a detected one.
func FuzzReadMapped(f *testing.F) {
	for _, seed := range []string{
		"Smartflo ID,Full Name,Mobile,Notes\n1,Asha,+91 98100 00001,x\n",
		"Smartflo ID;Mobile;Leaver\n1;919810000001;yes\n",
		"id,Mobile,number\n1,2,3\n",
		"id,HR\n1,x\n",
	} {
		f.Add([]byte(seed), uint8(0))
	}
	for _, p := range []string{"testdata/hr_export.csv", "testdata/smartflo_cp1252.csv", "testdata/smartflo_unicode_text.csv"} {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		for enc := range uint8(4) {
			f.Add(data, enc)
		}
	}
	s := smartfloSchema()
	s.Map = hrMap
	s.Set = []model.Value{{Field: s.Table.Field("international_outbound"), V: false}}
	encodings := []string{"", "utf-8", "windows-1252", "utf-16"}
	f.Fuzz(func(t *testing.T, data []byte, enc uint8) {
		s := s
		s.Encoding = encodings[int(enc)%len(encodings)]
		warned := 0
		s.Warn = func(string) { warned++ }
		rows, err := roster.Read(t.Context(), struct{ io.Reader }{strings.NewReader(string(data))}, roster.CSV, s) // a pipe
		if warned > 1 || (warned > 0 && s.Encoding != "") {
			t.Fatalf("warned %d times reading as %q", warned, s.Encoding)
		}
		if err != nil {
			return
		}
		checkInvariants(t, rows)
		for _, r := range rows {
			if r.Err == nil && !slices.ContainsFunc(r.Values, func(v model.Value) bool { return v.Field.Name == "international_outbound" }) {
				t.Fatalf("row %d lacks the --set value", r.N)
			}
		}
	})
}

// FuzzReadMap checks that a mapping file either fails or gives only
// named columns, each once, mapped to a field, the key or "".
func FuzzReadMap(f *testing.F) {
	for _, seed := range []string{
		"column,field\nMobile,number\nNotes,\n",
		"Column;Field\r\nStra\xdfe;\r\n",
		"column,field\nA,nmae\nb,name\nB,email\nC\n",
		"column,field\n\"a,b\",id\n",
	} {
		f.Add([]byte(seed))
	}
	addFixtures(f, "testdata/hr_mapping.csv")
	s := smartfloSchema()
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := roster.ReadMapFrom(strings.NewReader(string(data)), s)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for col, target := range m {
			lc := strings.ToLower(col)
			if col == "" || col != strings.TrimSpace(col) || seen[lc] {
				t.Fatalf("column %q (seen: %v)", col, seen[lc])
			}
			seen[lc] = true
			if target != "" && target != s.Key && s.Table.Field(target) == nil {
				t.Fatalf("column %q maps to %q", col, target)
			}
		}
	})
}

// FuzzParseSet checks that a setter either fails or gives a value of a
// field that is not secret, which the field's kind can render.
func FuzzParseSet(f *testing.F) {
	for _, seed := range []string{"block_agent=true", "designation=(CLEAR)", "number=+91 98100 00001", "password=x", "x", "=", "caller_id=1||2"} {
		f.Add(seed)
	}
	tbl := smartfloSchema().Table
	f.Fuzz(func(t *testing.T, expr string) {
		v, err := roster.ParseSet(tbl, expr)
		if err != nil {
			return
		}
		if v.Field == nil || v.Field.Secret || tbl.Field(v.Field.Name) != v.Field {
			t.Fatalf("ParseSet(%q) gave field %v", expr, v.Field)
		}
		_ = v.Field.Kind.Format(v.V)
	})
}

// FuzzLineDecoder checks that the JSON Lines decoder, which keeps one
// json.Decoder from line to line, reads each line as a new decoder
// would: the same value, or a failure, whatever the lines before it.
func FuzzLineDecoder(f *testing.F) {
	for _, seed := range []string{
		"{\"a\": 1}\n{\"b\": [1, \"x\"]}",
		"\"x\"\nnull\n12\n1e5\n-\n{\"a\": 1}",
		"{\"a\": 1} {\"b\": 2}\n{\"a\": 1}]\n{\"c\": 3}",
		"{\"a\": \n{\"b\": 2}\ntrue\nfals\n{}",
		"[1, 2]\n\"unterminated\n{\"x\": \"\\u00e9\"}",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		decode := roster.LineDecoder()
		for line := range strings.SplitSeq(in, "\n") {
			text := []byte(strings.TrimSpace(line))
			if len(text) == 0 {
				continue
			}
			dec := json.NewDecoder(bytes.NewReader(text))
			dec.UseNumber()
			var want any
			wantOK := dec.Decode(&want) == nil && dec.InputOffset() == int64(len(text))
			got, gotOK := decode(text)
			if gotOK != wantOK || (wantOK && !reflect.DeepEqual(got, want)) {
				t.Fatalf("line %q: got %#v, %v; a new decoder gives %#v, %v", line, got, gotOK, want, wantOK)
			}
		}
	})
}

// TestReadCSVErrorOrder checks that a row's bad cells are named in the
// order of the file's columns, the record's own fault last, whatever
// order the reader checks them in.
func TestReadCSVErrorOrder(t *testing.T) {
	for _, c := range []struct {
		name, in, want string
	}{
		{
			name: "columns in name order",
			in:   "id,block_agent,email,number\n1,maybe,x,0123\n",
			want: `row 1: field block_agent: "maybe" is not a boolean`,
		},
		{
			name: "columns against name order",
			in:   "number,id,email,block_agent\n0123,1,x,maybe\n",
			want: `row 1: field number: "0123" is a local number`,
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			rows, err := roster.Read(t.Context(), strings.NewReader(c.in), roster.CSV, smartfloSchema())
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != 1 || rows[0].Err == nil {
				t.Fatalf("rows %+v, want one that fails", rows)
			}
			msg := rows[0].Err.Error()
			if !strings.HasPrefix(msg, c.want) {
				t.Errorf("error %q does not start with %q", msg, c.want)
			}
			// Each bad cell is named, in column order.
			header, _, _ := strings.Cut(c.in, "\n")
			var want []int
			for _, col := range strings.Split(header, ",") {
				if col != "id" {
					want = append(want, strings.Index(msg, "field "+col+":"))
				}
			}
			if !slices.IsSorted(want) || slices.Contains(want, -1) {
				t.Errorf("error %q does not name the bad cells in column order", msg)
			}
		})
	}
}

// TestBadCellsShowNoSecret checks that a roster error never quotes a
// secret: a misaligned CSV row (an unquoted comma in a password) fails on
// its cell count alone, and a bad password value is not repeated.
func TestBadCellsShowNoSecret(t *testing.T) {
	for _, c := range []struct {
		name, in string
		format   roster.Format
	}{
		{"comma in a password", "id,password,block_agent\n314678,Secr3t,Pa55,no\n", roster.CSV},
		{"a number for a password", `[{"id": 314678, "password": 98765432109876543210}]`, roster.JSON},
	} {
		t.Run(c.name, func(t *testing.T) {
			rows, err := roster.Read(t.Context(), strings.NewReader(c.in), c.format, smartfloSchema())
			if err != nil || len(rows) != 1 || rows[0].Err == nil {
				t.Fatalf("Read = %+v, %v; want one failed row", rows, err)
			}
			for _, secret := range []string{"Secr3t", "Pa55", "98765432109876543210"} {
				if strings.Contains(rows[0].Err.Error(), secret) {
					t.Errorf("error %q quotes the secret", rows[0].Err)
				}
			}
		})
	}
}
