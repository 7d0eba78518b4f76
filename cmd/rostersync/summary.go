package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/rostersync/rostersync/sync"
)

// summary is what a run did, for nightly jobs: --summary writes it as
// JSON, --metrics-file as a Prometheus textfile.
type summary struct {
	Command           string         `json:"command"`
	Target            string         `json:"target"`
	StartedAt         time.Time      `json:"started_at"`
	DurationSeconds   float64        `json:"duration_seconds"`
	Rows              int            `json:"rows"`
	Counts            map[string]int `json:"counts"`
	Requests          int64          `json:"requests"`
	RequestsPerSecond float64        `json:"requests_per_second"`
	RowsPerSecond     float64        `json:"rows_per_second"`
	ExitCode          int            `json:"exit_code"`
	Report            string         `json:"report"`
}

// statuses are the report's statuses, in the order summaries list them.
var statuses = []sync.Status{sync.Applied, sync.Unchanged, sync.Planned, sync.Failed, sync.Skipped}

func newSummary(command, target string, started time.Time, took time.Duration, counts map[string]int, requests int64, exit int, report string) summary {
	s := summary{Command: command, Target: target, StartedAt: started.UTC(), DurationSeconds: took.Seconds(),
		Counts: map[string]int{}, Requests: requests, ExitCode: exit, Report: report}
	for _, st := range statuses {
		s.Counts[string(st)] = counts[string(st)]
		s.Rows += counts[string(st)]
	}
	if secs := took.Seconds(); secs > 0 {
		s.RequestsPerSecond = float64(requests) / secs
		s.RowsPerSecond = float64(s.Rows) / secs
	}
	return s
}

// writeSummary writes the summary as JSON.
func writeSummary(path string, s summary) error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return writeAtomic(path, append(data, '\n'), 0o644)
}

// writeMetrics writes the summary as a Prometheus textfile for
// node_exporter's textfile collector. The time of the last successful run
// (exit 0) is carried over from the existing file when this run did not
// succeed, so an alert can fire on its age.
func writeMetrics(path string, s summary) error {
	lastSuccess := previousMetric(path, "rostersync_last_success_timestamp_seconds")
	end := s.StartedAt.Add(time.Duration(s.DurationSeconds * float64(time.Second)))
	if s.ExitCode == exitOK {
		lastSuccess = strconv.FormatFloat(float64(end.UnixMilli())/1000, 'f', -1, 64)
	}
	label := fmt.Sprintf(`target=%q,command=%q`, s.Target, s.Command)
	var b strings.Builder
	metric := func(name, help, labels, value string) {
		if !strings.Contains(b.String(), "# HELP "+name+" ") {
			fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name)
		}
		fmt.Fprintf(&b, "%s{%s} %s\n", name, labels, value)
	}
	num := func(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
	for _, st := range statuses {
		metric("rostersync_rows", "Roster rows of the last run, by status.", label+fmt.Sprintf(`,status=%q`, st), strconv.Itoa(s.Counts[string(st)]))
	}
	metric("rostersync_requests", "HTTP requests the last run sent, retries included.", label, strconv.FormatInt(s.Requests, 10))
	metric("rostersync_requests_per_second", "Request rate the last run achieved.", label, num(s.RequestsPerSecond))
	metric("rostersync_run_duration_seconds", "How long the last run took.", label, num(s.DurationSeconds))
	metric("rostersync_exit_code", "Exit code of the last run: 0 ok, 1 rows failed, 2 not started, 3 refused, 130 interrupted.", label, strconv.Itoa(s.ExitCode))
	metric("rostersync_last_run_timestamp_seconds", "When the last run ended, in Unix time.", label, num(float64(end.UnixMilli())/1000))
	if lastSuccess != "" {
		metric("rostersync_last_success_timestamp_seconds", "When the last run that exited 0 ended, in Unix time.", label, lastSuccess)
	}
	return writeAtomic(path, []byte(b.String()), 0o644)
}

// previousMetric returns the value of a metric in an existing textfile,
// or "" when there is none.
func previousMetric(path, name string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, name+"{") || strings.HasPrefix(line, name+" ") {
			if i := strings.LastIndexByte(line, ' '); i > 0 {
				if _, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
					return line[i+1:]
				}
			}
		}
	}
	return ""
}

// writeAtomic writes data to a temporary file beside path and renames it
// over path, so a reader (node_exporter) never sees half a file.
func writeAtomic(path string, data []byte, mode os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(mode)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}
