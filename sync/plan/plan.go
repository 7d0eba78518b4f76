// Package plan decides what a run changes: it reads the state of the users
// a roster names from a target, matches each row to its user, diffs them,
// and measures the result against the guard. The Plan is a value, printed,
// counted and guarded before anything is sent.
package plan

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/rostersync/rostersync/sync/model"
	"golang.org/x/sync/errgroup"
)

// Change is one field edit of a user.
type Change struct {
	Field *model.Field
	Old   any  // the current value, to be shown (see Planner.Redact); meaningless when !Known
	Known bool // false for a write-only field this tool never wrote
	// Redacted: Old held one of the run's secrets, removed, so it is fit
	// to show but not to restore or compare (journal, plan file).
	Redacted bool
	New      any
}

// Item is what the plan decides for one row.
type Item struct {
	Row     int
	Sheet   int // the row's number in its worksheet; 0 when the roster is not a workbook
	Key     string
	UserID  string
	Status  model.Status // Planned (it has changes), Unchanged, Failed or Skipped
	Changes []Change
	Body    map[string]any // the minimal PATCH body, when Planned
	Err     error          // why it failed or is skipped
}

// Label names the item's row in messages, as model.Row.Label does.
func (it *Item) Label() string { return model.RowLabel(it.Row, it.Sheet) }

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
	Match  string // the field rows were matched on
	Items  []Item // one per roster row, then one (row 0) per absent user
	Users  int    // users the target holds; -1 when not counted
	// Named is how many users in the absence scope the roster names; -1
	// when absent users are ignored.
	Named int
	// KeepUnknown lists the --keep values no user of the target has.
	KeepUnknown []string
}

// Count returns how many items have the status.
func (p *Plan) Count(s model.Status) int {
	n := 0
	for i := range p.Items {
		if p.Items[i].Status == s {
			n++
		}
	}
	return n
}

// Blocks returns how many planned changes block their user.
func (p *Plan) Blocks() int {
	n := 0
	for i := range p.Items {
		if p.Items[i].Status == model.Planned && p.Items[i].Blocks() {
			n++
		}
	}
	return n
}

// Planner reads the state of the users a roster names and diffs each row
// against it.
type Planner struct {
	Target  model.Target // the target's fields, id key and match fields
	Reader  Reader
	Ledger  Ledger // nil: every write-only field is unknown, every secret differs
	Workers int    // reads in flight at most
	// Match names the field whose value in Row.Key names each row's user:
	// "" or the target's Key for its id, else one of Target.MatchFields.
	Match string
	// Done reports rows an earlier run finished (for --resume), with the
	// reason they are skipped.
	Done func(r *model.Row) (reason string, done bool)
	// Progress, when set, hears of the reads.
	Progress model.Progress
	// Redact, when set, removes the run's secrets from text read from the
	// target before the plan keeps it to be shown (Change.Old): a token
	// pasted into a user's designation must not be printed. What is
	// compared, matched and sent is the value as read.
	Redact func(string) string
	// Absent says what to do with the users no row names (the zero value
	// ignores them).
	Absent Absent
}

// Plan builds the plan for rows. It returns an error only when the run
// cannot go on: credentials rejected, or the state could not be read in
// full. A row that cannot be planned becomes a failed item.
func (pl Planner) Plan(ctx context.Context, rows []model.Row) (*Plan, error) {
	match, err := MatchField(pl.Target, pl.Match)
	if err != nil {
		return nil, err
	}
	p := &Plan{Target: pl.Target.Name, Match: pl.Target.Key, Items: make([]Item, len(rows)), Users: -1, Named: -1}
	if match != nil {
		p.Match = match.Name
	}
	for i := range rows {
		r := &rows[i]
		p.Items[i] = Item{Row: r.N, Sheet: r.Sheet, Key: r.Key, Status: model.Planned, Err: r.Err}
		if r.Err != nil {
			p.Items[i].Status = model.Failed
		}
	}
	pl.markDuplicates(rows, p.Items, match)
	if pl.Done != nil {
		for i := range rows {
			if reason, done := pl.Done(&rows[i]); done && p.Items[i].Status == model.Planned {
				p.Items[i].Status, p.Items[i].Err = model.Skipped, errors.New(reason)
			}
		}
	}
	st, err := pl.read(ctx, rows, p.Items, match)
	if err != nil {
		return nil, err
	}
	p.Users = st.total
	g := new(errgroup.Group)
	g.SetLimit(runtime.GOMAXPROCS(0))
	const chunk = 256
	for lo := 0; lo < len(rows); lo += chunk {
		hi := min(lo+chunk, len(rows))
		g.Go(func() error {
			for i := lo; i < hi; i++ {
				if it := &p.Items[i]; it.Status == model.Planned && !st.diffed[i] {
					pl.diff(&rows[i], st.users[it.UserID], it)
				}
			}
			return nil
		})
	}
	_ = g.Wait()
	if pl.Absent.wantsEveryone() {
		var absent []Item
		absent, p.Named, p.KeepUnknown = pl.absentItems(rows, st.cands, match)
		p.Items = append(p.Items, absent...)
	}
	if p.Users < 0 && p.Blocks() > 0 {
		// The block-share guard measures blocks against every user held.
		if p.Users, err = countUsers(ctx, pl.Reader); err != nil {
			return nil, fmt.Errorf("counting the users: %w", err)
		}
	}
	return p, nil
}

