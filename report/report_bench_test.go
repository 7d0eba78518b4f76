package report_test

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/rostersync/rostersync/report"
)

// benchRows is how many rows each benchmarked report holds.
const benchRows = 10_000

// benchRow is row i of a run's report: mostly applied and unchanged rows,
// some failed with a server's message, one in fifty with a formula-like key.
func benchRow(i int) report.Row {
	r := report.Row{Row: i + 1, Key: fmt.Sprintf("agent%05d@example.com", i), UserID: fmt.Sprint(100000 + i)}
	switch i % 10 {
	case 0, 1, 2, 3, 4:
		r.Status, r.HTTPStatus, r.Attempts, r.Fields = "applied", 200, 1, "block_agent|caller_id|name"
	case 5, 6, 7:
		r.Status = "unchanged"
	case 8:
		r.Status, r.HTTPStatus, r.Attempts, r.Fields = "failed", 422, 1, "email"
		r.Error = fmt.Sprintf("row %d: PATCH /v1/user/%d: 422 Unprocessable Entity: The email has already been taken.", i+1, 100000+i)
	case 9:
		r.Status, r.HTTPStatus, r.Attempts, r.Fields = "failed", 503, 3, "number"
		r.Error = "service unavailable:\n<html>\n<body>upstream timed out, \"retry later\"</body>\n</html>"
	}
	if i%50 == 0 {
		r.Key = "+91 98000 " + fmt.Sprint(i) // a phone key Escape must look at
	}
	return r
}

// benchWrite writes 10,000 rows to a report file per iteration, each
// Write flushing to the file as the product promises.
func benchWrite(b *testing.B, format report.Format) {
	rows := make([]report.Row, benchRows)
	for i := range rows {
		rows[i] = benchRow(i)
	}
	path := filepath.Join(b.TempDir(), "report."+string(format))
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		w, err := report.Create(path)
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range rows {
			if err := w.Write(r); err != nil {
				b.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64(n*benchRows)/b.Elapsed().Seconds(), "rows/s")
	b.StopTimer()
	got, err := report.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	// Row 9,999 fails with a one-line error: it reads back as written.
	if len(got) != benchRows || got[benchRows-2] != rows[benchRows-2] {
		b.Fatalf("read back %d rows; row %d %+v, want %+v", len(got), benchRows-1, got[len(got)-2], rows[benchRows-2])
	}
}

// BenchmarkWriteCSV writes a 10,000-row CSV report to a file.
func BenchmarkWriteCSV(b *testing.B) { benchWrite(b, report.CSV) }

// BenchmarkWriteJSONL writes a 10,000-row JSON Lines report to a file.
func BenchmarkWriteJSONL(b *testing.B) { benchWrite(b, report.JSONL) }
