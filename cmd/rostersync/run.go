package main

import (
	"context"
	"crypto/sha256"
	"flag"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/rostersync/rostersync/ratelimit"
	"github.com/rostersync/rostersync/report"
	"github.com/rostersync/rostersync/sync/apply"
	"github.com/rostersync/rostersync/sync/model"
	"github.com/rostersync/rostersync/sync/plan"
	"github.com/rostersync/rostersync/sync/roster"
	"github.com/rostersync/rostersync/sync/state"
	"github.com/rostersync/rostersync/sync/vendors/dnl"
	"github.com/rostersync/rostersync/sync/vendors/rest"
	"github.com/rostersync/rostersync/sync/vendors/smartflo"
)

// options are the flags of plan and apply.
type options struct {
	target          string
	baseURL         string
	roster          string
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

	unreachableAfter time.Duration // stop when the API has not answered this long
}

func (o *options) register(fs *flag.FlagSet) {
	fs.StringVar(&o.target, "target", "", "the target API: smartflo or dnl (required)")
	fs.StringVar(&o.baseURL, "base-url", "", "API root without /v1; Smartflo defaults to "+smartflo.DefaultBaseURL+", DNL requires it")
	fs.StringVar(&o.roster, "roster", "", "roster file: .csv, .json (an array) or .jsonl; - reads CSV from stdin (required)")
	fs.StringVar(&o.report, "report", "", "report file: .csv or .jsonl (default rostersync-<target>-<time>.csv)")
	fs.StringVar(&o.resume, "resume", "", "a previous report: skip the rows it marks applied or unchanged")
	fs.Float64Var(&o.rate, "rate", 5, "requests a second for all calls together, reads included (0 = no limit)")
	fs.IntVar(&o.workers, "workers", 4, "requests in flight at most")
	fs.IntVar(&o.maxChanges, "max-changes", 500, "apply refuses (exit 3, sends nothing) when more users than this would change")
	fs.Float64Var(&o.maxBlockShare, "max-block-share", 10, "apply refuses (exit 3, sends nothing) when it would block more than this percent of the target's users")
	fs.StringVar(&o.match, "match", "", "the roster column that names each user: smartflo id|email|login_id, dnl user_id|email|name (default: the id)")
	fs.StringVar(&o.mapFile, "map", "", "CSV file with header column,field mapping roster columns to field names (empty field: ignore the column)")
	fs.Func("set", "field=value set on every row, e.g. block_agent=true (repeatable)", func(v string) error {
		o.sets = append(o.sets, v)
		return nil
	})
	fs.StringVar(&o.encoding, "encoding", "", "roster character set: "+strings.Join(roster.Encodings, ", ")+" (default: UTF-8 or UTF-16 by their marks, else Windows-1252 with a warning)")
	fs.BoolVar(&o.insecureHTTP, "insecure-http", false, "allow a plain http:// base URL to a host that is not this machine")
	fs.DurationVar(&o.timeout, "timeout", 30*time.Second, "time limit of one request")
	fs.DurationVar(&o.unreachableAfter, "unreachable-after", ratelimit.DefaultUnreachableAfter,
		"stop the run when the API has not answered for this long, every request failing at the network level (refused, reset, --timeout)")
	fs.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.StringVar(&o.logFormat, "log-format", "", "log format on stderr: console or json (default: console on a terminal, json otherwise)")
	fs.StringVar(&o.output, "output", "text", "how the plan is printed on stdout: text or json")
	fs.StringVar(&o.summary, "summary", "", "write a JSON summary of the run (counts, duration, rate, exit code) to this file")
	fs.StringVar(&o.metricsFile, "metrics-file", "", "write the run's metrics to this Prometheus textfile (node_exporter's textfile collector)")
	fs.DurationVar(&o.progressEvery, "progress-interval", 10*time.Second, "off a terminal, log a progress line this often (0 = never)")
	fs.BoolVar(&o.resendWriteOnly, "resend-write-only", false, "send write-only fields (Smartflo caller_id, agent_group, password) even when the ledger says they are current")
}

func (o *options) check() error {
	switch {
	case o.target != "smartflo" && o.target != "dnl":
		return usageError("--target must be smartflo or dnl")
	case o.roster == "":
		return usageError("--roster is required")
	case o.target == "dnl" && o.baseURL == "":
		return usageError("--base-url is required for dnl: DNL is self-hosted (e.g. http://HOST:8000)")
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
	case o.output != "text" && o.output != "json":
		return usageError("--output must be text or json")
	case o.logFormat != "" && o.logFormat != "console" && o.logFormat != "json":
		return usageError("--log-format must be console or json")
	}
	return nil
}

