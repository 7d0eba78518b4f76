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

// decode returns r's text as UTF-8, streaming (see detect when name is
// ""). what names the file in messages; hint says how to name another
// encoding.
func decode(r io.Reader, name string, warn func(string), what, hint string) (io.Reader, error) {
	if name == "" {
		return detect(r, warn, what, hint)
	}
	enc, err := lookupEncoding(name)
	if err != nil {
		return nil, err
	}
	br := bufio.NewReader(r)
	head, err := br.Peek(3)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
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

// sniffWindow is how much of a roster, from its first byte that is not
// ASCII, detect looks at to tell UTF-8 from Windows-1252.
const sniffWindow = 64 << 10

// detect reads UTF-16 with a byte order mark, UTF-8 (with or without one:
// the mark is left for the parser to strip), and else Windows-1252,
// telling warn so (with hint, how to say otherwise). It streams, holding
// no more than sniffWindow bytes, so a roster that never ends (a FIFO,
// /dev/zero) is read as it comes and can be stopped: ASCII reads the same
// in both encodings and passes through as it is; at the first byte that
// is not ASCII, the sniffWindow bytes from there decide. If they are
// UTF-8, so is the rest, and a later byte that is not UTF-8 stops the
// read naming its line and --encoding; else the rest is Windows-1252.
func detect(r io.Reader, warn func(string), what, hint string) (io.Reader, error) {
	br := bufio.NewReaderSize(r, sniffWindow)
	head, err := br.Peek(3)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	switch bomOf(head) {
	case "utf-16":
		return utf16.NewDecoder().Reader(br), nil
	case "utf-8":
		return &utf8Reader{r: br, line: 1, what: what, bom: true}, nil
	}
	return &sniffer{br: br, line: 1, warn: warn, what: what, hint: hint}, nil
}

// sniffer passes ASCII through until the first byte that is not, then
// reads the rest as the bytes from there say (see detect).
type sniffer struct {
	br         *bufio.Reader // of sniffWindow bytes
	line       int           // the line of the next byte
	next       io.Reader     // the rest's reader, once decided
	warn       func(string)
	what, hint string
}

func (s *sniffer) Read(p []byte) (int, error) {
	if s.next != nil {
		return s.next.Read(p)
	}
	if len(p) == 0 {
		return 0, nil
	}
	if s.br.Buffered() == 0 {
		if _, err := s.br.Peek(1); err != nil {
			return 0, err
		}
	}
	buf, _ := s.br.Peek(min(len(p), s.br.Buffered()))
	ascii := 0
	for ascii < len(buf) && buf[ascii] < utf8.RuneSelf {
		ascii++
	}
	if ascii > 0 {
		n := copy(p, buf[:ascii])
		s.line += bytes.Count(p[:n], []byte("\n"))
		_, _ = s.br.Discard(n)
		return n, nil
	}
	window, err := s.br.Peek(sniffWindow)
	if err != nil && !errors.Is(err, io.EOF) {
		return 0, err
	}
	if bad := firstInvalid(window, err != nil); bad < 0 {
		s.next = &utf8Reader{r: s.br, line: s.line, what: s.what}
	} else {
		if s.warn != nil {
			line := s.line + bytes.Count(window[:bad], []byte("\n"))
			s.warn(fmt.Sprintf("%s is not valid UTF-8 (line %d); read as Windows-1252 (%s)", s.what, line, s.hint))
		}
		s.next = charmap.Windows1252.NewDecoder().Reader(s.br)
	}
	return s.next.Read(p)
}

// firstInvalid returns the offset of the first byte of b that is not
// UTF-8, or -1. A character cut by the end of b is not counted against it
// unless b is all there is (end).
func firstInvalid(b []byte, end bool) int {
	for i := 0; i < len(b); {
		if b[i] < utf8.RuneSelf {
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			if !end && !utf8.FullRune(b[i:]) {
				return -1
			}
			return i
		}
		i += size
	}
	return -1
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
	bom   bool // the file starts with the UTF-8 byte order mark
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
	if u.bom {
		u.err = &encodingError{fmt.Sprintf("%s starts with the UTF-8 byte order mark but is not valid UTF-8 (line %d)", u.what, u.line)}
	} else {
		u.err = &encodingError{fmt.Sprintf("%s is not valid UTF-8 (line %d): give its encoding with --encoding, such as windows-1252", u.what, u.line)}
	}
	return u.err
}
