// Package sync owns the domain and the engine of rostersync: the Target
// interface and field tables, the plan (diff and guard) and applying it.
// It knows nothing of HTTP, files or flags, and nothing of any one vendor.
package sync

import (
	"context"
	"errors"
)

// Target is a telephony admin API whose users a roster is synced to.
// The smartflo and dnl packages implement it.
type Target interface {
	// Name is the target's name on the command line ("smartflo").
	Name() string
	// Table describes the fields a roster may set.
	Table() *Table
	// Key names the field that holds a user's id in rosters ("id").
	Key() string
	// MatchFields names the fields besides Key a roster may name users by
	// (--match): each a field whose value tells one user from the others.
	MatchFields() []string
	// List reads every user through the paged list call, calling yield for
	// each. An error means the state could not be read in full.
	List(ctx context.Context, yield func(User) error) error
	// Get reads one user in full. An unknown id gives ErrNotFound.
	Get(ctx context.Context, id string) (User, error)
	// Patch sends one change. The Result is filled in on failure too.
	Patch(ctx context.Context, id string, body map[string]any) (Result, error)
}

// NamedLister is a Target that can read just the users with given ids,
// which costs fewer requests than listing everyone when a roster names
// few of many users (DNL's user_id_in filter). ListNamed calls yield for
// each of those users it finds (and possibly others), and returns how
// many users the target holds.
type NamedLister interface {
	ListNamed(ctx context.Context, ids []string, yield func(User) error) (total int, err error)
}

// Result tells how a request went at the HTTP level.
type Result struct {
	HTTPStatus int // last status seen; 0 when none arrived
	Attempts   int // requests sent, retries included
}

var (
	// ErrAuth means the target rejected the credentials. It stops the run.
	ErrAuth = errors.New("credentials rejected")
	// ErrNotFound means the target holds no user with the id asked for.
	ErrNotFound = errors.New("no such user")
)

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

func orNoProgress(p Progress) Progress {
	if p == nil {
		return noProgress{}
	}
	return p
}
