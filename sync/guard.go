package sync

import (
	"errors"
	"fmt"
)

// ErrRefused means apply refused to send anything because the plan passes
// a guard threshold.
var ErrRefused = errors.New("refused by the guard")

// Guard holds the thresholds past which apply refuses to send any write.
type Guard struct {
	MaxChanges int // users that would change
}

// Standing is where a plan stands against a guard.
type Standing struct {
	Changes    int
	MaxChanges int
}

// Check measures the plan against the guard.
func (g Guard) Check(p *Plan) Standing {
	return Standing{Changes: p.Count(Planned), MaxChanges: g.MaxChanges}
}

// Err returns nil when apply may go on, else an error wrapping ErrRefused
// that says which threshold was passed and how to go past it on purpose.
func (s Standing) Err() error {
	if s.Changes > s.MaxChanges {
		return fmt.Errorf("%w: %d users would change, more than --max-changes %d; check the plan, then raise --max-changes if this is intended",
			ErrRefused, s.Changes, s.MaxChanges)
	}
	return nil
}

// String says where the plan stands, for plan output and logs.
func (s Standing) String() string {
	verdict := "apply would proceed"
	if s.Err() != nil {
		verdict = "apply would REFUSE"
	}
	return fmt.Sprintf("%d of at most %d changes (--max-changes): %s", s.Changes, s.MaxChanges, verdict)
}
