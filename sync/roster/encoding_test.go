package roster_test

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/rostersync/rostersync/sync/model"
	"github.com/rostersync/rostersync/sync/roster"
)

// warnings collects what a reader warns about.
type warnings []string

func (w *warnings) warn(msg string) { *w = append(*w, msg) }

// cleanRows reads the clean Smartflo fixture, checking it reads as meant.
func cleanRows(t *testing.T) []model.Row {
	t.Helper()
	s := smartfloSchema()
	s.Warn = func(msg string) { t.Errorf("the clean file warns: %s", msg) }
	rows, err := roster.ReadFile(t.Context(), "testdata/smartflo_clean.csv", nil, s)
	if err != nil {
		t.Fatal(err)
	}
	checkRows(t, rows, []want{
		ok("314678", map[string]any{
			"name": "José Müller", "email": "jose@example.com", "number": "+919810000001",
			"designation": "Lead, Ops", "block_agent": false,
			"user_for_cdr.type": "agent", "user_for_cdr.value": list("0502842370097", "0502842370098"),
		}),
		ok("370822", map[string]any{
			"name": "Zoë Renée", "email": "zoe@example.com", "number": "+919810000002",
			"designation": "Büro Köln", "block_agent": true, "user_for_cdr.type": "all",
		}),
		ok("370823", map[string]any{
			"name": "Anders Ångström", "number": "+49301234567", "designation": "", "block_agent": false,
		}),
	})
	return rows
}

// TestExportsReadAsTheCleanFile reads the fixtures that hold the clean
// roster as Excel and others save it: each must give exactly the clean
// file's rows.
func TestExportsReadAsTheCleanFile(t *testing.T) {
	clean := cleanRows(t)
	for _, c := range []struct {
		name     string
		path     string
		encoding string
		warn     []string // what the one warning holds; nil: no warning
	}{
		{name: "UTF-8 BOM and CRLF", path: "testdata/smartflo_utf8_bom_crlf.csv"},
		{name: "UTF-8 BOM and CRLF, named", path: "testdata/smartflo_utf8_bom_crlf.csv", encoding: "UTF-8"},
		{name: "German Excel, semicolons", path: "testdata/smartflo_excel_de.csv"},
		{
			name: "Windows-1252, detected", path: "testdata/smartflo_cp1252.csv",
			warn: []string{"roster testdata/smartflo_cp1252.csv: the roster is not valid UTF-8 (line 2); read as Windows-1252 (use --encoding to say otherwise)"},
		},
		{name: "Windows-1252, named", path: "testdata/smartflo_cp1252.csv", encoding: "windows-1252"},
		{name: "Windows-1252 as cp1252", path: "testdata/smartflo_cp1252.csv", encoding: "cp1252"},
		{name: "Windows-1252 as latin1", path: "testdata/smartflo_cp1252.csv", encoding: "latin1"},
		{name: "Windows-1252 as ISO-8859-1", path: "testdata/smartflo_cp1252.csv", encoding: " ISO-8859-1 "},
		{name: "Excel Unicode text, detected", path: "testdata/smartflo_unicode_text.csv"},
		{name: "Excel Unicode text, named", path: "testdata/smartflo_unicode_text.csv", encoding: "utf-16"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var w warnings
			s := smartfloSchema()
			s.Encoding, s.Warn = c.encoding, w.warn
			rows, err := roster.ReadFile(t.Context(), c.path, nil, s)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(rows, clean) {
				for i := range rows {
					t.Logf("row %d: %q %v %v", rows[i].N, rows[i].Key, values(t, rows[i]), rows[i].Err)
				}
				t.Errorf("the rows differ from the clean file's")
			}
			switch {
			case c.warn == nil && len(w) > 0:
				t.Errorf("warnings %q, want none", w)
			case c.warn != nil && len(w) != 1:
				t.Errorf("warnings %q, want one", w)
			case c.warn != nil:
				for _, s := range c.warn {
					if !strings.Contains(w[0], s) {
						t.Errorf("warning %q does not contain %q", w[0], s)
					}
				}
			}
		})
	}
}

