package sync

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	gosync "sync"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/sync/errgroup"
)

// Status is a row's outcome, in the report's words.
type Status string

// The statuses a row can end with.
const (
	Applied   Status = "applied"
	Unchanged Status = "unchanged"
	Planned   Status = "planned"
	Failed    Status = "failed"
	Skipped   Status = "skipped"
)

// Row is one roster row: the user it names and the fields it sets.
type Row struct {
	N      int     // 1-based data row (header not counted; JSON element index from 1)
	Key    string  // the key field's value
	Values []Value // the fields the row sets, sorted by name
	Err    error   // why the row cannot be used; it fails
}

// Value is one field a row sets, in canonical form.
type Value struct {
	Field *Field
	V     any
}

// Change is one field edit of a user.
type Change struct {
	Field *Field
	Old   any  // the current value; meaningless when !Known
	Known bool // false for a write-only field this tool never wrote
	New   any
}

// Item is what the plan decides for one row.
type Item struct {
	Row     int
	Key     string
	UserID  string
	Status  Status // Planned (it has changes), Unchanged, Failed or Skipped
	Changes []Change
	Body    map[string]any // the minimal PATCH body, when Planned
	Err     error          // why it failed or is skipped
}

// Fields returns the names of the changed fields, sorted.
func (it *Item) Fields() []string {
	names := make([]string, len(it.Changes))
	for i, c := range it.Changes {
		names[i] = c.Field.Name
	}
	return names
}

// Blocks reports whether the change blocks the user.
func (it *Item) Blocks() bool {
	for _, c := range it.Changes {
		if c.Field.Blocks != nil && c.Field.Kind.Equal(c.New, c.Field.Blocks) {
			return true
		}
	}
	return false
}

// Plan is the decision for a whole roster: one item per row, in roster
// order. It is a value: it can be printed, counted and guarded before
// anything is sent.
type Plan struct {
	Target string
	Items  []Item
}

// Count returns how many items have the status.
func (p *Plan) Count(s Status) int {
	n := 0
	for i := range p.Items {
		if p.Items[i].Status == s {
			n++
		}
	}
	return n
}

// Ledger remembers what this tool last wrote to users' write-only fields,
// which no read returns. Values are as JSON decodes them (numbers as
// json.Number); secrets are bcrypt hashes.
type Ledger interface {
	Written(userID string) map[string]any
	Record(userID string, values map[string]any) error
}

// Planner reads the state of the users a roster names and diffs each row
// against it.
type Planner struct {
	Target  Target
	Ledger  Ledger
	Workers int // reads in flight at most
	// Done reports rows an earlier run finished (for --resume), with the
	// reason they are skipped.
	Done func(r *Row) (reason string, done bool)
}

// Plan builds the plan for rows. It returns an error only when the run
// cannot go on: credentials rejected, or the state could not be read in
// full. A row that cannot be planned becomes a failed item.
func (pl Planner) Plan(ctx context.Context, rows []Row) (*Plan, error) {
	p := &Plan{Target: pl.Target.Name(), Items: make([]Item, len(rows))}
	for i := range rows {
		r := &rows[i]
		p.Items[i] = Item{Row: r.N, Key: r.Key, Status: Planned, Err: r.Err}
		if r.Err != nil {
			p.Items[i].Status = Failed
		}
	}
	pl.markDuplicates(rows, p.Items)
	if pl.Done != nil {
		for i := range rows {
			if reason, done := pl.Done(&rows[i]); done && p.Items[i].Status == Planned {
				p.Items[i].Status, p.Items[i].Err = Skipped, errors.New(reason)
			}
		}
	}
	users, readErrs, err := pl.read(ctx, rows, p.Items)
	if err != nil {
		return nil, err
	}
	g := new(errgroup.Group)
	g.SetLimit(runtime.GOMAXPROCS(0))
	const chunk = 256
	for lo := 0; lo < len(rows); lo += chunk {
		hi := min(lo+chunk, len(rows))
		g.Go(func() error {
			for i := lo; i < hi; i++ {
				it := &p.Items[i]
				if it.Status != Planned {
					continue
				}
				u, ok := users[rows[i].Key]
				switch {
				case readErrs[rows[i].Key] != nil:
					it.Status, it.Err = Failed, readErrs[rows[i].Key]
				case !ok:
					it.Status = Failed
					it.Err = fmt.Errorf("row %d: no user with %s %q", rows[i].N, pl.Target.Key(), rows[i].Key)
				default:
					pl.diff(&rows[i], u, it)
				}
			}
			return nil
		})
	}
	_ = g.Wait()
	return p, nil
}

// markDuplicates fails every row whose key another row repeats: neither
// wins silently.
func (pl Planner) markDuplicates(rows []Row, items []Item) {
	seen := make(map[string][]int, len(rows))
	for i := range rows {
		if rows[i].Err == nil {
			seen[rows[i].Key] = append(seen[rows[i].Key], i)
		}
	}
	for key, idx := range seen {
		if len(idx) < 2 {
			continue
		}
		ns := make([]string, len(idx))
		for j, i := range idx {
			ns[j] = fmt.Sprint(rows[i].N)
		}
		for _, i := range idx {
			items[i].Status = Failed
			items[i].Err = fmt.Errorf("row %d: duplicate %s %q (rows %s)", rows[i].N, pl.Target.Key(), key, strings.Join(ns, ", "))
		}
	}
}

