package apply

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/rostersync/rostersync/sync/model"
	"github.com/rostersync/rostersync/sync/plan"
)

// ErrMismatch means the target accepted a change but a read back shows a
// field without the value sent.
var ErrMismatch = errors.New("the change did not take")

// errAllFound ends a listing once every user asked for was seen.
var errAllFound = errors.New("every user was found")

// verify reads back the users of held outcomes (changes the target
// accepted, not yet confirmed by a read) and records each: applied and
// verified, or failed naming the field that did not take. A mismatch is
// read once more after a.Pause, in case the target applies changes a
// moment late. The reads cost as little as they can: one listing when the
// list shows every field changed, else one read per user.
func (a Applier) verify(ctx context.Context, held []Outcome, record func(Outcome)) {
	if len(held) == 0 {
		return
	}
	prog := model.ProgressOrNone(a.Progress)
	prog.Phase("verifying", len(held))
	users, err := a.readBack(ctx, held, canList(held))
	var again []Outcome
	for _, o := range held {
		switch u := users[o.Item.UserID]; {
		case err != nil || u == nil:
			o.Err = unverified(ctx, err, o.Item.UserID)
			record(o)
			prog.Step(1, false)
		case mismatch(o, u, a.redact) == nil:
			o.Verified = true
			record(o)
			prog.Step(1, false)
		default:
			again = append(again, o)
		}
	}
	if len(again) == 0 {
		return
	}
	if err := sleep(ctx, a.Pause); err == nil {
		users, err = a.readBack(ctx, again, false)
	} else {
		users = nil
	}
	for _, o := range again {
		u := users[o.Item.UserID]
		if u == nil {
			o.Err = unverified(ctx, err, o.Item.UserID)
		} else if merr := mismatch(o, u, a.redact); merr != nil {
			o.Status, o.Err = model.Failed, fmt.Errorf("row %d: %w", o.Item.Row, merr)
		} else {
			o.Verified = true
		}
		record(o)
		prog.Step(1, o.Status == model.Failed)
	}
}

func (a Applier) redact(s string) string {
	if a.Redact == nil {
		return s
	}
	return a.Redact(s)
}

// secretsTook checks each secret a change set against the hash the target
// answered with, when it answers with the user (DNL's passwd): the check
// costs a bcrypt, once, and the ledger remembers the match for the plans
// to come. A target that does not show secrets is not asked.
func (a Applier) secretsTook(o Outcome) error {
	if o.Result.After == nil || a.Ledger == nil {
		return nil
	}
	for _, c := range o.Item.Changes {
		hash, _ := o.Result.After.Values[c.Field.Name].(string)
		plain, _ := c.New.(string)
		if !c.Field.Secret || hash == "" {
			continue
		}
		if !a.Ledger.SameSecret(o.Item.UserID, c.Field.Name, hash, plain) {
			return fmt.Errorf("%w: the target accepted the change (HTTP %d) but its %s does not match the one sent", ErrMismatch, o.Result.HTTPStatus, c.Field.Name)
		}
	}
	return nil
}

// unverified says why a change the target accepted could not be read back.
func unverified(ctx context.Context, err error, id string) error {
	switch {
	case ctx.Err() != nil:
		err = context.Cause(ctx)
	case err == nil:
		err = fmt.Errorf("user %s was not found", id)
	}
	return fmt.Errorf("applied, but not verified: reading it back: %w", err)
}

// canList reports whether the list read shows every field the held
// changes set, so that one listing can verify them all.
func canList(held []Outcome) bool {
	for _, o := range held {
		for _, c := range o.Item.Changes {
			if verifiable(c.Field) && c.Field.List.Zero() {
				return false
			}
		}
	}
	return true
}

// verifiable reports whether a read can show a field's value: not a
// write-only field, nor a secret (its hash would cost a bcrypt comparison
// a row).
func verifiable(f *model.Field) bool { return !f.WriteOnly() && !f.Secret }

// checked returns the names of the fields a read back compares.
func checked(held []Outcome) []string {
	var names []string
	for _, o := range held {
		for _, c := range o.Item.Changes {
			if verifiable(c.Field) && !slices.Contains(names, c.Field.Name) {
				names = append(names, c.Field.Name)
			}
		}
	}
	return names
}

// readBack reads the held outcomes' users: by listing, or one at a time.
func (a Applier) readBack(ctx context.Context, held []Outcome, list bool) (map[string]*model.User, error) {
	want := make(map[string]bool, len(held))
	for _, o := range held {
		want[o.Item.UserID] = true
	}
	users := make(map[string]*model.User, len(held))
	if list {
		lister := a.Verify
		if n, ok := lister.(plan.Narrower); ok {
			lister = n.Only(checked(held)) // the fields compared, not every one the list holds
		}
		err := lister.List(ctx, func(u model.User) error {
			if want[u.ID] {
				u.Values = maps.Clone(u.Values) // a narrowed listing lends its users
				users[u.ID] = &u
				if len(users) == len(want) {
					return errAllFound
				}
			}
			return nil
		})
		if err != nil && !errors.Is(err, errAllFound) {
			return nil, err
		}
		return users, nil
	}
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(1, a.Workers))
	for id := range want {
		g.Go(func() error {
			u, err := a.Verify.Get(gctx, id)
			if err != nil {
				return err
			}
			mu.Lock()
			users[id] = &u
			mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return users, err
	}
	return users, nil
}

// mismatch compares a user read back with the change an outcome sent: nil
// when every field that a read shows holds the value sent.
func mismatch(o Outcome, u *model.User, redact func(string) string) error {
	for _, c := range o.Item.Changes {
		f := c.Field
		if !verifiable(f) {
			continue
		}
		got, ok := u.Values[f.Name]
		if !ok || f.Kind.Equal(got, c.New) {
			continue
		}
		return fmt.Errorf("%w: the target accepted the change (HTTP %d) but reads back %s for %s, not %s",
			ErrMismatch, o.Result.HTTPStatus, redact(f.Kind.Format(got)), f.Name, redact(f.Kind.Format(c.New)))
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-t.C:
		return nil
	}
}
