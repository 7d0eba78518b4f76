package state

import (
	"encoding/json"
	"testing"
	"time"
)

// TestMarshalEntry holds the hand-written change entries to what
// encoding/json writes for them, byte for byte.
func TestMarshalEntry(t *testing.T) {
	exit := 1
	at := time.Date(2026, 12, 2, 2, 0, 0, 123456789, time.UTC)
	entries := []Entry{
		{Run: "r1", Type: "change", At: at, Row: 3, Key: "16", User: "16", Fields: []FieldChange{
			{Field: "active", Before: json.RawMessage(`true`), After: json.RawMessage(`false`)},
			{Field: "passwd", Secret: true},
			{Field: "auth_ip", Unknown: true, After: json.RawMessage(` [ {"ip": "203.0.113.60"} ] `)},
			{Field: "name", Before: json.RawMessage(`"A <b> & \u2028 \"q\""`), After: json.RawMessage(`"Caf\u00e9 x"`)},
		}},
		{Run: "r<2>", Type: "change", At: at.Add(-at.Sub(time.Time{})), Key: "k\u00e9y\n"},
		{Run: "r3", Type: "change", At: time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("X", 3600))},
		{Run: "r3b", Type: "change", At: time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("X", 86400))}, // a zone JSON cannot write
		{Run: "r3c", Type: "change", At: at, Fields: []FieldChange{{Field: "name", Before: json.RawMessage("\"raw \u2028 and \xff\"")}}},
		{Run: "r4", Type: "start", At: at, Command: "apply", Target: "dnl"},
		{Run: "r5", Type: "end", At: at, Counts: map[string]int{"applied": 2}, Exit: &exit},
	}
	for i, e := range entries {
		want, werr := json.Marshal(e)
		got, err := marshalEntry(e)
		if (err == nil) != (werr == nil) || string(got) != string(want) {
			t.Errorf("entry %d:\n got %s (%v)\nwant %s (%v)", i, got, err, want, werr)
		}
	}
	bad := Entry{Run: "r", Type: "change", At: at, Fields: []FieldChange{{Field: "f", After: json.RawMessage(`{`)}}}
	if _, err := marshalEntry(bad); err == nil {
		t.Error("a value that is not JSON was written")
	}
}

// FuzzMarshalEntry holds the hand-written change entry to json.Marshal's
// bytes, or to its refusal, for any text, value and zone.
func FuzzMarshalEntry(f *testing.F) {
	f.Add("r1", "k\u00e9y", `"A <b> & \u2028"`, 3600, int64(123456789))
	f.Add("r\u2028", "\xff", "\"raw \u2028\"", 86400, int64(0))
	f.Add("", "", ` [ 1 , 2 ] `, -3600, int64(-1))
	f.Fuzz(func(t *testing.T, run, key, before string, zone int, nanos int64) {
		at := time.Unix(0, nanos).In(time.FixedZone("Z", zone))
		e := Entry{Run: run, Type: "change", At: at, Key: key, User: key,
			Fields: []FieldChange{{Field: key, Before: json.RawMessage(before), After: json.RawMessage(`true`)}}}
		want, werr := json.Marshal(e)
		got, err := marshalEntry(e)
		if (err == nil) != (werr == nil) || string(got) != string(want) {
			t.Errorf("got %s (%v)\nwant %s (%v)", got, err, want, werr)
		}
	})
}
