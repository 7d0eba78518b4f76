package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestDemo runs the demo as a user would and checks it plans, applies,
// and then finds nothing left to send.
func TestDemo(t *testing.T) {
	t.Parallel()
	for _, target := range []string{"smartflo", "dnl"} {
		t.Run(target, func(t *testing.T) {
			t.Parallel()
			var out, errOut bytes.Buffer
			// The user's settings do not steer the demo: these would stop it.
			env := map[string]string{"ROSTERSYNC_WORKERS": "many", "ROSTERSYNC_MAX_CHANGES": "0"}
			app := &App{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut, Getenv: func(k string) string { return env[k] }}
			err := app.Run(context.Background(), []string{"demo", "--target", target, "--data", "../../testdata/demo"})
			if err != nil {
				t.Fatalf("demo: %v\n%s\n%s", err, out.String(), errOut.String())
			}
			text := out.String()
			steps := strings.Split(text, "=== rostersync ")
			if len(steps) != 4 {
				t.Fatalf("want a plan, an apply and a second apply:\n%s", text)
			}
			if !strings.Contains(steps[1], "Plan: ") || strings.Contains(steps[1], "Plan: 0 to change") || !strings.Contains(steps[1], "Writes the fake received: 0") {
				t.Errorf("plan step should show changes and send nothing:\n%s", steps[1])
			}
			if !strings.Contains(steps[2], " applied") || strings.Contains(steps[2], "Writes the fake received: 0") {
				t.Errorf("apply step should apply changes:\n%s", steps[2])
			}
			if !strings.Contains(steps[3], "Plan: 0 to change") || !strings.Contains(steps[3], "Writes the fake received: 0") {
				t.Errorf("second apply should send nothing:\n%s", steps[3])
			}
			if !strings.Contains(text, "Report: ") {
				t.Errorf("the demo does not say where the report is:\n%s", text)
			}
		})
	}
}
