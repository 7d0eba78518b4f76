package roster

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/rostersync/rostersync/sync/model"
)

// readJSON reads one JSON array of objects, streaming its elements. A
// syntax error stops the run: where one element ends and the next begins
// is no longer known.
func readJSON(br *bufio.Reader, lim *budget, s *schema) ([]model.Row, error) {
	dec := json.NewDecoder(br)
	dec.UseNumber()
	tok, err := dec.Token()
	if errors.Is(err, io.EOF) {
		return nil, errors.New("the file is empty: a JSON roster is an array of objects")
	}
	if err != nil {
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	if tok != json.Delim('[') {
		return nil, errors.New("a JSON roster is an array of objects; for one object per line, name the file .jsonl")
	}
	var rows []model.Row
	var flat []named
	for n := 1; dec.More(); n++ {
		lim.next()
		var elem any
		if err := dec.Decode(&elem); err != nil {
			return nil, fmt.Errorf("element %d: not valid JSON: %w", n, err)
		}
		row, err := rowOf(n, elem, s, &flat)
		if err != nil {
			return nil, err
		}
		rows = append(rows, row)
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("the array does not end: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("there is more after the array: a JSON roster is one array of objects")
	}
	return rows, nil
}

// readJSONL reads one JSON object per line; blank lines are passed over
// and do not count as rows. A line that is not valid JSON fails its row.
func readJSONL(br *bufio.Reader, lim *budget, s *schema) ([]model.Row, error) {
	var rows []model.Row
	var flat []named
	var ld lineDecoder
	sc := bufio.NewScanner(br)
	sc.Buffer(nil, MaxRecord+2) // a line, and its line end
	line := 1
	for ; sc.Scan(); line++ {
		lim.next()
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 {
			continue
		}
		n := len(rows) + 1
		elem, ok := ld.decode(text)
		if !ok {
			rows = append(rows, model.Row{N: n, Err: fmt.Errorf("row %d (line %d): not valid JSON", n, line)})
			continue
		}
		row, err := rowOf(n, elem, s, &flat)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		rows = append(rows, row)
	}
	if err := sc.Err(); errors.Is(err, bufio.ErrTooLong) {
		return nil, &tooLongError{line: line}
	} else if err != nil {
		return nil, err
	}
	return rows, nil
}

// lineDecoder decodes lines that each hold one JSON value, with numbers
// as json.Number. One json.Decoder, with its buffer, serves line after
// line; a line that fails leaves it in an unknown state, so the next line
// gets a new one.
type lineDecoder struct {
	line bytes.Reader // the line being decoded
	dec  *json.Decoder
	read int64 // the decoder's input offset at the start of the line
}

// decode decodes text, which must be exactly one JSON value with no
// space around it.
func (d *lineDecoder) decode(text []byte) (any, bool) {
	if d.dec == nil {
		d.dec, d.read = json.NewDecoder(&d.line), 0
		d.dec.UseNumber()
	}
	d.line.Reset(text)
	var elem any
	if err := d.dec.Decode(&elem); err != nil || d.dec.InputOffset()-d.read != int64(len(text)) {
		d.dec = nil
		return nil, false
	}
	d.read = d.dec.InputOffset()
	return elem, true
}

// rowOf builds the row of one JSON element: the PATCH body shape plus the
// key. Nested objects name dotted fields. An unknown key stops the run,
// as an unknown CSV column does. flat is room for the element's values,
// kept from row to row.
func rowOf(n int, elem any, s *schema, flat *[]named) (model.Row, error) {
	obj, ok := elem.(map[string]any)
	if !ok {
		return model.Row{N: n, Err: fmt.Errorf("row %d: not a JSON object", n)}, nil
	}
	*flat = (*flat)[:0]
	flatten("", obj, flat)
	b := newBuilder(n, s, len(*flat))
	slices.SortFunc(*flat, func(a, b named) int { return strings.Compare(a.name, b.name) })
	seen := map[string]string{} // column id -> the name it was given under
	for _, p := range *flat {
		name, v := p.name, p.v
		col, err := s.column(name)
		if err != nil {
			return model.Row{}, fmt.Errorf("element %d: %w", n, err)
		}
		if col.skip {
			continue
		}
		id := col.id()
		if prev, dup := seen[id]; dup {
			// "Email" and "email", or "client": {"x": ..} and "client.x":
			// which one wins would be up to map order.
			if prev == name {
				b.fail(fmt.Errorf("%q is given twice", name))
			} else {
				b.fail(fmt.Errorf("%q and %q are the same field", prev, name))
			}
			continue
		}
		seen[id] = name
		if col.key {
			switch k := v.(type) {
			case string:
				b.key(k)
			case json.Number:
				b.key(k.String())
			default:
				b.fail(fmt.Errorf("%s is not a string or number", s.Key))
			}
			continue
		}
		b.decoded(col.field, v)
	}
	return b.done(s.Key), nil
}

// named is one value of a flattened JSON object.
type named struct {
	name string
	v    any
}

// flatten turns nested objects into dotted names; lists stay values.
func flatten(prefix string, obj map[string]any, out *[]named) {
	for k, v := range obj {
		name := k
		if prefix != "" {
			name = prefix + "." + k
		}
		if sub, ok := v.(map[string]any); ok {
			flatten(name, sub, out)
			continue
		}
		*out = append(*out, named{strings.TrimSpace(name), v})
	}
}