// MatchField returns the field of t named name that rows may be matched
// on (--match), or nil for "" or t's id; any other name is an error that
// says which names t takes.
func MatchField(t model.Target, name string) (*model.Field, error) {
	if name == "" || name == t.Key {
		return nil, nil
	}
	f := t.Table.Field(name)
	if f == nil || !slices.Contains(t.MatchFields, name) {
		return nil, fmt.Errorf("%s users can be matched on %s or %s, not %q",
			t.Name, t.Key, strings.Join(t.MatchFields, " or "), name)
	}
	return f, nil
}

// matchKey puts a match value in the form rows and users are compared in:
// trimmed, and for email without regard to case.
func matchKey(f *model.Field, v string) string {
	v = strings.TrimSpace(v)
	if f != nil && f.Kind == model.Email {
		v = strings.ToLower(v)
	}
	return v
}

// markDuplicates fails every row whose key another row repeats: neither
// wins silently. Each error names a few of the other rows and counts the
// rest, so that many rows sharing one key cost time and output in
// proportion to the rows, not to their square.
func (pl Planner) markDuplicates(rows []model.Row, items []Item, match *model.Field) {
	first := newKeyIndex(len(rows))
	var dups map[string][]int // by key, the rows of keys given twice or more
	for i := range rows {
		if rows[i].Err != nil {
			continue
		}
		k := matchKey(match, rows[i].Key)
		j, seen := first.get(k)
		switch {
		case !seen:
			first.set(k, int32(i))
		case dups[k] == nil:
			if dups == nil {
				dups = map[string][]int{}
			}
			dups[k] = []int{int(j), i}
		default:
			dups[k] = append(dups[k], i)
		}
	}
	name := pl.Target.Key
	if match != nil {
		name = match.Name
	}
	for _, idx := range dups {
		first := make([]string, 0, min(len(idx), namedMost+1))
		for _, i := range idx[:min(len(idx), namedMost+1)] {
			first = append(first, fmt.Sprint(rows[i].N))
		}
		for _, i := range idx {
			items[i].Status = model.Failed
			items[i].Err = fmt.Errorf("%s: duplicate %s %q (rows %s)", rows[i].Label(), name, rows[i].Key, someOf(first, len(idx)))
		}
	}
}

// namedMost is how many rows or users an error names when many share a
// key; the rest are counted.
const namedMost = 5

// someOf lists the first namedMost of n names (names holds at least
// those) and counts the rest: "1, 2, 3, 4, 5 and 99995 more".
func someOf(names []string, n int) string {
	if n <= namedMost {
		return strings.Join(names[:n], ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:namedMost], ", "), n-namedMost)
}

// state is what a plan read of the target.
type state struct {
	users  map[string]*model.User // by id: users kept for a later diff, or (matching on a field) everyone
	total  int                    // users the target holds; -1 when not listed
	need   map[string]bool        // the fields the plan compares or sends: all a user keeps
	diffed []bool                 // by row: diffed already, as its user was listed
	cands  []candidate            // every user listed, when absent users count
}

// keep stores a user with only the fields the plan needs, so that a large
// target costs memory in proportion to what the roster sets, not to
// everything the API returns.
func (st *state) keep(u model.User) {
	vals := make(map[string]any, len(st.need))
	for name := range st.need {
		if v, ok := u.Values[name]; ok {
			vals[name] = v
		}
	}
	u.Values = vals
	st.users[u.ID] = &u
}

