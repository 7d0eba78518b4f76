package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"

	"github.com/rostersync/rostersync/sync/vendors"
)

// demoToken is the fixed token of the demo's in-process fake.
const demoToken = "demo-token"

// runDemo runs plan, apply and apply again of the demo roster against an
// in-process fake seeded with the demo users.
func (a *App) runDemo(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(a.Stderr)
	target := fs.String("target", vendors.All[0].Name, "the target to emulate: "+vendors.Names(" or "))
	data := fs.String("data", filepath.Join("testdata", "demo"), "folder holding <target>/users.json and <target>/roster.csv")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: rostersync demo [--target `+vendors.Names("|")+`]

Runs plan, apply, and apply once more, of testdata/demo/<target>/roster.csv against an
in-process fake of the target seeded from testdata/demo/<target>/users.json. Nothing
leaves the machine. Run it from the repository's root.

Flags:
`)
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	v, err := vendors.Lookup(*target)
	if err != nil {
		return usageError("%w", err)
	}
	seed := filepath.Join(*data, v.Name, "users.json")
	rosterPath := filepath.Join(*data, v.Name, "roster.csv")
	fake, err := v.NewFake(vendors.FakeConfig{Seed: seed, Token: demoToken})
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("demo data not found (%w); run the demo from the repository's root or pass --data", err)
	}
	if err != nil {
		return err
	}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	dir, err := os.MkdirTemp("", "rostersync-demo-")
	if err != nil {
		return err
	}
	// The demo keeps its ledger beside its reports, away from the user's
	// own, and no setting of the user's (ROSTERSYNC_NOTIFY, ...) steers it.
	env := func(k string) string {
		switch {
		case k == "ROSTERSYNC_TOKEN":
			return demoToken
		case k == "XDG_STATE_HOME":
			return dir
		case strings.HasPrefix(k, envPrefix):
			return ""
		}
		return a.Getenv(k)
	}
	run := &App{Stdin: a.Stdin, Stdout: a.Stdout, Stderr: a.Stderr, Getenv: env, ledgerCost: a.ledgerCost}
	common := []string{"--target", *target, "--base-url", srv.URL, "--roster", rosterPath, "--rate", "50", "--log-level", "warn"}
	steps := []struct{ cmd, title, report string }{
		{"plan", "plan: what would change (sends no write)", "plan.csv"},
		{"apply", "apply: send the changes", "apply.csv"},
		{"apply", "apply again: the target now matches the roster, so nothing is sent", "again.csv"},
	}
	fmt.Fprintf(a.Stdout, "rostersync demo: %s emulated at %s, seeded from %s, roster %s\n", *target, srv.URL, seed, rosterPath)
	for _, s := range steps {
		before := fake.Writes()
		fmt.Fprintf(a.Stdout, "\n=== rostersync %s ===\n", s.title)
		args := append(common, "--report", filepath.Join(dir, s.report))
		if s.cmd == "apply" {
			args = append(args, "--auto-approve") // the demo never asks
		}
		err := run.runSync(ctx, s.cmd, args)
		fmt.Fprintf(a.Stdout, "Writes the fake received: %d\n", fake.Writes()-before)
		if err != nil {
			return err
		}
	}
	fmt.Fprintf(a.Stdout, "\nReports and the demo's ledger are in %s\n", dir)
	return nil
}
