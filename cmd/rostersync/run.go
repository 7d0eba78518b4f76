package main

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"

	"github.com/rostersync/rostersync/ratelimit"
	"github.com/rostersync/rostersync/report"
	"github.com/rostersync/rostersync/sync/apply"
	"github.com/rostersync/rostersync/sync/engine"
	"github.com/rostersync/rostersync/sync/model"
	"github.com/rostersync/rostersync/sync/plan"
	"github.com/rostersync/rostersync/sync/roster"
	"github.com/rostersync/rostersync/sync/state"
	"github.com/rostersync/rostersync/sync/vendors"
	"github.com/rostersync/rostersync/sync/vendors/rest"
)

// options are the flags of plan and apply.
type options struct {
	target          string
	baseURL         string
	roster          string
	sheet           string
	report          string
	resume          string
	rate            float64
	workers         int
	maxChanges      int
	maxBlockShare   float64
	match           string
	mapFile         string
	sets            []string
	encoding        string
	insecureHTTP    bool
	timeout         time.Duration
	logLevel        string
	logFormat       string
	output          string
	summary         string
	metricsFile     string
	progressEvery   time.Duration
	resendWriteOnly bool
	notify          []string // webhook URLs
	notifyOn        string

	unreachableAfter time.Duration // stop when the API has not answered this long

	out         string // plan, revert: write the plan to this file
	planFile    string // apply: apply this saved plan
	autoApprove bool   // apply: do not ask on a terminal
	verify      bool   // apply: read back what was changed
	runID       string // revert: the run to undo

	absent          string   // ignore, report or block the users no row names
	scopes          []string // --scope field=value: which users count as absent
	keepFile        string   // users never blocked for being absent
	maxRosterShrink float64  // --absent block refuses a roster this much smaller than the last
}

