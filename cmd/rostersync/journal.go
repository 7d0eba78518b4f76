package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/rostersync/rostersync/sync/model"
	"github.com/rostersync/rostersync/sync/state"
	"github.com/rostersync/rostersync/sync/vendors"
)

// journalFilter picks the runs of one target and base URL, or of all.
type journalFilter struct {
	target, baseURL string
}

func (f *journalFilter) register(fs *flag.FlagSet) {
	fs.StringVar(&f.target, "target", "", "only runs against this target ("+vendors.Names(" or ")+")")
	fs.StringVar(&f.baseURL, "base-url", "", "only runs against this API root")
}

func (f journalFilter) keep(r *state.Run) bool {
	return (f.target == "" || r.Target == f.target) && (f.baseURL == "" || strings.TrimRight(r.BaseURL, "/") == strings.TrimRight(f.baseURL, "/"))
}

// readRuns returns the journal's runs that f keeps, oldest first.
func (a *App) readRuns(f journalFilter) ([]*state.Run, error) {
	dir, err := state.Dir(a.Getenv)
	if err != nil {
		return nil, err
	}
	runs, err := state.Runs(dir)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(runs, func(r *state.Run) bool { return !f.keep(r) }), nil
}

// runRuns lists the recent runs, one line each.
func (a *App) runRuns(_ context.Context, args []string) error {
	fs := flag.NewFlagSet("runs", flag.ContinueOnError)
	fs.SetOutput(a.Stderr)
	var f journalFilter
	f.register(fs)
	last := fs.Int("last", 20, "how many of the most recent runs to list (0 = all)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: rostersync runs [--target T --base-url U] [--last N]

Lists the applies the journal holds, most recent last: run id, when it started, command,
target, base URL, rows by status and exit code ("cut short" for a run that never ended,
such as one killed). Revert one with rostersync revert RUN_ID.

Flags:
`)
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	runs, err := a.readRuns(f)
	if err != nil {
		return err
	}
	if *last > 0 && len(runs) > *last {
		runs = runs[len(runs)-*last:]
	}
	if len(runs) == 0 {
		fmt.Fprintln(a.Stdout, "No runs in the journal.")
	}
	for _, r := range runs {
		fmt.Fprintf(a.Stdout, "%s  %s  %s  %s  %s  %s\n", r.Run, r.At.Local().Format(time.DateTime), r.Command, r.Target, r.BaseURL, ended(r))
	}
	return nil
}

// ended says how a run ended: its rows by status and its exit code.
func ended(r *state.Run) string {
	if r.End == nil {
		return fmt.Sprintf("%d applied, cut short (no end recorded)", len(r.Changes))
	}
	var parts []string
	for _, st := range model.Statuses {
		if n := r.End.Counts[string(st)]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, st))
		}
	}
	if len(parts) == 0 {
		parts = append(parts, "no rows")
	}
	return fmt.Sprintf("%s, exit %d", strings.Join(parts, ", "), *r.End.Exit)
}

// runHistory lists every change the journal holds, one field a line.
func (a *App) runHistory(_ context.Context, args []string) error {
	fs := flag.NewFlagSet("history", flag.ContinueOnError)
	fs.SetOutput(a.Stderr)
	var f journalFilter
	f.register(fs)
	since := fs.Duration("since", 0, "only changes this recent (e.g. 72h); 0 = all")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: rostersync history [KEY_OR_USER_ID] [--target T --base-url U] [--since DURATION]

Lists every change the journal holds, one field a line: when, run id, user, field,
before → after. With KEY_OR_USER_ID, only the changes of that user (by id, or by the
roster key the run named it by). Passwords show as (changed); a value before that was
never known as (unknown).

Flags:
`)
		fs.PrintDefaults()
	}
	var who string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		who, args = args[0], args[1:]
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	runs, err := a.readRuns(f)
	if err != nil {
		return err
	}
	var from time.Time
	if *since > 0 {
		from = time.Now().Add(-*since)
	}
	n := 0
	for _, r := range runs {
		for _, e := range r.Changes {
			if e.At.Before(from) || (who != "" && e.User != who && !strings.EqualFold(e.Key, who)) {
				continue
			}
			for _, fc := range e.Fields {
				fmt.Fprintf(a.Stdout, "%s  %s  %s %s  user %s  %s: %s → %s\n", e.At.Local().Format(time.DateTime), r.Run, r.Target, r.BaseURL,
					e.User, fc.Field, value(fc, fc.Before, true), value(fc, fc.After, false))
				n++
			}
		}
	}
	if n == 0 {
		fmt.Fprintln(a.Stdout, "No changes in the journal match.")
	}
	return nil
}

// value shows one side of a journalled field change.
func value(fc state.FieldChange, raw json.RawMessage, before bool) string {
	switch {
	case fc.Secret:
		return "(changed)"
	case before && fc.Unknown:
		return "(unknown)"
	}
	return string(raw)
}
