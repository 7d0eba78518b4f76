package report_test

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/rostersync/rostersync/report"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// sample holds rows that exercise every kind of cell.
var sample = []report.Row{
	{Row: 1, Key: "1001", UserID: "u1", Status: "applied", HTTPStatus: 200, Attempts: 1, Fields: "email|name"},
	{Row: 2, Key: "=HYPERLINK(\"http://evil\")", UserID: "@u2", Status: "failed", HTTPStatus: 422, Attempts: 1,
		Error: "field email: \"x\" is not an email address"},
	{Row: 3, Key: "-5", UserID: "+919800000001", Status: "unchanged"},
	{Row: 4, Key: "+cmd|' /C calc'!A0", UserID: "-2+3", Status: "failed", Attempts: 3, Error: "-boom, \"quoted\", with commas"},
	{Row: 5, Key: "'=already quoted", UserID: "'plain", Status: "skipped", Error: "\tstarts with a tab"},
	{Row: 6, Key: "Müller, Hans", UserID: "", Status: "planned", Fields: "caller_id"},
}

// TestGolden compares the rendered reports with testdata and checks they
// read back as written.
func TestGolden(t *testing.T) {
	for _, format := range []report.Format{report.CSV, report.JSONL} {
		t.Run(string(format), func(t *testing.T) {
			var buf bytes.Buffer
			w, err := report.NewWriter(&buf, format)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range sample {
				if err := w.Write(r); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", "sample."+string(format))
			if *update {
				if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(buf.Bytes(), want) {
				t.Errorf("output differs from %s (go test -update rewrites it)\n got:\n%s\nwant:\n%s", golden, buf.Bytes(), want)
			}
			rows, err := report.Parse(buf.Bytes(), format)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(rows, sample) {
				t.Errorf("read back\n got %+v\nwant %+v", rows, sample)
			}
		})
	}
}

func TestFormatOf(t *testing.T) {
	for _, c := range []struct {
		path string
		want report.Format
	}{
		{"out.csv", report.CSV},
		{"OUT.CSV", report.CSV},
		{"dir.jsonl/out.jsonl", report.JSONL},
		{"out.json", ""},
		{"out.ndjson", ""},
		{"out", ""},
	} {
		t.Run(c.path, func(t *testing.T) {
			got, err := report.FormatOf(c.path)
			if got != c.want || (err != nil) != (c.want == "") {
				t.Errorf("FormatOf(%q) = %q, %v; want %q", c.path, got, err, c.want)
			}
		})
	}
}

func TestEscape(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", ""},
		{"plain", "plain"},
		{"1001", "1001"},
		{"=1+2", "'=1+2"},
		{"=SUM(A1:A9)", "'=SUM(A1:A9)"},
		{"+cmd", "'+cmd"},
		{"-cmd", "'-cmd"},
		{"@SUM(A1)", "'@SUM(A1)"},
		{"\t=1", "'\t=1"},
		{"\r=1", "'\r=1"},
		{"-", "'-"},
		{"+", "'+"},
		{"-2+3", "'-2+3"},
		{"+91 98000 00001", "'+91 98000 00001"},
		{"-5", "-5"},
		{"+5", "+5"},
		{"-0.25", "-0.25"},
		{"+919800000001", "+919800000001"},
		{"-1e3", "-1e3"},
		{"a=b", "a=b"},
		{" =1", " =1"},
		{"'", "'"},
		{"'plain", "'plain"},
		{"''", "'''"},
		{"'=1", "''=1"},
		{"'-5", "''-5"},
	} {
		t.Run(fmt.Sprintf("%q", c.in), func(t *testing.T) {
			if got := report.Escape(c.in); got != c.want {
				t.Errorf("Escape(%q) = %q, want %q", c.in, got, c.want)
			}
		})
	}
}

// TestCSVRoundTrip checks that what a cell holds is what a reader gets
// back, escaped or not, except that line breaks become spaces.
func TestCSVRoundTrip(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"=1+2", "=1+2"},
		{"+919800000001", "+919800000001"},
		{"-5", "-5"},
		{"'=1", "'=1"},
		{"''=1", "''=1"},
		{"'plain", "'plain"},
		{"'", "'"},
		{"\"quoted\", and, commas", "\"quoted\", and, commas"},
		{"line one\nline two\r\n  line three", "line one line two line three"},
		{"\n=1", "=1"},
		{"  padded  ", "  padded  "},
		{"", ""},
	} {
		t.Run(fmt.Sprintf("%q", c.in), func(t *testing.T) {
			var buf bytes.Buffer
			w, err := report.NewWriter(&buf, report.CSV)
			if err != nil {
				t.Fatal(err)
			}
			in := report.Row{Row: 1, Key: c.in, UserID: c.in, Status: "failed", Error: c.in}
			if err := w.Write(in); err != nil {
				t.Fatal(err)
			}
			if n := bytes.Count(buf.Bytes(), []byte("\n")); n != 2 {
				t.Errorf("the report has %d lines, want 2:\n%s", n, buf.Bytes())
			}
			rows, err := report.Parse(buf.Bytes(), report.CSV)
			if err != nil {
				t.Fatal(err)
			}
			want := report.Row{Row: 1, Key: c.want, UserID: c.want, Status: "failed", Error: c.want}
			if len(rows) != 1 || rows[0] != want {
				t.Errorf("read back %+v, want %+v", rows, want)
			}
		})
	}
}