// fieldsNeeded returns the fields the plan compares or sends: those the
// planned rows set, the other members of their groups, and the match field.
func (pl Planner) fieldsNeeded(rows []model.Row, items []Item, match *model.Field) map[string]bool {
	groups := map[string]bool{}
	need := map[string]bool{}
	if match != nil {
		need[match.Name] = true
	}
	for _, v := range pl.Absent.Scope {
		need[v.Field.Name] = true
	}
	if pl.Absent.wantsEveryone() {
		if f := pl.Target.Table.Block(); f != nil {
			need[f.Name] = true
		}
		if p := pl.Target.Protected; p != nil {
			need[p.Field.Name] = true // who never counts as absent (DNL's admins)
		}
	}
	for i := range rows {
		if items[i].Status != model.Planned {
			continue
		}
		for _, v := range rows[i].Values {
			need[v.Field.Name] = true
			if v.Field.Group != "" {
				groups[v.Field.Group] = true
			}
		}
	}
	for _, f := range pl.Target.Table.Fields() {
		if groups[f.Group] && f.Group != "" {
			need[f.Name] = true
		}
	}
	return need
}

// read gathers the current state of the users the planned rows name and
// resolves each planned item to its user (or fails it). It reads the list
// when rows are matched on a field (every user), or when the list carries
// the fields of at least one row (every user, or just those named when the
// target is a NamedLister); it reads users one at a time for rows that
// need fields the list lacks, and reads every user in full when the match
// field is not in the list (Smartflo email). Errors are run-wide.
func (pl Planner) read(ctx context.Context, rows []model.Row, items []Item, match *model.Field) (*state, error) {
	st := &state{users: map[string]*model.User{}, total: -1, need: pl.fieldsNeeded(rows, items, match), diffed: make([]bool, len(rows))}
	listed := match != nil || pl.Absent.wantsEveryone()
	for i := range rows {
		listed = listed || (items[i].Status == model.Planned && !needsFullRead(&rows[i]))
	}
	if listed {
		if err := pl.list(ctx, st, rows, items, match); err != nil {
			return nil, err
		}
	}
	if match != nil && match.List.Zero() {
		if err := pl.getAll(ctx, st, slices.Collect(maps.Keys(st.users)), nil); err != nil {
			return nil, err
		}
	}
	if match != nil && pl.Absent.wantsEveryone() {
		for _, u := range st.users {
			st.cands = append(st.cands, pl.candidateOf(u, match))
		}
	}
	index := matchIndex(st, match)
	var toGet []string
	want := map[string][]*Item{}
	for i := range rows {
		it := &items[i]
		if it.Status != model.Planned || st.diffed[i] {
			continue
		}
		id, err := pl.resolve(&rows[i], it, match, index, listed)
		if err != nil {
			it.Status, it.Err = model.Failed, err
			continue
		}
		it.UserID = id
		if u := st.users[id]; u == nil || (needsFullRead(&rows[i]) && !u.Full) || unknownInList(&rows[i], u) {
			if len(want[id]) == 0 {
				toGet = append(toGet, id)
			}
			want[id] = append(want[id], it)
		}
	}
	if err := pl.getAll(ctx, st, toGet, want); err != nil {
		return nil, err
	}
	return st, nil
}

// list reads the users through a listing, as read decides: rows matched
// by id whose fields the list carries are diffed as their users go by, so
// that a large roster streams; only users still to be read in full, or
// compared through a secret's verifier (diffed in parallel later), are
// kept in st.
func (pl Planner) list(ctx context.Context, st *state, rows []model.Row, items []Item, match *model.Field) error {
	byKey := newKeyIndex(len(rows))
	for i := range rows {
		if items[i].Status == model.Planned {
			byKey.set(rows[i].Key, int32(i))
		}
	}
	prog := model.ProgressOrNone(pl.Progress)
	prog.Phase("listing users", 0)
	keep := func(u model.User) error {
		prog.Step(1, false)
		if pl.Absent.wantsEveryone() && match == nil {
			st.cands = append(st.cands, pl.candidateOf(&u, nil))
		}
		if match != nil { // a match needs everyone's value
			st.keep(u)
			return nil
		}
		i, ok := byKey.get(u.ID)
		if !ok {
			return nil
		}
		items[i].UserID = rows[i].Key // the same id: the row's string, not one more per user
		if r := &rows[i]; needsFullRead(r) || hasSecret(r) || unknownInList(r, &u) {
			st.keep(u)
		} else {
			pl.diff(r, &u, &items[i])
			st.diffed[i] = true
		}
		return nil
	}
	var err error
	lister := pl.Reader
	if n, ok := lister.(Narrower); ok {
		lister = n.Only(slices.Sorted(maps.Keys(st.need)))
	}
	if nl, ok := lister.(NamedLister); ok && match == nil && !pl.Absent.wantsEveryone() {
		st.total, err = nl.ListNamed(ctx, byKey.keys(), eachOnce(byKey.len(), keep))
	} else {
		st.total = 0
		err = lister.List(ctx, eachOnce(len(rows), func(u model.User) error { st.total++; return keep(u) }))
	}
	if err != nil {
		return fmt.Errorf("reading the users: %w", err)
	}
	return nil
}

