package resttest

import (
	"bytes"
	"encoding/json"
	"strings"
)

// What both vendors' client tests check of a reading, against encoding/json.

// Canonical reports whether v is in model's canonical form: nil, a string,
// a bool, an int64, or a list of such values none of which is nil.
func Canonical(v any) bool {
	switch v := v.(type) {
	case nil, string, bool, int64:
		return true
	case []any:
		for _, e := range v {
			if e == nil || !Canonical(e) {
				return false
			}
		}
		return true
	}
	return false
}

// SaysFailed is the fuzz targets' own reading of a body: a top-level
// success (the only key named so in any case) that is false, "false" or
// "0" in any case, or the number 0.
func SaysFailed(body []byte) bool {
	var obj map[string]any
	if !json.Valid(body) {
		return false
	}
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	if d.Decode(&obj) != nil {
		return false
	}
	var v any
	n := 0
	for k, val := range obj {
		if strings.EqualFold(k, "success") {
			v, n = val, n+1
		}
	}
	if n != 1 {
		return false
	}
	switch v := v.(type) {
	case bool:
		return !v
	case string:
		s := strings.ToLower(strings.TrimSpace(v))
		return s == "false" || s == "0"
	case json.Number:
		f, err := v.Float64()
		return err == nil && f == 0
	}
	return false
}

// Only copies the values at paths out of doc, into objects of their own:
// a narrowed reading neither reads nor checks the others.
func Only(doc map[string]any, paths [][]string) map[string]any {
	out := map[string]any{}
	for _, path := range paths {
		src, dst := doc, out
		for i, k := range path {
			v, ok := src[k]
			if !ok {
				break
			}
			sub, isObj := v.(map[string]any)
			if i == len(path)-1 || !isObj {
				dst[k] = v
				break
			}
			d, _ := dst[k].(map[string]any)
			if d == nil {
				d = map[string]any{}
				dst[k] = d
			}
			src, dst = sub, d
		}
	}
	return out
}
