package roster

import (
	"errors"
	"fmt"
	"strings"

	"github.com/rostersync/rostersync/sync/model"
)

// ParseSet parses a constant setter, "field=value" (--set
// block_agent=true), into a value every row of the roster will set. The
// value is read as a roster cell of the field: trimmed, and "(clear)" in
// any case clears the field. A secret is refused: a command line is seen
// by others.
func ParseSet(t *model.Table, expr string) (model.Value, error) {
	return ParseFieldValue(t, "--set", expr)
}

// ParseFieldValue parses "field=value" given to the flag named flag
// (--set, --scope), as ParseSet says.
func ParseFieldValue(t *model.Table, flag, expr string) (model.Value, error) {
	name, raw, ok := strings.Cut(expr, "=")
	name = strings.ToLower(strings.TrimSpace(name))
	if !ok || name == "" {
		return model.Value{}, fmt.Errorf("%s %q: want field=value, such as block_agent=true", flag, expr)
	}
	f := t.Field(name)
	if f == nil {
		return model.Value{}, fmt.Errorf("%s %s: %w", flag, expr, unknown("field", name, t.Names()))
	}
	if f.Secret {
		return model.Value{}, fmt.Errorf("%s %s: %s is secret and a command line is not: give it in the roster", flag, name, name)
	}
	var v any
	var err error
	switch raw = strings.TrimSpace(raw); {
	case raw == "":
		err = errors.New("give a value, or (clear) to clear the field")
	case strings.EqualFold(raw, model.Clear):
		v, err = f.Kind.Decode(nil)
	case f.CheckCell(raw) != nil:
		err = f.CheckCell(raw)
	default:
		v, err = f.Kind.Parse(raw)
	}
	if err != nil {
		return model.Value{}, fmt.Errorf("%s %s: %w", flag, name, err)
	}
	return model.Value{Field: f, V: v}, nil
}
