package plan

import (
	"context"

	"github.com/rostersync/rostersync/sync/model"
)

// Reader reads the users of a target. The vendors' clients implement it.
type Reader interface {
	// List reads every user through the paged list call, calling yield for
	// each. An error means the state could not be read in full.
	List(ctx context.Context, yield func(model.User) error) error
	// Get reads one user in full. An unknown id gives model.ErrNotFound.
	Get(ctx context.Context, id string) (model.User, error)
}

// NamedLister is a Reader that can read just the users with given ids,
// which costs fewer requests than listing everyone when a roster names
// few of many users (DNL's user_id_in filter). ListNamed calls yield for
// each of those users it finds (and possibly others), and returns how
// many users the target holds.
type NamedLister interface {
	ListNamed(ctx context.Context, ids []string, yield func(model.User) error) (total int, err error)
}

// Narrower is a Reader whose list reads can carry only some fields: Only
// returns a Reader of the same target (a NamedLister too, when this one
// is) whose listed users hold only the named fields. A plan lists with
// only the fields it compares, sends or matches on, so that a vendor's
// client skips the rest of every user instead of building it: most of the
// cost of a large listing. One-user reads (Get) still hold every field.
// The users such a Reader's listings yield are lent: their Values maps
// may be filled again once yield returns, so a caller keeps a copy of
// what it keeps (the plan keeps values, never a user's map).
type Narrower interface {
	Only(fields []string) Reader
}

// Ledger is what the plan reads of the record of write-only fields, which
// no read returns: what this tool last wrote to each user. Values are as
// JSON decodes them (numbers as json.Number); a secret's is opaque and
// only SameSecret can tell what it holds.
type Ledger interface {
	Written(userID string) map[string]any
	// SameSecret reports whether plain is the secret a user's field holds,
	// as stored stands for it: a hash the API returned (DNL's passwd) or
	// the ledger's own record.
	SameSecret(userID, field, stored, plain string) bool
}