func (o *options) register(fs *flag.FlagSet, cmd string) {
	switch cmd {
	case "plan", "revert":
		fs.StringVar(&o.out, "out", "", "also write the plan to this file, to apply exactly it later with apply --plan (mode 0600)")
	case "apply":
		fs.StringVar(&o.planFile, "plan", "", "apply exactly this plan file (from plan --out or revert), re-checked against the target now; needs no --roster unless it sets passwords")
		fs.BoolVar(&o.autoApprove, "auto-approve", false, "on a terminal, apply without asking for yes first")
		fs.BoolVar(&o.verify, "verify", true, "read back every user changed and fail a row whose change did not take")
	}
	if cmd != "revert" { // a revert takes its target and users from the journal
		fs.StringVar(&o.target, "target", "", "the target API: "+vendors.Names(" or ")+" (required; apply --plan takes it from the plan)")
		fs.StringVar(&o.baseURL, "base-url", "", "API root without /v1; "+baseURLHelp())
		fs.StringVar(&o.roster, "roster", "", "roster file: .csv, .json (an array), .jsonl or .xlsx; - reads CSV from stdin (required but with apply --plan)")
		fs.StringVar(&o.sheet, "sheet", "", "the sheet of an .xlsx roster to read (default: the first)")
		fs.StringVar(&o.resume, "resume", "", "a previous report: skip the rows it marks applied or unchanged")
		fs.StringVar(&o.match, "match", "", "the roster column that names each user: "+matchHelp()+" (default: the id)")
		fs.StringVar(&o.mapFile, "map", "", "CSV file with header column,field mapping roster columns to field names (empty field: ignore the column)")
		fs.Var(listFlag{&o.sets}, "set", "field=value set on every row, e.g. block_agent=true (repeatable)")
		fs.StringVar(&o.encoding, "encoding", "", "roster character set: "+strings.Join(roster.Encodings, ", ")+" (default: UTF-8 or UTF-16 by their marks, else Windows-1252 with a warning)")
		fs.BoolVar(&o.resendWriteOnly, "resend-write-only", false, "send write-only fields (Smartflo caller_id, agent_group, password) even when the ledger says they are current")
		fs.StringVar(&o.absent, "absent", "ignore", "the target's users no roster row names: ignore them, report them, or block them (leavers)")
		fs.Var(listFlag{&o.scopes}, "scope", "field=value a user must hold to count as absent, e.g. user_role=54630 or user_type=agent (repeatable; all must hold)")
		fs.StringVar(&o.keepFile, "keep", "", "CSV with one column, named after the match field, of users never blocked for being absent (service accounts, the API's admin)")
		fs.Float64Var(&o.maxRosterShrink, "max-roster-shrink", 10, "--absent block refuses (exit 3) a roster that names more than this percent fewer users in scope than the last applied one")
	}
	fs.StringVar(&o.report, "report", "", "report file: .csv or .jsonl (default rostersync-<target>-<time>.csv)")
	fs.Float64Var(&o.rate, "rate", 5, "requests a second for all calls together, reads included (0 = no limit)")
	fs.IntVar(&o.workers, "workers", 4, "requests in flight at most")
	fs.IntVar(&o.maxChanges, "max-changes", 500, "apply refuses (exit 3, sends nothing) when more users than this would change")
	fs.Float64Var(&o.maxBlockShare, "max-block-share", 10, "apply refuses (exit 3, sends nothing) when it would block more than this percent of the target's users")
	fs.BoolVar(&o.insecureHTTP, "insecure-http", false, "allow plain http:// (--base-url, --notify) to a host that is not this machine")
	fs.DurationVar(&o.timeout, "timeout", 30*time.Second, "time limit of one request")
	fs.DurationVar(&o.unreachableAfter, "unreachable-after", ratelimit.DefaultUnreachableAfter,
		"stop the run when the API has not answered for this long, every request failing at the network level (refused, reset, --timeout)")
	fs.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.StringVar(&o.logFormat, "log-format", "", "log format on stderr: console or json (default: console on a terminal, json otherwise)")
	fs.StringVar(&o.output, "output", "text", "how the plan is printed on stdout: text or json")
	fs.StringVar(&o.summary, "summary", "", "write a JSON summary of the run (counts, duration, rate, exit code) to this file")
	fs.StringVar(&o.metricsFile, "metrics-file", "", "write the run's metrics to this Prometheus textfile (node_exporter's textfile collector)")
	fs.DurationVar(&o.progressEvery, "progress-interval", 10*time.Second, "off a terminal, log a progress line this often (0 = never)")
	fs.Var(listFlag{&o.notify}, "notify", "post a JSON message to this incoming webhook (Slack, Microsoft Teams, Google Chat, any) when the run ends (repeatable); the URL is a secret: better set as ROSTERSYNC_NOTIFY")
	fs.StringVar(&o.notifyOn, "notify-on", notifyProblems, "when to notify: problems (rows failed, a guard refused, the run stopped: any exit code but 0) or always")
}

func (o *options) check() error {
	v, err := vendors.Lookup(o.target)
	switch {
	case err != nil:
		return usageError("%w", err)
	case o.roster == "" && o.planFile == "" && o.runID == "":
		return usageError("--roster is required")
	case v.DefaultBaseURL == "" && o.baseURL == "":
		return usageError("--base-url is required for %s: it is self-hosted (e.g. %s)", v.Name, v.BaseURLExample)
	case o.rate < 0:
		return usageError("--rate must be 0 (no limit) or more")
	case o.workers < 1:
		return usageError("--workers must be 1 or more")
	case o.maxChanges < 0:
		return usageError("--max-changes must be 0 or more")
	case o.maxBlockShare < 0 || o.maxBlockShare > 100:
		return usageError("--max-block-share must be a percentage, 0 to 100")
	case o.timeout <= 0:
		return usageError("--timeout must be positive")
	case o.unreachableAfter <= 0:
		return usageError("--unreachable-after must be positive")
	case o.absent != "" && o.absent != string(plan.AbsentIgnore) && o.absent != string(plan.AbsentReport) && o.absent != string(plan.AbsentBlock):
		return usageError("--absent must be ignore, report or block")
	case o.maxRosterShrink < 0 || o.maxRosterShrink > 100:
		return usageError("--max-roster-shrink must be a percentage, 0 to 100")
	case o.planFile != "" && o.absent != "" && o.absent != string(plan.AbsentIgnore):
		return usageError("--absent with --plan: a saved plan holds its absent users already")
	case (len(o.scopes) > 0 || o.keepFile != "") && (o.absent == "" || o.absent == string(plan.AbsentIgnore)):
		return usageError("--scope and --keep only mean something with --absent report or block")
	case o.output != "text" && o.output != "json":
		return usageError("--output must be text or json")
	case o.logFormat != "" && o.logFormat != "console" && o.logFormat != "json":
		return usageError("--log-format must be console or json")
	}
	return nil
}

