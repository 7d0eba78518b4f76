// Package model is the vocabulary every stage of a run shares: fields and
// their kinds, a target's field table, roster rows and their values, users
// as read from a target, secrets, statuses, request results and progress.
// It imports no other package of rostersync and does no I/O.
package model

import (
	"errors"
	"fmt"
	"time"
)

// Target describes the users of a target API: fixed data every stage
// needs, whichever vendor it is.
type Target struct {
	Name  string // on the command line: "smartflo"
	Table *Table // the fields a roster may set
	Key   string // the field that holds a user's id in rosters ("id")
	// MatchFields names the fields besides Key a roster may name users by
	// (--match): each a field whose value tells one user from the others.
	MatchFields []string
	// Protected, when set, is a value that keeps a user from counting as
	// absent unless a run's scope names it (DNL's admins: user_type admin).
	Protected *Value
}

// Result tells how a request went at the HTTP level.
type Result struct {
	HTTPStatus int // last status seen; 0 when none arrived
	Attempts   int // requests sent, retries included
	// After is the user as the API answered a change, when its answer
	// holds the user (DNL's PATCH); nil when it does not.
	After *User
}

var (
	// ErrAuth means the target rejected the credentials. It stops the run.
	ErrAuth = errors.New("credentials rejected")
	// ErrUnreachable means the target's API stopped answering at all. It
	// stops the run.
	ErrUnreachable = errors.New("the API is not answering")
	// ErrUnconfirmed means a request was sent but no answer came back: it
	// may or may not have been applied.
	ErrUnconfirmed = errors.New("sent, but no answer came back")
	// ErrNotFound means the target holds no user with the id asked for.
	ErrNotFound = errors.New("no such user")
)

// RunWide reports whether err stops the whole run rather than failing the
// row it came from: the credentials were rejected, or the API stopped
// answering.
func RunWide(err error) bool {
	return errors.Is(err, ErrAuth) || errors.Is(err, ErrUnreachable)
}

// UnreachableError says which API stopped answering, since when, and the
// last failure seen. It matches ErrUnreachable.
type UnreachableError struct {
	Host  string    // host[:port] of the API
	Since time.Time // its last answer, or the first request unanswered when none came
	Last  error     // the last request's failure
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("the API at %s has not answered since %s: %v", e.Host, e.Since.Format("2006-01-02 15:04:05 MST"), e.Last)
}

// Is makes errors.Is(err, ErrUnreachable) true.
func (e *UnreachableError) Is(target error) bool { return target == ErrUnreachable }

// Secret is a token or password. It never prints: fmt, logs and JSON
// see "[REDACTED]".
type Secret string

// Reveal returns the secret itself, for the one place that sends it.
func (s Secret) Reveal() string { return string(s) }

func (s Secret) String() string { return "[REDACTED]" }

// GoString keeps %#v from printing the secret.
func (s Secret) GoString() string { return `"[REDACTED]"` }

// MarshalText keeps encoders from writing the secret.
func (s Secret) MarshalText() ([]byte, error) { return []byte("[REDACTED]"), nil }

// Progress hears how a run advances: a phase (listing users, reading
// users, applying changes) and each step of it.
type Progress interface {
	// Phase starts a phase of total steps (0: not known in advance).
	Phase(name string, total int)
	// Step counts n steps of the current phase done, failed or not.
	Step(n int, failed bool)
}

// noProgress is the Progress of a run nobody watches.
type noProgress struct{}

func (noProgress) Phase(string, int) {}
func (noProgress) Step(int, bool)    {}

// ProgressOrNone returns p, or a Progress that hears nothing when p is nil.
func ProgressOrNone(p Progress) Progress {
	if p == nil {
		return noProgress{}
	}
	return p
}