func TestCreate(t *testing.T) {
	for _, format := range []report.Format{report.CSV, report.JSONL} {
		t.Run(string(format), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "report."+string(format))
			w, err := report.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			checkMode(t, path)
			for _, r := range sample {
				if err := w.Write(r); err != nil {
					t.Fatal(err)
				}
				// Each row is on disk as soon as Write returns.
				got, err := report.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != r.Row {
					t.Fatalf("after writing row %d the file holds %d rows", r.Row, len(got))
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Errorf("second Close: %v", err)
			}
			got, err := report.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, sample) {
				t.Errorf("read back\n got %+v\nwant %+v", got, sample)
			}
			if err := w.Write(sample[0]); err == nil {
				t.Error("Write after Close gave no error")
			}
		})
	}
}

func mkdir(t *testing.T, path string) string {
	t.Helper()
	if err := os.Mkdir(path, 0o700); err != nil {
		t.Fatal(err)
	}
	return path
}

func checkMode(t *testing.T, path string) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %v, want 0600", path, st.Mode().Perm())
	}
}

func TestCreateExisting(t *testing.T) {
	path := filepath.Join(t.TempDir(), "report.csv")
	old := strings.Repeat("old,report,data\n", 100)
	if err := os.WriteFile(path, []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil { // whatever the umask
		t.Fatal(err)
	}
	w, err := report.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	checkMode(t, path)
	if err := w.Write(sample[0]); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(data, []byte("old")) {
		t.Errorf("the old report was not truncated:\n%s", data)
	}
	checkMode(t, path)
}

func TestCreateErrors(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct{ name, path string }{
		{"bad extension", filepath.Join(dir, "report.txt")},
		{"missing folder", filepath.Join(dir, "nope", "report.csv")},
		{"a folder", mkdir(t, filepath.Join(dir, "sub.csv"))},
	} {
		t.Run(c.name, func(t *testing.T) {
			if w, err := report.Create(c.path); err == nil {
				w.Close()
				t.Errorf("Create(%q) gave no error", c.path)
			}
		})
	}
}

// TestTornLine cuts a report at every byte, as a crash mid-write would,
// and checks the reader gives the whole rows before the cut.
func TestTornLine(t *testing.T) {
	for _, format := range []report.Format{report.CSV, report.JSONL} {
		t.Run(string(format), func(t *testing.T) {
			var buf bytes.Buffer
			w, err := report.NewWriter(&buf, format)
			if err != nil {
				t.Fatal(err)
			}
			var ends []int // where each line ends
			if format == report.CSV {
				ends = append(ends, buf.Len())
			}
			for _, r := range sample {
				if err := w.Write(r); err != nil {
					t.Fatal(err)
				}
				ends = append(ends, buf.Len())
			}
			data := buf.Bytes()
			for cut := 0; cut <= len(data); cut++ {
				whole := 0 // whole lines before the cut
				for _, e := range ends {
					if e <= cut {
						whole++
					}
				}
				want := whole
				if format == report.CSV {
					want = max(0, whole-1) // the header
				}
				rows, err := report.Parse(data[:cut], format)
				if err != nil {
					t.Fatalf("cut at %d: %v", cut, err)
				}
				if len(rows) != want || (want > 0 && !reflect.DeepEqual(rows, sample[:want])) {
					t.Fatalf("cut at %d: got %d rows %+v, want %d", cut, len(rows), rows, want)
				}
			}
		})
	}
}

func TestTornLineFile(t *testing.T) {
	for _, format := range []report.Format{report.CSV, report.JSONL} {
		t.Run(string(format), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "r."+string(format))
			w, err := report.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range sample[:3] {
				if err := w.Write(r); err != nil {
					t.Fatal(err)
				}
			}
			w.Close()
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			torn := "4,abc,u4,fai"
			if format == report.JSONL {
				torn = `{"row":4,"key":"abc","user_id":"u4","sta`
			}
			if _, err := f.WriteString(torn); err != nil {
				t.Fatal(err)
			}
			f.Close()
			rows, err := report.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(rows, sample[:3]) {
				t.Errorf("got %+v, want the 3 whole rows", rows)
			}
		})
	}
}

