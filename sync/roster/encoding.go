package roster

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/ianaindex"
	"golang.org/x/text/encoding/unicode"
)

// Encodings lists the encoding names Schema.Encoding takes besides ""
// (detect). Other IANA names (windows-1250, iso-8859-15, ...) work too.
var Encodings = []string{"utf-8", "windows-1252", "cp1252", "latin1", "iso-8859-1", "utf-16"}

// The byte order marks a roster may start with.
const (
	utf8BOM    = "\xef\xbb\xbf"
	utf16LEBOM = "\xff\xfe"
	utf16BEBOM = "\xfe\xff"
)

// utf16 reads UTF-16 whose byte order mark says which end comes first;
// one is required (Excel's "Unicode text" has it).
var utf16 = unicode.UTF16(unicode.LittleEndian, unicode.ExpectBOM)

// encodingError is a file that is not in the encoding it was read as.
type encodingError struct{ msg string }

func (e *encodingError) Error() string { return e.msg }

// lookupEncoding resolves an encoding name; nil means UTF-8.
func lookupEncoding(name string) (encoding.Encoding, error) {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "utf-8", "utf8":
		return nil, nil
	case "windows-1252", "cp1252":
		return charmap.Windows1252, nil
	case "latin1", "latin-1", "iso-8859-1", "iso8859-1":
		return charmap.ISO8859_1, nil
	case "utf-16", "utf16":
		return utf16, nil
	}
	e, err := ianaindex.IANA.Encoding(name)
	switch {
	case err != nil || e == nil:
		return nil, fmt.Errorf("unknown encoding %q (use one of %s)", name, strings.Join(Encodings, ", "))
	case e == unicode.UTF8:
		return nil, nil
	}
	return e, nil
}

// decode returns r's text as UTF-8. With an encoding named it streams;
// detecting must read the whole file first (see detect). what names the
// file in messages; hint says how to name another encoding.
func decode(r io.Reader, name string, warn func(string), what, hint string) (io.Reader, error) {
	if name == "" {
		return detect(r, warn, what, hint)
	}
	enc, err := lookupEncoding(name)
	if err != nil {
		return nil, err
	}
	br := bufio.NewReader(r)
	head, _ := br.Peek(3)
	bom := bomOf(head)
	switch {
	case enc == utf16 && bom != "utf-16":
		return nil, &encodingError{fmt.Sprintf("%s does not start with the byte order mark UTF-16 needs (Excel's \"Unicode text\" has one); is it UTF-16?", what)}
	case enc == utf16:
		return enc.NewDecoder().Reader(br), nil
	case bom != "" && (enc != nil || bom != "utf-8"):
		return nil, &encodingError{fmt.Sprintf("%s starts with the byte order mark of %s, not %s: drop --encoding or give %s", what, bom, name, bom)}
	case enc == nil:
		return &utf8Reader{r: br, line: 1, what: what}, nil
	}
	return enc.NewDecoder().Reader(br), nil
}

// detect reads UTF-8 (a byte order mark is left for the parser to
// strip), UTF-16 with a byte order mark, and anything else as
// Windows-1252, telling warn so (with hint, how to say otherwise). It
// reads the file twice when it can seek back (a file), and otherwise
// holds it in memory (a pipe), since the first byte that is not UTF-8 may
// come last.
func detect(r io.Reader, warn func(string), what, hint string) (io.Reader, error) {
	var src io.ReadSeeker
	start := int64(0)
	if rs, ok := r.(io.ReadSeeker); ok {
		if pos, err := rs.Seek(0, io.SeekCurrent); err == nil {
			src, start = rs, pos
		}
	}
	if src == nil {
		data, err := io.ReadAll(r)
		if err != nil {
			return nil, err
		}
		src = bytes.NewReader(data)
	}
	bom, bad, err := scan(src, what)
	if err != nil {
		return nil, err
	}
	if _, err := src.Seek(start, io.SeekStart); err != nil {
		return nil, err
	}
	switch {
	case bom == "utf-16":
		return utf16.NewDecoder().Reader(src), nil
	case bad == 0:
		return src, nil
	case bom == "utf-8":
		return nil, &encodingError{fmt.Sprintf("%s starts with the UTF-8 byte order mark but is not valid UTF-8 (line %d)", what, bad)}
	}
	if warn != nil {
		warn(fmt.Sprintf("%s is not valid UTF-8 (line %d); read as Windows-1252 (%s)", what, bad, hint))
	}
	return charmap.Windows1252.NewDecoder().Reader(src), nil
}

// scan reads r to its end, telling the byte order mark it starts with and
// the line of its first byte that is not UTF-8 (0 if none).
func scan(r io.Reader, what string) (bom string, bad int, err error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, _ := br.Peek(3)
	if bom = bomOf(head); bom == "utf-16" {
		return bom, 0, nil
	}
	u := &utf8Reader{r: br, line: 1, what: what}
	_, err = io.Copy(io.Discard, u)
	var encErr *encodingError
	if errors.As(err, &encErr) {
		return bom, u.line, nil
	}
	return bom, 0, err
}

// bomOf names the encoding whose byte order mark head starts with.
func bomOf(head []byte) string {
	switch {
	case bytes.HasPrefix(head, []byte(utf8BOM)):
		return "utf-8"
	case bytes.HasPrefix(head, []byte(utf16LEBOM)), bytes.HasPrefix(head, []byte(utf16BEBOM)):
		return "utf-16"
	}
	return ""
}

// utf8Reader passes UTF-8 through, failing at the first byte that is not.
type utf8Reader struct {
	r     io.Reader
	what  string
	line  int
	carry []byte // the start of a character cut by the end of the last read
	err   error
}

func (u *utf8Reader) Read(p []byte) (int, error) {
	if u.err != nil {
		return 0, u.err
	}
	n, err := u.r.Read(p)
	b := p[:n]
	if len(u.carry) > 0 && n > 0 {
		tmp := append(u.carry, b[:min(n, utf8.UTFMax-len(u.carry))]...)
		switch r, size := utf8.DecodeRune(tmp); {
		case !utf8.FullRune(tmp):
			u.carry, b = tmp, nil
		case r == utf8.RuneError && size == 1:
			return 0, u.fail()
		default:
			b, u.carry = b[size-len(u.carry):], nil
		}
	}
	body := b
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
		if utf8.RuneStart(b[i]) {
			if !utf8.FullRune(b[i:]) {
				body, u.carry = b[:i], append([]byte(nil), b[i:]...)
			}
			break
		}
	}
	if !utf8.Valid(body) {
		for len(body) > 0 {
			r, size := utf8.DecodeRune(body)
			if r == utf8.RuneError && size == 1 {
				return 0, u.fail()
			}
			if body[0] == '\n' {
				u.line++
			}
			body = body[size:]
		}
	}
	u.line += bytes.Count(body, []byte("\n"))
	if errors.Is(err, io.EOF) && len(u.carry) > 0 {
		return 0, u.fail()
	}
	return n, err
}

func (u *utf8Reader) fail() error {
	u.err = &encodingError{fmt.Sprintf("%s is not valid UTF-8 (line %d): give its encoding with --encoding, such as windows-1252", u.what, u.line)}
	return u.err
}
