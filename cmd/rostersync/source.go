package main

import (
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/rostersync/rostersync/sync/model"
	"github.com/rostersync/rostersync/sync/plan"
	"github.com/rostersync/rostersync/sync/roster"
	"github.com/rostersync/rostersync/sync/state"
	"github.com/rostersync/rostersync/sync/vendors"
	"github.com/rostersync/rostersync/sync/vendors/rest"
)

// source is where a run's rows come from: a roster, a saved plan, or the
// journal of a run to revert.
type source struct {
	rows    []model.Row
	key     string                 // the field rows name users by
	recheck func(*plan.Plan) error // how the fresh plan is checked; nil for a roster
	roster  *plan.Digest           // the roster read, for plan --out
	absent  plan.Absent            // what to do with the users no row names
	scope   string                 // absent.Scope as text: what the shrink guard remembers by
}

// settle fills in the target and base URL that a saved plan (apply
// --plan) or a journalled run (revert) carries, refusing flags that
// contradict them.
func (j *job) settle() error {
	o := &j.opts
	switch {
	case o.planFile != "":
		f, digest, err := plan.ReadFile(o.planFile)
		if err != nil {
			return fmt.Errorf("--plan: %w", err)
		}
		if o.target != "" && o.target != f.Target {
			return usageError("--target %s, but the plan is for %s: apply it without --target", o.target, f.Target)
		}
		if o.baseURL != "" {
			if v, err := vendors.Lookup(f.Target); err == nil {
				if base, err := baseURL(*o, v); err != nil || base != f.BaseURL {
					return usageError("--base-url %s, but the plan is for %s: apply it without --base-url", o.baseURL, f.BaseURL)
				}
			}
		}
		o.target, o.baseURL = f.Target, f.BaseURL
		j.saved, j.savedDigest = f, digest
	case j.cmd == "revert":
		if o.runID == "" {
			return usageError("revert needs the id of the run to undo (see rostersync runs)")
		}
		dir, err := state.Dir(j.app.Getenv)
		if err != nil {
			return err
		}
		runs, err := state.Runs(dir)
		if err != nil {
			return err
		}
		r, err := state.FindRun(runs, o.runID)
		if err != nil {
			return usageError("%v (see rostersync runs)", err)
		}
		o.target, o.baseURL, j.reverted = r.Target, r.BaseURL, r
		if o.out == "" {
			o.out = "revert-" + r.Run + ".json"
		}
	}
	return nil
}

// source reads the run's rows from where settle found them.
func (j *job) source(ctx context.Context, v *vendors.Vendor, secrets *rest.Secrets) (source, error) {
	switch {
	case j.saved != nil:
		return j.savedSource(ctx, v, secrets)
	case j.reverted != nil:
		return j.revertSource(v)
	}
	return j.rosterSource(ctx, v, secrets)
}

// rosterSource reads the roster, matched on --match.
func (j *job) rosterSource(ctx context.Context, v *vendors.Vendor, secrets *rest.Secrets) (source, error) {
	key := v.Key
	if f, err := plan.MatchField(v.Target, j.opts.match); err != nil {
		return source{}, usageError("--match: %w", err)
	} else if f != nil {
		key = f.Name
	}
	rows, err := j.readRoster(ctx, v, key, secrets)
	if err != nil {
		return source{}, err
	}
	src := source{rows: rows, key: key}
	if src.absent, src.scope, err = j.absent(v, key); err != nil {
		return source{}, err
	}
	if j.opts.roster != "-" {
		if src.roster, err = rosterDigest(j.opts.roster); err != nil {
			return source{}, err
		}
	}
	return src, nil
}

func (j *job) readRoster(ctx context.Context, v *vendors.Vendor, key string, secrets *rest.Secrets) ([]model.Row, error) {
	schema, err := j.schema(ctx, v.Table, key)
	if err != nil {
		return nil, err
	}
	j.log.Debug().Str("roster", j.opts.roster).Msg("reading the roster")
	rows, err := roster.ReadFile(ctx, j.opts.roster, j.app.Stdin, schema)
	if err != nil {
		return nil, err
	}
	addRosterSecrets(secrets, rows)
	return rows, nil
}

// absent reads --absent, --scope and --keep.
func (j *job) absent(v *vendors.Vendor, key string) (plan.Absent, string, error) {
	a := plan.Absent{Mode: plan.AbsentMode(j.opts.absent)}
	if a.Mode == "" || a.Mode == plan.AbsentIgnore {
		return plan.Absent{}, "", nil
	}
	var scope []string
	for _, expr := range j.opts.scopes {
		val, err := roster.ParseFieldValue(v.Table, "--scope", expr)
		if err != nil {
			return a, "", usageError("%w", err)
		}
		a.Scope = append(a.Scope, val)
		scope = append(scope, val.Field.Name+"="+val.Field.Kind.Format(val.V))
	}
	if err := plan.CheckScope(a.Scope); err != nil {
		return a, "", usageError("%w", err)
	}
	slices.Sort(scope)
	if j.opts.keepFile != "" {
		keep, err := readKeep(j.opts.keepFile, key)
		if err != nil {
			return a, "", err
		}
		a.Keep = keep
	}
	return a, strings.Join(scope, ","), nil
}

