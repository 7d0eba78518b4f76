package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rostersync/rostersync/sync/model"
	"github.com/rostersync/rostersync/sync/state"
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
	Unrecorded        int            `json:"unrecorded"` // rows whose outcome only the log holds: the report could not take them
	Verified          int            `json:"verified"`   // applied rows a read back confirmed
	Mismatched        int            `json:"mismatched"` // rows the target accepted but a read back showed did not take
	RunID             string         `json:"run_id,omitempty"`
	Requests          int64          `json:"requests"`
	RequestsPerSecond float64        `json:"requests_per_second"`
	RowsPerSecond     float64        `json:"rows_per_second"`
	ExitCode          int            `json:"exit_code"`
	Report            string         `json:"report"`
}

func newSummary(command, target string, started time.Time, took time.Duration, counts map[string]int, requests int64, exit int, report string) summary {
	s := summary{Command: command, Target: target, StartedAt: started.UTC(), DurationSeconds: took.Seconds(),
		Counts: map[string]int{}, Requests: requests, ExitCode: exit, Report: report}
	for _, st := range model.Statuses {
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
	return state.WriteFile(path, append(data, '\n'), 0o644)
}

// metricHelp lists the metrics of the textfile, in order, with their help.
var metricHelp = [][2]string{
	{"rostersync_rows", "Roster rows of the last run, by status."},
	{"rostersync_rows_unrecorded", "Rows of the last run whose outcome only the log holds: the report could not take them."},
	{"rostersync_rows_verified", "Rows of the last run applied and confirmed by a read back."},
	{"rostersync_rows_mismatched", "Rows of the last run the target accepted but a read back showed did not take."},
	{"rostersync_last_run_info", "The last run's id in the journal (applies only), as a label."},
	{"rostersync_requests", "HTTP requests the last run sent, retries included."},
	{"rostersync_requests_per_second", "Request rate the last run achieved."},
	{"rostersync_run_duration_seconds", "How long the last run took."},
	{"rostersync_exit_code", "Exit code of the last run: 0 ok, 1 rows failed, 2 not started, 3 refused, 130 interrupted."},
	{"rostersync_last_run_timestamp_seconds", "When the last run ended, in Unix time."},
	{"rostersync_last_success_timestamp_seconds", "When the last run that exited 0 ended, in Unix time."},
}

// writeMetrics writes the summary as a Prometheus textfile for
// node_exporter's textfile collector. Each series is labelled with the
// target and command, and the series of other targets and commands in the
// existing file are kept, so that plan and apply can share one file. The
// time of the last successful run (exit 0) is carried over from the
// existing file when this run did not succeed, so an alert can fire on its
// age.
func writeMetrics(path string, s summary) error {
	ours := fmt.Sprintf(`target=%q,command=%q`, s.Target, s.Command)
	samples := map[string][]string{} // metric name -> sample lines, theirs first
	lastSuccess := ""
	for _, line := range previousSamples(path) {
		name, rest, _ := strings.Cut(line, "{")
		if strings.HasPrefix(rest, ours+",") || strings.HasPrefix(rest, ours+"}") {
			if name == "rostersync_last_success_timestamp_seconds" {
				lastSuccess = line[strings.LastIndexByte(line, ' ')+1:]
			}
			continue
		}
		samples[name] = append(samples[name], line)
	}
	end := s.StartedAt.Add(time.Duration(s.DurationSeconds * float64(time.Second)))
	if s.ExitCode == exitOK {
		lastSuccess = strconv.FormatFloat(float64(end.UnixMilli())/1000, 'f', -1, 64)
	}
	num := func(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
	add := func(name, labels, value string) {
		samples[name] = append(samples[name], fmt.Sprintf("%s{%s} %s", name, labels, value))
	}
	for _, st := range model.Statuses {
		add("rostersync_rows", ours+fmt.Sprintf(`,status=%q`, st), strconv.Itoa(s.Counts[string(st)]))
	}
	add("rostersync_rows_unrecorded", ours, strconv.Itoa(s.Unrecorded))
	add("rostersync_rows_verified", ours, strconv.Itoa(s.Verified))
	add("rostersync_rows_mismatched", ours, strconv.Itoa(s.Mismatched))
	if s.RunID != "" {
		add("rostersync_last_run_info", ours+fmt.Sprintf(`,run_id=%q`, s.RunID), "1")
	}
	add("rostersync_requests", ours, strconv.FormatInt(s.Requests, 10))
	add("rostersync_requests_per_second", ours, num(s.RequestsPerSecond))
	add("rostersync_run_duration_seconds", ours, num(s.DurationSeconds))
	add("rostersync_exit_code", ours, strconv.Itoa(s.ExitCode))
	add("rostersync_last_run_timestamp_seconds", ours, num(float64(end.UnixMilli())/1000))
	if lastSuccess != "" {
		add("rostersync_last_success_timestamp_seconds", ours, lastSuccess)
	}
	var b strings.Builder
	for _, m := range metricHelp {
		if len(samples[m[0]]) == 0 {
			continue
		}
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s gauge\n", m[0], m[1], m[0])
		for _, line := range samples[m[0]] {
			b.WriteString(line + "\n")
		}
	}
	return state.WriteFile(path, []byte(b.String()), 0o644)
}

// previousSamples returns the sample lines of rostersync's metrics in an
// existing textfile: name{labels} value, with a value that is a number.
func previousSamples(path string) []string {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		name, _, ok := strings.Cut(line, "{")
		i := strings.LastIndexByte(line, ' ')
		if !ok || i < 0 || !slices.ContainsFunc(metricHelp, func(m [2]string) bool { return m[0] == name }) {
			continue
		}
		if _, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			out = append(out, line)
		}
	}
	return out
}
