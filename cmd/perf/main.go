// Command perf measures rostersync against its performance goals in one
// run and prints, for each, the goal, what was measured and ✓ or ✗: rate
// precision at --rate 1, 2 and 5, requests per row of a nightly run over
// an unchanged roster, throughput with no limit beside a bare Go client
// sending the same requests (and an xargs+curl loop and a Python thread
// pool sending the PATCHes), the time and peak memory of planning 100,000
// and 1,000,000 rows (and the 100,000 as an .xlsx workbook LibreOffice
// saved, where it is installed), and the CPU a nightly plan of rows that set
// passwords costs.
//
// It builds rostersync and the bare peer, serves the shipped fakes on
// loopback from this process, and runs rostersync and the peers as child
// processes, so each is measured as a user would run it: wall time, peak
// resident memory (/proc VmHWM) and CPU (the child's rusage). The timed
// runs are repeated, interleaved, -rounds times; the table quotes the
// quickest and the range. Run it from the repository's root:
//
//	go run ./cmd/perf            # everything, about three minutes
//	go run ./cmd/perf -quick     # smaller sizes, one round, no 1,000,000-row run
//	go run ./cmd/perf -only rate # one section: rate, requests, throughput, scale or passwords
package main

import (
	"bufio"
	"context"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/rostersync/rostersync/sync/vendors/dnl/dnltest"
	"github.com/rostersync/rostersync/sync/vendors/fakehttp"
	"github.com/rostersync/rostersync/sync/vendors/smartflo/smartflotest"
)

//go:embed peers/curl.sh
var curlPeer string

//go:embed peers/pool.py
var poolPeer string

const token = "perf-token"

func main() {
	quick := flag.Bool("quick", false, "smaller sizes, one round, no 1,000,000-row run")
	only := flag.String("only", "", "run one section: rate, requests, throughput, scale or passwords")
	rounds := flag.Int("rounds", 3, "how many times each timed run is repeated, interleaved with the others (-quick: 1)")
	workers := flag.Int("workers", 16, "--workers of the throughput runs, and the bare peer's concurrency")
	flag.Parse()
	// The fakes live in this process: a million users are a heap of a
	// gigabyte, which the default GOGC would scan again every gigabyte
	// served. Less often, so that serving weighs less on the CPU that
	// rostersync and the peers share with it.
	debug.SetGCPercent(400)
	if *quick && !isSet("rounds") {
		*rounds = 1
	}
	if err := run(*quick, *only, max(1, *rounds), *workers); err != nil {
		fmt.Fprintln(os.Stderr, "perf:", err)
		os.Exit(1)
	}
}

