package smartflo

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"

	"github.com/rostersync/rostersync/sync/model"
	"github.com/rostersync/rostersync/sync/vendors/jsonpick"
	"github.com/rostersync/rostersync/sync/vendors/rest"
)

// reading is how a client reads users out of Smartflo's answers: the
// fields picked, and their key paths with id last, for jsonpick. Reading
// a list page this way costs a pass over the bytes and the values picked,
// not a map per user of everything the page holds.
type reading struct {
	pick  *model.Pick
	paths *jsonpick.Paths
}

func newReading(pick *model.Pick) *reading {
	return &reading{pick: pick, paths: jsonpick.NewPaths(append(slices.Clone(pick.Paths()), []string{"id"}))}
}

var errNoID = errors.New("GET /v1/users: a user without a numeric id")

// listAnswer is one answer of GET /v1/users. A user that cannot be built
// stops the reading of users (err), while the rest of the answer is still
// checked as JSON.
type listAnswer struct {
	r          *reading
	hasMore    bool
	count      int
	lastSeenID json.Number
	users      []model.User
	items      int // the items of data, users or not
	err        error
}

// DecodeAnswer implements rest.Decoder. Keys match without regard to
// case, as encoding/json matches a struct's fields.
func (a *listAnswer) DecodeAnswer(data []byte) (rest.Success, error) {
	*a = listAnswer{r: a.r, users: a.users[:0]}
	raw := make([]any, a.r.paths.Len())
	return rest.Envelope(data, func(sc *jsonpick.Scanner, key []byte) error {
		var err error
		switch {
		case bytes.EqualFold(key, []byte("data")):
			a.users, a.items, a.err = a.users[:0], 0, nil // data given again replaces the first (encoding/json would merge them)
			if sc.Null() {
				return nil
			}
			err = sc.Array(a.item(sc, raw))
		case sc.Null(): // leaves a scalar as it was, as encoding/json does
		case bytes.EqualFold(key, []byte("has_more")):
			a.hasMore, err = sc.Bool()
		case bytes.EqualFold(key, []byte("count")):
			a.count, err = sc.Int()
		case bytes.EqualFold(key, []byte("last_seen_id")):
			a.lastSeenID, err = sc.Number()
		default:
			err = sc.Skip()
		}
		return err
	})
}

// item reads one item of data into a user.
func (a *listAnswer) item(sc *jsonpick.Scanner, raw []any) func() error {
	return func() error {
		a.items++
		if a.err != nil {
			return sc.Skip()
		}
		if err := sc.Pick(a.r.paths, raw); err != nil {
			if errors.Is(err, jsonpick.ErrType) && sc.Null() {
				a.err = errNoID // a null item, as a map decoded from null has no id
				return nil
			}
			return err
		}
		id, ok := rest.ID(raw[len(raw)-1]) // an integer, or its digits as a string
		if !ok {
			a.err = errNoID
			return nil
		}
		u, err := a.r.pick.User(id, raw[:len(raw)-1])
		if err != nil {
			a.err = err
			return nil
		}
		a.users = append(a.users, u)
		return nil
	}
}

// one is the reading of the answer of GET /v1/user/{id}: the user
// under data, whose id is the one asked for.
func (r *reading) one(id string) *rest.UserAnswer {
	return &rest.UserAnswer{Key: "data", Paths: r.paths, Build: func(picked []any) (model.User, error) {
		return r.pick.User(id, picked[:len(picked)-1])
	}}
}
