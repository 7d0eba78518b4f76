package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime/debug"
	"time"

	"github.com/rostersync/rostersync/sync/engine"
	"github.com/rostersync/rostersync/sync/model"
	"github.com/rostersync/rostersync/sync/plan"
)

// App is the command line, with its surroundings passed in so tests run it
// exactly as main does.
type App struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Getenv         func(string) string
	// Environ, when set, lists the environment (KEY=value), so that a
	// ROSTERSYNC_ variable naming no flag is warned about.
	Environ func() []string

	// ledgerCost is the bcrypt cost of the passwords the ledger keeps; 0
	// is bcrypt's default. Tests lower it: a hash at the default cost
	// takes a CPU tens of milliseconds.
	ledgerCost int
	// notifyBackoff is the first wait before a webhook is posted again;
	// 0 is a second. Tests shorten it.
	notifyBackoff time.Duration
}

// Exit codes; scheduled jobs act on them.
const (
	exitOK          = 0   // every row ok
	exitRowsFailed  = 1   // at least one row failed
	exitNotStarted  = 2   // usage, config, credentials, roster: nothing was written
	exitRefused     = 3   // refused by a guard: nothing was written
	exitInterrupted = 130 // SIGINT or SIGTERM
)

var (
	errInterrupted = errors.New("interrupted")
	errUsage       = errors.New("usage")
)

// exitCode maps the error Run returned to the process's exit code. This is
// the one place that decides.
func exitCode(err error) int {
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, errInterrupted):
		return exitInterrupted
	case errors.Is(err, plan.ErrRefused):
		return exitRefused
	case errors.Is(err, engine.ErrRowsFailed):
		return exitRowsFailed
	case errors.Is(err, engine.ErrStopped) && errors.Is(err, model.ErrUnreachable):
		// The API stopped answering while changes were being sent: some
		// rows may be done, the rest were skipped. (While reading, nothing
		// was written: that stays a run that could not start.)
		return exitRowsFailed
	}
	return exitNotStarted
}

// usageError reports a command-line mistake (exit 2). format may wrap an
// error with %w, so that what caused the mistake stays matchable.
func usageError(format string, args ...any) error {
	return fmt.Errorf("%w: "+format+" (see rostersync help)", append([]any{errUsage}, args...)...)
}

const usage = `rostersync keeps the users of a telephony admin system in line with a roster file.

Usage:
  rostersync plan    [flags]          read the roster and the users' state, report what would change; sends no write
  rostersync apply   [flags]          the same, then PATCH every changed user (or apply --plan a saved plan)
  rostersync runs    [flags]          the recent applies, from the journal
  rostersync history [USER] [flags]   every change the journal holds: who changed what, when
  rostersync revert  RUN_ID [flags]   plan the undoing of a run, to apply with apply --plan
  rostersync demo    [flags]          the whole run against a built-in emulated target: no account, no network
  rostersync fake    [flags]          serve an emulated target to rehearse plan and apply against
  rostersync version                  print the version

Run "rostersync COMMAND -h" for a command's flags.

Credentials come from the environment, never from flags:
  ROSTERSYNC_TOKEN                           a fixed API token, or
  ROSTERSYNC_LOGIN and ROSTERSYNC_PASSWORD   a login; rostersync logs in once and renews on expiry

Exit codes: 0 every row ok; 1 some row failed, or the API stopped answering mid-run;
2 the run could not start (nothing was written); 3 refused by --max-changes or
--max-block-share (nothing was written); 130 interrupted.
`

// Run runs one command line (without the program name).
func (a *App) Run(ctx context.Context, args []string) error {
	if err := a.run(ctx, args); !errors.Is(err, errHelp) {
		return err
	}
	return nil // the usage was asked for and shown
}

func (a *App) run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(a.Stderr, usage)
		return usageError("no command given")
	}
	switch cmd, rest := args[0], args[1:]; cmd {
	case "plan", "apply", "revert":
		return a.runSync(ctx, cmd, rest)
	case "runs":
		return a.runRuns(ctx, rest)
	case "history":
		return a.runHistory(ctx, rest)
	case "demo":
		return a.runDemo(ctx, rest)
	case "fake":
		return a.runFake(ctx, rest)
	case "version", "--version":
		fmt.Fprintln(a.Stdout, "rostersync", version())
		return nil
	case "help", "-h", "-help", "--help":
		fmt.Fprint(a.Stdout, usage)
		return nil
	default:
		return usageError("unknown command %q", cmd)
	}
}

// parseFlags parses a command's flags; -h prints its usage and ends the
// command successfully (errHelp).
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errHelp
		}
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	if fs.NArg() > 0 {
		return usageError("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

// errHelp ends a command whose usage was asked for.
var errHelp = errors.New("help shown")

// stamp is the version the build stamped in (-ldflags "-X main.stamp=1.4.0",
// as .ci/build-static does); when empty, the module's version from the
// build information.
var stamp string

func version() string {
	if stamp != "" {
		return stamp
	}
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" && info.Main.Version != "(devel)" {
		return info.Main.Version
	}
	return "devel"
}
