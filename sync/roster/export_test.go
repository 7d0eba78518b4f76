package roster

import (
	"bufio"
	"errors"
	"io"
)

// ReadMapFrom reads a mapping file from a reader, for the fuzz target.
var ReadMapFrom = readMap

// CheckUTF8 reads r through the streaming UTF-8 check, giving the line of
// the first byte that is not UTF-8, or 0.
func CheckUTF8(r io.Reader) (int, error) {
	br := bufio.NewReader(r)
	if head, _ := br.Peek(3); bomOf(head) == "utf-16" {
		return 0, nil
	}
	u := &utf8Reader{r: br, line: 1, what: "the roster"}
	_, err := io.Copy(io.Discard, u)
	var encErr *encodingError
	if errors.As(err, &encErr) {
		return u.line, nil
	}
	return 0, err
}

// LineDecoder returns the JSON Lines decoder's decode, which keeps its
// json.Decoder from call to call.
func LineDecoder() func(text []byte) (any, bool) {
	var d lineDecoder
	return d.decode
}

// Detect decodes r as a roster whose encoding is not named, giving the
// text, the warnings and the error.
func Detect(r io.Reader) (string, []string, error) {
	var warnings []string
	text, err := detect(r, func(msg string) { warnings = append(warnings, msg) }, "the roster", "hint")
	if err != nil {
		return "", warnings, err
	}
	b, err := io.ReadAll(text)
	return string(b), warnings, err
}

// CodeKind classifies a custom number format code: "number", "date",
// "time" or "datetime".
func CodeKind(code string) string {
	return [...]string{isNumber: "number", isDate: "date", isTime: "time", isDateTime: "datetime"}[codeKind(code)]
}