func (a *App) syncUsage(fs *flag.FlagSet, cmd string) func() {
	return func() {
		fmt.Fprintf(fs.Output(), `Usage: rostersync %s --target `+vendors.Names("|")+` --roster FILE [flags]

Examples:
  # A roster whose columns are field names, keyed by id:
  ROSTERSYNC_TOKEN=... rostersync %[1]s --target smartflo --roster staff.csv --report report.csv

  # An HR export with its own column names, matched by work email:
  rostersync %[1]s --target smartflo --roster hr-export.csv --map hr-map.csv --match email

  # Offboarding: block everyone on a list of emails (the guard refuses past 10%% of users):
  rostersync %[1]s --target smartflo --roster leavers.csv --match email --set block_agent=true

  # DNL, logging in; JSON Lines roster; 20 requests a second:
  ROSTERSYNC_LOGIN=admin ROSTERSYNC_PASSWORD=... rostersync %[1]s --target dnl \
      --base-url https://dnl.example.com/api_dnl --roster users.jsonl --rate 20

Flags:
`, cmd)
		fs.PrintDefaults()
		fmt.Fprint(fs.Output(), envHelp())
		fmt.Fprintln(fs.Output(), "\nTargets:")
		for _, v := range vendors.All {
			fmt.Fprintf(fs.Output(), "  %-10s %s\n", v.Name, v.Title)
		}
	}
}

// runSync runs plan or apply.
func (a *App) runSync(ctx context.Context, cmd string, args []string) (err error) {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(a.Stderr)
	var o options
	o.register(fs, cmd)
	fs.Usage = a.syncUsage(fs, cmd)
	if cmd == "revert" && len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		o.runID, args = args[0], args[1:]
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := settingsFromEnv(fs, a.Getenv); err != nil {
		return err
	}
	hooks, err := parseWebhooks(o.notify, o.notifyOn, o.insecureHTTP)
	if err != nil {
		return err
	}
	// From here the summary and metrics files are written whatever happens:
	// a nightly job's monitoring needs a broken configuration most of all;
	// and the webhooks hear how the run ended, whatever ended it.
	j := &job{app: a, cmd: cmd, opts: o, logs: &swapWriter{w: a.Stderr}, log: zerolog.New(a.Stderr)}
	start := time.Now()
	if len(hooks) > 0 {
		defer func() { j.notify(ctx, hooks, j.summarize(start, err), err) }()
	}
	err = j.settle()
	if err == nil {
		err = j.opts.check()
	}
	if err == nil {
		err = j.checkPaths()
		if err != nil {
			return err // an output names an input: write nothing, not even the summary
		}
	}
	if err == nil {
		j.log, err = a.logger(o.logLevel, o.logFormat, j.logs)
	}
	if err == nil && a.Environ != nil {
		for _, name := range unknownSettings(fs, a.Environ()) {
			j.log.Warn().Str("variable", name).Msgf("%s names no flag of %s: ignored", name, cmd)
		}
	}
	if err == nil {
		err = j.run(ctx)
	}
	if werr := j.writeSummaries(start, err); werr != nil {
		j.log.Error().Err(werr).Msg("writing the summary")
		if err == nil {
			err = werr
		}
	}
	return err
}

