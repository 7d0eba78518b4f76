package main

import (
	"bufio"
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestFakeCommand serves a fake with injected 503s, reads the token and
// base URL from its first line, rehearses an apply against it (at --rate
// 0: the default 5 a second would spend two seconds on ten requests), and
// stops it with the context (what an interrupt does).
func TestFakeCommand(t *testing.T) {
	t.Parallel()
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		app := &App{Stdin: strings.NewReader(""), Stdout: pw, Stderr: io.Discard, Getenv: func(string) string { return "" }}
		done <- app.Run(ctx, []string{"fake", "--target", "dnl", "--addr", "127.0.0.1:0",
			"--seed", "../../testdata/demo/dnl/users.json", "--fail-5xx", "0.3", "--fault-seed", "3"})
		pw.Close()
	}()
	lines := bufio.NewScanner(pr)
	if !lines.Scan() {
		t.Fatalf("no output: %v", <-done)
	}
	go io.Copy(io.Discard, pr)
	var token, base string
	for _, f := range strings.Fields(lines.Text()) {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "token":
			token = v
		case "base_url":
			base = v
		}
	}
	if len(token) < 16 || !strings.HasPrefix(base, "http://127.0.0.1:") {
		t.Fatalf("first line %q: want token=<made-up token> base_url=<url>", lines.Text())
	}

	dir := t.TempDir()
	h := &harness{t: t, target: "dnl", dir: dir, env: map[string]string{"ROSTERSYNC_TOKEN": token, "XDG_STATE_HOME": dir}}
	var out strings.Builder
	app := &App{Stdin: strings.NewReader(""), Stdout: &out, Stderr: io.Discard, Getenv: func(k string) string { return h.env[k] }}
	report := filepath.Join(dir, "r.csv")
	roster := h.file("roster.csv", "user_id,last_name\n2,R1\n3,R2\n4,R3\n5,R4\n6,R5\n7,R6\n8,R7\n9,R8\n11,R9\n")
	err := app.Run(context.Background(), []string{"apply", "--target", "dnl", "--base-url", base,
		"--roster", roster, "--report", report, "--rate", "0"})
	if err != nil {
		t.Fatalf("apply against the fake: %v\n%s", err, out.String())
	}
	retried := 0
	for _, r := range readReport(t, report, 9) {
		if r.Status != "applied" {
			t.Errorf("row %d: %s %s", r.Row, r.Status, r.Error)
		}
		if r.Attempts > 1 {
			retried++
		}
	}
	if retried == 0 {
		t.Error("no PATCH was retried: --fail-5xx did not reach the fake")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("fake ended with %v, want a clean stop", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the fake did not stop")
	}
}
