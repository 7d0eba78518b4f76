package main

import (
	"bytes"
	"context"
	"flag"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// TestSettingsFromEnvironment sets flags only in the environment: they
// take effect (an int, a repeatable flag one value a line); the same flag
// on the command line wins; a value the flag refuses stops the run before
// any request, naming the variable.
func TestSettingsFromEnvironment(t *testing.T) {
	t.Parallel()
	roster := e2eCases["smartflo"].roster // changes two users

	t.Run("set only in the environment", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, "smartflo")
		h.env["ROSTERSYNC_MAX_CHANGES"] = "1"
		res := h.run("apply", "--roster", h.file("r.csv", roster), "--report", filepath.Join(h.dir, "r.jsonl"))
		if res.code != exitRefused || res.writes != 0 {
			t.Fatalf("exit %d after %d writes; want 3 (--max-changes 1 from the environment) before any\n%s", res.code, res.writes, res.stderr)
		}
		if !strings.Contains(res.stderr, "more than --max-changes 1") {
			t.Errorf("the refusal does not say the limit the environment set:\n%s", res.stderr)
		}
	})
	t.Run("the command line wins", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, "smartflo")
		h.env["ROSTERSYNC_MAX_CHANGES"] = "1"
		res := h.run("apply", "--roster", h.file("r.csv", roster), "--report", filepath.Join(h.dir, "r.jsonl"), "--max-changes", "5")
		if res.code != exitOK || res.writes != 2 {
			t.Fatalf("exit %d after %d writes; want 0 after 2 (--max-changes 5 on the command line)\n%s", res.code, res.writes, res.stderr)
		}
	})
	t.Run("a repeatable flag, one value a line", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, "smartflo")
		h.env["ROSTERSYNC_SET"] = "designation=Night shift\n\n  login_based_calling=yes  \n"
		h.env["ROSTERSYNC_MATCH"] = "email"
		res := h.run("apply", "--roster", h.file("r.csv", "email\nasha@example.com\n"), "--report", filepath.Join(h.dir, "r.jsonl"))
		if res.code != exitOK || res.writes != 1 {
			t.Fatalf("exit %d after %d writes\n%s", res.code, res.writes, res.stderr)
		}
		if got := h.patchBodies()["314678"]; !slices.Equal(got, []string{"designation", "login_based_calling"}) {
			t.Errorf("PATCH body keys %v, want both --set values from the environment", got)
		}
	})
	t.Run("a value the flag refuses", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, "smartflo")
		h.env["ROSTERSYNC_WORKERS"] = "many"
		res := h.run("plan", "--roster", h.file("r.csv", roster), "--report", filepath.Join(h.dir, "r.jsonl"))
		if res.code != exitNotStarted || len(h.requests()) != 0 {
			t.Fatalf("exit %d after %d requests, want 2 before any", res.code, len(h.requests()))
		}
		if !strings.Contains(res.stderr, `ROSTERSYNC_WORKERS="many" (--workers)`) {
			t.Errorf("the error does not name the variable:\n%s", res.stderr)
		}
	})
}

// syncFlags returns the flags of plan, apply and revert together.
func syncFlags() *flag.FlagSet {
	fs := flag.NewFlagSet("all", flag.ContinueOnError)
	var o options
	for _, cmd := range []string{"plan", "apply", "revert"} {
		sub := flag.NewFlagSet(cmd, flag.ContinueOnError)
		o.register(sub, cmd)
		sub.VisitAll(func(f *flag.Flag) {
			if fs.Lookup(f.Name) == nil {
				fs.Var(f.Value, f.Name, f.Usage)
			}
		})
	}
	return fs
}

// TestNoFlagIsACredential: the variables of plan's and apply's flags are
// none of the credentials' (a flag --token would make ROSTERSYNC_TOKEN
// both), and a flag that would be is never set from one.
func TestNoFlagIsACredential(t *testing.T) {
	t.Parallel()
	syncFlags().VisitAll(func(f *flag.Flag) {
		if slices.Contains(credentialVars, envName(f.Name)) {
			t.Errorf("flag --%s would be set by %s, a credential", f.Name, envName(f.Name))
		}
	})
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	token := fs.String("token", "", "")
	rate := fs.String("rate", "", "")
	env := map[string]string{"ROSTERSYNC_TOKEN": "secret", "ROSTERSYNC_RATE": "7"}
	if err := settingsFromEnv(fs, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if *token != "" || *rate != "7" {
		t.Errorf("--token = %q, --rate = %q; want the credential never read as a flag, the rate read", *token, *rate)
	}
}

// TestUnknownSettingIsWarned names a ROSTERSYNC_ variable that is no flag
// (a typo in a ConfigMap) in a warning, and not the credentials.
func TestUnknownSettingIsWarned(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "smartflo")
	var out, errOut bytes.Buffer
	environ := []string{"ROSTERSYNC_MAX_BLOK_SHARE=5", "ROSTERSYNC_TOKEN=" + testToken, "ROSTERSYNC_MAX_CHANGES=9", "HOME=/root"}
	app := &App{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut, Getenv: func(k string) string { return h.env[k] },
		Environ: func() []string { return environ }, ledgerCost: bcrypt.MinCost}
	err := app.Run(context.Background(), []string{"plan", "--target", "smartflo", "--base-url", h.srv.URL, "--log-format", "json",
		"--roster", h.file("roster.csv", e2eCases["smartflo"].roster), "--report", filepath.Join(h.dir, "r.csv")})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errOut.String(), "ROSTERSYNC_MAX_BLOK_SHARE names no flag of plan") {
		t.Errorf("no warning about the unknown variable:\n%s", errOut.String())
	}
	for _, known := range []string{"ROSTERSYNC_TOKEN", "ROSTERSYNC_MAX_CHANGES", "HOME"} {
		if strings.Contains(errOut.String(), known) {
			t.Errorf("%s is warned about:\n%s", known, errOut.String())
		}
	}
}

// TestHelpSaysTheEnvironment: plan -h tells how to set flags from the
// environment, and that the command line wins.
func TestHelpSaysTheEnvironment(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	app := &App{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &out, Getenv: func(string) string { return "" }}
	if err := app.Run(context.Background(), []string{"apply", "-h"}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"ROSTERSYNC_<FLAG>", "ROSTERSYNC_MAX_BLOCK_SHARE=15", "command line wins", "credentials, never flags"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("apply -h does not say %q", want)
		}
	}
}
