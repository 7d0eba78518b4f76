package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rostersync/rostersync/ratelimit"
	"github.com/rostersync/rostersync/sync/model"
	"github.com/rostersync/rostersync/sync/plan"
	"github.com/rostersync/rostersync/sync/roster"
	"github.com/rostersync/rostersync/sync/vendors/rest"
	"github.com/rostersync/rostersync/sync/vendors/smartflo"
	"github.com/rostersync/rostersync/sync/vendors/smartflo/smartflotest"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// golden compares got with testdata/golden/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (rerun with -update if the change is intended)\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

// demoPlan plans a roster against the Smartflo demo seed: changes, a
// block, a password, a write-only field, an unknown id, a bad cell and a
// duplicate.
func demoPlan(t *testing.T) (*plan.Plan, plan.Standing) {
	t.Helper()
	users := must(smartflotest.LoadUsers("../../testdata/demo/smartflo/users.json"))
	srv := httptest.NewServer(smartflotest.New(smartflotest.Config{Token: testToken}, users))
	defer srv.Close()
	c := smartflo.New(rest.Config{BaseURL: srv.URL, HTTP: srv.Client(), Token: testToken, Limiter: ratelimit.New(0), Policy: ratelimit.DefaultPolicy()})
	rows, err := roster.Read(t.Context(), strings.NewReader(
		"id,designation,block_agent,password,caller_id\n"+
			"314678,Team lead,no,,\n"+
			"314702,Senior Executive,no,,101|102\n"+
			"315046,,yes,,\n"+
			"315233,,,S3cret-pw,\n"+
			"999999,X,,,\n"+
			"314735,X,perhaps,,\n"+
			"316872,A,,,\n316872,B,,,\n"), roster.CSV, roster.Schema{Table: smartflo.Target.Table, Key: smartflo.Target.Key})
	if err != nil {
		t.Fatal(err)
	}
	p, err := plan.Planner{Target: smartflo.Target, Reader: c, Workers: 2}.Plan(context.Background(), rows)
	if err != nil {
		t.Fatal(err)
	}
	return p, plan.Guard{MaxChanges: 500, MaxBlockShare: 10}.Check(p)
}

func TestPlanViewGolden(t *testing.T) {
	t.Parallel()
	p, s := demoPlan(t)
	var plain, coloured, data bytes.Buffer
	writePlan(&plain, p, s, palette{})
	writePlan(&coloured, p, s, palette{on: true})
	if err := writePlanJSON(&data, p, s); err != nil {
		t.Fatal(err)
	}
	golden(t, "plan.txt", plain.Bytes())
	golden(t, "plan-colour.txt", coloured.Bytes())
	golden(t, "plan.json", data.Bytes())
	if bytes.Contains(plain.Bytes(), []byte("\x1b[")) {
		t.Error("the plain view holds escape codes")
	}
	for _, text := range []string{plain.String(), data.String()} {
		if strings.Contains(text, "S3cret-pw") {
			t.Error("a password reached the plan view")
		}
	}
}

func TestSummaryAndMetricsGolden(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	started := time.Date(2026, 11, 22, 2, 0, 0, 0, time.UTC)
	counts := map[string]int{"applied": 40, "unchanged": 950, "failed": 2, "skipped": 8}
	ok := newSummary("apply", "smartflo", started, 250*time.Second, counts, 1250, 1, "/var/log/rostersync/2026-11-22.csv")
	sumPath, metPath := filepath.Join(dir, "summary.json"), filepath.Join(dir, "rostersync.prom")
	if err := writeSummary(sumPath, ok); err != nil {
		t.Fatal(err)
	}
	golden(t, "summary.json", must(os.ReadFile(sumPath)))

	// A successful run stamps the last success; a later failed one keeps it.
	good := ok
	good.ExitCode = 0
	if err := writeMetrics(metPath, good); err != nil {
		t.Fatal(err)
	}
	// A plan sharing the file keeps apply's series, and apply keeps plan's.
	plan := good
	plan.Command, plan.Counts = "plan", map[string]int{"planned": 40, "unchanged": 950}
	if err := writeMetrics(metPath, plan); err != nil {
		t.Fatal(err)
	}
	failed := ok
	failed.Unrecorded = 3
	failed.StartedAt = started.Add(24 * time.Hour)
	if err := writeMetrics(metPath, failed); err != nil {
		t.Fatal(err)
	}
	golden(t, "metrics.prom", must(os.ReadFile(metPath)))
	if info := must(os.Stat(metPath)); info.Mode().Perm() != 0o644 {
		t.Errorf("metrics file mode %v, want 0644 for node_exporter", info.Mode().Perm())
	}
}

// BenchmarkPlanView prints a plan of 20,000 changes, as apply does before
// it sends them.
func BenchmarkPlanView(b *testing.B) {
	name := smartflo.Target.Table.Field("name")
	p := &plan.Plan{Target: "smartflo", Match: "id", Items: make([]plan.Item, 20000)}
	for i := range p.Items {
		id := strconv.Itoa(314678 + i)
		p.Items[i] = plan.Item{Row: i + 1, Key: id, UserID: id, Status: model.Planned,
			Changes: []plan.Change{{Field: name, Old: "User " + id, Known: true, New: "Peer " + id}}}
	}
	s := plan.Guard{MaxChanges: 20000, MaxBlockShare: 10}.Check(p)
	for b.Loop() {
		w := bufio.NewWriter(io.Discard)
		writePlan(w, p, s, palette{})
		if err := w.Flush(); err != nil {
			b.Fatal(err)
		}
	}
}
