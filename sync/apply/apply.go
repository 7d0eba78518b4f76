// Package apply sends a plan's changes through a bounded worker pool and
// reports each row's outcome. The rate, the retries and how long a request
// already sent may outlive an interrupt are the target client's business;
// whether the run stops is the caller's, which cancels ctx.
package apply

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rostersync/rostersync/sync/model"
	"github.com/rostersync/rostersync/sync/plan"
	"golang.org/x/sync/errgroup"
)

// Patcher sends a change to a target. The vendors' clients implement it.
type Patcher interface {
	// Patch sends one change. The Result is filled in on failure too. A
	// request sent whose answer never came fails with an error matching
	// model.ErrUnconfirmed: it may or may not have been applied.
	Patch(ctx context.Context, id string, body map[string]any) (model.Result, error)
}

// Ledger is what the apply writes to the record of write-only fields: the
// values a user's applied change set (secrets as they are; the ledger
// keeps only what it can compare them with). SameSecret checks a secret
// sent against the hash the target answered with (DNL), which the ledger
// then remembers, so that the next plan needs no bcrypt for it.
type Ledger interface {
	Record(userID string, values []model.Value) error
	SameSecret(userID, field, stored, plain string) bool
}

// Journal records each change the target applied, as it finishes.
type Journal interface {
	Applied(it *plan.Item) error
}

// ErrNotJournaled means a change was applied but the journal could not
// record it; a run stops on it, as on a report it cannot write.
var ErrNotJournaled = errors.New("applied, but the journal could not record it")

// Outcome is what happened to one row.
type Outcome struct {
	Item     *plan.Item
	Status   model.Status
	Result   model.Result
	Verified bool // applied, and a read back shows every field took
	Err      error
}

// Applier sends a plan's changes through a worker pool.
type Applier struct {
	Patcher Patcher
	Ledger  Ledger  // nil: nothing is recorded
	Journal Journal // nil: nothing is journaled
	// Verify, when set, reads back the users changed, once the writes are
	// done (or takes the user a change was answered with): a field that did
	// not take fails its row. Pause is the wait before a mismatch is read
	// once more.
	Verify plan.Reader
	Pause  time.Duration
	// Redact removes the run's secrets from values read back, for messages.
	Redact  func(string) string
	Workers int // requests in flight at most
	// Progress, when set, hears of each planned row done.
	Progress model.Progress
}

// Apply sends every planned change and calls record once per item, from
// several goroutines, as each finishes; items not planned are recorded
// first, as they are. When ctx is done (an interrupt, or the caller
// stopping the run), no new request starts and every planned item not
// sent is recorded as skipped, naming ctx's cause; requests in flight
// finish as the Patcher lets them. A failed row never stops the others.
func (a Applier) Apply(ctx context.Context, p *plan.Plan, record func(Outcome)) {
	for i := range p.Items {
		if it := &p.Items[i]; it.Status != model.Planned {
			record(Outcome{Item: it, Status: it.Status, Err: it.Err})
		}
	}
	prog := model.ProgressOrNone(a.Progress)
	prog.Phase("applying", p.Count(model.Planned))
	notSent := func(it *plan.Item) {
		record(Outcome{Item: it, Status: model.Skipped, Err: fmt.Errorf("not sent: %w", context.Cause(ctx))})
		prog.Step(1, false)
	}
	var mu sync.Mutex
	var held []Outcome // accepted, to be read back
	finish := func(out Outcome) {
		if a.Verify != nil && out.Status == model.Applied && out.Err == nil {
			if err := a.secretsTook(out); err != nil {
				out.Status, out.Err = model.Failed, fmt.Errorf("row %d: %w", out.Item.Row, err)
				record(out)
				prog.Step(1, true)
				return
			}
			if out.Result.After == nil || mismatch(out, out.Result.After, a.redact) != nil {
				mu.Lock()
				held = append(held, out)
				mu.Unlock()
				prog.Step(1, false)
				return
			}
			out.Verified = true
		}
		record(out)
		prog.Step(1, out.Status == model.Failed)
	}
	// An errgroup of Workers goroutines that take the items in turn: one
	// goroutine per worker, not per item. A row's error is its outcome,
	// so no worker returns one.
	work := make(chan *plan.Item)
	var g errgroup.Group
	for range min(max(1, a.Workers), p.Count(model.Planned)) {
		g.Go(func() error {
			for it := range work {
				if ctx.Err() != nil { // stopped while this waited for a worker
					notSent(it)
					continue
				}
				finish(a.send(ctx, it))
			}
			return nil
		})
	}
	for i := range p.Items {
		it := &p.Items[i]
		if it.Status != model.Planned {
			continue
		}
		if ctx.Err() != nil {
			notSent(it)
			continue
		}
		work <- it
	}
	close(work)
	_ = g.Wait() // the workers return no error
	a.verify(ctx, held, record)
}

// send applies one item and notes its write-only fields in the ledger.
func (a Applier) send(ctx context.Context, it *plan.Item) Outcome {
	res, err := a.Patcher.Patch(ctx, it.UserID, it.Body)
	out := Outcome{Item: it, Status: model.Skipped, Result: res}
	stopped := ctx.Err() != nil || model.RunWide(err)
	switch {
	case err == nil:
		out.Status = model.Applied
		if a.Journal != nil {
			if err := a.Journal.Applied(it); err != nil {
				out.Err = fmt.Errorf("%w: %w", ErrNotJournaled, err)
			}
		}
		if a.Ledger != nil {
			if err := a.Ledger.Record(it.UserID, writeOnly(it)); err != nil && out.Err == nil {
				out.Err = fmt.Errorf("applied, but the ledger was not updated, so the next run rewrites its write-only fields: %w", err)
			}
		}
	case stopped && res.Attempts == 0:
		out.Err = fmt.Errorf("not sent: %w", cause(ctx, err))
	case stopped && errors.Is(err, model.ErrUnconfirmed):
		out.Err = fmt.Errorf("stopped before it was confirmed, so it may or may not have applied; a new run reconciles it: %w", err)
	case stopped:
		out.Err = fmt.Errorf("not applied: %w", err)
	default:
		out.Status, out.Err = model.Failed, fmt.Errorf("%s: %w", it.Label(), err)
	}
	return out
}

// cause says why a row was not sent: the run's end, or what ended it.
func cause(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	return err
}

// writeOnly returns the item's changes of write-only fields.
func writeOnly(it *plan.Item) []model.Value {
	var vals []model.Value
	for _, c := range it.Changes {
		if c.Field.WriteOnly() {
			vals = append(vals, model.Value{Field: c.Field, V: c.New})
		}
	}
	return vals
}
