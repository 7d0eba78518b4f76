package roster_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/rostersync/rostersync/sync/model"
	"github.com/rostersync/rostersync/sync/roster"
)

// checkBounded fails a fuzz run whose row kept a value past the limits
// or holding a control character other than tab and newline.
func checkBounded(t *testing.T, n int, v model.Value) {
	t.Helper()
	total := 0
	var check func(x any)
	check = func(x any) {
		switch x := x.(type) {
		case string:
			if utf8.RuneCountInString(x) > model.MaxText {
				t.Fatalf("row %d: %s holds %d characters", n, v.Field.Name, utf8.RuneCountInString(x))
			}
			for _, r := range x {
				if r != '\t' && r != '\n' && (r < 0x20 || r >= 0x7f && r <= 0x9f) {
					t.Fatalf("row %d: %s holds the control character %U", n, v.Field.Name, r)
				}
			}
			total += utf8.RuneCountInString(x)
		case []any:
			for _, e := range x {
				check(e)
			}
		}
	}
	check(v.V)
	if total > model.MaxList {
		t.Fatalf("row %d: %s holds %d characters in all", n, v.Field.Name, total)
	}
}

// TestCellBounds reads rows whose cells are too long or hold control
// characters, in CSV and JSON: each such row fails alone, naming its row
// and field and never repeating the cell (a password's least of all); the
// other rows are read.
func TestCellBounds(t *testing.T) {
	long := strings.Repeat("é", model.MaxText+1) // characters, not bytes, count
	atLimit := strings.Repeat("é", model.MaxText)
	secret := "pw-" + strings.Repeat("s", model.MaxText)
	items := strings.TrimSuffix(strings.Repeat("1234567890|", model.MaxList/10+1), "|")
	longItem := "101|" + strings.Repeat("9", model.MaxText+1)
	tests := []struct {
		name    string
		cell    string // the designation, or caller_id, or password cell
		column  string
		wantErr []string // nil: the row is fine
	}{
		{"at the limit", atLimit, "designation", nil},
		{"one past it", long, "designation", []string{"row 1: field designation: 1001 characters, more than the 1000 a value may hold"}},
		{"a NUL byte", "Team\x00lead", "designation", []string{"row 1: field designation: a control character (U+0000) at character 5"}},
		{"an escape sequence", "\x1b[2Jlead", "designation", []string{"(U+001B) at character 1"}},
		{"DEL", "lead\x7f", "designation", []string{"(U+007F)"}},
		{"a C1 control", "le\u0085ad", "designation", []string{"(U+0085)"}},
		{"carriage return", "lead\rx", "designation", []string{"(U+000D)"}},
		{"tab and newline are text", "Team\tlead\nnight shift", "designation", nil},
		{"a list past its limit", items, "caller_id", []string{"field caller_id:", "more than the 10000 a value may hold"}},
		{"a list item past the limit", longItem, "caller_id", []string{"field caller_id: an item of the list: 1001 characters"}},
		{"a secret past the limit", secret, "password", []string{"field password: 1003 characters"}},
		{"a secret with a control character", "pw\x01" + "xyz", "password", []string{"field password: a control character (U+0001) at character 3"}},
		{"a boolean past the limit", strings.Repeat("y", 5000), "block_agent", []string{"field block_agent: 5000 characters"}},
	}
	for _, tt := range tests {
		for _, format := range []roster.Format{roster.CSV, roster.JSONL} {
			t.Run(fmt.Sprintf("%s/%s", tt.name, format), func(t *testing.T) {
				var in string
				switch format {
				case roster.CSV:
					in = fmt.Sprintf("id,name,%s\n1,Asha,%s\n2,Ravi,\n", tt.column, csvQuote(tt.cell))
				case roster.JSONL:
					v := any(tt.cell)
					if tt.column == "caller_id" {
						v = strings.Split(tt.cell, "|")
					}
					b, _ := json.Marshal(map[string]any{"id": "1", "name": "Asha", tt.column: v})
					in = string(b) + "\n{\"id\": \"2\", \"name\": \"Ravi\"}\n"
				}
				rows, err := roster.Read(t.Context(), strings.NewReader(in), format, smartfloSchema())
				if err != nil {
					t.Fatal(err)
				}
				if len(rows) != 2 || rows[1].Err != nil {
					t.Fatalf("rows %+v: the second row must be read", rows)
				}
				if tt.wantErr == nil {
					if rows[0].Err != nil {
						t.Fatalf("row 1: %v", rows[0].Err)
					}
					return
				}
				checkErr(t, rows[0].Err, tt.wantErr)
				if msg := rows[0].Err.Error(); len(msg) > 300 || strings.Contains(msg, "sss") || strings.Contains(msg, "xyz") {
					t.Errorf("the error repeats the cell: %.200q", msg)
				}
			})
		}
	}
}

func csvQuote(s string) string {
	if strings.ContainsAny(s, ",\"\n\r") {
		return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
	}
	return s
}

// TestSetBounds checks --set values against the same limits.
func TestSetBounds(t *testing.T) {
	tab := smartfloSchema().Table
	for _, expr := range []string{"designation=a\x07b", "designation=" + strings.Repeat("x", model.MaxText+1)} {
		if _, err := roster.ParseSet(tab, expr); err == nil || len(err.Error()) > 200 {
			t.Errorf("ParseSet(%.30q) = %v; want a short error", expr, err)
		}
	}
}

// TestCellBoundsInObjects checks the items of DNL's lists of objects.
func TestCellBoundsInObjects(t *testing.T) {
	in := `[{"user_id": 1, "auth_ip": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2\u0000"}]}, {"user_id": 2, "auth_ip": [{"ip": "10.0.0.3"}]}]`
	rows, err := roster.Read(t.Context(), strings.NewReader(in), roster.JSON, dnlSchema())
	if err != nil {
		t.Fatal(err)
	}
	checkErr(t, rows[0].Err, []string{"row 1: field auth_ip: an item of the list: a control character (U+0000) at character 9"})
	if rows[1].Err != nil {
		t.Errorf("row 2: %v", rows[1].Err)
	}
}
