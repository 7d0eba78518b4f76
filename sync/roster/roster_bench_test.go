package roster_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/rostersync/rostersync/sync/roster"
)

// benchRows is the size of the generated rosters the benchmarks read.
const benchRows = 10_000

// smartfloRecord is row i of the generated Smartflo roster, by column.
func smartfloRecord(i int) map[string]any {
	rec := map[string]any{
		"id":          fmt.Sprint(100000 + i),
		"name":        fmt.Sprintf("Agent %05d Rao", i),
		"email":       fmt.Sprintf("agent%05d@example.com", i),
		"number":      fmt.Sprintf("+91 98%03d %05d", i%1000, i),
		"designation": []string{"Team lead", "Agent", "Quality", "Floor manager"}[i%4],
		"block_agent": []string{"false", "true", "no", "yes"}[i%4],
		"caller_id":   fmt.Sprintf("+9180%08d|+9180%08d", i, i+1),
	}
	if i%10 == 3 {
		rec["caller_id"] = "" // an empty cell leaves the field as it is
	}
	return rec
}

var smartfloColumns = []string{"id", "name", "email", "number", "designation", "block_agent", "caller_id"}

// smartfloCSV is a Smartflo roster of n rows as an Excel export has it
// (a UTF-8 byte order mark, CRLF line ends, quoted cells where needed).
func smartfloCSV(n int) []byte {
	var b bytes.Buffer
	b.WriteString("\xef\xbb\xbfid,name,email,number,designation,block_agent,caller_id\r\n")
	for i := range n {
		rec := smartfloRecord(i)
		for j, c := range smartfloColumns {
			if j > 0 {
				b.WriteByte(',')
			}
			s := rec[c].(string)
			if c == "name" && i%7 == 0 {
				s = `"` + s + `, Jr."`
			}
			b.WriteString(s)
		}
		b.WriteString("\r\n")
	}
	return b.Bytes()
}

// smartfloJSON is the same roster as JSON objects, one per line (lines)
// or in one array.
func smartfloJSON(n int, lines bool) []byte {
	var b bytes.Buffer
	if !lines {
		b.WriteString("[\n")
	}
	for i := range n {
		rec := smartfloRecord(i)
		rec["block_agent"] = i%2 == 1
		if ids := rec["caller_id"].(string); ids != "" {
			rec["caller_id"] = []string{ids[:14], ids[15:]}
		} else {
			delete(rec, "caller_id")
		}
		line, err := json.Marshal(rec)
		if err != nil {
			panic(err)
		}
		b.Write(line)
		if !lines && i < n-1 {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	if !lines {
		b.WriteString("]\n")
	}
	return b.Bytes()
}

// dnlCSV is a DNL roster of n rows, semicolon-separated as a German Excel
// writes it, with dotted client.* columns.
func dnlCSV(n int) []byte {
	var b bytes.Buffer
	b.WriteString("user_id;name;email;first_name;last_name;active;user_type;role_id;auth_ip;client.is_panel_trunks;client.is_panel_invoices;client.carrier_name\n")
	for i := range n {
		fmt.Fprintf(&b, "%d;user%05d;user%05d@example.de;Jörg;Müller-%d;%s;%s;%d;10.0.%d.%d|10.1.%d.%d;%s;%s;Carrier %d\n",
			5000+i, i, i, i, []string{"1", "0", "yes"}[i%3], []string{"agent", "client", "admin"}[i%3], 3+i%4,
			i/256%256, i%256, i/256%256, i%256, []string{"true", "false"}[i%2], []string{"y", "n"}[i%2], i%50)
	}
	return b.Bytes()
}

func benchRead(b *testing.B, data []byte, format roster.Format, s roster.Schema) {
	b.Helper()
	// Check the input once: a benchmark of rows that all fail measures
	// the error path, not the reader.
	rows, err := roster.Read(b.Context(), bytes.NewReader(data), format, s)
	if err != nil {
		b.Fatal(err)
	}
	if len(rows) != benchRows {
		b.Fatalf("read %d rows, want %d", len(rows), benchRows)
	}
	for _, r := range rows {
		if r.Err != nil {
			b.Fatalf("row %d: %v", r.N, r.Err)
		}
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		if _, err := roster.Read(b.Context(), bytes.NewReader(data), format, s); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64(n*benchRows)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkReadCSV reads 10,000-row CSV rosters, encoding detection
// included.
func BenchmarkReadCSV(b *testing.B) {
	b.Run("smartflo", func(b *testing.B) { benchRead(b, smartfloCSV(benchRows), roster.CSV, smartfloSchema()) })
	b.Run("dnl", func(b *testing.B) { benchRead(b, dnlCSV(benchRows), roster.CSV, dnlSchema()) })
}

// BenchmarkReadJSONL reads a 10,000-row JSON Lines roster.
func BenchmarkReadJSONL(b *testing.B) {
	benchRead(b, smartfloJSON(benchRows, true), roster.JSONL, smartfloSchema())
}

// BenchmarkReadJSON reads the same roster as one JSON array.
func BenchmarkReadJSON(b *testing.B) {
	benchRead(b, smartfloJSON(benchRows, false), roster.JSON, smartfloSchema())
}
