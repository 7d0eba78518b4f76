package plan

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/rostersync/rostersync/sync/model"
)

// FileVersion is the plan file format this build writes and reads.
const FileVersion = 1

// File is a plan saved to be applied later exactly as it was reviewed
// (`plan --out`, then `apply --plan`), or a revert of a run. It holds no
// secret: a change that sets one records only that it does, and the value
// comes from the roster again when the plan is applied.
type File struct {
	Version int          `json:"version"`
	Kind    string       `json:"kind"` // "plan", or "revert" of the run Reverts
	Target  string       `json:"target"`
	BaseURL string       `json:"base_url"`
	Created time.Time    `json:"created_at"`
	Roster  *Digest      `json:"roster,omitempty"`  // the roster planned from; nil for a revert
	Reverts string       `json:"reverts,omitempty"` // the run a revert undoes
	Match   string       `json:"match"`
	Users   int          `json:"users"` // users the target held; -1 when not counted
	Changes []FileChange `json:"changes"`
}

// Digest names a file by its content.
type Digest struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
}

// FileChange is one user's change: the roster row that asked for it, and
// for each field its value before (as read) and after.
type FileChange struct {
	Row    int            `json:"row"`
	Key    string         `json:"key"`
	UserID string         `json:"user_id"`
	Blocks bool           `json:"blocks,omitempty"`
	Fields []FileField    `json:"fields"`
	Body   map[string]any `json:"body"` // the PATCH body, without secrets
}

// FileField is one field of a change, its values as they travel in JSON.
// Before is absent when it was not known (a write-only field rostersync
// never wrote); a sensitive field has neither value.
type FileField struct {
	Field     string          `json:"field"`
	Before    json.RawMessage `json:"before,omitempty"`
	After     json.RawMessage `json:"after,omitempty"`
	Sensitive bool            `json:"sensitive,omitempty"`
}

// NewFile saves the planned changes of p, made against baseURL from the
// roster digest names (nil for a revert).
func NewFile(p *Plan, baseURL string, roster *Digest, now time.Time) (*File, error) {
	f := &File{Version: FileVersion, Kind: "plan", Target: p.Target, BaseURL: baseURL, Created: now.UTC(),
		Roster: roster, Match: p.Match, Users: p.Users, Changes: []FileChange{}}
	for i := range p.Items {
		it := &p.Items[i]
		if it.Status != model.Planned {
			continue
		}
		c := FileChange{Row: it.Row, Key: it.Key, UserID: it.UserID, Blocks: it.Blocks(), Body: withoutSecrets(it)}
		for _, ch := range it.Changes {
			ff := FileField{Field: ch.Field.Name, Sensitive: ch.Field.Secret}
			if !ch.Field.Secret {
				var err error
				if ch.Known && !ch.Redacted {
					if ff.Before, err = encode(ch.Field, ch.Old); err != nil {
						return nil, err
					}
				}
				if ff.After, err = encode(ch.Field, ch.New); err != nil {
					return nil, err
				}
			}
			c.Fields = append(c.Fields, ff)
		}
		f.Changes = append(f.Changes, c)
	}
	return f, nil
}

func encode(f *model.Field, v any) (json.RawMessage, error) {
	b, err := json.Marshal(f.Kind.Encode(v))
	if err != nil {
		return nil, fmt.Errorf("field %s: %w", f.Name, err)
	}
	return b, nil
}

func decode(f *model.Field, raw json.RawMessage) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return f.Kind.Decode(v)
}

// withoutSecrets returns an item's body less its secret fields.
func withoutSecrets(it *Item) map[string]any {
	body := cloneBody(it.Body)
	for _, ch := range it.Changes {
		if ch.Field.Secret {
			deletePath(body, ch.Field.Name)
		}
	}
	return body
}

func cloneBody(b map[string]any) map[string]any {
	out := make(map[string]any, len(b))
	for k, v := range b {
		if sub, ok := v.(map[string]any); ok {
			v = cloneBody(sub)
		}
		out[k] = v
	}
	return out
}

func deletePath(b map[string]any, name string) {
	keys := strings.Split(name, ".")
	for _, k := range keys[:len(keys)-1] {
		next, ok := b[k].(map[string]any)
		if !ok {
			return
		}
		b = next
	}
	delete(b, keys[len(keys)-1])
}

// RevertsRun returns the run f reverts: "" for a plan, or for no file.
func (f *File) RevertsRun() string {
	if f == nil {
		return ""
	}
	return f.Reverts
}

// Sensitive reports whether any change sets a secret, whose value must
// come from the roster when the plan is applied.
func (f *File) Sensitive() bool {
	for _, c := range f.Changes {
		for _, ff := range c.Fields {
			if ff.Sensitive {
				return true
			}
		}
	}
	return false
}

// Encode returns the file as it is written: indented JSON.
func (f *File) Encode() ([]byte, error) {
	b, err := json.MarshalIndent(f, "", "  ")
	return append(b, '\n'), err
}

