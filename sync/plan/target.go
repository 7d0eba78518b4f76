package plan

import (
	"context"

	"github.com/rostersync/rostersync/sync/model"
)

// Target is a telephony admin API whose users a roster is synced to.
// The smartflo and dnl packages implement it.
type Target interface {
	// Name is the target's name on the command line ("smartflo").
	Name() string
	// Table describes the fields a roster may set.
	Table() *model.Table
	// Key names the field that holds a user's id in rosters ("id").
	Key() string
	// MatchFields names the fields besides Key a roster may name users by
	// (--match): each a field whose value tells one user from the others.
	MatchFields() []string
	// List reads every user through the paged list call, calling yield for
	// each. An error means the state could not be read in full.
	List(ctx context.Context, yield func(model.User) error) error
	// Get reads one user in full. An unknown id gives ErrNotFound.
	Get(ctx context.Context, id string) (model.User, error)
	// Patch sends one change. The Result is filled in on failure too.
	Patch(ctx context.Context, id string, body map[string]any) (model.Result, error)
}

// NamedLister is a Target that can read just the users with given ids,
// which costs fewer requests than listing everyone when a roster names
// few of many users (DNL's user_id_in filter). ListNamed calls yield for
// each of those users it finds (and possibly others), and returns how
// many users the target holds.
type NamedLister interface {
	ListNamed(ctx context.Context, ids []string, yield func(model.User) error) (total int, err error)
}