// readKeep reads a --keep file: a CSV with one column, named key (the
// match field), of users never blocked for being absent.
func readKeep(path, key string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--keep: %w", err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = 1
	recs, err := r.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("--keep %s: %w (one column, named %s)", path, err, key)
	}
	if len(recs) == 0 || !strings.EqualFold(strings.TrimSpace(strings.TrimPrefix(recs[0][0], "\ufeff")), key) {
		return nil, fmt.Errorf("--keep %s: the header must be one column named %s, the field this run matches users on", path, key)
	}
	var keep []string
	for _, rec := range recs[1:] {
		if k := strings.TrimSpace(rec[0]); k != "" {
			keep = append(keep, k)
		}
	}
	return keep, nil
}

// savedSource turns a saved plan into rows keyed by user id, its secrets
// read again from --roster when it sets any, and checks the fresh plan of
// them against the plan saved.
func (j *job) savedSource(ctx context.Context, v *vendors.Vendor, secrets *rest.Secrets) (source, error) {
	f := j.saved
	secret := func(int, string) (string, bool) { return "", false }
	if f.Sensitive() && j.opts.roster != "" {
		d, err := rosterDigest(j.opts.roster)
		if err != nil {
			return source{}, err
		}
		if f.Roster == nil || d.SHA256 != f.Roster.SHA256 {
			return source{}, usageError("--roster %s is not the roster the plan was made from (its digest differs)", j.opts.roster)
		}
		key := v.Key
		if f.Match != "" {
			key = f.Match
		}
		rows, err := j.readRoster(ctx, v, key, secrets)
		if err != nil {
			return source{}, err
		}
		secret = func(n int, field string) (string, bool) {
			if n < 1 || n > len(rows) || rows[n-1].N != n {
				return "", false
			}
			for _, val := range rows[n-1].Values {
				if val.Field.Name == field {
					s, ok := val.V.(string)
					return s, ok
				}
			}
			return "", false
		}
	}
	rows, err := f.Rows(v.Target, secret)
	if err != nil {
		return source{}, fmt.Errorf("--plan: %w", err)
	}
	return source{rows: rows, key: v.Key, roster: f.Roster,
		recheck: func(p *plan.Plan) error { return f.Recheck(p, v.Target, rows) }}, nil
}

// revertSource turns the journal of a run into rows that set each field
// it changed back to its value before, and lists the fields that cannot
// go back (a password, a write-only value never known).
func (j *job) revertSource(v *vendors.Vendor) (source, error) {
	f := &plan.File{Version: plan.FileVersion, Kind: "revert", Target: v.Name, BaseURL: j.reverted.BaseURL, Reverts: j.reverted.Run}
	for _, e := range j.reverted.Changes {
		c := plan.FileChange{Row: e.Row, Key: e.User, UserID: e.User}
		for _, fc := range e.Fields {
			switch {
			case fc.Secret:
				j.notes = append(j.notes, fmt.Sprintf("row %d, user %s: %s cannot go back: a password is never recorded", e.Row, e.User, fc.Field))
			case fc.Unknown:
				j.notes = append(j.notes, fmt.Sprintf("row %d, user %s: %s cannot go back: its value before the run was not recorded (write-only and never written, or it held one of the run's secrets)", e.Row, e.User, fc.Field))
			default:
				c.Fields = append(c.Fields, plan.FileField{Field: fc.Field, Before: fc.After, After: fc.Before})
			}
		}
		if len(c.Fields) > 0 {
			f.Changes = append(f.Changes, c)
		}
	}
	rows, err := f.Rows(v.Target, nil)
	if err != nil {
		return source{}, fmt.Errorf("run %s: %w", j.reverted.Run, err)
	}
	return source{rows: rows, key: v.Key, recheck: func(p *plan.Plan) error { return f.Conflicts(p, v.Target) }}, nil
}

// rosterDigest names a roster file by its content.
func rosterDigest(path string) (*plan.Digest, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("opening the roster: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return nil, fmt.Errorf("reading the roster: %w", err)
	}
	return &plan.Digest{Path: path, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// appliedBefore returns the run that applied the plan with this digest
// at this target already, if any.
func appliedBefore(dir, target, base, digest string) (*state.Run, error) {
	runs, err := state.Runs(dir)
	if err != nil {
		return nil, err
	}
	for _, r := range runs {
		if r.Plan == digest && r.Target == target && r.BaseURL == base {
			return r, nil
		}
	}
	return nil, nil
}

// writePlanFile writes the plan as a file to apply with apply --plan.
func (j *job) writePlanFile(p *plan.Plan, base string, roster *plan.Digest) error {
	f, err := plan.NewFile(p, base, roster, time.Now())
	if err != nil {
		return err
	}
	if j.reverted != nil {
		f.Kind, f.Reverts, f.Roster = "revert", j.reverted.Run, nil
	}
	data, err := f.Encode()
	if err != nil {
		return err
	}
	if err := state.WriteFile(j.opts.out, data, 0o600); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	fmt.Fprintf(j.app.Stderr, "Plan written to %s: apply exactly it with\n  rostersync apply --plan %s\n", j.opts.out, j.opts.out)
	return nil
}

var errDeclined = errors.New("the answer at the prompt was not yes")

// confirm asks on the terminal for yes before anything is sent.
func (j *job) confirm() error {
	fmt.Fprint(j.app.Stdout, "\nDo you want to apply these changes? Only 'yes' will be accepted.\n  Enter a value: ")
	var answer string
	buf := make([]byte, 1)
	for {
		n, err := j.app.Stdin.Read(buf)
		if n == 1 && buf[0] != '\n' {
			answer += string(buf[0])
			continue
		}
		if n == 1 || err != nil {
			break
		}
	}
	if strings.TrimSpace(answer) != "yes" {
		fmt.Fprintln(j.app.Stdout, "\nApply cancelled.")
		return errDeclined
	}
	return nil
}