// logger returns the run's logger, writing to out (stderr, or above the
// progress bar): human-readable on a terminal, JSON otherwise, unless
// format says which.
func (a *App) logger(level, format string, out io.Writer) (zerolog.Logger, error) {
	lvl, err := zerolog.ParseLevel(level)
	if err != nil || level == "" {
		return zerolog.Logger{}, usageError("--log-level must be debug, info, warn or error")
	}
	if format == "" {
		format = "json"
		if isTerminal(a.Stderr) {
			format = "console"
		}
	}
	// Workers log at once: the writer must take whole lines one at a time.
	w := zerolog.SyncWriter(out)
	if format == "console" {
		w = zerolog.SyncWriter(zerolog.ConsoleWriter{Out: out, TimeFormat: time.TimeOnly, NoColor: !a.colour(a.Stderr)})
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Logger(), nil
}

// colour reports whether output to w may be coloured: on a terminal, and
// never with NO_COLOR set.
func (a *App) colour(w io.Writer) bool {
	return isTerminal(w) && a.Getenv("NO_COLOR") == ""
}

// isTerminal reports whether w is a terminal (not merely a character
// device such as /dev/null).
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	return ok && isatty.IsTerminal(f.Fd())
}

// job is one run of plan or apply.
type job struct {
	app  *App
	cmd  string // plan or apply
	opts options
	log  zerolog.Logger
	logs *swapWriter // the log's output, which a progress bar takes over

	reportPath string
	result     engine.Result
	requests   atomic.Int64 // HTTP requests sent
	runID      string       // an apply's id in the journal
	exit       int          // the run's exit code, for the journal

	saved       *plan.File // apply --plan: the plan saved
	savedDigest string     // and the digest of its file
	reverted    *state.Run // revert: the run to undo
	notes       []string   // said after the plan (what a revert cannot restore)
}

// inflightGrace is how long a PATCH already sent may finish after an
// interrupt: cutting it would leave unknown whether the server applied it.
const inflightGrace = 10 * time.Second

func (j *job) run(ctx context.Context) error {
	v, err := vendors.Lookup(j.opts.target)
	if err != nil {
		return usageError("%w", err)
	}
	creds, err := credentials(j.app.Getenv)
	if err != nil {
		return err
	}
	// What the client finds worth a person's attention (a login's password
	// close to expiry) goes to the log at warn level, shown on a normal run.
	creds.Warn = func(msg string) { j.log.Warn().Str("target", v.Name).Msg(msg) }
	base, err := baseURL(j.opts, v)
	if err != nil {
		return err
	}
	pool := connectionPool(j.opts)
	defer pool.CloseIdleConnections() // the demo and the tests run many runs in one process
	client := newClient(j.opts, v, base, creds, pool, &j.requests)
	src, err := j.source(ctx, v, creds.Secrets)
	if err != nil {
		return err
	}
	dkey := digestKey(creds)
	done, err := resumeFrom(j.opts.resume, dkey)
	if err != nil {
		return err
	}
	st, err := j.openState(v, base, ledgerKey(creds))
	if err != nil {
		return err
	}
	defer st.close(j)
	j.log.Info().Str("target", v.Name).Str("base_url", base).Int("rows", len(src.rows)).Str("run", j.runID).
		Str("report", j.reportPath).Float64("rate", j.opts.rate).Int("workers", j.opts.workers).Msg("starting")

	var known plan.Ledger = st.ledger
	if j.opts.resendWriteOnly {
		known = forgetful{st.ledger}
	}
	var verify plan.Reader
	if j.opts.verify {
		verify = client
	}
	last, err := state.LastNamed(st.dir, v.Name, base, src.scope)
	if err != nil {
		return err // without it the truncated-roster guard cannot stand
	}
	var journal apply.Journal
	if st.journal != nil {
		journal = engine.Journal(st.journal)
	}
	run := engine.Run{
		Apply: j.cmd == "apply",
		Rows:  src.rows,
		Planner: plan.Planner{Target: v.Target, Reader: client, Ledger: known, Workers: j.opts.workers, Match: src.key,
			Done: done, Redact: creds.Secrets.Redact, Absent: src.absent},
		Recheck: src.recheck,
		Guard: plan.Guard{MaxChanges: j.opts.maxChanges, MaxBlockShare: j.opts.maxBlockShare,
			AbsentBlock: src.absent.Mode == plan.AbsentBlock, MaxRosterShrink: j.opts.maxRosterShrink, LastNamed: last.Named},
		Applier: apply.Applier{Patcher: client, Ledger: st.ledger, Journal: journal, Verify: verify, Pause: verifyPause,
			Redact: creds.Secrets.Redact, Workers: j.opts.workers},
		Report:  st.report,
		Digest:  model.NewDigester(dkey).Digest,
		Review:  j.show,
		Display: func() engine.Display { return newProgress(j.app.Stderr, j.logs, j.log, j.opts.progressEvery) },
		Log:     j.log,
	}
	start := time.Now()
	j.result, err = run.Do(ctx)
	j.exit = exitCode(err)
	if p := j.result.Plan; p != nil && p.Named >= 0 && j.cmd == "apply" && (err == nil || errors.Is(err, engine.ErrRowsFailed)) {
		// What this applied roster named is the shrink guard's next yardstick.
		if rerr := state.RememberNamed(st.dir, v.Name, base, src.scope, state.Named{Named: p.Named, Run: j.runID, At: time.Now().UTC()}); rerr != nil {
			j.log.Error().Err(rerr).Msg("remembering how many users the roster named")
		}
	}
	if p := j.result.Plan; p != nil && len(p.KeepUnknown) > 0 {
		j.log.Warn().Strs("keep", p.KeepUnknown).Msg("--keep names users the target does not hold")
	}
	if j.opts.out != "" && j.result.Plan != nil && (err == nil || errors.Is(err, engine.ErrRowsFailed)) {
		if werr := j.writePlanFile(j.result.Plan, base, src.roster); werr != nil && err == nil {
			err = werr
		}
	}
	j.printSummary(time.Since(start))
	return err
}

