// Command rostersync keeps the users of a telephony admin system (Smartflo,
// DNL) in line with a roster file: it reads the roster and the users'
// current state, plans the smallest PATCH per user, sends them through a
// rate-limited worker pool and writes a report with one row per roster row.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

func main() {
	app := &App{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv, Environ: os.Environ}
	os.Exit(runMain(app, os.Args[1:]))
}

// runMain is main but for the exit: it runs the command line as the
// process rostersync, stopped by interrupts, prints the error and returns
// the exit code. The tests run it in child processes, to send them
// signals.
func runMain(app *App, args []string) int {
	// Twice Go's default GC headroom (GOGC 200) for speed: a run without a
	// limit is bound by CPU, and collecting half as often cut a 20,000-row
	// apply's CPU by a tenth for 25 MB. A large roster's heap is held in
	// bounds by a soft limit instead, which makes the collector work harder
	// only as the heap nears it. GOGC and GOMEMLIMIT, when set, decide. Not
	// for the fake, which holds every user it serves.
	if len(args) > 0 && args[0] != "fake" {
		if app.Getenv("GOGC") == "" {
			debug.SetGCPercent(gcPercent)
		}
		if app.Getenv("GOMEMLIMIT") == "" {
			debug.SetMemoryLimit(memoryLimit)
		}
	}
	ctx, stop := interruptible(context.Background())
	defer stop()
	err := app.Run(ctx, args)
	if err != nil {
		fmt.Fprintln(app.Stderr, "rostersync:", err)
	}
	return exitCode(err)
}

// gcPercent is the GC headroom of a run (GOGC): see runMain.
const gcPercent = 200

// memoryLimit is the soft limit of the Go heap: a plan of 1,000,000 rows
// stays within 350 MB of resident memory, and a larger one costs more
// collection rather than more memory.
const memoryLimit = 300 << 20

// interruptible returns a context canceled, with errInterrupted as its
// cause, by the first SIGINT or SIGTERM. A second signal ends the process
// at once with exit code 130; the report is still valid up to its last
// finished row, as every row is flushed when written.
func interruptible(parent context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(parent)
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case sig := <-signals:
			cancel(fmt.Errorf("%w by %s", errInterrupted, signalName(sig)))
			fmt.Fprintln(os.Stderr, "rostersync: interrupted: finishing the requests in flight, then stopping; interrupt again to quit at once")
		case <-done:
			return
		}
		select {
		case <-signals:
			fmt.Fprintln(os.Stderr, "rostersync: interrupted again: quitting now")
			os.Exit(exitInterrupted)
		case <-done:
		}
	}()
	var once bool
	return ctx, func() {
		if !once {
			once = true
			signal.Stop(signals)
			close(done)
			cancel(nil)
		}
	}
}

// signalName names a signal as people know it: SIGINT, SIGTERM.
func signalName(sig os.Signal) string {
	switch sig {
	case os.Interrupt:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	}
	return sig.String()
}
