package plan

import (
	"errors"
	"fmt"
	"slices"

	"github.com/rostersync/rostersync/sync/model"
)

// AbsentMode says what a run does with the target's users no roster row
// names (--absent): leavers, in a nightly run against an HR export.
type AbsentMode string

// The absent modes.
const (
	AbsentIgnore AbsentMode = "ignore" // leave them alone: no listing of everyone
	AbsentReport AbsentMode = "report" // list them, change nothing
	AbsentBlock  AbsentMode = "block"  // block those not blocked yet
)

// Absent is how a plan treats the users no roster row names.
type Absent struct {
	Mode AbsentMode
	// Scope limits which users count as absent: each value must hold
	// (--scope user_role=54630). Every field must be in the list read.
	Scope []model.Value
	// Keep holds users never blocked for being absent, by the value of
	// the match field (--keep: service accounts, the API's own admin).
	Keep []string
}

// ErrNotListed means a --scope field that the list read does not show.
var ErrNotListed = errors.New("the list of users does not show it")

// CheckScope refuses scope values on fields the list does not show: the
// absent users are found in one listing, never read one by one.
func CheckScope(scope []model.Value) error {
	for _, v := range scope {
		if v.Field.List.Zero() {
			return fmt.Errorf("--scope %s: %w", v.Field.Name, ErrNotListed)
		}
	}
	return nil
}

// candidate is what a plan keeps of a listed user to decide whether it is
// absent: little, so that a large target costs little.
type candidate struct {
	id      string
	key     string // the match field's value, normalised (the id when matching by id)
	inScope bool
	blocked bool
	current any // the block field's value
}

// wantsEveryone reports whether the plan must list every user.
func (a Absent) wantsEveryone() bool { return a.Mode == AbsentReport || a.Mode == AbsentBlock }

// inScope reports whether a listed user counts for absence: every scope
// value holds, and a user the target protects (a DNL admin) only when the
// scope names that value.
func (a Absent) inScope(t model.Target, u *model.User) bool {
	for _, s := range a.Scope {
		if !s.Field.Kind.Equal(u.Values[s.Field.Name], s.V) {
			return false
		}
	}
	if p := t.Protected; p != nil && p.Field.Kind.Equal(u.Values[p.Field.Name], p.V) {
		return slices.ContainsFunc(a.Scope, func(s model.Value) bool { return s.Field == p.Field })
	}
	return true
}

// candidateOf notes a listed user for the absence check.
func (pl Planner) candidateOf(u *model.User, match *model.Field) candidate {
	c := candidate{id: u.ID, key: u.ID, inScope: pl.Absent.inScope(pl.Target, u)}
	if match != nil {
		s, _ := u.Values[match.Name].(string)
		c.key = matchKey(match, s)
	}
	if f := pl.Target.Table.Block(); f != nil {
		c.current = u.Values[f.Name]
		c.blocked = f.Kind.Equal(c.current, f.Blocks)
	}
	return c
}

// absentItems returns an item (row 0) for each listed user in scope that
// no row names and --keep does not protect, and how many users in scope
// the rows name; unknown lists the --keep values that no user has.
func (pl Planner) absentItems(rows []model.Row, cands []candidate, match *model.Field) (items []Item, named int, unknown []string) {
	rowKeys := make(map[string]bool, len(rows))
	for i := range rows {
		rowKeys[matchKey(match, rows[i].Key)] = true
	}
	keep := make(map[string]bool, len(pl.Absent.Keep))
	for _, k := range pl.Absent.Keep {
		keep[matchKey(match, k)] = true
	}
	seen := make(map[string]bool, len(keep))
	block := pl.Target.Table.Block()
	for _, c := range cands {
		if keep[c.key] {
			seen[c.key] = true
		}
		switch {
		case !c.inScope:
		case rowKeys[c.key]:
			named++
		case keep[c.key]:
		default:
			items = append(items, pl.absentItem(c, block))
		}
	}
	for _, k := range pl.Absent.Keep {
		if !seen[matchKey(match, k)] {
			unknown = append(unknown, k)
		}
	}
	return items, named, unknown
}

// errAbsent is the reason every absent user's row gives.
var errAbsent = errors.New("not in the roster")

// absentItem is the plan for one absent user: reported as it is, or
// blocked as an ordinary change.
func (pl Planner) absentItem(c candidate, block *model.Field) Item {
	it := Item{Row: 0, Key: c.id, UserID: c.id, Status: model.Unchanged, Err: errAbsent}
	switch {
	case pl.Absent.Mode != AbsentBlock:
	case block == nil:
		it.Err = fmt.Errorf("%w; %s has no field that blocks a user", errAbsent, pl.Target.Name)
	case c.blocked:
		it.Err = fmt.Errorf("%w; blocked already", errAbsent)
	default:
		it.Status = model.Planned
		it.Changes = []Change{{Field: block, Old: c.current, Known: true, New: block.Blocks}}
		it.Body = map[string]any{}
		setPath(it.Body, block.Name, block.Kind.Encode(block.Blocks))
	}
	return it
}