// TestExcelMangledFixtures reads exports whose phone or agent id column
// Excel turned into numbers: the mangled rows fail with the reason,
// naming row and field; the other rows are fine.
func TestExcelMangledFixtures(t *testing.T) {
	for _, c := range []struct {
		path string
		rows []want
	}{
		{
			path: "testdata/smartflo_phone_scientific.csv",
			rows: []want{
				bad("row 1: field number: looks like Excel turned the number into 9.1981E+11, which has lost digits; format the column as Text and export again"),
				ok("370822", map[string]any{"name": "Zoë Renée", "number": "+919810000002"}),
				ok("370823", map[string]any{"name": "Anders Ångström"}),
			},
		},
		{
			path: "testdata/smartflo_phone_no_plus.csv",
			rows: []want{
				ok("314678", map[string]any{"name": "José Müller", "number": "+919810000001"}),
				bad(`row 2: field number: "919810000002" lacks the leading +, which Excel drops; format the column as Text and export again, or write +919810000002`),
				ok("370823", map[string]any{"name": "Anders Ångström", "number": "+919810000003"}),
			},
		},
		{
			path: "testdata/smartflo_agent_ids_mangled.csv",
			rows: []want{
				bad(`row 1: field user_for_cdr.value: "502842370097" has 12 digits, agent ids have 13: Excel dropped the leading 0(s); format the column as Text`),
				bad("row 2: field user_for_cdr.value: looks like Excel turned the number into 5.02842E+11, which has lost digits"),
				ok("370823", map[string]any{"user_for_cdr.type": "agent", "user_for_cdr.value": list("0502842370097", "0502842370098")}),
			},
		},
	} {
		t.Run(c.path, func(t *testing.T) {
			rows, err := roster.ReadFile(t.Context(), c.path, nil, smartfloSchema())
			if err != nil {
				t.Fatal(err)
			}
			checkRows(t, rows, c.rows)
		})
	}
}

// utf16Of encodes s as UTF-16 with a byte order mark, big- or little-endian.
func utf16Of(s string, bigEndian bool) string {
	var b []byte
	for _, u := range append([]uint16{0xfeff}, utf16.Encode([]rune(s))...) {
		if bigEndian {
			b = append(b, byte(u>>8), byte(u))
		} else {
			b = append(b, byte(u), byte(u>>8))
		}
	}
	return string(b)
}