// runState is what a run holds of its target's state directory, and its
// report, for as long as it lasts.
type runState struct {
	dir     string
	lock    *state.Lock
	ledger  *state.Ledger
	report  *report.Writer
	journal *state.Journal // an apply's; nil for plan and revert
}

// openState takes the target's lock, refuses a saved plan applied before,
// and opens the ledger, the report and (for an apply) the journal, with a
// new run id.
func (j *job) openState(v *vendors.Vendor, base string, key []byte) (*runState, error) {
	dir, err := state.Dir(j.app.Getenv)
	if err != nil {
		return nil, err
	}
	st := &runState{dir: dir}
	if st.lock, err = state.Acquire(dir, v.Name, base, j.cmd); err != nil {
		return nil, err
	}
	fail := func(err error) (*runState, error) {
		st.close(j)
		return nil, err
	}
	if j.saved != nil && j.cmd == "apply" {
		if r, err := appliedBefore(dir, v.Name, base, j.savedDigest); err != nil {
			return fail(err)
		} else if r != nil {
			return fail(usageError("--plan %s was applied already, by run %s at %s; make a new plan", j.opts.planFile, r.Run, r.At.Local().Format(time.DateTime)))
		}
	}
	if st.ledger, err = state.Open(dir, v.Name, base, state.Options{Key: key, Cost: j.app.ledgerCost}); err != nil {
		return fail(err)
	}
	if st.report, err = report.Create(j.reportPath); err != nil {
		return fail(err)
	}
	if j.cmd == "apply" {
		j.runID = state.NewRunID(time.Now())
		start := state.Entry{Run: j.runID, Command: j.cmd, Target: v.Name, BaseURL: base, Plan: j.savedDigest, Reverts: j.saved.RevertsRun()}
		if st.journal, err = state.OpenJournal(dir, start); err != nil {
			return fail(err)
		}
	}
	return st, nil
}

// close ends the run's hold: the journal gets the run's end, the ledger
// is compacted, and the lock goes last.
func (st *runState) close(j *job) {
	if st.journal != nil {
		_ = st.journal.End(j.result.Counts, j.exit)
	}
	if st.report != nil {
		_ = st.report.Close()
	}
	if st.ledger != nil {
		_ = st.ledger.Close()
	}
	st.lock.Release()
}

// verifyPause is how long a change that did not take at once is given
// before it is read again: some targets apply a change a moment late.
const verifyPause = 2 * time.Second

