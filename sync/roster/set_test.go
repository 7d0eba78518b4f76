package roster_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/rostersync/rostersync/sync/model"
	"github.com/rostersync/rostersync/sync/roster"
)

func TestParseSet(t *testing.T) {
	tbl := smartfloSchema().Table
	for _, c := range []struct {
		expr    string
		field   string
		v       any
		wantErr []string
	}{
		{expr: "block_agent=true", field: "block_agent", v: true},
		{expr: " Block_Agent = YES ", field: "block_agent", v: true},
		{expr: "international_outbound=0", field: "international_outbound", v: false},
		{expr: "designation=(CLEAR)", field: "designation", v: ""},
		{expr: "designation=Left = gone", field: "designation", v: "Left = gone"},
		{expr: "caller_id=101|102", field: "caller_id", v: []any{"101", "102"}},
		{expr: "caller_id=(clear)", field: "caller_id", v: []any{}},
		{expr: "number=+91 98100-00001", field: "number", v: "+919810000001"},
		{expr: "user_for_cdr.type=all", field: "user_for_cdr.type", v: "all"},
		{expr: "block_agnt=true", wantErr: []string{`--set block_agnt=true: unknown field "block_agnt": did you mean "block_agent"?`}},
		{expr: "zzzzzzzz=1", wantErr: []string{`unknown field "zzzzzzzz"`, "valid fields: agent_group, block_agent"}},
		{expr: "block_agent", wantErr: []string{`--set "block_agent": want field=value`}},
		{expr: "=true", wantErr: []string{"want field=value"}},
		{expr: "", wantErr: []string{"want field=value"}},
		{expr: "block_agent=", wantErr: []string{"--set block_agent: give a value, or (clear) to clear the field"}},
		{expr: "block_agent=  ", wantErr: []string{"give a value"}},
		{expr: "block_agent=maybe", wantErr: []string{`--set block_agent: "maybe" is not a boolean`}},
		{expr: "block_agent=(clear)", wantErr: []string{"--set block_agent: a boolean cannot be cleared"}},
		{expr: "number=919810000001", wantErr: []string{"--set number:", "lacks the leading +"}},
		{expr: "password=hunter2", wantErr: []string{"--set password: password is secret"}},
		{expr: "id=5", wantErr: []string{`unknown field "id"`}},
	} {
		t.Run(c.expr, func(t *testing.T) {
			v, err := roster.ParseSet(tbl, c.expr)
			if c.wantErr != nil {
				checkErr(t, err, c.wantErr)
				if strings.Contains(err.Error(), "hunter2") {
					t.Errorf("the error %q repeats the secret", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if v.Field != tbl.Field(c.field) || !reflect.DeepEqual(v.V, c.v) {
				t.Errorf("got %v = %#v, want %s = %#v", v.Field, v.V, c.field, c.v)
			}
		})
	}
}

// sets parses setters against the Smartflo table.
func sets(t *testing.T, exprs ...string) []model.Value {
	t.Helper()
	var out []model.Value
	for _, e := range exprs {
		v, err := roster.ParseSet(smartfloSchema().Table, e)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	return out
}

func TestReadWithSet(t *testing.T) {
	offboard := roster.Schema{Table: smartfloSchema().Table, Key: "email", Set: sets(t, "block_agent=true", "designation=(clear)")}
	block := smartfloSchema()
	block.Set = sets(t, "block_agent=yes")
	mapped := block
	mapped.Map = map[string]string{"Leaver": "block_agent"}
	dup := smartfloSchema()
	dup.Set = sets(t, "block_agent=yes", "block_agent=no")
	onKey := roster.Schema{Table: smartfloSchema().Table, Key: "email", Set: sets(t, "email=a@example.com")}
	foreign := dnlSchema()
	foreign.Set = sets(t, "block_agent=yes")

	runReadCases(t, roster.CSV, []readCase{
		{
			name:   "an offboarding list of emails blocks everyone on it",
			schema: offboard,
			in:     "email\nasha@example.com\n\nravi@example.com\n",
			rows: []want{
				ok("asha@example.com", map[string]any{"block_agent": true, "designation": ""}),
				ok("ravi@example.com", map[string]any{"block_agent": true, "designation": ""}),
			},
		},
		{
			name:   "with other columns, sorted in; a failing row still fails",
			schema: block,
			in:     "name,id,agent_group\nZed,1,g1\nAsha,,\nOm,3,\n",
			rows: []want{
				ok("1", map[string]any{"name": "Zed", "block_agent": true, "agent_group": list("g1")}),
				bad("row 2", "id is empty"),
				ok("3", map[string]any{"name": "Om", "block_agent": true}),
			},
		},
		{
			name:    "a column that sets the same field stops the run",
			schema:  block,
			in:      "id,Block_Agent\n1,no\n",
			wantErr: []string{`column "Block_Agent" sets block_agent, which --set block_agent also sets`},
		},
		{
			name:    "so does a mapped one",
			schema:  mapped,
			in:      "id,Leaver\n1,no\n",
			wantErr: []string{`column "Leaver" (mapped to block_agent) sets block_agent, which --set block_agent also sets`},
		},
		{name: "a field set twice", schema: dup, in: "id\n1\n", wantErr: []string{"--set block_agent is given twice"}},
		{name: "the key set", schema: onKey, in: "email\na@example.com\n", wantErr: []string{"--set email: email is the key column"}},
		{name: "another target's field", schema: foreign, in: "user_id\n1\n", wantErr: []string{"--set: a value without a field of the target"}},
	})
	runReadCases(t, roster.JSON, []readCase{
		{
			name:   "JSON: every element",
			schema: block,
			in:     `[{"id": 1}, {"id": 2, "name": "x", "email": "bad"}]`,
			rows:   []want{ok("1", map[string]any{"block_agent": true}), bad("row 2", "field email")},
		},
		{
			name:    "JSON: a key that sets the same field",
			schema:  block,
			in:      `[{"id": 1}, {"id": 2, "block_agent": false}]`,
			wantErr: []string{"element 2", `column "block_agent" sets block_agent, which --set block_agent also sets`},
		},
	})
	runReadCases(t, roster.JSONL, []readCase{
		{
			name:   "JSON Lines: every line; a bad line fails alone",
			schema: block,
			in:     "{\"id\": 1}\n{\"id\": \n",
			rows:   []want{ok("1", map[string]any{"block_agent": true}), bad("row 2", "not valid JSON")},
		},
	})
}
