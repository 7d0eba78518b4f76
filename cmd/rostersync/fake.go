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

	"github.com/rostersync/rostersync/sync/vendors/dnl/dnltest"
	"github.com/rostersync/rostersync/sync/vendors/fakehttp"
	"github.com/rostersync/rostersync/sync/vendors/smartflo/smartflotest"
)

// fakeServer is what the commands need of a shipped fake.
type fakeServer interface {
	http.Handler
	Writes() int
}

// fakeOptions configure a shipped fake.
type fakeOptions struct {
	target   string
	seed     string // a users.json file
	token    string // the fixed token it accepts
	login    string // the login it accepts ("" = none)
	password string
	tokenTTL time.Duration // lifetime of tokens from a login
	faults   fakehttp.Faults
}

// newFake builds a target's shipped fake, seeded from a users.json file.
func newFake(o fakeOptions) (fakeServer, error) {
	switch o.target {
	case "smartflo":
		users, err := smartflotest.LoadUsers(o.seed)
		if err != nil {
			return nil, err
		}
		return smartflotest.New(smartflotest.Config{Token: o.token, Email: o.login, Password: o.password,
			TokenTTL: o.tokenTTL, Faults: o.faults}, users), nil
	case "dnl":
		users, err := dnltest.LoadUsers(o.seed)
		if err != nil {
			return nil, err
		}
		return dnltest.New(dnltest.Config{Token: o.token, Admin: o.login, Password: o.password,
			TokenTTL: o.tokenTTL, Faults: o.faults}, users), nil
	}
	return nil, usageError("--target must be smartflo or dnl")
}

// runFake serves a shipped fake until interrupted, so that an admin can
// rehearse plan and apply before touching production.
func (a *App) runFake(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("fake", flag.ContinueOnError)
	fs.SetOutput(a.Stderr)
	var o fakeOptions
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on")
	fs.StringVar(&o.target, "target", "", "the API to emulate: smartflo or dnl (required)")
	fs.StringVar(&o.seed, "seed", "", "users.json to start from (default testdata/demo/<target>/users.json)")
	fs.StringVar(&o.token, "token", "", "the fixed token it accepts (default: made up and printed)")
	fs.StringVar(&o.login, "login", "", "a login it accepts too (Smartflo email, DNL admin name)")
	fs.StringVar(&o.password, "password", "", "the password of --login (a rehearsal password, not a real one)")
	fs.DurationVar(&o.tokenTTL, "token-ttl", 0, "lifetime of tokens from a login (default: Smartflo 1h, DNL never expire)")
	o.faults.RegisterFlags(fs)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: rostersync fake --target smartflo|dnl [--addr 127.0.0.1:8080] [--seed FILE] [--token T] [faults]

Serves the shipped fake of the target's API, to rehearse plan and apply against it. The
first line of output is "token=<token> base_url=<url>".

Examples:
  rostersync fake --target smartflo
  rostersync fake --target dnl --addr 127.0.0.1:9000 --limit 5 --fail-5xx 0.1 --reset-after 0.02
  # nginx's limit_req in front, 5 a second, burst 0:
  rostersync fake --target smartflo --limit 5 --limit-status 503 --limit-no-burst --limit-no-hints

Flags:
`)
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := o.faults.Check(); err != nil {
		return usageError("%v", err)
	}
	if o.seed == "" {
		o.seed = filepath.Join("testdata", "demo", o.target, "users.json")
	}
	if o.token == "" {
		o.token = rand.Text()
	}
	fake, err := newFake(o)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("fake: %w", err)
	}
	srv := &http.Server{Handler: fake, ReadHeaderTimeout: 10 * time.Second}
	url := "http://" + ln.Addr().String()
	fmt.Fprintf(a.Stdout, "token=%s base_url=%s\n", o.token, url)
	fmt.Fprintf(a.Stdout, "Fake %s API seeded from %s. Rehearse with:\n  ROSTERSYNC_TOKEN=%s rostersync plan --target %s --base-url %s --roster FILE\nInterrupt to stop.\n",
		o.target, o.seed, o.token, o.target, url)
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
