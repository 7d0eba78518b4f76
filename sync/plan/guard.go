package plan

import (
	"errors"
	"fmt"
	"math"

	"github.com/rostersync/rostersync/sync/model"
)

// ErrRefused means apply refused to send anything because the plan passes
// a guard threshold.
var ErrRefused = errors.New("refused by the guard")

// Guard holds the thresholds past which apply refuses to send any write,
// against accidents such as a roster that blocks a whole call centre
// (Entra Connect stops at 500 deletes, Okta at 20% of users).
type Guard struct {
	MaxChanges    int     // users that would change
	MaxBlockShare float64 // users that would be blocked, in percent of the users the target holds
	// AbsentBlock is set when the run blocks the users the roster does not
	// name: then a truncated roster would block everyone, and the roster
	// must name at least (100 − MaxRosterShrink)% of the users in scope the
	// last applied roster named (LastNamed; 0 = none remembered).
	AbsentBlock     bool
	MaxRosterShrink float64
	LastNamed       int
}

// Standing is where a plan stands against a guard.
type Standing struct {
	Guard
	Changes int // users that would change
	Blocks  int // users that would be blocked
	Users   int // users the target holds; -1 when not counted (no blocks planned)
	Rows    int // roster rows
	Named   int // users in the absence scope the roster names; -1 when not counted
}

// Check measures the plan against the guard.
func (g Guard) Check(p *Plan) Standing {
	rows := 0
	for i := range p.Items {
		if p.Items[i].Row > 0 {
			rows++
		}
	}
	return Standing{Guard: g, Changes: p.Count(model.Planned), Blocks: p.Blocks(), Users: p.Users, Rows: rows, Named: p.Named}
}

// minNamed is the fewest users in scope the roster may name under the
// shrink guard.
func (s Standing) minNamed() float64 {
	return float64(s.LastNamed) * (100 - s.MaxRosterShrink) / 100
}

// tooShrunk reports whether an absence block rests on a roster that is
// empty, or names far fewer users than the last applied one did.
func (s Standing) tooShrunk() bool {
	return s.AbsentBlock && (s.Rows == 0 || (s.LastNamed > 0 && float64(s.Named) < s.minNamed()))
}

// BlockShare returns the blocks in percent of the users held.
func (s Standing) BlockShare() float64 {
	if s.Users <= 0 {
		return 0
	}
	return 100 * float64(s.Blocks) / float64(s.Users)
}

func (s Standing) tooManyChanges() bool { return s.Changes > s.MaxChanges }

func (s Standing) tooManyBlocks() bool {
	return s.Blocks > 0 && (s.Users <= 0 || s.BlockShare() > s.MaxBlockShare)
}

// Err returns nil when apply may go on, else an error wrapping ErrRefused
// that says which threshold was passed and how to go past it on purpose.
func (s Standing) Err() error {
	switch {
	case s.AbsentBlock && s.Rows == 0:
		return fmt.Errorf("%w: the roster has no rows, and --absent block would block every user in scope; an empty export is a broken export", ErrRefused)
	case s.tooShrunk():
		return fmt.Errorf("%w: the roster names %s in scope, fewer than %g%% of the %d the last applied roster named (at least %.0f, --max-roster-shrink %g%%); a truncated export would block the rest; check it, then raise --max-roster-shrink if this is intended",
			ErrRefused, users(s.Named), 100-s.MaxRosterShrink, s.LastNamed, math.Ceil(s.minNamed()), s.MaxRosterShrink)
	case s.tooManyChanges():
		return fmt.Errorf("%w: %s would change, more than --max-changes %d; check the plan, then raise --max-changes if this is intended",
			ErrRefused, users(s.Changes), s.MaxChanges)
	case s.tooManyBlocks():
		return fmt.Errorf("%w: %s would be blocked, %.1f%% of the %d the target holds, more than --max-block-share %g%%; check the plan, then raise --max-block-share if this is intended",
			ErrRefused, users(s.Blocks), s.BlockShare(), s.Users, s.MaxBlockShare)
	}
	return nil
}

// Lines says where the plan stands against each threshold, for plan
// output and logs.
func (s Standing) Lines() []string {
	verdict := func(over bool) string {
		if over {
			return "apply would REFUSE"
		}
		return "ok"
	}
	blocks := fmt.Sprintf("%s would be blocked", users(s.Blocks))
	if s.Users > 0 {
		blocks = fmt.Sprintf("%d of %s would be blocked (%.1f%%)", s.Blocks, users(s.Users), s.BlockShare())
	}
	lines := []string{
		fmt.Sprintf("%s would change; at most %d (--max-changes): %s", users(s.Changes), s.MaxChanges, verdict(s.tooManyChanges())),
		fmt.Sprintf("%s; at most %g%% (--max-block-share): %s", blocks, s.MaxBlockShare, verdict(s.tooManyBlocks())),
	}
	if s.AbsentBlock {
		last := "no roster applied before to compare with"
		if s.LastNamed > 0 {
			last = fmt.Sprintf("the last applied roster named %d, so at least %.0f (--max-roster-shrink %g%%)", s.LastNamed, math.Ceil(s.minNamed()), s.MaxRosterShrink)
		}
		lines = append(lines, fmt.Sprintf("the roster names %s in scope (%d rows); %s: %s", users(s.Named), s.Rows, last, verdict(s.tooShrunk())))
	}
	return lines
}

// users says "1 user" or "n users".
func users(n int) string {
	if n == 1 {
		return "1 user"
	}
	return fmt.Sprintf("%d users", n)
}