func isSet(name string) bool {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// bench is one measuring session: a work folder and the built binaries.
type bench struct {
	dir     string
	bin     string // rostersync
	bare    string // the bare peer
	quick   bool
	rounds  int
	workers int
	failed  int // goals not met
}

func run(quick bool, only string, rounds, workers int) error {
	dir, err := os.MkdirTemp("", "rostersync-perf-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	b := &bench{dir: dir, bin: filepath.Join(dir, "rostersync"), bare: filepath.Join(dir, "bare"), quick: quick, rounds: rounds, workers: workers}
	for pkg, out := range map[string]string{"./cmd/rostersync": b.bin, "./cmd/perf/peers/bare": b.bare} {
		if out, err := exec.Command("go", "build", "-o", out, pkg).CombinedOutput(); err != nil {
			return fmt.Errorf("building %s (run from the repository's root): %w\n%s", pkg, err, out)
		}
	}
	fmt.Printf("rostersync performance, %s, %d cores, %s; timed runs: the quickest of %d, interleaved\n\n", cpuModel(), runtime.NumCPU(), runtime.Version(), rounds)
	sections := []struct {
		name string
		run  func() error
	}{{"rate", b.ratePrecision}, {"requests", b.requestsPerRow}, {"throughput", b.throughput}, {"scale", b.scale}, {"passwords", b.passwords}}
	for _, s := range sections {
		if only != "" && only != s.name {
			continue
		}
		if err := s.run(); err != nil {
			return err
		}
		fmt.Println()
	}
	if b.failed > 0 {
		return fmt.Errorf("%d goals not met", b.failed)
	}
	return nil
}

// ratePrecision applies rosters at --rate R and measures, at the server,
// the rate achieved and the busiest one-second window.
func (b *bench) ratePrecision() error {
	fmt.Println("1. Rate precision (DNL fake; goal: achieved ≥ 0.97 R, busiest 1 s window ≤ R)")
	fmt.Println()
	fmt.Println("| --rate R | PATCHes | achieved req/s | achieved / R | busiest 1 s window | ok |")
	fmt.Println("|---:|---:|---:|---:|---:|:---:|")
	seconds := 10
	if b.quick {
		seconds = 4
	}
	for _, r := range []int{1, 2, 5} {
		n := r * seconds
		fake := dnlFake(n)
		srv, err := serve(fake)
		if err != nil {
			return err
		}
		roster := b.roster("rate.csv", "user_id,last_name", n, func(i int) string { return fmt.Sprintf("%d,Rate %d", i, i) })
		if _, err := b.rostersync(srv.url, "apply", "--target", "dnl", "--roster", roster, "--rate", strconv.Itoa(r),
			"--workers", "4", "--max-changes", strconv.Itoa(n)); err != nil {
			return err
		}
		srv.close()
		// The rate of the PATCHes (the list read comes a plan earlier); the
		// busiest window over every request.
		var writes []time.Time
		for _, r := range fake.Requests() {
			if r.IsWrite() {
				writes = append(writes, r.Time)
			}
		}
		achieved := float64(len(writes)-1) / writes[len(writes)-1].Sub(writes[0]).Seconds()
		worst := fake.MaxInWindow(time.Second)
		ok := achieved >= 0.97*float64(r) && worst <= r
		fmt.Printf("| %d | %d | %.2f | %.3f | %d | %s |\n", r, len(writes), achieved, achieved/float64(r), worst, b.mark(ok))
	}
	return nil
}

// requestsPerRow runs plans of rosters that match the target already (a
// nightly run) and counts the requests each needs.
func (b *bench) requestsPerRow() error {
	fmt.Println("2. Requests per row, nightly run over an unchanged roster (goal: only the reads needed)")
	fmt.Println()
	fmt.Println("| target, users | roster | reads chosen | requests | requests/row | writes |")
	fmt.Println("|---|---|---|---:|---:|---:|")
	big := 10000
	if b.quick {
		big = 3000
	}
	cases := []struct {
		target, label, how string
		users, rows        int
		header             string
		line               func(i int) string
	}{
		{"dnl", "all users, last_name", "list pages of 1,000", big, big, "user_id,last_name", func(i int) string { return fmt.Sprintf("%d,Last %d", i, i) }},
		{"smartflo", "all users, name + login_id", "list pages of 100", big, big, "id,name,login_id", func(i int) string { return fmt.Sprintf("%d,User %d,u%d", i, i, i) }},
		{"smartflo", "1,000 users, designation (not in the list)", "one read per user", 1000, 1000, "id,designation", func(i int) string { return fmt.Sprintf("%d,Agent", i) }},
		{"dnl", "20 users, last_name", "first page + user_id_in", big, 20, "user_id,last_name", func(i int) string { return fmt.Sprintf("%d,Last %d", i*(big/20), i*(big/20)) }},
	}
	for _, c := range cases {
		fake := newFake(c.target, c.users)
		srv, err := serve(fake)
		if err != nil {
			return err
		}
		roster := b.roster("nightly.csv", c.header, c.rows, c.line)
		_, err = b.rostersync(srv.url, "apply", "--target", c.target, "--roster", roster, "--rate", "0", "--workers", "8")
		srv.close()
		if err != nil {
			return err
		}
		n := len(fake.Requests())
		fmt.Printf("| %s, %d | %s | %s | %d | %.4f | %d |\n", c.target, c.users, c.label, c.how, n, float64(n)/float64(c.rows), fake.Writes())
	}
	return nil
}

// fake is what perf needs of a shipped fake.
type fake interface {
	http.Handler
	Requests() []fakehttp.Request
	Writes() int
}

func newFake(target string, users int) fake {
	if target == "dnl" {
		return dnlFake(users)
	}
	return smartfloFake(users)
}

// throughput applies rosters of changed users with no limit, beside the
// bare peer sending the same requests, then sends 2,000 PATCHes with the
// xargs+curl and Python peers.
func (b *bench) throughput() error {
	n := 20000
	if b.quick {
		n = 3000
	}
	w := strconv.Itoa(b.workers)
	fmt.Printf("3. Throughput with no limit: apply %d changed users, --rate 0 --workers %s, beside the bare peer (a minimal Go client,\n", n, w)
	fmt.Printf("   %s in flight, sending the same list reads, PATCHes and verifying reads; goal: rostersync ≥ 0.8× the bare peer)\n\n", w)
	ids := b.ids(n)
	type contender struct {
		name string
		run  func(target, url string) (measured, error)
	}
	roster := map[string]string{
		"smartflo": b.roster("changed-smartflo.csv", "id,name", n, func(i int) string { return fmt.Sprintf("%d,Peer %d", i, i) }),
		"dnl":      b.roster("changed-dnl.csv", "user_id,last_name", n, func(i int) string { return fmt.Sprintf("%d,Peer %d", i, i) }),
	}
	field := map[string]string{"smartflo": "name", "dnl": "last_name"}
	contenders := []contender{
		{"rostersync", func(target, url string) (measured, error) {
			return b.rostersync(url, "apply", "--target", target, "--roster", roster[target], "--rate", "0", "--workers", w,
				"--max-changes", strconv.Itoa(n))
		}},
		{"bare peer", func(target, url string) (measured, error) {
			return b.child(exec.Command(b.bare, "-target", target, "-base-url", url, "-ids", ids, "-field", field[target],
				"-prefix", "Peer ", "-workers", w))
		}},
	}
	targets := []string{"dnl", "smartflo"}
	got := map[string][][]measured{} // target → contender → rounds
	requests := map[string][]int{}
	for _, t := range targets {
		got[t] = make([][]measured, len(contenders))
		requests[t] = make([]int, len(contenders))
	}
	for round := 0; round < b.rounds; round++ {
		for _, t := range targets {
			for i, c := range contenders {
				if round%2 == 1 { // alternate who goes first
					i = len(contenders) - 1 - i
					c = contenders[i]
				}
				f := newFake(t, n)
				srv, err := serve(f)
				if err != nil {
					return err
				}
				m, err := c.run(t, srv.url)
				srv.close()
				if err != nil {
					return fmt.Errorf("%s on %s: %w", c.name, t, err)
				}
				if f.Writes() != n {
					return fmt.Errorf("%s on %s sent %d PATCHes, want %d", c.name, t, f.Writes(), n)
				}
				requests[t][i] = len(f.Requests())
				got[t][i] = append(got[t][i], m)
			}
		}
	}
	fmt.Println("| target | client | requests | seconds (quickest; range) | users/s | CPU s | peak RSS |")
	fmt.Println("|---|---|---:|---:|---:|---:|---:|")
	for _, t := range targets {
		for i, c := range contenders {
			best, lo, hi := quickest(got[t][i])
			fmt.Printf("| %s | %s | %d | %.2f (%.2f–%.2f) | %.0f | %.2f | %d MB |\n", t, c.name, requests[t][i], best.took.Seconds(),
				lo.Seconds(), hi.Seconds(), float64(n)/best.took.Seconds(), best.cpu.Seconds(), best.peak>>20)
		}
	}
	fmt.Println()
	fmt.Println("| goal | measured | ok |")
	fmt.Println("|---|---|:---:|")
	for _, t := range targets {
		rs, _, _ := quickest(got[t][0])
		bare, _, _ := quickest(got[t][1])
		ratio := bare.took.Seconds() / rs.took.Seconds()
		fmt.Printf("| %s, %d changed users: rostersync ≥ 0.8× the bare peer | %.0f/s vs %.0f/s: **%.2f×** (CPU %.2f s vs %.2f s) | %s |\n",
			t, n, float64(n)/rs.took.Seconds(), float64(n)/bare.took.Seconds(), ratio, rs.cpu.Seconds(), bare.cpu.Seconds(), b.mark(ratio >= 0.8))
	}
	fmt.Println()
	return b.shellPeers()
}

// shellPeers sends the same PATCHes with rostersync and with two script
// peers, each against a fresh fake with no limit.
func (b *bench) shellPeers() error {
	n := 2000
	if b.quick {
		n = 500
	}
	fmt.Printf("   %d PATCHes on the Smartflo fake beside the script ways (goal: ≥ 10× xargs+curl, ≥ 3× Python)\n\n", n)
	ids := b.ids(n)
	curl := filepath.Join(b.dir, "curl.sh")
	pool := filepath.Join(b.dir, "pool.py")
	if err := os.WriteFile(curl, []byte(curlPeer), 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(pool, []byte(poolPeer), 0o600); err != nil {
		return err
	}
	roster := b.roster("peers.csv", "id,name", n, func(i int) string { return fmt.Sprintf("%d,Peer %d", i, i) })
	type contender struct {
		name string
		goal float64
		run  func(url string) error
	}
	contenders := []contender{
		{"rostersync apply --rate 0 --workers 16 (lists the users, PATCHes, verifies)", 0, func(url string) error {
			_, err := b.rostersync(url, "apply", "--target", "smartflo", "--roster", roster, "--rate", "0", "--workers", "16",
				"--max-changes", strconv.Itoa(n))
			return err
		}},
		{"xargs -P 16 curl (one process per PATCH)", 10, func(url string) error {
			out, err := exec.Command("sh", curl, url, token, ids).Output()
			if got := strings.Count(string(out), "200"); err == nil && got != n {
				err = fmt.Errorf("curl peer: %d of %d PATCHes answered 200", got, n)
			}
			return err
		}},
		{"python3 ThreadPoolExecutor(16) + urllib", 3, func(url string) error {
			out, err := exec.Command("python3", pool, url, token, ids).Output()
			if err == nil && strings.TrimSpace(string(out)) != fmt.Sprintf("%d 0", n) {
				err = fmt.Errorf("python peer: %s", out)
			}
			return err
		}},
	}
	rates := make([]float64, len(contenders))
	fmt.Println("| tool | PATCHes | seconds | PATCHes/s | rostersync is | ok |")
	fmt.Println("|---|---:|---:|---:|---:|:---:|")
	for i, c := range contenders {
		fake := smartfloFake(n)
		srv, err := serve(fake)
		if err != nil {
			return err
		}
		start := time.Now()
		err = c.run(srv.url)
		took := time.Since(start)
		srv.close()
		if err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
		if fake.Writes() != n {
			return fmt.Errorf("%s sent %d PATCHes, want %d", c.name, fake.Writes(), n)
		}
		rates[i] = float64(n) / took.Seconds()
		ratio, ok := "—", ""
		if i > 0 {
			ratio = fmt.Sprintf("%.1f× faster", rates[0]/rates[i])
			ok = b.mark(rates[0] >= c.goal*rates[i])
		}
		fmt.Printf("| %s | %d | %.2f | %.0f | %s | %s |\n", c.name, n, took.Seconds(), rates[i], ratio, ok)
	}
	return nil
}

// scale plans large DNL rosters, 1% of whose rows change, and measures
// rostersync's wall time, CPU and peak resident memory: CSV, and the
// 100,000 rows as an .xlsx workbook that LibreOffice saved (skipped where
// LibreOffice is not installed).
func (b *bench) scale() error {
	fmt.Println("4. Scale: plan a DNL roster, 1% of rows changed (goal: 100,000 rows ≤ 2 s; 1,000,000 rows ≤ 15 s and ≤ 350 MB peak RSS;")
	fmt.Println("   the workbook: ≤ 150 MB peak RSS)")
	fmt.Println()
	fmt.Println("| rows | roster | seconds (quickest; range) | rows/s | CPU s | peak RSS | ok |")
	fmt.Println("|---:|---|---:|---:|---:|---:|:---:|")
	type size struct {
		rows     int
		workbook bool
	}
	sizes := []size{{100000, false}, {100000, true}, {1000000, false}}
	if b.quick {
		sizes = sizes[:2]
	}
	for _, sz := range sizes {
		n := sz.rows
		roster := b.roster("big.csv", "user_id,last_name", n, func(i int) string {
			if i%100 == 0 {
				return fmt.Sprintf("%d,Changed %d", i, i)
			}
			return fmt.Sprintf("%d,Last %d", i, i)
		})
		kind := "CSV"
		if sz.workbook {
			kind = ".xlsx (LibreOffice)"
			var err error
			if roster, err = b.workbook(roster); err != nil {
				fmt.Printf("| %d | %s | skipped: %v | | | | |\n", n, kind, err)
				continue
			}
		}
		srv, err := serve(dnlFake(n))
		if err != nil {
			return err
		}
		var runs []measured
		for range b.rounds {
			m, err := b.rostersync(srv.url, "plan", "--target", "dnl", "--roster", roster, "--rate", "0", "--workers", strconv.Itoa(b.workers))
			if err != nil {
				srv.close()
				return err
			}
			runs = append(runs, m)
		}
		srv.close()
		best, lo, hi := quickest(runs)
		peak := int64(0)
		for _, m := range runs {
			peak = max(peak, m.peak)
		}
		var ok bool
		switch {
		case sz.workbook:
			ok = peak <= 150<<20
		case n > 100000:
			ok = best.took <= 15*time.Second && peak <= 350<<20
		default:
			ok = best.took <= 2*time.Second
		}
		fmt.Printf("| %d | %s | %.2f (%.2f–%.2f) | %.0f | %.2f | %d MB (most of %d) | %s |\n", n, kind, best.took.Seconds(), lo.Seconds(), hi.Seconds(),
			float64(n)/best.took.Seconds(), best.cpu.Seconds(), peak>>20, len(runs), b.mark(ok))
	}
	return nil
}

// passwordCost is the bcrypt cost the fakes store passwords at in the
// passwords section: the lowest, so that setting 20,000 passwords costs
// seconds, not the vendors' minutes. A nightly plan that runs no bcrypt
// costs the same at any cost; one that did would cost 20,000 × 1.3 ms at
// this cost, and 256 times that at DNL's 12.
const passwordCost = 4

// passwords applies a roster of rows that set passwords, then plans it
// again, as a nightly run does, and measures that plan's CPU.
func (b *bench) passwords() error {
	n := 20000
	if b.quick {
		n = 3000
	}
	fmt.Printf("5. Passwords: apply %d rows that set passwords, then plan them again, nothing changed (fakes' bcrypt cost %d;\n", n, passwordCost)
	fmt.Println("   goal: the second plan ≤ 5 s CPU, user+sys of the process)")
	fmt.Println()
	fmt.Println("| target | first run (apply) | second run (plan): CPU s (least; range) | seconds | unchanged | ok |")
	fmt.Println("|---|---|---:|---:|---:|:---:|")
	for _, t := range []string{"smartflo", "dnl"} {
		var f fake
		key := "id"
		if t == "dnl" {
			key = "user_id"
			f = dnltest.New(dnltest.Config{Token: token, BcryptCost: passwordCost}, dnlUsers(n))
		} else {
			f = smartflotest.New(smartflotest.Config{Token: token, BcryptCost: passwordCost}, smartfloUsers(n))
		}
		field := map[string]string{"smartflo": "password", "dnl": "passwd"}[t]
		roster := b.roster("passwords-"+t+".csv", key+","+field, n, func(i int) string { return fmt.Sprintf("%d,Pass-%d-word", i, i) })
		srv, err := serve(f)
		if err != nil {
			return err
		}
		state := filepath.Join(b.dir, "state-passwords-"+t)
		first, err := b.rostersyncIn(state, srv.url, "apply", "--target", t, "--roster", roster, "--rate", "0", "--workers", strconv.Itoa(b.workers),
			"--max-changes", strconv.Itoa(n))
		if err != nil {
			srv.close()
			return err
		}
		var runs []measured
		unchanged := 0
		for range b.rounds {
			m, err := b.rostersyncIn(state, srv.url, "plan", "--target", t, "--roster", roster, "--rate", "0", "--workers", strconv.Itoa(b.workers))
			if err != nil {
				srv.close()
				return err
			}
			runs = append(runs, m)
			if unchanged, err = b.reportCount("unchanged"); err != nil {
				srv.close()
				return err
			}
		}
		srv.close()
		best, lo, hi := least(runs, func(m measured) time.Duration { return m.cpu })
		ok := best.cpu <= 5*time.Second && unchanged == n
		fmt.Printf("| %s | %.1f s, CPU %.1f s | %.2f (%.2f–%.2f) | %.2f | %d of %d | %s |\n", t, first.took.Seconds(), first.cpu.Seconds(),
			best.cpu.Seconds(), lo.Seconds(), hi.Seconds(), best.took.Seconds(), unchanged, n, b.mark(ok))
	}
	return nil
}

// reportCount counts the rows of the last report with a status.
func (b *bench) reportCount(status string) (int, error) {
	data, err := os.ReadFile(filepath.Join(b.dir, "report.csv"))
	if err != nil {
		return 0, err
	}
	n := 0
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Split(line, ","); len(f) > 3 && f[3] == status {
			n++
		}
	}
	return n, nil
}

// measured is one child process's run.
type measured struct {
	took time.Duration
	cpu  time.Duration // user + system
	peak int64         // peak resident memory, bytes
}

// least returns the run least in by (its wall time, or its CPU), and the
// range of by over the runs.
func least(runs []measured, by func(measured) time.Duration) (best measured, lo, hi time.Duration) {
	best = runs[0]
	lo, hi = by(best), by(best)
	for _, m := range runs[1:] {
		if by(m) < by(best) {
			best = m
		}
		lo, hi = min(lo, by(m)), max(hi, by(m))
	}
	return best, lo, hi
}

// quickest returns the quickest run, and the range of the times.
func quickest(runs []measured) (measured, time.Duration, time.Duration) {
	return least(runs, func(m measured) time.Duration { return m.took })
}

// ids writes the ids 1..n, one a line, and returns the file's path.
func (b *bench) ids(n int) string {
	path := filepath.Join(b.dir, fmt.Sprintf("ids-%d.txt", n))
	var list strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintln(&list, i)
	}
	if err := os.WriteFile(path, []byte(list.String()), 0o600); err != nil {
		panic(err)
	}
	return path
}

// workbook saves a CSV roster as an .xlsx workbook with LibreOffice, as a
// spreadsheet program makes them (shared strings, styles), and returns
// its path.
func (b *bench) workbook(csv string) (string, error) {
	lo, err := exec.LookPath("libreoffice")
	if err != nil {
		return "", errors.New("no libreoffice on PATH")
	}
	profile := filepath.Join(b.dir, "libreoffice-profile")
	out, err := exec.Command(lo, "--headless", "-env:UserInstallation=file://"+profile,
		"--convert-to", "xlsx:Calc MS Excel 2007 XML", "--outdir", b.dir, csv).CombinedOutput()
	path := strings.TrimSuffix(csv, filepath.Ext(csv)) + ".xlsx"
	if _, statErr := os.Stat(path); err != nil || statErr != nil {
		return "", fmt.Errorf("libreoffice did not save %s: %v\n%s", path, err, out)
	}
	return path, nil
}

// rostersync runs the built binary against url with a report in the work
// folder and the work folder's state directory.
func (b *bench) rostersync(url string, args ...string) (measured, error) {
	return b.rostersyncIn(filepath.Join(b.dir, "state"), url, args...)
}

// rostersyncIn is rostersync with a state directory of its own.
func (b *bench) rostersyncIn(state, url string, args ...string) (measured, error) {
	args = append(args, "--base-url", url, "--report", filepath.Join(b.dir, "report.csv"), "--log-level", "error", "--progress-interval", "0")
	return b.child(exec.Command(b.bin, args...), "XDG_STATE_HOME="+state)
}

// child runs cmd with the fakes' token and env, returning its wall time,
// CPU and peak resident memory. rostersync's exit 1 (rows failed) is
// still a measurement.
func (b *bench) child(cmd *exec.Cmd, env ...string) (measured, error) {
	cmd.Env = append(os.Environ(), "ROSTERSYNC_TOKEN="+token, "ROSTERSYNC_LOGIN=", "ROSTERSYNC_PASSWORD=")
	cmd.Env = append(cmd.Env, env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	var m measured
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return m, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	// The child's own high-water mark: /proc's VmHWM belongs to the address
	// space exec gave it (rusage's maxrss would count this process's memory,
	// which the child shares until exec).
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			m.took = time.Since(start)
			if st := cmd.ProcessState; st != nil {
				m.cpu = st.UserTime() + st.SystemTime()
			}
			var exit *exec.ExitError
			if errors.As(err, &exit) && exit.ExitCode() == 1 && filepath.Base(cmd.Path) == "rostersync" {
				err = nil // some rows failed: still a measurement
			}
			if err != nil {
				return m, fmt.Errorf("%s %s: %w\n%s", filepath.Base(cmd.Path), cmd.Args[1], err, stderr.String())
			}
			return m, nil
		case <-tick.C:
			m.peak = max(m.peak, highWater(cmd.Process.Pid))
		}
	}
}