// ReadFile reads a plan file and returns it with the digest of its bytes,
// which names the plan (a plan applied once is refused the second time).
func ReadFile(path string) (*File, string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, "", fmt.Errorf("reading the plan: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	dec.DisallowUnknownFields()
	var f File
	if err := dec.Decode(&f); err != nil {
		return nil, "", fmt.Errorf("plan %s: not a plan file: %w", path, err)
	}
	switch {
	case f.Version != FileVersion:
		return nil, "", fmt.Errorf("plan %s: version %d; this rostersync reads version %d", path, f.Version, FileVersion)
	case f.Target == "" || f.BaseURL == "":
		return nil, "", fmt.Errorf("plan %s: no target or base URL", path)
	}
	sum := sha256.Sum256(data)
	return &f, hex.EncodeToString(sum[:]), nil
}

// ErrStale means a planned field no longer holds the value the plan saw.
var ErrStale = errors.New("the user changed since the plan was made")

// Rows returns the rows a fresh plan of the file's changes is made of: one
// per change, keyed by the user's id, setting each field to its value
// after. A secret's value comes from secrets (by row); a change that sets
// one not there fails, saying how to give it.
func (f *File) Rows(t model.Target, secrets func(row int, field string) (string, bool)) ([]model.Row, error) {
	rows := make([]model.Row, 0, len(f.Changes))
	for _, c := range f.Changes {
		r := model.Row{N: c.Row, Key: c.UserID}
		for _, ff := range c.Fields {
			fld := t.Table.Field(ff.Field)
			if fld == nil {
				return nil, fmt.Errorf("row %d: %s has no field %q", c.Row, t.Name, ff.Field)
			}
			if ff.Sensitive {
				pw, ok := secrets(c.Row, ff.Field)
				if !ok {
					r.Err = fmt.Errorf("row %d sets %s, which a plan file never holds: apply the plan with --roster naming the roster it was made from", c.Row, ff.Field)
					break
				}
				r.Values = append(r.Values, model.Value{Field: fld, V: pw})
				continue
			}
			v, err := decode(fld, ff.After)
			if err != nil {
				return nil, fmt.Errorf("row %d: field %s: %w", c.Row, ff.Field, err)
			}
			r.Values = append(r.Values, model.Value{Field: fld, V: v})
		}
		if r.Err != nil {
			r.Values = nil
		}
		model.SortValues(r.Values)
		rows = append(rows, r)
	}
	return rows, nil
}

// Recheck turns p, a fresh plan of f.Rows, into the file's plan: a row
// whose user no longer holds, in some field, the value the plan saw fails,
// naming the field, its value now and the value seen; every other row gets
// exactly the file's body (with its secrets from rows) and its changes as
// the file records them. Fields whose value before was not known are not
// checked.
func (f *File) Recheck(p *Plan, t model.Target, rows []model.Row) error {
	return f.check(p, t, rows, false)
}

// ErrConflict means a user changed again after the run a revert undoes: a
// later change a revert never overwrites.
var ErrConflict = errors.New("changed again since that run")

// Conflicts checks p, a fresh plan of a revert's f.Rows, for later
// changes: a field may hold the value the run left (it goes back) or the
// value before the run (nothing to do), and a row with a field that holds
// anything else fails as a conflict naming its value now. The rows left
// keep the fresh plan's changes and body.
func (f *File) Conflicts(p *Plan, t model.Target) error {
	return f.check(p, t, nil, true)
}

// check compares the fields of p's items with the values f saw before:
// see Recheck and Conflicts (revert).
// p's items are f.Rows's, one per change and in its order: absent users
// share row 0, so an item is matched to its change by position.
func (f *File) check(p *Plan, t model.Target, rows []model.Row, revert bool) error {
	if len(p.Items) != len(f.Changes) {
		return fmt.Errorf("the plan of %d changes has %d items", len(f.Changes), len(p.Items))
	}
	for i := range p.Items {
		it, c := &p.Items[i], &f.Changes[i]
		if it.Status != model.Planned && it.Status != model.Unchanged {
			continue
		}
		now := map[string]any{}
		for _, ch := range it.Changes {
			now[ch.Field.Name] = ch.Old
		}
		changes := make([]Change, 0, len(c.Fields))
		var stale []string
		for _, ff := range c.Fields {
			fld := t.Table.Field(ff.Field)
			ch := Change{Field: fld, Known: ff.Before != nil || ff.Sensitive}
			if !ff.Sensitive {
				after, err := decode(fld, ff.After)
				if err != nil {
					return fmt.Errorf("row %d: field %s: %w", c.Row, ff.Field, err)
				}
				ch.New = after
				if ff.Before != nil {
					if ch.Old, err = decode(fld, ff.Before); err != nil {
						return fmt.Errorf("row %d: field %s: %w", c.Row, ff.Field, err)
					}
					cur, changed := now[ff.Field]
					if !changed {
						cur = after // the fresh plan found it holding the value after
					}
					switch {
					case fld.Kind.Equal(cur, ch.Old), revert && fld.Kind.Equal(cur, after):
					case revert:
						stale = append(stale, fmt.Sprintf("%s is now %s; the run left %s", ff.Field, fld.Kind.Format(cur), fld.Kind.Format(ch.Old)))
					default:
						stale = append(stale, fmt.Sprintf("%s is now %s, the plan saw %s", ff.Field, fld.Kind.Format(cur), fld.Kind.Format(ch.Old)))
					}
				}
			}
			changes = append(changes, ch)
		}
		switch {
		case len(stale) > 0 && revert:
			it.Status, it.Changes, it.Body = model.Failed, nil, nil
			it.Err = fmt.Errorf("row %d: user %s %w: %s; left as it is", it.Row, it.UserID, ErrConflict, strings.Join(stale, "; "))
			continue
		case len(stale) > 0:
			it.Status, it.Changes, it.Body = model.Failed, nil, nil
			it.Err = fmt.Errorf("row %d: %w: %s; make a new plan", it.Row, ErrStale, strings.Join(stale, "; "))
			continue
		case revert:
			continue // the fresh plan's changes and body stand
		}
		it.Status, it.Changes, it.Body, it.Err = model.Planned, changes, cloneBody(c.Body), nil
		for j := range it.Changes {
			ch := &it.Changes[j]
			for _, v := range rows[i].Values {
				if ch.Field.Secret && v.Field == ch.Field {
					ch.New = v.V
					setPath(it.Body, ch.Field.Name, v.V)
				}
			}
		}
	}
	return nil
}