func (a *App) syncUsage(fs *flag.FlagSet, cmd string) func() {
	return func() {
		fmt.Fprintf(fs.Output(), `Usage: rostersync %s --target smartflo|dnl --roster FILE [flags]

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
	}
}

// runSync runs plan or apply.
func (a *App) runSync(ctx context.Context, cmd string, args []string) error {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(a.Stderr)
	var o options
	o.register(fs)
	fs.Usage = a.syncUsage(fs, cmd)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	// From here the summary and metrics files are written whatever happens:
	// a nightly job's monitoring needs a broken configuration most of all.
	j := &job{app: a, cmd: cmd, opts: o, logs: &swapWriter{w: a.Stderr}, log: zerolog.New(a.Stderr)}
	start := time.Now()
	err := o.check()
	if err == nil {
		err = j.checkPaths()
		if err != nil {
			return err // an output names an input: write nothing, not even the summary
		}
	}
	if err == nil {
		j.log, err = a.logger(o.logLevel, o.logFormat, j.logs)
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

func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// job is one run of plan or apply.
type job struct {
	app  *App
	cmd  string // plan or apply
	opts options
	log  zerolog.Logger
	logs *swapWriter // the log's output, which a progress bar takes over

	target     plan.Target
	ledger     *state.Ledger
	report     *report.Writer
	reportPath string
	digests    map[int]string // by roster row: what it held (report.Row.Digest)

	mu         sync.Mutex
	outcomes   map[string]int // rows by status, recorded in the report or not
	unrecorded int            // rows the report could not take
	requests   atomic.Int64   // HTTP requests sent
}

func (j *job) run(ctx context.Context) error {
	creds, err := credentials(j.app.Getenv)
	if err != nil {
		return err
	}
	base, err := baseURL(j.opts)
	if err != nil {
		return err
	}
	j.target = newTarget(j.opts, base, creds, &j.requests)
	key := j.target.Key()
	if f, err := plan.MatchField(j.target, j.opts.match); err != nil {
		return usageError("--match: %v", err)
	} else if f != nil {
		key = f.Name
	}
	schema, err := j.schema(ctx, key)
	if err != nil {
		return err
	}
	rows, err := roster.ReadFile(ctx, j.opts.roster, j.app.Stdin, schema)
	if err != nil {
		return err
	}
	addRosterSecrets(creds.Secrets, rows)
	dkey := digestKey(creds)
	j.digests = make(map[int]string, len(rows))
	for i := range rows {
		j.digests[rows[i].N] = rows[i].Digest(dkey)
	}
	done, err := resumeFrom(j.opts.resume, dkey)
	if err != nil {
		return err
	}
	dir, err := state.Dir(j.app.Getenv)
	if err != nil {
		return err
	}
	lock, err := state.Acquire(dir, j.target.Name(), base, j.cmd)
	if err != nil {
		return err
	}
	defer lock.Release()
	if j.ledger, err = state.Open(dir, j.target.Name(), base); err != nil {
		return err
	}
	defer j.ledger.Close()
	path := j.reportPath
	if j.report, err = report.Create(path); err != nil {
		return err
	}
	defer j.report.Close()
	j.log.Info().Str("target", j.target.Name()).Str("base_url", base).Int("rows", len(rows)).
		Str("report", path).Float64("rate", j.opts.rate).Int("workers", j.opts.workers).Msg("starting")

	var ledgerView plan.Ledger = j.ledger
	if j.opts.resendWriteOnly {
		ledgerView = forgetful{j.ledger}
	}
	// The reads and the writes each get their own display: the plan prints
	// between them, and must not be drawn over.
	reading := newProgress(j.app.Stderr, j.logs, j.log, j.opts.progressEvery)
	planner := plan.Planner{Target: j.target, Ledger: ledgerView, Workers: j.opts.workers, Match: key, Done: done, Progress: reading,
		Redact: creds.Secrets.Redact}
	start := time.Now()
	p, err := planner.Plan(ctx, rows)
	reading.Close()
	if err != nil {
		if ctx.Err() != nil {
			// Whichever read the interrupt cut is beside the point.
			err = fmt.Errorf("%w while reading the users' state", context.Cause(ctx))
		}
		j.skipAll(rows, fmt.Errorf("not planned: %w", err))
		return err
	}
	standing := plan.Guard{MaxChanges: j.opts.maxChanges, MaxBlockShare: j.opts.maxBlockShare}.Check(p)
	if j.opts.output == "json" {
		if err := writePlanJSON(j.app.Stdout, p, standing); err != nil {
			j.log.Error().Err(err).Msg("writing the plan to stdout") // the report still gets every row
		}
	} else {
		writePlan(j.app.Stdout, p, standing, palette{on: j.app.colour(j.app.Stdout)})
	}

	// A report that cannot be written stops the sending: a change nobody
	// can read about afterwards must not be made. What still finishes is
	// logged in full instead.
	applyCtx, stopApply := context.WithCancelCause(ctx)
	defer stopApply(nil)
	record := func(o apply.Outcome) {
		if err := j.record(j.reportRow(o)); err != nil {
			stopApply(j.reportFailed(err))
		}
	}
	var runErr error
	switch {
	case j.cmd == "plan":
		for i := range p.Items {
			it := &p.Items[i]
			record(apply.Outcome{Item: it, Status: it.Status, Err: it.Err})
		}
	case standing.Err() != nil:
		runErr = standing.Err()
		for i := range p.Items {
			it := &p.Items[i]
			if it.Status == model.Planned {
				record(apply.Outcome{Item: it, Status: model.Skipped, Err: runErr})
			} else {
				record(apply.Outcome{Item: it, Status: it.Status, Err: it.Err})
			}
		}
	default:
		applying := newProgress(j.app.Stderr, j.logs, j.log, j.opts.progressEvery)
		applier := apply.Applier{Target: j.target, Ledger: j.ledger, Workers: j.opts.workers, Grace: 10 * time.Second, Progress: applying}
		runErr = applier.Apply(applyCtx, p, record)
		applying.Close()
	}
	if err := j.report.Close(); err != nil && runErr == nil {
		runErr = j.reportFailed(err)
	}
	counts := j.counts()
	j.printSummary(counts, time.Since(start), path)
	switch {
	case runErr != nil:
		return runErr
	case j.unrecorded > 0:
		return j.reportFailed(nil)
	case counts[string(model.Failed)] > 0:
		return fmt.Errorf("%w: %d of %d rows failed; the report says why", errRowsFailed, counts[string(model.Failed)], len(p.Items))
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
	inputs := []namedPath{{"--roster", o.roster}, {"--map", o.mapFile}, {"--resume", o.resume}}
	if base, err := baseURL(o); err == nil {
		if dir, err := state.Dir(j.app.Getenv); err == nil {
			inputs = append(inputs, namedPath{"the ledger", state.PathOf(dir, o.target, base)})
		}
	}
	outputs := []namedPath{{"--report", j.reportPath}, {"--summary", o.summary}, {"--metrics-file", o.metricsFile}}
	return checkPaths(inputs, outputs)
}

// schema says how to read the roster: the key column, --map, --set and
// --encoding; a roster that is not UTF-8 is read with a logged warning.
func (j *job) schema(ctx context.Context, key string) (roster.Schema, error) {
	s := roster.Schema{Table: j.target.Table(), Key: key, Encoding: j.opts.encoding,
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
			return s, usageError("--set %s: %v", expr, err)
		}
		s.Set = append(s.Set, v)
	}
	return s, nil
}

// skipAll writes every row as skipped when the run stops before its plan
// is made, so the report still holds one row per roster row.
func (j *job) skipAll(rows []model.Row, why error) {
	for i := range rows {
		r := &rows[i]
		status, err := model.Skipped, why
		if r.Err != nil {
			status, err = model.Failed, r.Err
		}
		_ = j.record(report.Row{Row: r.N, Key: r.Key, Status: string(status), Error: err.Error(), Digest: j.digests[r.N]})
	}
}

// record counts a row's outcome, logs it at debug and writes it to the
// report. A row the report cannot take is logged in full at error level,
// so that every outcome, above all every applied change, is on record.
func (j *job) record(r report.Row) error {
	j.mu.Lock()
	if j.outcomes == nil {
		j.outcomes = map[string]int{}
	}
	j.outcomes[r.Status]++
	j.mu.Unlock()
	err := j.report.Write(r)
	ev := j.log.Debug()
	if err != nil {
		j.mu.Lock()
		j.unrecorded++
		j.mu.Unlock()
		ev = j.log.Error().AnErr("report_error", err)
	}
	ev.Int("row", r.Row).Str("key", r.Key).Str("user_id", r.UserID).Str("status", r.Status).
		Str("fields", r.Fields).Int("attempts", r.Attempts).Int("http_status", r.HTTPStatus).Str("error", r.Error)
	if err != nil {
		ev.Msg("row not in the report")
	} else {
		ev.Msg("row")
	}
	return err
}

// counts returns how many rows ended with each status, whether or not the
// report took them.
func (j *job) counts() map[string]int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return maps.Clone(j.outcomes)
}

// reportFailed is the error of a run whose report could not be written:
// it names the cause and how many rows only the log holds.
func (j *job) reportFailed(cause error) error {
	if cause == nil {
		cause = j.report.Close()
	}
	j.mu.Lock()
	n := j.unrecorded
	j.mu.Unlock()
	return fmt.Errorf("%w: the report %s could not be written (%w), so no more changes were sent; the outcomes of the rows it lacks (%d so far) are in the log at error level",
		errRowsFailed, j.reportPath, cause, n)
}

func (j *job) printSummary(counts map[string]int, took time.Duration, path string) {
	var parts []string
	for _, s := range []model.Status{model.Applied, model.Planned, model.Unchanged, model.Failed, model.Skipped} {
		if n := counts[string(s)]; n > 0 || s == model.Failed {
			parts = append(parts, fmt.Sprintf("%d %s", n, s))
		}
	}
	out := j.app.Stdout
	if j.opts.output == "json" {
		out = j.app.Stderr // stdout holds the plan as one JSON document
	}
	fmt.Fprintf(out, "\nReport: %s (%s in %s)\n", path, strings.Join(parts, ", "), took.Round(time.Millisecond))
}

// reportRow turns an outcome into its report row.
func (j *job) reportRow(o apply.Outcome) report.Row {
	r := report.Row{
		Row: o.Item.Row, Key: o.Item.Key, UserID: o.Item.UserID, Status: string(o.Status),
		HTTPStatus: o.Result.HTTPStatus, Attempts: o.Result.Attempts, Fields: strings.Join(o.Item.Fields(), "|"),
		Digest: j.digests[o.Item.Row],
	}
	if o.Err != nil {
		r.Error = o.Err.Error()
	}
	return r
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

// baseURL checks --base-url and returns the API root without /v1.
func baseURL(o options) (string, error) {
	raw := o.baseURL
	if raw == "" {
		raw = smartflo.DefaultBaseURL
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

func newTarget(o options, base string, cfg rest.Config, requests *atomic.Int64) plan.Target {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = o.workers * 2
	cfg.BaseURL = base
	cfg.HTTP = &http.Client{Transport: counting{transport, requests}, Timeout: o.timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	cfg.Limiter = ratelimit.New(o.rate)
	cfg.Policy = ratelimit.DefaultPolicy()
	if u, err := url.Parse(base); err == nil {
		cfg.Policy.Health = ratelimit.NewHealth(u.Host, o.unreachableAfter)
	}
	if o.target == "dnl" {
		return dnl.New(cfg)
	}
	return smartflo.New(cfg)
}

// counting is a transport that counts the requests it sends.
type counting struct {
	next http.RoundTripper
	n    *atomic.Int64
}

func (c counting) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.next.RoundTrip(r)
}

// writeSummaries writes --summary and --metrics-file, whatever the run's
// outcome: a nightly job's monitoring needs the failures most.
func (j *job) writeSummaries(start time.Time, runErr error) error {
	if j.opts.summary == "" && j.opts.metricsFile == "" {
		return nil
	}
	counts := j.counts()
	target := j.opts.target
	s := newSummary(j.cmd, target, start, time.Since(start), counts, j.requests.Load(), exitCode(runErr), j.reportPath)
	s.Unrecorded = j.unrecorded
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

// forgetful hides the ledger's memory from the planner, so every
// write-only field in the roster is sent; writes are still recorded.
type forgetful struct{ *state.Ledger }

func (forgetful) Written(string) map[string]any { return nil }

// digestKey derives the key of the report's row digests from the run's
// credentials, so that a digest tests no guess of a password the row sets
// without them. A run with other credentials (a rotated token) sees other
// digests, so --resume plans its rows afresh: the safe side.
func digestKey(c rest.Config) []byte {
	sum := sha256.Sum256([]byte("rostersync row digest\x00" + c.Token.Reveal() + "\x00" + c.Login + "\x00" + c.Password.Reveal()))
	return sum[:]
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
	return func(r *model.Row) (string, bool) {
		p, ok := finished[r.N]
		if !ok || p.Key != r.Key || p.Digest == "" || p.Digest != r.Digest(key) {
			return "", false
		}
		return fmt.Sprintf("done in %s (%s)", path, p.Status), true
	}, nil
}