func TestEncodings(t *testing.T) {
	const jose = "id,name\n1,Jos\xe9 M\xfcller\n" // Windows-1252
	for _, c := range []struct {
		name     string
		format   roster.Format
		encoding string
		in       string
		rows     []want
		warns    int
		wantErr  []string
	}{
		{name: "UTF-8 detected", in: "id,name\n1,José Müller\n", rows: []want{ok("1", map[string]any{"name": "José Müller"})}},
		{name: "Windows-1252 detected", in: jose, warns: 1, rows: []want{ok("1", map[string]any{"name": "José Müller"})}},
		{name: "Windows-1252 named", encoding: "Windows-1252", in: jose, rows: []want{ok("1", map[string]any{"name": "José Müller"})}},
		{name: "the euro sign is Windows-1252's", encoding: "cp1252", in: "id,name\n1,\x80uro\n", rows: []want{ok("1", map[string]any{"name": "€uro"})}},
		// Latin-1 reads 0x80 as the control character U+0080, which no value may hold.
		{name: "but not Latin-1's", encoding: "latin1", in: "id,name\n1,\x80uro\n",
			rows: []want{bad("row 1: field name: a control character (U+0080) at character 1")}},
		{name: "another IANA name", encoding: "windows-1250", in: "id,name\n1,\x8aime\n", rows: []want{ok("1", map[string]any{"name": "Šime"})}},
		{name: "UTF-16LE detected by its BOM", in: utf16Of("id\tname\r\n1\tZoë\r\n", false), rows: []want{ok("1", map[string]any{"name": "Zoë"})}},
		{name: "UTF-16BE detected by its BOM", in: utf16Of("id,name\n1,Zoë\n", true), rows: []want{ok("1", map[string]any{"name": "Zoë"})}},
		{name: "UTF-16BE named", encoding: "UTF-16", in: utf16Of("id,name\n1,Zoë\n", true), rows: []want{ok("1", map[string]any{"name": "Zoë"})}},
		{name: "JSON in Windows-1252", format: roster.JSON, in: "[{\"id\": 1, \"name\": \"Ren\xe9e\"}]", warns: 1, rows: []want{ok("1", map[string]any{"name": "Renée"})}},
		{name: "JSON Lines in Windows-1252", format: roster.JSONL, in: "{\"id\": 1}\n{\"id\": 2, \"name\": \"\xc5ngstr\xf6m\"}\n", warns: 1,
			rows: []want{ok("1", nil), ok("2", map[string]any{"name": "Ångström"})}},
		{name: "JSON in UTF-16", format: roster.JSON, in: utf16Of(`[{"id": "1", "name": "Zoë"}]`, false), rows: []want{ok("1", map[string]any{"name": "Zoë"})}},
		{name: "UTF-8 named, not valid", encoding: "utf-8", in: "id,name\n1,Asha\n2,Jos\xe9\n", wantErr: []string{"not valid UTF-8 (line 3)", "--encoding"}},
		{name: "UTF-8 named, JSON not valid", format: roster.JSON, encoding: "utf8", in: "[\n{\"id\": 1},\n{\"id\": 2, \"name\": \"Jos\xe9\"}]",
			wantErr: []string{"the roster is not valid UTF-8 (line 3)"}},
		{name: "UTF-8 named, cut short", encoding: "utf-8", in: "id,name\n1,Jos\xc3", wantErr: []string{"not valid UTF-8 (line 2)"}},
		{name: "a UTF-8 BOM, then not UTF-8", in: "\ufeffid,name\n1,Jos\xe9\n", wantErr: []string{"starts with the UTF-8 byte order mark but is not valid UTF-8 (line 2)"}},
		{name: "UTF-16 named, no BOM", encoding: "utf-16", in: "id,name\n", wantErr: []string{"does not start with the byte order mark UTF-16 needs"}},
		{name: "Windows-1252 named, a UTF-8 BOM", encoding: "windows-1252", in: "\ufeffid,name\n", wantErr: []string{"byte order mark of utf-8, not windows-1252"}},
		{name: "UTF-8 named, a UTF-16 BOM", encoding: "utf-8", in: utf16Of("id\n", false), wantErr: []string{"byte order mark of utf-16, not utf-8"}},
		{name: "an unknown name", encoding: "klingon", in: "id\n", wantErr: []string{`unknown encoding "klingon"`, "utf-8, windows-1252, cp1252, latin1, iso-8859-1, utf-16"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			format := c.format
			if format == "" {
				format = roster.CSV
			}
			for _, src := range []struct {
				name string
				r    io.Reader
			}{
				{"a file", strings.NewReader(c.in)},
				{"a pipe", struct{ io.Reader }{strings.NewReader(c.in)}}, // cannot seek
			} {
				t.Run(src.name, func(t *testing.T) {
					var w warnings
					s := smartfloSchema()
					s.Encoding, s.Warn = c.encoding, w.warn
					rows, err := roster.Read(t.Context(), src.r, format, s)
					if c.wantErr != nil {
						checkErr(t, err, c.wantErr)
						return
					}
					if err != nil {
						t.Fatal(err)
					}
					checkRows(t, rows, c.rows)
					if len(w) != c.warns {
						t.Errorf("warnings %q, want %d", w, c.warns)
					}
				})
			}
		})
	}
}

