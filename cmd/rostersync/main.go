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
	// A run waits on the target's request budget far more than it computes,
	// so trade a little garbage-collection CPU for a smaller heap: half the
	// default headroom over live data. GOGC, when set, still decides.
	if app.Getenv("GOGC") == "" {
		debug.SetGCPercent(50)
	}
	ctx, stop := interruptible(context.Background())
	defer stop()
	err := app.Run(ctx, args)
	if err != nil {
		fmt.Fprintln(app.Stderr, "rostersync:", err)
	}
	return exitCode(err)
}

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
