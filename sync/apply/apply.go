// Package apply sends a plan's changes through a bounded worker pool and
// reports each row's outcome. The rate, the retries and how long a request
// already sent may outlive an interrupt are the target client's business;
// whether the run stops is the caller's, which cancels ctx.
package apply

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/sync/errgroup"

	"github.com/rostersync/rostersync/sync/model"
	"github.com/rostersync/rostersync/sync/plan"
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
// keeps only what it can compare them with).
type Ledger interface {
	Record(userID string, values []model.Value) error
}

// Outcome is what happened to one row.
type Outcome struct {
	Item   *plan.Item
	Status model.Status
	Result model.Result
	Err    error
}

// Applier sends a plan's changes through a worker pool.
type Applier struct {
	Patcher Patcher
	Ledger  Ledger // nil: nothing is recorded
	Workers int    // requests in flight at most
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
	var g errgroup.Group
	g.SetLimit(max(1, a.Workers))
	for i := range p.Items {
		it := &p.Items[i]
		if it.Status != model.Planned {
			continue
		}
		if ctx.Err() != nil {
			notSent(it)
			continue
		}
		g.Go(func() error {
			if ctx.Err() != nil { // stopped while this waited for a worker
				notSent(it)
				return nil
			}
			out := a.send(ctx, it)
			record(out)
			prog.Step(1, out.Status == model.Failed)
			return nil
		})
	}
	_ = g.Wait()
}

// send applies one item and notes its write-only fields in the ledger.
func (a Applier) send(ctx context.Context, it *plan.Item) Outcome {
	res, err := a.Patcher.Patch(ctx, it.UserID, it.Body)
	out := Outcome{Item: it, Status: model.Skipped, Result: res}
	stopped := ctx.Err() != nil || model.RunWide(err)
	switch {
	case err == nil:
		out.Status = model.Applied
		if a.Ledger != nil {
			if err := a.Ledger.Record(it.UserID, writeOnly(it)); err != nil {
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