// TestUTF8Streamed checks a named UTF-8 roster read a byte at a time:
// characters cut between reads are whole again, and a bad one is found
// on its line however the reads fall.
func TestUTF8Streamed(t *testing.T) {
	s := smartfloSchema()
	s.Encoding = "utf-8"
	rows, err := roster.Read(t.Context(), iotest.OneByteReader(strings.NewReader("\ufeffid,name\n1,José 𝄞 Müller\n")), roster.CSV, s)
	if err != nil {
		t.Fatal(err)
	}
	checkRows(t, rows, []want{ok("1", map[string]any{"name": "José 𝄞 Müller"})})

	for _, in := range []string{"id,name\n1,a\n2,\xf0\x9d\x84x\n", "id,name\n1,a\n2,\xe9\n", "id,name\n1,a\n2,\xf0\x9d\x84"} {
		_, err := roster.Read(t.Context(), iotest.OneByteReader(strings.NewReader(in)), roster.CSV, s)
		checkErr(t, err, []string{"not valid UTF-8 (line 3)"})
	}
}

// TestWarnNil checks that a detected encoding needs no Warn.
func TestWarnNil(t *testing.T) {
	rows, err := roster.Read(t.Context(), strings.NewReader("id,name\n1,Jos\xe9\n"), roster.CSV, smartfloSchema())
	if err != nil {
		t.Fatal(err)
	}
	checkRows(t, rows, []want{ok("1", map[string]any{"name": "José"})})
}

// TestDetectStreams checks that detecting the encoding holds no file in
// memory, from a file or from a pipe, even when the first byte that is
// not UTF-8 comes last: a roster that is mostly blank lines (no rows to
// keep), Windows-1252 only on its last line.
func TestDetectStreams(t *testing.T) {
	const size = 8 << 20
	data := "id,name\n1,Asha\n" + strings.Repeat("\n", size) + "2,Jos\xe9\n"
	p := filepath.Join(t.TempDir(), "roster.csv")
	if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	want := []want{ok("1", map[string]any{"name": "Asha"}), ok("2", map[string]any{"name": "José"})}
	allocated := func(read func(s roster.Schema) ([]model.Row, error)) uint64 {
		t.Helper()
		var w warnings
		s := smartfloSchema()
		s.Warn = w.warn
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		rows, err := read(s)
		runtime.ReadMemStats(&after)
		if err != nil {
			t.Fatal(err)
		}
		checkRows(t, rows, want)
		if len(w) != 1 || !strings.Contains(w[0], fmt.Sprintf("(line %d)", size+3)) {
			t.Errorf("warnings %q", w)
		}
		return after.TotalAlloc - before.TotalAlloc
	}

	file := allocated(func(s roster.Schema) ([]model.Row, error) { return roster.ReadFile(t.Context(), p, nil, s) })
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pipe := allocated(func(s roster.Schema) ([]model.Row, error) {
		return roster.Read(t.Context(), struct{ io.Reader }{f}, roster.CSV, s) // hides Seek
	})
	if file > size/4 || pipe > size/4 {
		t.Errorf("reading %d MiB allocated %d KiB from a file, %d KiB from a pipe", size>>20, file>>10, pipe>>10)
	}
	t.Logf("allocated: file %d KiB, pipe %d KiB", file>>10, pipe>>10)
}

