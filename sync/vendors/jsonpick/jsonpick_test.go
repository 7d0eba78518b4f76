package jsonpick_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/rostersync/rostersync/sync/vendors/jsonpick"
)

// decodeStd is what encoding/json makes of data, a whole document, into
// an any with UseNumber.
func decodeStd(data []byte) (any, error) {
	if !json.Valid(data) {
		return nil, errors.New("not JSON")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	return v, err
}

// value decodes a whole document with jsonpick.
func value(data []byte) (any, error) {
	sc := jsonpick.New(data)
	v, err := sc.Value()
	if err == nil {
		err = sc.Done()
	}
	return v, err
}

// lookup finds keys in a decoded value as code reading encoding/json's
// maps does.
func lookup(v any, keys []string) any {
	for _, k := range keys {
		obj, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = obj[k]
	}
	return v
}

var testPaths = [][]string{{"id"}, {"a", "b"}, {"a", "c", "d"}, {"a"}, {"x"}, {"a", "b"}, {"user_id"}, {"client", "is_panel_trunks"}}

var seeds = []string{
	`{"id": 1, "a": {"b": "two", "c": {"d": [1, 2.5e3, -0.1]}}, "x": null}`,
	`{"a": {"b": 1}, "a": 7}`,
	`{"a": 7, "a": {"b": 1}}`,
	`{"a": {"b": 1, "b": "again"}, "x": true, "id": false}`,
	`{"user_id": 12, "client": {"is_panel_trunks": true, "carrier_name": "C\u00e9 \"q\" \/ \ud83d\ude00"}}`,
	`{"id": "caf\xe9", "x": "\u0000"}`,
	`{"id": 01}`, `{"id": 1.}`, `{"id": -}`, `{"id": 1e}`, `{"id": tru}`, `{"id": truex}`,
	`{"id": "a` + "\x01" + `"}`, `{"id": "\x"}`, `{"id": "\u12"}`, `{"id" 1}`, `{"id": 1,}`, `[1, 2,]`, `{}`, `[]`,
	`{"id": [}`, `{"id": {"a": }}`, `  {"id" : 1 , "x" : [ ] }  `, `{"id": 1} x`, `"str"`, `12`, `null`, ``,
	`{"items": [{"user_id": 1}, {"user_id": "2"}], "total": 2}`,
}

// FuzzAgainstEncodingJSON holds jsonpick to encoding/json: the same
// documents are JSON, the same values are decoded, and Pick finds what a
// lookup in encoding/json's decoding finds.
func FuzzAgainstEncodingJSON(f *testing.F) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	paths := jsonpick.NewPaths(testPaths)
	f.Fuzz(func(t *testing.T, data []byte) {
		sc := jsonpick.New(data)
		skipErr := sc.Skip()
		valid := skipErr == nil && sc.Done() == nil
		if valid != json.Valid(data) {
			t.Fatalf("jsonpick says valid=%v (%v), encoding/json says %v, for %q", valid, skipErr, json.Valid(data), data)
		}
		want, stdErr := decodeStd(data)
		got, err := value(data)
		if (err == nil) != (stdErr == nil) {
			t.Fatalf("Value: %v, encoding/json: %v, for %q", err, stdErr, data)
		}
		if err != nil {
			return
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("Value = %#v, encoding/json = %#v, for %q", got, want, data)
		}
		out := make([]any, paths.Len())
		sc = jsonpick.New(data)
		if err = sc.Pick(paths, out); err == nil {
			err = sc.Done()
		}
		if _, isObj := want.(map[string]any); isObj != (err == nil) {
			t.Fatalf("Pick: %v, for %q", err, data)
		}
		if err != nil {
			return
		}
		for i, keys := range testPaths {
			if w := lookup(want, keys); !reflect.DeepEqual(out[i], w) {
				t.Errorf("Pick %v = %#v, lookup = %#v, for %q", keys, out[i], w, data)
			}
		}
	})
}

func TestTypedValues(t *testing.T) {
	sc := jsonpick.New([]byte(`{"n": 12, "s": "12", "b": true, "f": 1.5, "q": "x"}`))
	got := map[string]any{}
	err := sc.Object(func(key []byte) error {
		var v any
		var err error
		switch string(key) {
		case "n":
			v, err = sc.Int()
		case "s":
			v, err = sc.Number()
		case "b":
			v, err = sc.Bool()
		case "f":
			if _, err = sc.Int(); !errors.Is(err, jsonpick.ErrType) {
				t.Errorf("Int of 1.5 = %v, want ErrType", err)
			}
			// A type error leaves the value unread: it can still be skipped.
			if err := sc.Skip(); err != nil {
				t.Errorf("skipping 1.5 after Int refused it: %v", err)
			}
			return nil
		case "q":
			_, err = sc.Number()
			return err
		}
		got[string(key)] = v
		return err
	})
	if !errors.Is(err, jsonpick.ErrType) {
		t.Fatalf(`the walk = %v; want the Number of "x" to stop it with ErrType`, err)
	}
	if got["n"] != 12 || got["s"] != json.Number("12") || got["b"] != true {
		t.Errorf("got %#v", got)
	}
}

// TestDepth refuses nesting deeper than encoding/json takes, rather than
// taking the stack.
func TestDepth(t *testing.T) {
	deep := bytes.Repeat([]byte("["), 20000)
	if err := jsonpick.New(deep).Skip(); err == nil || !strings.Contains(err.Error(), "depth") {
		t.Errorf("Skip of 20,000 '[': %v", err)
	}
}