// show prints the plan on stdout, for people or as JSON, and what a
// revert cannot restore. On a terminal, an apply then asks for yes before
// anything is sent, unless --auto-approve; off one it never asks.
func (j *job) show(p *plan.Plan, standing plan.Standing) error {
	// Buffered: a plan of 20,000 changes is 60,000 lines, a write each
	// unbuffered.
	out := bufio.NewWriterSize(j.app.Stdout, 64<<10)
	if j.opts.output == "json" {
		if err := writePlanJSON(out, p, standing); err != nil {
			j.log.Error().Err(err).Msg("writing the plan to stdout") // the report still gets every row
		}
	} else {
		writePlan(out, p, standing, palette{on: j.app.colour(j.app.Stdout)})
	}
	if len(j.notes) > 0 {
		fmt.Fprintln(out, "\nNot restorable:")
		for _, n := range j.notes {
			fmt.Fprintln(out, "  "+n)
		}
	}
	if err := out.Flush(); err != nil {
		j.log.Error().Err(err).Msg("writing the plan to stdout")
	}
	ask := j.cmd == "apply" && !j.opts.autoApprove && isTerminal(j.app.Stdin) && isTerminal(j.app.Stdout)
	if ask && p.Count(model.Planned) > 0 && standing.Err() == nil {
		return j.confirm()
	}
	return nil
}

// checkPaths settles the report's name and refuses a run whose outputs
// would overwrite one of its inputs (the roster, the mapping, the report
// to resume from, the ledger) or each other.
func (j *job) checkPaths() error {
	o := j.opts
	j.reportPath = o.report
	if j.reportPath == "" {
		j.reportPath = fmt.Sprintf("rostersync-%s-%s.csv", o.target, time.Now().Format("20060102-150405"))
	}
	inputs := []namedPath{{"--roster", o.roster}, {"--map", o.mapFile}, {"--resume", o.resume}, {"--plan", o.planFile}, {"--keep", o.keepFile}}
	if v, err := vendors.Lookup(o.target); err != nil {
		return usageError("%w", err)
	} else if base, err := baseURL(o, v); err == nil {
		if dir, err := state.Dir(j.app.Getenv); err == nil {
			inputs = append(inputs, namedPath{"the ledger", state.PathOf(dir, o.target, base)})
		}
	}
	outputs := []namedPath{{"--report", j.reportPath}, {"--summary", o.summary}, {"--metrics-file", o.metricsFile}, {"--out", o.out}}
	return checkPaths(inputs, outputs)
}

// schema says how to read the roster: the key column, --map, --set and
// --encoding; a roster that is not UTF-8 is read with a logged warning.
func (j *job) schema(ctx context.Context, table *model.Table, key string) (roster.Schema, error) {
	s := roster.Schema{Table: table, Key: key, Encoding: j.opts.encoding, Sheet: j.opts.sheet,
		Warn: func(msg string) { j.log.Warn().Msg(msg) }}
	if j.opts.mapFile != "" {
		m, err := roster.ReadMap(ctx, j.opts.mapFile, s)
		if err != nil {
			return s, fmt.Errorf("--map: %w", err)
		}
		s.Map = m
	}
	for _, expr := range j.opts.sets {
		v, err := roster.ParseSet(s.Table, expr)
		if err != nil {
			return s, usageError("%w", err) // err names --set and the expression
		}
		s.Set = append(s.Set, v)
	}
	return s, nil
}

// printSummary says where the report is and what it holds.
func (j *job) printSummary(took time.Duration) {
	var parts []string
	for _, s := range model.Statuses {
		if n := j.result.Counts[string(s)]; n > 0 || s == model.Failed {
			parts = append(parts, fmt.Sprintf("%d %s", n, s))
		}
	}
	out := j.app.Stdout
	if j.opts.output == "json" {
		out = j.app.Stderr // stdout holds the plan as one JSON document
	}
	run := ""
	if j.runID != "" {
		run = ", run " + j.runID
	}
	fmt.Fprintf(out, "\nReport: %s (%s in %s%s)\n", j.reportPath, strings.Join(parts, ", "), took.Round(time.Millisecond), run)
}