// matchIndex maps each --match value (as matchKey folds it) to the ids
// of the users holding it, sorted. Nil without a match field.
func matchIndex(st *state, match *model.Field) map[string][]string {
	if match == nil {
		return nil
	}
	index := map[string][]string{}
	for id, u := range st.users {
		if v, ok := u.Values[match.Name].(string); ok && v != "" {
			k := matchKey(match, v)
			index[k] = append(index[k], id)
		}
	}
	for _, ids := range index {
		slices.Sort(ids) // once here, not once per row naming them
	}
	return index
}

// resolve finds the user a row names.
func (pl Planner) resolve(r *model.Row, it *Item, match *model.Field, index map[string][]string, listed bool) (string, error) {
	if match == nil {
		if listed && it.UserID == "" { // the list did not hold it
			return "", fmt.Errorf("%s: no user with %s %q", r.Label(), pl.Target.Key, r.Key)
		}
		return r.Key, nil
	}
	ids := index[matchKey(match, r.Key)]
	switch len(ids) {
	case 0:
		return "", fmt.Errorf("%s: no user with %s %q", r.Label(), match.Name, r.Key)
	case 1:
		return ids[0], nil
	}
	return "", fmt.Errorf("%s: %s %q matches %d users (ids %s); name one of them by %s instead",
		r.Label(), match.Name, r.Key, len(ids), someOf(ids, len(ids)), pl.Target.Key)
}