// highWater reads a process's peak resident memory from /proc, in bytes.
func highWater(pid int) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// roster writes a CSV roster of n rows, 1-based, and returns its path.
func (b *bench) roster(name, header string, n int, line func(i int) string) string {
	var s strings.Builder
	s.WriteString(header + "\n")
	for i := 1; i <= n; i++ {
		s.WriteString(line(i) + "\n")
	}
	path := filepath.Join(b.dir, name)
	if err := os.WriteFile(path, []byte(s.String()), 0o600); err != nil {
		panic(err)
	}
	return path
}

func dnlUsers(n int) []dnltest.User {
	users := make([]dnltest.User, n)
	for i := range users {
		last := fmt.Sprint("Last ", i+1)
		users[i] = dnltest.User{UserID: int64(i + 1), Name: fmt.Sprint("user", i+1), UserType: "agent", Active: true,
			Email: fmt.Sprintf("u%d@example.com", i+1), LastName: &last}
	}
	return users
}

func dnlFake(n int) *dnltest.Fake { return dnltest.New(dnltest.Config{Token: token}, dnlUsers(n)) }

func smartfloUsers(n int) []smartflotest.User {
	users := make([]smartflotest.User, n)
	for i := range users {
		users[i] = smartflotest.User{ID: int64(i + 1), Name: fmt.Sprint("User ", i+1), Email: fmt.Sprintf("u%d@example.com", i+1),
			Number: "+919800000001", Designation: "Agent", LoginID: fmt.Sprint("u", i+1), RoleID: 54631, RoleName: "Agent",
			AgentID: "0502842370001", UsersForCDR: smartflotest.CDR{Type: "all"}}
	}
	return users
}

func smartfloFake(n int) *smartflotest.Fake {
	return smartflotest.New(smartflotest.Config{Token: token}, smartfloUsers(n))
}

// server is a fake served on loopback.
type server struct {
	url string
	srv *http.Server
}

func serve(h http.Handler) (*server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &server{url: "http://" + ln.Addr().String(), srv: &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}}
	go s.srv.Serve(ln)
	return s, nil
}

func (s *server) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.srv.Shutdown(ctx)
}

// mark says whether a goal was met, counting the misses.
func (b *bench) mark(ok bool) string {
	if ok {
		return "✓"
	}
	b.failed++
	return "✗"
}

// cpuModel names this machine's processor.
func cpuModel() string {
	data, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}