// credentials reads the run's credentials from the environment.
func credentials(getenv func(string) string) (rest.Config, error) {
	c := rest.Config{
		Token:    model.Secret(getenv("ROSTERSYNC_TOKEN")),
		Login:    getenv("ROSTERSYNC_LOGIN"),
		Password: model.Secret(getenv("ROSTERSYNC_PASSWORD")),
		Secrets:  new(rest.Secrets), // what no output may show, shared by the client and the plan
	}
	switch {
	case (c.Login == "") != (c.Password == ""):
		return c, usageError("set both ROSTERSYNC_LOGIN and ROSTERSYNC_PASSWORD, or neither")
	case c.Token == "" && c.Login == "":
		return c, usageError("no credentials: set ROSTERSYNC_TOKEN, or ROSTERSYNC_LOGIN and ROSTERSYNC_PASSWORD")
	}
	return c, nil
}

// baseURL checks --base-url, else takes the vendor's, and returns the API
// root without /v1.
func baseURL(o options, v *vendors.Vendor) (string, error) {
	raw := o.baseURL
	if raw == "" {
		raw = v.DefaultBaseURL
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", usageError("--base-url %q is not an http(s) URL", raw)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", usageError("--base-url must not hold credentials, a query or a fragment; credentials come from the environment")
	}
	if u.Scheme == "http" && !o.insecureHTTP && !isLoopback(u.Hostname()) {
		return "", usageError("--base-url %s is plain http to another machine: the token and personal data would cross the network unencrypted; use https, or pass --insecure-http if the network is trusted", u.Redacted())
	}
	u.Path = strings.TrimSuffix(strings.TrimRight(u.Path, "/"), "/v1")
	return u.String(), nil
}

// isLoopback reports whether host is this machine, by its literal form
// alone: the decision comes before any request or name lookup.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// connectionPool returns the run's connections: room for the workers.
func connectionPool(o options) *http.Transport {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = o.workers * 2
	return transport
}

