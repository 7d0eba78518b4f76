package main

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// TestSetErrorsSayTheirPrefixOnce gives --set values that are wrong in
// each way: the message names the flag and the expression once (not
// "--set x: --set x: ..."), the run exits 2 before any request, and the
// error still matches errUsage.
func TestSetErrorsSayTheirPrefixOnce(t *testing.T) {
	t.Parallel()
	tests := []struct{ set, want string }{
		{"emial=x", `--set emial=x: unknown field "emial": did you mean "email"?`},
		{"block_agent=maybe", `--set block_agent: "maybe" is not a boolean`},
		{"noequals", `--set "noequals": want field=value`},
	}
	for _, tt := range tests {
		t.Run(tt.set, func(t *testing.T) {
			h := newHarness(t, "smartflo")
			res := h.run("plan", "--roster", h.file("roster.csv", e2eCases["smartflo"].roster),
				"--report", filepath.Join(h.dir, "r.csv"), "--set", tt.set)
			if res.code != exitNotStarted || len(h.requests()) != 0 {
				t.Fatalf("exit %d after %d requests, want 2 before any\n%s", res.code, len(h.requests()), res.stderr)
			}
			if !strings.Contains(res.stderr, tt.want) {
				t.Errorf("the error does not say %q:\n%s", tt.want, res.stderr)
			}
			if n := strings.Count(res.stderr, "--set"); n != 1 {
				t.Errorf("the error says --set %d times, want once:\n%s", n, res.stderr)
			}
		})
	}
}

// TestUsageErrorsWrapTheirCause checks that a usage error built from
// another error keeps it matchable, as %w does and %v does not.
func TestUsageErrorsWrapTheirCause(t *testing.T) {
	t.Parallel()
	cause := errors.New("the cause")
	err := usageError("--match: %w", cause)
	if !errors.Is(err, errUsage) || !errors.Is(err, cause) {
		t.Errorf("usageError(%q) = %v: matches errUsage %v, the cause %v; want both",
			"--match: %w", err, errors.Is(err, errUsage), errors.Is(err, cause))
	}
	if want := "usage: --match: the cause (see rostersync help)"; err.Error() != want {
		t.Errorf("usageError = %q, want %q", err, want)
	}
}