// getAll reads users in full, Workers at a time. A user the target does
// not hold, or whose read fails, fails the items waiting for it (when want
// is nil, the read is for the match index: then any failure is run-wide);
// rejected credentials or an API that stopped answering stop the reads.
func (pl Planner) getAll(ctx context.Context, st *state, ids []string, want map[string][]*Item) error {
	if len(ids) == 0 {
		return nil
	}
	prog := model.ProgressOrNone(pl.Progress)
	prog.Phase("reading users", len(ids))
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(1, pl.Workers))
	for _, id := range ids {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error {
			u, err := pl.Reader.Get(gctx, id)
			prog.Step(1, err != nil)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				st.keep(u)
				return nil
			case model.RunWide(err), gctx.Err() != nil, want == nil:
				return err
			}
			for _, it := range want[id] {
				it.Status = model.Failed
				if errors.Is(err, model.ErrNotFound) {
					it.Err = fmt.Errorf("%s: no user with %s %q", it.Label(), pl.Target.Key, id)
				} else {
					it.Err = fmt.Errorf("%s: reading user %s: %w", it.Label(), id, err)
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return fmt.Errorf("reading the users: %w", err)
	}
	return context.Cause(ctx)
}

// countUsers lists the target only to count its users.
func countUsers(ctx context.Context, t Reader) (int, error) {
	n := 0
	err := t.List(ctx, eachOnce(0, func(model.User) error { n++; return nil }))
	return n, err
}

// ErrListedTwice is a listing of the target that held one user twice.
var ErrListedTwice = errors.New("the listing holds a user twice")

// eachOnce passes each user of one listing on to yield, and stops the
// listing at the first user it holds twice. Pages that overlap mean the
// listing skipped someone while the count still adds up: offset paging
// over users that changed while they were read, or over a server that
// pages in no stable order (api.md, "What public sources add", DNL:
// "Stable paging": "A client should also refuse a listing that yields one
// user_id twice"). Every listing the plan reads goes through it, whatever
// the vendor, so the plan is never made from such a listing: the run stops
// before any write. Numeric ids, which both vendors use, are kept as
// bits (idSet): 125 kB for a million users numbered from 1.
// size is how many users the listing is likely to hold, to size the set.
func eachOnce(size int, yield func(model.User) error) func(model.User) error {
	seen := newIDSet(size)
	return func(u model.User) error {
		if seen.add(u.ID) {
			return fmt.Errorf("%w: user %s; the pages overlapped, so the listing may lack another user (the users changed while they were read, or the API pages in no stable order); nothing was sent, run again", ErrListedTwice, u.ID)
		}
		return yield(u)
	}
}

// unknownInList reports whether the list left unknown (null) a field the
// row sets whose kind has no null of its own, a boolean: Smartflo's list
// shows one agent.status for two flags, so a disabled agent's status hides
// whether it is blocked too (see smartflo's assumed.go). The user is then
// read in full, whose answer tells.
func unknownInList(r *model.Row, u *model.User) bool {
	if u.Full {
		return false
	}
	for _, v := range r.Values {
		f := v.Field
		if f.WriteOnly() || f.List.Zero() {
			continue
		}
		if x, ok := u.Values[f.Name]; ok && x == nil {
			if _, err := f.Kind.Decode(nil); err != nil {
				return true
			}
		}
	}
	return false
}

// hasSecret reports whether a row sets a secret field.
func hasSecret(r *model.Row) bool {
	for _, v := range r.Values {
		if v.Field.Secret {
			return true
		}
	}
	return false
}

// needsFullRead reports whether a row sets a readable field the list lacks.
func needsFullRead(r *model.Row) bool {
	for _, v := range r.Values {
		if !v.Field.WriteOnly() && v.Field.List.Zero() {
			return true
		}
	}
	return false
}

// diff fills in the item's changes and PATCH body, or marks it unchanged.
func (pl Planner) diff(r *model.Row, u *model.User, it *Item) {
	if it.UserID != u.ID { // an equal id keeps the row's string, not one more per user
		it.UserID = u.ID
	}
	var written map[string]any
	if pl.Ledger != nil {
		written = pl.Ledger.Written(u.ID)
	}
	for _, v := range r.Values {
		f := v.Field
		old, known := current(f, u, written)
		if known && pl.same(u.ID, f, old, v.V) {
			continue
		}
		shown, redacted := pl.shown(old)
		it.Changes = append(it.Changes, Change{Field: f, Old: shown, Known: known, Redacted: redacted, New: v.V})
	}
	if len(it.Changes) == 0 {
		it.Status = model.Unchanged
		return
	}
	it.Body = body(pl.Target.Table, r, u, written, it.Changes)
}

// shown returns a current value as the plan may show it: its text
// through Redact; redacted reports whether that removed anything.
func (pl Planner) shown(v any) (shown any, redacted bool) {
	if pl.Redact == nil {
		return v, false
	}
	switch v := v.(type) {
	case string:
		r := pl.Redact(v)
		return r, r != v
	case []any:
		var out []any
		for i, e := range v {
			s, ok := e.(string)
			if !ok {
				continue
			}
			if r := pl.Redact(s); r != s {
				if out == nil {
					out = slices.Clone(v)
				}
				out[i] = r
			}
		}
		if out != nil {
			return out, true
		}
	}
	return v, false
}

// current returns a field's current value: from the read, or for a
// write-only field from the ledger.
func current(f *model.Field, u *model.User, written map[string]any) (any, bool) {
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

// same compares a user's current value with the roster's; a secret's
// current value is what only the ledger can compare (a hash, a verifier).
func (pl Planner) same(userID string, f *model.Field, old, new any) bool {
	if f.Secret {
		stored, _ := old.(string)
		plain, _ := new.(string)
		return stored != "" && pl.Ledger != nil && pl.Ledger.SameSecret(userID, f.Name, stored, plain)
	}
	return f.Kind.Equal(old, new)
}

// body builds the minimal PATCH body: the changed fields, plus the other
// members of a changed group (from the row, else the current state), as
// nested objects for dotted names.
func body(t *model.Table, r *model.Row, u *model.User, written map[string]any, changes []Change) map[string]any {
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
			if j := slices.IndexFunc(r.Values, func(v model.Value) bool { return v.Field == f }); j >= 0 {
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
