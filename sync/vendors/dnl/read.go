package dnl

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"

	"github.com/rostersync/rostersync/sync/model"
	"github.com/rostersync/rostersync/sync/vendors/jsonpick"
	"github.com/rostersync/rostersync/sync/vendors/rest"
)

// reading is how a client reads users out of DNL's answers: the fields
// picked, and their key paths with user_id last, for jsonpick. Reading a
// list page of 1,000 users this way costs a pass over the bytes and the
// values picked, not a map per user of every field the page holds.
type reading struct {
	pick  *model.Pick
	paths *jsonpick.Paths
	// lend: the users of a list page are lent to the caller's yield, and
	// the page's answer, users and maps are reused for a later page
	// (plan.Narrower).
	lend    bool
	answers sync.Pool // of *listAnswer
}

// answer returns an answer to read a list page into.
func (r *reading) answer() *listAnswer {
	if a, ok := r.answers.Get().(*listAnswer); ok && r.lend {
		return a
	}
	return &listAnswer{r: r}
}

// done takes back the answer of a page whose users were all yielded.
func (r *reading) done(a *listAnswer) {
	if r.lend {
		r.answers.Put(a)
	}
}

func newReading(pick *model.Pick) *reading {
	return &reading{pick: pick, paths: jsonpick.NewPaths(append(slices.Clone(pick.Paths()), []string{"user_id"}))}
}

// user builds the user of one object's picked values (user_id last), in
// values when it is not nil.
func (r *reading) user(raw []any, values map[string]any) (model.User, error) {
	id, ok := raw[len(raw)-1].(json.Number)
	if !ok {
		return model.User{}, errNoUserID
	}
	return r.pick.UserIn(id.String(), raw[:len(raw)-1], values)
}

var errNoUserID = errors.New("a user without a numeric user_id")

// listAnswer is one answer of GET /v1/user/list: its total and its items'
// users. A user that cannot be built stops the reading of users (err),
// while the rest of the answer is still checked as JSON.
type listAnswer struct {
	r     *reading
	total int
	users []model.User
	err   error
}

// DecodeAnswer implements rest.Decoder. Keys of the envelope match
// without regard to case, as encoding/json matches a struct's fields.
func (a *listAnswer) DecodeAnswer(data []byte) (rest.Success, error) {
	a.total, a.users, a.err = 0, a.users[:0], nil
	raw := make([]any, a.r.paths.Len())
	return rest.Envelope(data, func(sc *jsonpick.Scanner, key []byte) error {
		if !bytes.EqualFold(key, []byte("payload")) {
			return sc.Skip()
		}
		if sc.Null() {
			return nil
		}
		return sc.Object(func(key []byte) error {
			switch {
			case bytes.EqualFold(key, []byte("total")):
				if sc.Null() {
					return nil
				}
				n, err := sc.Int()
				a.total = n
				return err
			case bytes.EqualFold(key, []byte("items")):
				a.users, a.err = a.users[:0], nil // items given again replace the first (encoding/json would merge them)
				if sc.Null() {
					return nil
				}
				return sc.Array(func() error {
					if a.err != nil {
						return sc.Skip()
					}
					if err := sc.Pick(a.r.paths, raw); err != nil {
						if errors.Is(err, jsonpick.ErrType) && sc.Null() {
							a.err = errNoUserID // a null item, as a map decoded from null has no user_id
							return nil
						}
						return err
					}
					var values map[string]any // a map of an earlier page, when lent
					if n := len(a.users); a.r.lend && n < cap(a.users) {
						values = a.users[:n+1][n].Values
					}
					u, err := a.r.user(raw, values)
					if err != nil {
						a.err = err
						return nil
					}
					a.users = append(a.users, u)
					return nil
				})
			}
			return sc.Skip()
		})
	})
}

// one is the reading of an answer whose payload is one user: GET
// /v1/user/{id}, and the PATCH's answer.
func (r *reading) one() *rest.UserAnswer {
	return &rest.UserAnswer{Key: "payload", Paths: r.paths, Build: func(picked []any) (model.User, error) { return r.user(picked, nil) }}
}

// readings caches the readings of PATCH answers by the body's top-level
// keys: a run's PATCHes set few distinct sets of fields.
var readings sync.Map // string → *reading

// readingOf returns the reading of the fields a PATCH body sets (every
// field under a key the body holds), which is all its answer needs to show.
func readingOf(body map[string]any) *reading {
	var id string
	if len(body) == 1 { // the common case: one field changed
		for k := range body {
			id = k
		}
	} else {
		keys := make([]string, 0, len(body))
		for k := range body {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		id = strings.Join(keys, "\x00")
	}
	if r, ok := readings.Load(id); ok {
		return r.(*reading)
	}
	r := newReading(table.PickRead(func(name string) bool {
		top, _, _ := strings.Cut(name, ".")
		_, ok := body[top]
		return ok
	}))
	readings.Store(id, r)
	return r
}
