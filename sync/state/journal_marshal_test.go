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
