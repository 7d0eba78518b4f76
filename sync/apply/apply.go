// Package apply sends a plan's changes through a bounded worker pool and
// reports each row's outcome; the rate and the retries are the target
// client's business, not this package's.
package apply

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/rostersync/rostersync/ratelimit"
	"github.com/rostersync/rostersync/sync/model"
	"github.com/rostersync/rostersync/sync/plan"
	"golang.org/x/sync/errgroup"
)

// Outcome is what happened to one row.
type Outcome struct {
	Item   *plan.Item
	Status model.Status
	Result model.Result
	Err    error
}

// Applier sends a plan's changes through a worker pool.
type Applier struct {
	Target  plan.Target
	Ledger  plan.Ledger
	Workers int           // requests in flight at most
	Grace   time.Duration // how long in-flight requests may finish after ctx is done
	// Progress, when set, hears of each planned row done.
	Progress model.Progress
}

// ErrStopped wraps the reason a run stopped early: the ctx's cause, or a
// run-wide failure (see model.RunWide).
var ErrStopped = errors.New("run stopped")

// Apply sends every planned change and calls record once per item, from
// several goroutines, as each finishes. Items not planned are recorded
// first, as they are. When ctx is done, no new request starts, requests in
// flight get Grace to finish, and every item not done is recorded as
// skipped. A failed row never stops the others; Apply returns an error only
// when the run stopped early.
func (a Applier) Apply(ctx context.Context, p *plan.Plan, record func(Outcome)) error {
	for i := range p.Items {
		if it := &p.Items[i]; it.Status != model.Planned {
			record(Outcome{Item: it, Status: it.Status, Err: it.Err})
		}
	}

	// Requests outlive ctx by the grace period, so an interrupt does not cut
	// a PATCH the server may be applying.
	reqCtx, cancelReqs := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelReqs()
	stopGrace := context.AfterFunc(ctx, func() { time.AfterFunc(a.Grace, cancelReqs) })
	defer stopGrace()

	prog := model.ProgressOrNone(a.Progress)
	prog.Phase("applying", p.Count(model.Planned))
	var fatal atomic.Pointer[error]
	stopped := func() error {
		if e := fatal.Load(); e != nil {
			return *e
		}
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		return nil
	}
	var g errgroup.Group
	g.SetLimit(max(1, a.Workers))
	for i := range p.Items {
		it := &p.Items[i]
		if it.Status != model.Planned {
			continue
		}
		if err := stopped(); err != nil {
			record(Outcome{Item: it, Status: model.Skipped, Err: fmt.Errorf("not sent: %w", err)})
			prog.Step(1, false)
			continue
		}
		g.Go(func() error {
			if err := stopped(); err != nil { // stopped while this waited for a worker
				record(Outcome{Item: it, Status: model.Skipped, Err: fmt.Errorf("not sent: %w", err)})
				prog.Step(1, false)
				return nil
			}
			out := a.send(ctx, reqCtx, it)
			if model.RunWide(out.Err) {
				cause := out.Err
				var dead *ratelimit.UnreachableError
				if errors.As(cause, &dead) {
					cause = dead // the rows not sent need not hear of this one's request
				}
				fatal.CompareAndSwap(nil, &cause)
				out.Status = model.Skipped
				switch {
				case dead == nil:
					out.Err = fmt.Errorf("not applied: %w", out.Err)
				case out.Result.Attempts == 0:
					out.Err = fmt.Errorf("not sent: %w", cause)
				default:
					out.Err = fmt.Errorf("stopped before it was confirmed, so it may or may not have applied; a new run reconciles it: %w", out.Err)
				}
			}
			record(out)
			prog.Step(1, out.Status == model.Failed)
			return nil
		})
	}
	_ = g.Wait()
	if err := stopped(); err != nil {
		return fmt.Errorf("%w: %w", ErrStopped, err)
	}
	return nil
}

// send applies one item and notes its write-only fields in the ledger.
// The request waits for its turn under ctx, so an interrupt sends nothing
// new, and runs under reqCtx, which outlives ctx by the grace period.
func (a Applier) send(ctx, reqCtx context.Context, it *plan.Item) Outcome {
	res, err := a.Target.Patch(ratelimit.WithWaitContext(reqCtx, ctx), it.UserID, it.Body)
	switch {
	case err == nil:
	case ctx.Err() != nil && res.Attempts == 0:
		return Outcome{Item: it, Status: model.Skipped, Result: res, Err: fmt.Errorf("not sent: %w", context.Cause(ctx))}
	case ctx.Err() != nil && (reqCtx.Err() != nil || ratelimit.Retryable(err)):
		return Outcome{Item: it, Status: model.Skipped, Result: res,
			Err: fmt.Errorf("interrupted before it was confirmed, so it may or may not have applied; a new run reconciles it: %w", err)}
	default:
		return Outcome{Item: it, Status: model.Failed, Result: res, Err: fmt.Errorf("row %d: %w", it.Row, err)}
	}
	out := Outcome{Item: it, Status: model.Applied, Result: res}
	if a.Ledger != nil {
		if err := a.Ledger.Record(it.UserID, writeOnly(it)); err != nil {
			out.Err = fmt.Errorf("applied, but the ledger was not updated, so the next run rewrites its write-only fields: %w", err)
		}
	}
	return out
}

// writeOnly returns the item's write-only changes as the ledger keeps them.
func writeOnly(it *plan.Item) map[string]any {
	vals := map[string]any{}
	for _, c := range it.Changes {
		f := c.Field
		switch {
		case !f.WriteOnly():
		case f.Secret:
			pw, _ := c.New.(string)
			if hash, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.DefaultCost); err == nil {
				vals[f.Name] = string(hash)
			}
		default:
			vals[f.Name] = f.Kind.Encode(c.New)
		}
	}
	return vals
}
