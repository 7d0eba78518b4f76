package roster

import "io"

// ReadMapFrom reads a mapping file from a reader, for the fuzz target.
var ReadMapFrom = readMap

// CheckUTF8 reads r through the streaming UTF-8 check, giving the line of
// the first byte that is not UTF-8, or 0.
func CheckUTF8(r io.Reader) (int, error) {
	_, bad, err := scan(r, "the roster")
	return bad, err
}

// LineDecoder returns the JSON Lines decoder's decode, which keeps its
// json.Decoder from call to call.
func LineDecoder() func(text []byte) (any, bool) {
	var d lineDecoder
	return d.decode
}