// read gathers the current state of the users the planned rows name. It
// lists every user when the list carries the fields of at least one row,
// and reads one user at a time for rows that need fields the list lacks.
// Per-user read failures are returned by key; the error is run-wide.
func (pl Planner) read(ctx context.Context, rows []Row, items []Item) (map[string]*User, map[string]error, error) {
	var listed, full []string // keys
	for i := range rows {
		if items[i].Status != Planned {
			continue
		}
		if needsFullRead(&rows[i]) {
			full = append(full, rows[i].Key)
		} else {
			listed = append(listed, rows[i].Key)
		}
	}
	users := make(map[string]*User, len(rows))
	readErrs := make(map[string]error)
	haveList := len(listed) > 0
	if haveList {
		named := make(map[string]bool, len(rows))
		for i := range rows {
			named[rows[i].Key] = true
		}
		err := pl.Target.List(ctx, func(u User) error {
			if named[u.ID] {
				users[u.ID] = &u
			}
			return nil
		})
		if err != nil {
			return nil, nil, fmt.Errorf("reading the users: %w", err)
		}
	}
	// Choose the reads before any starts: the readers write to users.
	var toRead []string
	for _, key := range full {
		if !haveList || users[key] != nil { // else the list shows no such user
			toRead = append(toRead, key)
		}
	}
	var mu gosync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(1, pl.Workers))
	for _, key := range toRead {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error {
			u, err := pl.Target.Get(gctx, key)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				users[key] = &u
			case errors.Is(err, ErrNotFound):
				delete(users, key)
			case errors.Is(err, ErrAuth), gctx.Err() != nil:
				return err
			default:
				readErrs[key] = fmt.Errorf("reading user %s: %w", key, err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, nil, fmt.Errorf("reading the users: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	return users, readErrs, nil
}

// needsFullRead reports whether a row sets a readable field the list lacks.
func needsFullRead(r *Row) bool {
	for _, v := range r.Values {
		if !v.Field.WriteOnly() && v.Field.List.Zero() {
			return true
		}
	}
	return false
}

// diff fills in the item's changes and PATCH body, or marks it unchanged.
func (pl Planner) diff(r *Row, u *User, it *Item) {
	it.UserID = u.ID
	var written map[string]any
	if pl.Ledger != nil {
		written = pl.Ledger.Written(u.ID)
	}
	for _, v := range r.Values {
		f := v.Field
		old, known := current(f, u, written)
		if known && same(f, old, v.V) {
			continue
		}
		it.Changes = append(it.Changes, Change{Field: f, Old: old, Known: known, New: v.V})
	}
	if len(it.Changes) == 0 {
		it.Status = Unchanged
		return
	}
	it.Body = body(pl.Target.Table(), r, u, written, it.Changes)
}

// current returns a field's current value: from the read, or for a
// write-only field from the ledger.
func current(f *Field, u *User, written map[string]any) (any, bool) {
	if !f.WriteOnly() {
		v, ok := u.Values[f.Name]
		return v, ok
	}
	raw, ok := written[f.Name]
	if !ok {
		return nil, false
	}
	if f.Secret {
		return raw, true
	}
	v, err := f.Kind.Decode(raw)
	return v, err == nil
}

// same compares a current value with the roster's; a secret's current
// value is a bcrypt hash.
func same(f *Field, old, new any) bool {
	if f.Secret {
		hash, _ := old.(string)
		pw, _ := new.(string)
		return hash != "" && bcrypt.CompareHashAndPassword([]byte(hash), []byte(pw)) == nil
	}
	return f.Kind.Equal(old, new)
}

// body builds the minimal PATCH body: the changed fields, plus the other
// members of a changed group (from the row, else the current state), as
// nested objects for dotted names.
func body(t *Table, r *Row, u *User, written map[string]any, changes []Change) map[string]any {
	b := map[string]any{}
	groups := map[string]bool{}
	for _, c := range changes {
		setPath(b, c.Field.Name, c.Field.Kind.Encode(c.New))
		if c.Field.Group != "" {
			groups[c.Field.Group] = true
		}
	}
	for g := range groups {
		for i := range t.Fields() {
			f := &t.Fields()[i]
			if f.Group != g || slices.ContainsFunc(changes, func(c Change) bool { return c.Field == f }) {
				continue
			}
			if j := slices.IndexFunc(r.Values, func(v Value) bool { return v.Field == f }); j >= 0 {
				setPath(b, f.Name, f.Kind.Encode(r.Values[j].V))
			} else if v, ok := current(f, u, written); ok {
				setPath(b, f.Name, f.Kind.Encode(v))
			}
		}
	}
	return b
}

// setPath stores v under a dotted name, creating nested objects.
func setPath(b map[string]any, name string, v any) {
	keys := strings.Split(name, ".")
	for _, k := range keys[:len(keys)-1] {
		next, ok := b[k].(map[string]any)
		if !ok {
			next = map[string]any{}
			b[k] = next
		}
		b = next
	}
	b[keys[len(keys)-1]] = v
}

// SortValues orders a row's values by field name, as Row requires.
func SortValues(vs []Value) {
	slices.SortFunc(vs, func(a, b Value) int { return cmp.Compare(a.Field.Name, b.Field.Name) })
}
