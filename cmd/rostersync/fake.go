package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"github.com/rostersync/rostersync/sync/vendors"
)

// fakeServer is what the commands need of a shipped fake.
type fakeServer = vendors.Fake

// runFake serves a shipped fake until interrupted, so that an admin can
// rehearse plan and apply before touching production.
func (a *App) runFake(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("fake", flag.ContinueOnError)
	fs.SetOutput(a.Stderr)
	var o vendors.FakeConfig
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on")
	target := fs.String("target", "", "the API to emulate: "+vendors.Names(" or ")+" (required)")
	fs.StringVar(&o.Seed, "seed", "", "users.json to start from (default testdata/demo/<target>/users.json)")
	fs.StringVar(&o.Token, "token", "", "the fixed token it accepts (default: made up and printed)")
	fs.StringVar(&o.Login, "login", "", "a login it accepts too (Smartflo email, DNL admin name)")
	fs.StringVar(&o.Password, "password", "", "the password of --login (a rehearsal password, not a real one)")
	fs.DurationVar(&o.TokenTTL, "token-ttl", 0, "lifetime of tokens from a login (default 1h)")
	o.Faults.RegisterFlags(fs)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: rostersync fake --target `+vendors.Names("|")+` [--addr 127.0.0.1:8080] [--seed FILE] [--token T] [faults]

Serves the shipped fake of the target's API, to rehearse plan and apply against it. The
first line of output is "token=<token> base_url=<url>".

Examples:
  rostersync fake --target smartflo
  rostersync fake --target dnl --addr 127.0.0.1:9000 --limit 5 --fail-5xx 0.1 --reset-after 0.02
  # Smartflo's documented 429 past 3 a second (no Retry-After, no retry_after):
  rostersync fake --target smartflo --limit 3
  # nginx's limit_req in front, 5 a second, burst 0:
  rostersync fake --target smartflo --limit 5 --limit-status 503 --limit-no-burst

Flags:
`)
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := o.Faults.Check(); err != nil {
		return usageError("%w", err)
	}
	v, err := vendors.Lookup(*target)
	if err != nil {
		return usageError("%w", err)
	}
	if o.Seed == "" {
		o.Seed = filepath.FromSlash(v.DemoSeed())
	}
	if o.Token == "" {
		o.Token = rand.Text()
	}
	fake, err := v.NewFake(o)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("fake: %w", err)
	}
	srv := &http.Server{Handler: fake, ReadHeaderTimeout: 10 * time.Second}
	url := "http://" + ln.Addr().String()
	fmt.Fprintf(a.Stdout, "token=%s base_url=%s\n", o.Token, url)
	fmt.Fprintf(a.Stdout, "Fake %s API seeded from %s. Rehearse with:\n  ROSTERSYNC_TOKEN=%s rostersync plan --target %s --base-url %s --roster FILE\nInterrupt to stop.\n",
		v.Name, o.Seed, o.Token, v.Name, url)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return fmt.Errorf("fake: %w", err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("fake: %w", err)
	}
	fmt.Fprintf(a.Stdout, "Stopped after %d writes.\n", fake.Writes())
	return nil
}