// TestDetectDecidesAtTheFirstByteNotASCII puts the first character that
// is not ASCII past the window detection looks at from the start: what
// comes before it is ASCII, which reads the same in both encodings, so
// the bytes from it on decide, however late it comes. A UTF-8 file that
// turns out not to be UTF-8 past the window stops, naming the line and
// --encoding.
func TestDetectDecidesAtTheFirstByteNotASCII(t *testing.T) {
	var b strings.Builder // 20,000 rows of ASCII, 180 KiB
	b.WriteString("id,name\n")
	for i := 1; i <= 20000; i++ {
		fmt.Fprintf(&b, "%d,Asha\n", i)
	}
	pad := b.String()
	for _, c := range []struct {
		name    string
		tail    string
		warn    string
		wantErr []string
		last    string
	}{
		{name: "Windows-1252 late", tail: "20001,Jos\xe9\n", warn: "(line 20002); read as Windows-1252", last: "José"},
		{name: "UTF-8 late", tail: "20001,José\n", last: "José"},
		{name: "UTF-8, then not, past the window", tail: "20001,José\n" + strings.Repeat("x", 70<<10) + "\n20002,Jos\xe9\n",
			wantErr: []string{"the roster is not valid UTF-8 (line 20004)", "--encoding"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var w warnings
			s := smartfloSchema()
			s.Warn = w.warn
			rows, err := roster.Read(t.Context(), struct{ io.Reader }{strings.NewReader(pad + c.tail)}, roster.CSV, s)
			if c.wantErr != nil {
				checkErr(t, err, c.wantErr)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != 20001 || values(t, rows[20000])["name"] != c.last {
				t.Fatalf("%d rows, the last %+v", len(rows), rows[len(rows)-1])
			}
			if (c.warn == "") != (len(w) == 0) || c.warn != "" && !strings.Contains(w[0], c.warn) {
				t.Errorf("warnings %q, want %q", w, c.warn)
			}
		})
	}
}

// FuzzUTF8Check checks the streaming UTF-8 check against utf8.Valid,
// whole and a byte at a time: the same verdict, on the line of the first
// bad byte.
func FuzzUTF8Check(f *testing.F) {
	for _, seed := range []string{"", "a\nb", "Jos\xe9\n", "\xf0\x9d\x84\x9e\n\xf0\x9d\x84", "\n\n\xc3", "\xed\xa0\x80", "\xef\xbb\xbfx\n\x80"} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if bytes.HasPrefix(data, []byte("\xff\xfe")) || bytes.HasPrefix(data, []byte("\xfe\xff")) {
			return // UTF-16, not checked
		}
		want := 0
		if !utf8.Valid(data) {
			i := 0
			for {
				r, size := utf8.DecodeRune(data[i:])
				if r == utf8.RuneError && size <= 1 {
					break
				}
				i += size
			}
			want = 1 + bytes.Count(data[:i], []byte("\n"))
		}
		for _, r := range []io.Reader{bytes.NewReader(data), iotest.OneByteReader(bytes.NewReader(data)), iotest.HalfReader(bytes.NewReader(data))} {
			got, err := roster.CheckUTF8(r)
			if err != nil || got != want {
				t.Fatalf("CheckUTF8(%q) = %d, %v; want %d", data, got, err, want)
			}
		}
	})
}

// FuzzDetect decodes arbitrary bytes as a roster of no named encoding,
// whole and in pieces: the same text (when it reads), warning and error
// however the reads fall; UTF-8 comes out as it went in, without a
// warning.
func FuzzDetect(f *testing.F) {
	for _, seed := range []string{"", "id,name\n1,José\n", "id,name\n1,Jos\xe9\n", "\xef\xbb\xbfid\n\xe9", "\xff\xfei\x00d\x00",
		"a\xc3", "a\xc3\xa9" + strings.Repeat("x", 70<<10) + "\xe9", strings.Repeat("x", 70<<10) + "\xf0\x9d\x84\x9e"} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if bytes.HasPrefix(data, []byte("\xff\xfe")) || bytes.HasPrefix(data, []byte("\xfe\xff")) {
			return // UTF-16, decoded elsewhere
		}
		text, warns, err := roster.Detect(bytes.NewReader(data))
		for _, r := range []io.Reader{iotest.OneByteReader(bytes.NewReader(data)), iotest.HalfReader(bytes.NewReader(data))} {
			text2, warns2, err2 := roster.Detect(r)
			if err == nil && text2 != text || !reflect.DeepEqual(warns2, warns) || fmt.Sprint(err2) != fmt.Sprint(err) {
				t.Fatalf("in pieces: %q %q %v; whole: %q %q %v", text2, warns2, err2, text, warns, err)
			}
		}
		if utf8.Valid(data) && (err != nil || text != string(data) || len(warns) != 0) {
			t.Fatalf("UTF-8 %q read as %q, %q, %v", data, text, warns, err)
		}
		if err == nil && !utf8.ValidString(text) {
			t.Fatalf("%q decoded to text that is not UTF-8: %q", data, text)
		}
	})
}