// newClient builds the vendor's client of base: the connection pool,
// --timeout, the run's limiter, retry policy and health check.
func newClient(o options, v *vendors.Vendor, base string, cfg rest.Config, pool *http.Transport, requests *atomic.Int64) vendors.Client {
	cfg.BaseURL = base
	// The pool itself, not a wrapper: net/http times a request of a
	// Transport it knows with a context, but any other one with a timer and
	// a goroutine each (a tenth of the CPU of a run without a limit).
	cfg.HTTP = &http.Client{Transport: pool, Timeout: o.timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	cfg.Limiter = ratelimit.New(o.rate)
	cfg.Workers = o.workers
	cfg.Sent = requests
	cfg.Policy = ratelimit.DefaultPolicy()
	cfg.Grace = inflightGrace
	if u, err := url.Parse(base); err == nil {
		cfg.Policy.Health = ratelimit.NewHealth(u.Host, o.unreachableAfter)
	}
	return v.New(cfg)
}

// writeSummaries writes --summary and --metrics-file, whatever the run's
// outcome: a nightly job's monitoring needs the failures most.
func (j *job) writeSummaries(start time.Time, runErr error) error {
	if j.opts.summary == "" && j.opts.metricsFile == "" {
		return nil
	}
	s := j.summarize(start, runErr)
	if j.opts.summary != "" {
		if err := writeSummary(j.opts.summary, s); err != nil {
			return fmt.Errorf("--summary: %w", err)
		}
	}
	if j.opts.metricsFile != "" {
		if err := writeMetrics(j.opts.metricsFile, s); err != nil {
			return fmt.Errorf("--metrics-file: %w", err)
		}
	}
	return nil
}

// summarize is what the run did, as --summary writes it.
func (j *job) summarize(start time.Time, runErr error) summary {
	s := newSummary(j.cmd, j.opts.target, start, time.Since(start), j.result.Counts, j.requests.Load(), exitCode(runErr), j.reportPath)
	s.Unrecorded, s.RunID = j.result.Unrecorded, j.runID
	s.Verified, s.Mismatched = j.result.Verified, j.result.Mismatched
	return s
}

// notify posts how the run ended to the --notify webhooks, unless
// --notify-on problems and there was none. A webhook that fails is
// retried and logged; it never changes the run's outcome. An interrupted
// run is told about too: the posts outlive the run's context (a minute at
// most; a second interrupt still ends the process at once).
func (j *job) notify(ctx context.Context, hooks []webhook, s summary, runErr error) {
	o := outcome{cmd: j.cmd, target: j.opts.target, summary: s, err: runErr, runID: j.runID}
	if v, err := vendors.Lookup(j.opts.target); err == nil {
		if base, err := baseURL(j.opts, v); err == nil {
			if u, err := url.Parse(base); err == nil {
				o.host = u.Host
			}
		}
	}
	if p := j.result.Plan; p != nil {
		o.refusal = plan.Guard{MaxChanges: j.opts.maxChanges, MaxBlockShare: j.opts.maxBlockShare}.Check(p).Err()
	}
	if j.opts.notifyOn == notifyProblems && s.ExitCode == exitOK && o.problem() == "" {
		return
	}
	nf := newNotifier(j.app.notifyBackoff, func(host string, attempts int, err error) {
		if err != nil {
			j.log.Error().Str("webhook", host).Int("attempts", attempts).Err(err).Msg("notification not sent")
			return
		}
		j.log.Info().Str("webhook", host).Int("attempts", attempts).Msg("notification sent")
	})
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	nf.send(ctx, hooks, notice{Text: o.text(), Summary: s})
}

// forgetful hides the ledger's memory from the planner, so every
// write-only field in the roster is sent; writes are still recorded.
type forgetful struct{ *state.Ledger }

func (forgetful) Written(string) map[string]any { return nil }

// digestKey derives the key of the report's row digests from the run's
// credentials, so that a digest tests no guess of a password the row sets
// without them. A run with other credentials (a rotated token) sees other
// digests, so --resume plans its rows afresh: the safe side.
func digestKey(c rest.Config) []byte { return credentialKey(c, "rostersync row digest") }

// ledgerKey derives the key of the ledger's verifiers of secrets from the
// run's credentials, which the state directory never holds (see
// sync/state/verifier.go). Other credentials (a rotated token) make the
// verifiers unknown, so the secrets are sent again once.
func ledgerKey(c rest.Config) []byte { return credentialKey(c, "rostersync ledger key v1") }

// credentialKey derives a key for one use, named label, from the run's
// credentials.
func credentialKey(c rest.Config, label string) []byte {
	m := hmac.New(sha256.New, []byte(label))
	m.Write([]byte(c.Token.Reveal() + "\x00" + c.Login + "\x00" + c.Password.Reveal()))
	return m.Sum(nil)
}

// resumeFrom reads a previous report and returns which rows it finished:
// those it marks applied or unchanged whose number, key and content (the
// digest under key) are the same now. A row edited since is planned afresh.
func resumeFrom(path string, key []byte) (func(*model.Row) (string, bool), error) {
	if path == "" {
		return nil, nil
	}
	prev, err := report.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--resume: %w", err)
	}
	finished := map[int]report.Row{}
	for _, r := range prev {
		if r.Status == string(model.Applied) || r.Status == string(model.Unchanged) {
			finished[r.Row] = r
		}
	}
	digester := model.NewDigester(key)
	return func(r *model.Row) (string, bool) {
		p, ok := finished[r.N]
		if !ok || p.Key != r.Key || p.Digest == "" || p.Digest != digester.Digest(r) {
			return "", false
		}
		return fmt.Sprintf("done in %s (%s)", path, p.Status), true
	}, nil
}

// baseURLHelp says, for --base-url's help, each vendor's default.
func baseURLHelp() string {
	var parts []string
	for _, v := range vendors.All {
		if v.DefaultBaseURL != "" {
			part := fmt.Sprintf("%s defaults to %s", v.Name, v.DefaultBaseURL)
			if len(v.OtherBaseURLs) > 0 {
				part += " (white labels: " + strings.Join(v.OtherBaseURLs, ", ") + ")"
			}
			parts = append(parts, part)
		} else {
			parts = append(parts, fmt.Sprintf("%s requires it (%s)", v.Name, v.BaseURLExample))
		}
	}
	return strings.Join(parts, "; ")
}

// matchHelp says, for --match's help, what each vendor's users are
// matched on.
func matchHelp() string {
	var parts []string
	for _, v := range vendors.All {
		parts = append(parts, v.Name+" "+strings.Join(append([]string{v.Key}, v.MatchFields...), "|"))
	}
	return strings.Join(parts, ", ")
}
