// Package engine runs one plan or apply end to end: read the state of the
// users a roster names, plan, guard, then send the changes or record them
// as planned, with one report row per roster row. It holds the one loop
// that records outcomes and the one place that decides a run stops. The
// command line parses flags, wires the parts and renders.
package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/rs/zerolog"

	"github.com/rostersync/rostersync/report"
	"github.com/rostersync/rostersync/sync/apply"
	"github.com/rostersync/rostersync/sync/model"
	"github.com/rostersync/rostersync/sync/plan"
)

var (
	// ErrRowsFailed means rows failed, or the report could not be written
	// (which stops the sending).
	ErrRowsFailed = errors.New("rows failed")
	// ErrStopped wraps why a run stopped while it was sending: an
	// interrupt, rejected credentials, an API that stopped answering.
	ErrStopped = errors.New("run stopped")
)

// Report is where the run's rows go, one per roster row.
type Report interface {
	Write(report.Row) error
	Close() error
}

// Display shows a phase's progress until closed.
type Display interface {
	model.Progress
	Close()
}

// Run is one run of plan or apply.
type Run struct {
	Apply   bool        // send the changes; else record them as planned
	Rows    []model.Row // the roster
	Planner plan.Planner
	// Recheck, when set, turns the fresh plan into the one to go on with: a
	// saved plan checked against the state now, or a revert checked for
	// later changes. An error stops the run before any write.
	Recheck func(*plan.Plan) error
	Guard   plan.Guard
	Applier apply.Applier
	Report  Report
	// Digest gives a row's report digest (report.Row.Digest).
	Digest func(*model.Row) string
	// Review is shown the plan and where it stands before anything is
	// sent; an error it returns stops the run with nothing sent.
	Review func(*plan.Plan, plan.Standing) error
	// Display, when set, makes a progress display for each phase: the
	// reads, then the writes (the plan is shown between them).
	Display func() Display
	Log     zerolog.Logger
}

// Result is what a run did.
type Result struct {
	Plan       *plan.Plan     // nil when the run stopped before it was made
	Counts     map[string]int // rows by status, whether the report took them or not
	Unrecorded int            // rows the report could not take; the log holds them
	Verified   int            // applied rows a read back confirmed
	Mismatched int            // rows the target accepted but a read back showed did not take
}

// Do runs it. The error wraps plan.ErrRefused when the guard refused,
// ErrRowsFailed when rows failed or the report could not be written, and
// ErrStopped when the run stopped while sending; any other error means
// the run could not start, and nothing was written.
func (r *Run) Do(ctx context.Context) (Result, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	rec := &recorder{report: r.Report, log: r.Log, stop: cancel, row: rowIndex(r.Rows), digest: r.Digest}

	reading := r.display()
	r.Planner.Progress = reading
	p, err := r.Planner.Plan(ctx, r.Rows)
	reading.Close()
	if err == nil && r.Recheck != nil {
		err = r.Recheck(p)
	}
	if err != nil {
		if ctx.Err() != nil {
			// Whichever read the interrupt cut is beside the point.
			err = fmt.Errorf("%w while reading the users' state", context.Cause(ctx))
		}
		rec.rows(r.Rows, fmt.Errorf("not planned: %w", err))
		return rec.result(nil), rec.failed(err)
	}
	standing := r.Guard.Check(p)
	if err := r.Review(p, standing); err != nil {
		rec.items(p, func(*plan.Item) (model.Status, error) { return model.Skipped, fmt.Errorf("not sent: %w", err) })
		return rec.result(p), rec.failed(err)
	}
	var runErr error
	switch refused := standing.Err(); {
	case !r.Apply:
		rec.items(p, nil)
	case refused != nil:
		runErr = refused
		rec.items(p, func(*plan.Item) (model.Status, error) { return model.Skipped, refused })
	default:
		applying := r.display()
		r.Applier.Progress = applying
		r.Applier.Apply(ctx, p, rec.outcome)
		applying.Close()
		if ctx.Err() != nil {
			runErr = fmt.Errorf("%w: %w", ErrStopped, context.Cause(ctx))
		}
	}
	if err := r.Report.Close(); err != nil {
		rec.reportFailed(err, false)
	}
	res := rec.result(p)
	switch err := rec.failed(runErr); {
	case err != nil:
		return res, err
	case res.Counts[string(model.Failed)] > 0:
		return res, fmt.Errorf("%w: %d of %d rows failed; the report says why", ErrRowsFailed, res.Counts[string(model.Failed)], len(p.Items))
	}
	return res, nil
}

func (r *Run) display() Display {
	if r.Display == nil {
		return quiet{}
	}
	return r.Display()
}

type quiet struct{}

func (quiet) Phase(string, int) {}
func (quiet) Step(int, bool)    {}
func (quiet) Close()            {}

// recorder is the one loop that records outcomes: every row is counted,
// logged and written to the report, and a row the report cannot take is
// logged in full at error level, so that every outcome, above all every
// applied change, is on record. It is also where the run stops: a row
// whose error is run-wide, or a report that cannot be written, cancels
// the run with that cause.
type recorder struct {
	report Report
	log    zerolog.Logger
	stop   context.CancelCauseFunc
	row    func(n int) *model.Row // the roster row numbered n, or nil (an absent user's row 0)
	digest func(*model.Row) string

	mu         sync.Mutex
	counts     map[string]int
	unrecorded int
	verified   int
	mismatched int
	writeErr   error // the report's first write error
}

// outcome records one applied (or not) row, stopping the run on a
// run-wide error.
func (rc *recorder) outcome(o apply.Outcome) { rc.record(o, nil) }