func TestParseDamage(t *testing.T) {
	header := strings.Join(report.Columns, ",") + "\n"
	for _, c := range []struct {
		name    string
		format  report.Format
		data    string
		rows    int
		wantErr string // "" for none
	}{
		{name: "empty CSV", format: report.CSV, data: ""},
		{name: "empty JSONL", format: report.JSONL, data: ""},
		{name: "header only", format: report.CSV, data: header},
		{name: "columns in another order", format: report.CSV,
			data: "status,row,key,user_id,http_status,attempts,fields,error\napplied,1,k,u,,1,,\n", rows: 1},
		{name: "not a report", format: report.CSV, data: "id,name\n1,x\n", wantErr: `no "row" column`},
		{name: "a bad row number", format: report.CSV, data: header + "x,k,u,applied,,1,,\n1,k,u,applied,,1,,\n", wantErr: "line 2"},
		{name: "a short line in the middle", format: report.CSV, data: header + "1,k\n2,k,u,applied,,1,,\n", wantErr: "fields"},
		{name: "a bad line in the middle", format: report.JSONL, data: "{\"row\":1}\n{\"row\":\n{\"row\":3}\n", wantErr: "line 2"},
		{name: "blank JSONL lines", format: report.JSONL, data: "{\"row\":1}\n\n{\"row\":2}\n", rows: 2},
		{name: "a wrong type", format: report.JSONL, data: "{\"row\":\"1\"}\n", wantErr: "line 1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			rows, err := report.Parse([]byte(c.data), c.format)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Errorf("error %v, want one with %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != c.rows {
				t.Errorf("%d rows, want %d", len(rows), c.rows)
			}
		})
	}
}

func TestReadFileErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := report.ReadFile(filepath.Join(dir, "nope.csv")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	if _, err := report.ReadFile(filepath.Join(dir, "r.txt")); err == nil {
		t.Error("bad extension: no error")
	}
	p := filepath.Join(dir, "r.csv")
	if err := os.WriteFile(p, []byte("a,b\n1,2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := report.ReadFile(p); err == nil || !strings.Contains(err.Error(), p) {
		t.Errorf("not a report: error %v does not name the file", err)
	}
}

// TestConcurrentWrite writes from many goroutines at once (run with
// -race) and checks every row arrives whole.
func TestConcurrentWrite(t *testing.T) {
	for _, format := range []report.Format{report.CSV, report.JSONL} {
		t.Run(string(format), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "r."+string(format))
			w, err := report.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			const workers, each = 32, 40
			statuses := []string{"applied", "failed", "unchanged"}
			var wg sync.WaitGroup
			for g := range workers {
				wg.Go(func() {
					for i := range each {
						n := g*each + i + 1
						r := report.Row{
							Row: n, Key: fmt.Sprintf("=k,%d\n\"x\"", n), UserID: fmt.Sprint(n),
							Status: statuses[n%3], HTTPStatus: 200, Attempts: 1,
							Error: strings.Repeat("long error, ", n%50),
						}
						if err := w.Write(r); err != nil {
							t.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			rows, err := report.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != workers*each {
				t.Fatalf("%d rows, want %d", len(rows), workers*each)
			}
			seen := map[int]bool{}
			counts := map[string]int{}
			for _, r := range rows {
				counts[r.Status]++
				wantKey := fmt.Sprintf("=k,%d \"x\"", r.Row)
				if format == report.JSONL {
					wantKey = fmt.Sprintf("=k,%d\n\"x\"", r.Row)
				}
				if seen[r.Row] || r.Key != wantKey || r.UserID != fmt.Sprint(r.Row) ||
					r.Error != strings.Repeat("long error, ", r.Row%50) {
					t.Fatalf("bad or repeated row %+v", r)
				}
				seen[r.Row] = true
			}
			total := 0
			for _, s := range statuses {
				total += counts[s]
			}
			if total != workers*each || counts["applied"] != workers*each/3 {
				t.Errorf("counts %v", counts)
			}
		})
	}
}

// failWriter accepts n bytes, then fails.
type failWriter struct {
	n   int
	err error
}

func (f *failWriter) Write(p []byte) (int, error) {
	if len(p) > f.n {
		k := f.n
		f.n = 0
		return k, f.err
	}
	f.n -= len(p)
	return len(p), nil
}

func TestWriteErrorSticks(t *testing.T) {
	boom := errors.New("disk full")
	for _, format := range []report.Format{report.CSV, report.JSONL} {
		t.Run(string(format), func(t *testing.T) {
			w, err := report.NewWriter(&failWriter{n: 80, err: boom}, format)
			if err != nil {
				t.Fatal(err)
			}
			var first error
			for i := range 5 {
				err := w.Write(report.Row{Row: i + 1, Key: strings.Repeat("k", 30), Status: "applied"})
				if first == nil {
					first = err
				} else if err != first {
					t.Errorf("write %d: %v, want the first error %v again", i+1, err, first)
				}
			}
			if !errors.Is(first, boom) {
				t.Fatalf("first error %v, want %v", first, boom)
			}
			if err := w.Close(); !errors.Is(err, boom) {
				t.Errorf("Close() = %v, want %v", err, boom)
			}
		})
	}
	t.Run("header", func(t *testing.T) {
		if _, err := report.NewWriter(&failWriter{err: boom}, report.CSV); !errors.Is(err, boom) {
			t.Errorf("NewWriter() = %v, want %v", err, boom)
		}
	})
}

func FuzzReportParse(f *testing.F) {
	var csvBuf, jsonlBuf bytes.Buffer
	for _, pair := range []struct {
		buf    *bytes.Buffer
		format report.Format
	}{{&csvBuf, report.CSV}, {&jsonlBuf, report.JSONL}} {
		w, err := report.NewWriter(pair.buf, pair.format)
		if err != nil {
			f.Fatal(err)
		}
		for _, r := range sample {
			w.Write(r)
		}
	}
	f.Add(csvBuf.Bytes(), false)
	f.Add(csvBuf.Bytes()[:csvBuf.Len()-7], false)
	f.Add(jsonlBuf.Bytes(), true)
	f.Add(jsonlBuf.Bytes()[:jsonlBuf.Len()-7], true)
	f.Add([]byte(""), false)
	f.Add([]byte("row,key\n"), false)
	f.Add([]byte("row,key,user_id,status,http_status,attempts,fields,error\nx,,,,,,,\n"), false)
	f.Add([]byte("row,row,key,user_id,status,http_status,attempts,fields,error\n1,2,\"a\nb\",,,,,,\n"), false)
	f.Add([]byte("{\"row\":1}\n{\"row\":\n"), true)
	f.Add([]byte("\n\n\n"), true)
	f.Fuzz(func(t *testing.T, data []byte, jsonl bool) {
		format := report.CSV
		if jsonl {
			format = report.JSONL
		}
		rows, err := report.Parse(data, format)
		if len(data) > 0 && data[len(data)-1] != '\n' {
			return
		}
		// A torn line after whole ones changes nothing.
		torn := append(append([]byte(nil), data...), `{"row":9,"key":"to`...)
		rows2, err2 := report.Parse(torn, format)
		if !reflect.DeepEqual(rows, rows2) || fmt.Sprint(err) != fmt.Sprint(err2) {
			t.Errorf("a torn line changed the result:\n%v, %v\n%v, %v", rows, err, rows2, err2)
		}
	})
}

// FuzzReportRoundTrip checks that any text written into a report reads
// back the same (in CSV, with line breaks turned into spaces).
func FuzzReportRoundTrip(f *testing.F) {
	for _, r := range sample {
		f.Add(r.Key, r.UserID, r.Error)
	}
	f.Add("'=x", "''", "'\t")
	f.Add("a\nb", "\r\n=1", "-\n5")
	f.Fuzz(func(t *testing.T, key, userID, errText string) {
		if !utf8.ValidString(key) || !utf8.ValidString(userID) || !utf8.ValidString(errText) {
			t.Skip("JSON replaces invalid UTF-8")
		}
		in := report.Row{Row: 7, Key: key, UserID: userID, Status: "failed", HTTPStatus: 500, Attempts: 2, Error: errText}
		for _, format := range []report.Format{report.CSV, report.JSONL} {
			var buf bytes.Buffer
			w, err := report.NewWriter(&buf, format)
			if err != nil {
				t.Fatal(err)
			}
			if err := w.Write(in); err != nil {
				t.Fatal(err)
			}
			rows, err := report.Parse(buf.Bytes(), format)
			if err != nil {
				t.Fatalf("%s: %v\n%q", format, err, buf.Bytes())
			}
			want := in
			if format == report.CSV {
				want.Key, want.UserID, want.Error = oneLine(key), oneLine(userID), oneLine(errText)
			}
			if len(rows) != 1 || rows[0] != want {
				t.Fatalf("%s: read back %+v, want %+v\n%q", format, rows, want, buf.Bytes())
			}
		}
	})
}

// oneLine is what a CSV report keeps of a multi-line cell.
func oneLine(s string) string {
	if strings.ContainsAny(s, "\r\n") {
		return strings.Join(strings.Fields(s), " ")
	}
	return s
}

// TestLongErrorIsShortened writes a row whose error is a huge server page:
// the cell is cut, so the report reads back.
func TestLongErrorIsShortened(t *testing.T) {
	for _, format := range []report.Format{report.CSV, report.JSONL} {
		t.Run(string(format), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "r."+string(format))
			w, err := report.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			huge := strings.Repeat("é", 1<<20)
			if err := w.Write(report.Row{Row: 1, Key: "k", Status: "failed", Error: huge}); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			rows, err := report.ReadFile(path)
			if err != nil || len(rows) != 1 {
				t.Fatalf("ReadFile = %d rows, %v", len(rows), err)
			}
			if e := rows[0].Error; len(e) > 2100 || !utf8.ValidString(e) || !strings.HasPrefix(huge, strings.TrimSuffix(e, "…")) {
				t.Errorf("error cell of %d bytes, valid UTF-8 %v: want a prefix of at most about 2000 bytes", len(e), utf8.ValidString(e))
			}
		})
	}
}