// record is outcome with the row's digest when it is known (nil: not yet).
func (rc *recorder) record(o apply.Outcome, digest *string) {
	switch {
	case model.RunWide(o.Err):
		rc.stop(runWideCause(o.Err))
	case errors.Is(o.Err, apply.ErrNotJournaled):
		rc.stop(fmt.Errorf("%w: the journal could not record a change, so no more changes were sent: %w", ErrRowsFailed, o.Err))
	}
	rc.mu.Lock()
	if o.Verified {
		rc.verified++
	}
	if errors.Is(o.Err, apply.ErrMismatch) {
		rc.mismatched++
	}
	rc.mu.Unlock()
	it := o.Item
	row := report.Row{Row: it.Row, Key: it.Key, UserID: it.UserID, Status: string(o.Status),
		HTTPStatus: o.Result.HTTPStatus, Attempts: o.Result.Attempts, Fields: strings.Join(it.Fields(), "|")}
	if o.Err != nil {
		row.Error = o.Err.Error()
	}
	rc.write(row, digest)
}

// rowIndex returns the lookup of rows by number (model.Row.N).
func rowIndex(rows []model.Row) func(n int) *model.Row {
	dense := true
	for i := range rows {
		dense = dense && rows[i].N == i+1
	}
	if dense {
		return func(n int) *model.Row {
			if n < 1 || n > len(rows) {
				return nil
			}
			return &rows[n-1]
		}
	}
	byN := make(map[int]int, len(rows))
	for i := range rows {
		byN[rows[i].N] = i
	}
	return func(n int) *model.Row {
		if i, ok := byN[n]; ok {
			return &rows[i]
		}
		return nil
	}
}

// runWideCause is what every row not sent names as the run's end: the API
// that stopped answering (not this row's request), or the rejection.
func runWideCause(err error) error {
	var dead *model.UnreachableError
	if errors.As(err, &dead) {
		return dead
	}
	return err
}

// items records the plan's items: planned ones with the status and error
// turn gives them (nil: as planned), the others as they are.
// The rows' digests, the costliest part of recording a row, are computed a
// chunk ahead on another goroutine (another core, for a large plan),
// never more than two chunks of them held.
func (rc *recorder) items(p *plan.Plan, turn func(*plan.Item) (model.Status, error)) {
	const chunk = 2048
	ahead := make(chan []string, 1)
	go func() {
		defer close(ahead)
		for lo := 0; lo < len(p.Items); lo += chunk {
			ds := make([]string, min(chunk, len(p.Items)-lo))
			for i := range ds {
				if r := rc.row(p.Items[lo+i].Row); r != nil {
					ds[i] = rc.digest(r)
				}
			}
			ahead <- ds
		}
	}()
	for lo := 0; lo < len(p.Items); lo += chunk {
		ds := <-ahead
		for i, digest := range ds {
			it := &p.Items[lo+i]
			o := apply.Outcome{Item: it, Status: it.Status, Err: it.Err}
			if it.Status == model.Planned && turn != nil {
				o.Status, o.Err = turn(it)
			}
			rc.record(o, &digest)
		}
	}
}

// rows records every roster row when the run stopped before its plan was
// made: skipped for why, or failed when the row itself is bad.
func (rc *recorder) rows(rows []model.Row, why error) {
	for i := range rows {
		r := &rows[i]
		status, err := model.Skipped, why
		if r.Err != nil {
			status, err = model.Failed, r.Err
		}
		rc.write(report.Row{Row: r.N, Key: r.Key, Status: string(status), Error: err.Error()}, nil)
	}
}

func (rc *recorder) write(row report.Row, digest *string) {
	switch r := rc.row(row.Row); {
	case digest != nil:
		row.Digest = *digest
	case r != nil:
		row.Digest = rc.digest(r) // when written: a million digests held at once would cost a hundred megabytes
	}
	rc.mu.Lock()
	if rc.counts == nil {
		rc.counts = map[string]int{}
	}
	rc.counts[row.Status]++
	rc.mu.Unlock()
	err := rc.report.Write(row)
	ev := rc.log.Debug()
	if err != nil {
		rc.reportFailed(err, true)
		ev = rc.log.Error().AnErr("report_error", err)
	}
	ev = ev.Int("row", row.Row).Str("key", row.Key).Str("user_id", row.UserID).Str("status", row.Status).
		Str("fields", row.Fields).Int("attempts", row.Attempts).Int("http_status", row.HTTPStatus).Str("error", row.Error)
	if err != nil {
		ev.Msg("row not in the report")
	} else {
		ev.Msg("row")
	}
}

// reportFailed notes a report that failed, having lost a row or not, and
// stops the run: a change nobody can read about afterwards must not be
// made.
func (rc *recorder) reportFailed(err error, lost bool) {
	rc.mu.Lock()
	if lost {
		rc.unrecorded++
	}
	if rc.writeErr == nil {
		rc.writeErr = err
	}
	rc.mu.Unlock()
	rc.stop(fmt.Errorf("%w: the report could not be written (%w), so no more changes were sent", ErrRowsFailed, err))
}

// failed returns the run's error: the report's failure first, as it
// explains the rest, else err.
func (rc *recorder) failed(err error) error {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.writeErr == nil {
		return err
	}
	return fmt.Errorf("%w: the report could not be written (%w), so no more changes were sent; the outcomes of the %d rows it lacks are in the log at error level",
		ErrRowsFailed, rc.writeErr, rc.unrecorded)
}

func (rc *recorder) result(p *plan.Plan) Result {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	counts := map[string]int{}
	for k, v := range rc.counts {
		counts[k] = v
	}
	return Result{Plan: p, Counts: counts, Unrecorded: rc.unrecorded, Verified: rc.verified, Mismatched: rc.mismatched}
}
