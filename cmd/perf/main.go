// Command perf measures rostersync against its performance goals in one
// run and prints a table: rate precision at --rate 5, 50 and 500, requests
// per row of a nightly run over an unchanged roster, throughput with no
// limit beside an xargs+curl loop and a Python thread pool doing the same
// PATCHes, and peak memory planning 100,000 and 1,000,000 rows (and the
// 100,000 as an .xlsx workbook, where LibreOffice is installed).
//
// It builds rostersync, serves the shipped fakes on loopback from this
// process, and runs rostersync (and the peers) as child processes, so each
// is measured as a user would run it. Run it from the repository's root:
//
//	go run ./cmd/perf            # everything, about four minutes
//	go run ./cmd/perf -quick     # smaller sizes, no 1,000,000-row run
//	go run ./cmd/perf -only rate # one section: rate, requests, throughput or memory
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
	quick := flag.Bool("quick", false, "smaller sizes and no 1,000,000-row run")
	only := flag.String("only", "", "run one section: rate, requests, throughput or memory")
	flag.Parse()
	if err := run(*quick, *only); err != nil {
		fmt.Fprintln(os.Stderr, "perf:", err)
		os.Exit(1)
	}
}

// bench is one measuring session: a work folder and the built binary.
type bench struct {
	dir string
	bin string
}

func run(quick bool, only string) error {
	dir, err := os.MkdirTemp("", "rostersync-perf-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	b := &bench{dir: dir, bin: filepath.Join(dir, "rostersync")}
	if out, err := exec.Command("go", "build", "-o", b.bin, "./cmd/rostersync").CombinedOutput(); err != nil {
		return fmt.Errorf("building rostersync (run from the repository's root): %w\n%s", err, out)
	}
	fmt.Printf("rostersync performance, %s, %d cores, %s\n\n", cpuModel(), runtime.NumCPU(), runtime.Version())
	sections := []struct {
		name string
		run  func(bool) error
	}{{"rate", b.ratePrecision}, {"requests", b.requestsPerRow}, {"throughput", b.throughput}, {"memory", b.memory}}
	for _, s := range sections {
		if only != "" && only != s.name {
			continue
		}
		if err := s.run(quick); err != nil {
			return err
		}
		fmt.Println()
	}
	return nil
}

// ratePrecision applies rosters at --rate R and measures, at the server,
// the rate achieved and the busiest one-second window.
func (b *bench) ratePrecision(quick bool) error {
	fmt.Println("1. Rate precision (DNL fake; goal: achieved ≥ 0.97 R, busiest 1 s window ≤ R + 2)")
	fmt.Println()
	fmt.Println("| --rate R | PATCHes | achieved req/s | achieved / R | busiest 1 s window | ok |")
	fmt.Println("|---:|---:|---:|---:|---:|:---:|")
	seconds := 8
	if quick {
		seconds = 3
	}
	for _, r := range []int{5, 50, 500} {
		n := r * seconds
		fake := dnlFake(n)
		srv, err := serve(fake)
		if err != nil {
			return err
		}
		roster := b.roster("rate.csv", "user_id,last_name", n, func(i int) string { return fmt.Sprintf("%d,Rate %d", i, i) })
		if _, _, err := b.rostersync(srv.url, "apply", "--target", "dnl", "--roster", roster, "--rate", strconv.Itoa(r),
			"--workers", strconv.Itoa(max(4, r/20)), "--max-changes", strconv.Itoa(n)); err != nil {
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
		ok := achieved >= 0.97*float64(r) && worst <= r+2
		fmt.Printf("| %d | %d | %.2f | %.3f | %d | %s |\n", r, len(writes), achieved, achieved/float64(r), worst, mark(ok))
	}
	return nil
}

// requestsPerRow runs plans of rosters that match the target already (a
// nightly run) and counts the requests each needs.
func (b *bench) requestsPerRow(quick bool) error {
	fmt.Println("2. Requests per row, nightly run over an unchanged roster (goal: only the reads needed)")
	fmt.Println()
	fmt.Println("| target, users | roster | reads chosen | requests | requests/row | writes |")
	fmt.Println("|---|---|---|---:|---:|---:|")
	big := 10000
	if quick {
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
		var fake interface {
			http.Handler
			Requests() []fakehttp.Request
			Writes() int
		}
		if c.target == "dnl" {
			fake = dnlFake(c.users)
		} else {
			fake = smartfloFake(c.users)
		}
		srv, err := serve(fake)
		if err != nil {
			return err
		}
		roster := b.roster("nightly.csv", c.header, c.rows, c.line)
		_, _, err = b.rostersync(srv.url, "apply", "--target", c.target, "--roster", roster, "--rate", "0", "--workers", "8")
		srv.close()
		if err != nil {
			return err
		}
		n := len(fake.Requests())
		fmt.Printf("| %s, %d | %s | %s | %d | %.4f | %d |\n", c.target, c.users, c.label, c.how, n, float64(n)/float64(c.rows), fake.Writes())
	}
	return nil
}

// throughput sends the same PATCHes with rostersync and with two peers,
// each against a fresh fake with no limit.
func (b *bench) throughput(quick bool) error {
	n := 2000
	if quick {
		n = 500
	}
	fmt.Printf("3. Throughput with no limit, %d PATCHes on loopback against the Smartflo fake (goal: ≥ 10× xargs+curl, ≥ 3× Python)\n\n", n)
	ids := filepath.Join(b.dir, "ids.txt")
	var list strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintln(&list, i)
	}
	if err := os.WriteFile(ids, []byte(list.String()), 0o600); err != nil {
		return err
	}
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
		run  func(url string) error
	}
	contenders := []contender{
		{"rostersync apply --rate 0 --workers 16 (lists the users, then PATCHes)", func(url string) error {
			_, _, err := b.rostersync(url, "apply", "--target", "smartflo", "--roster", roster, "--rate", "0", "--workers", "16",
				"--max-changes", strconv.Itoa(n))
			return err
		}},
		{"xargs -P 16 curl (one process per PATCH)", func(url string) error {
			out, err := exec.Command("sh", curl, url, token, ids).Output()
			if got := strings.Count(string(out), "200"); err == nil && got != n {
				err = fmt.Errorf("curl peer: %d of %d PATCHes answered 200", got, n)
			}
			return err
		}},
		{"python3 ThreadPoolExecutor(16) + urllib", func(url string) error {
			out, err := exec.Command("python3", pool, url, token, ids).Output()
			if err == nil && strings.TrimSpace(string(out)) != fmt.Sprintf("%d 0", n) {
				err = fmt.Errorf("python peer: %s", out)
			}
			return err
		}},
	}
	rates := make([]float64, len(contenders))
	fmt.Println("| tool | PATCHes | seconds | PATCHes/s | rostersync is |")
	fmt.Println("|---|---:|---:|---:|---:|")
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
		ratio := "—"
		if i > 0 {
			ratio = fmt.Sprintf("%.1f× faster", rates[0]/rates[i])
		}
		fmt.Printf("| %s | %d | %.2f | %.0f | %s |\n", c.name, n, took.Seconds(), rates[i], ratio)
	}
	return nil
}

// memory plans large rosters (all rows unchanged, so every user is read
// and diffed) and measures rostersync's peak resident memory: CSV, and
// the 100,000 rows as an .xlsx workbook that LibreOffice saved (skipped
// where LibreOffice is not installed).
func (b *bench) memory(quick bool) error {
	fmt.Println("4. Memory and time planning large rosters (DNL fake; goal: 100,000 rows ≤ 150 MB, 1,000,000 rows < 1 GB)")
	fmt.Println()
	fmt.Println("| rows | roster | peak RSS | seconds | rows/s | ok |")
	fmt.Println("|---:|---|---:|---:|---:|:---:|")
	type size struct {
		rows     int
		workbook bool
	}
	sizes := []size{{100000, false}, {100000, true}, {1000000, false}}
	if quick {
		sizes = sizes[:2]
	}
	for _, sz := range sizes {
		n := sz.rows
		roster := b.roster("big.csv", "user_id,last_name", n, func(i int) string { return fmt.Sprintf("%d,Last %d", i, i) })
		kind := "CSV"
		if sz.workbook {
			kind = ".xlsx (LibreOffice)"
			var err error
			if roster, err = b.workbook(roster); err != nil {
				fmt.Printf("| %d | %s | skipped: %v | | | |\n", n, kind, err)
				continue
			}
		}
		fake := dnlFake(n)
		srv, err := serve(fake)
		if err != nil {
			return err
		}
		peak, took, err := b.rostersync(srv.url, "plan", "--target", "dnl", "--roster", roster, "--rate", "0")
		srv.close()
		if err != nil {
			return err
		}
		limit := int64(150 << 20)
		if n > 100000 {
			limit = 1 << 30
		}
		fmt.Printf("| %d | %s | %d MB | %.1f | %.0f | %s |\n", n, kind, peak>>20, took.Seconds(), float64(n)/took.Seconds(), mark(peak <= limit))
	}
	return nil
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
// folder, returning its peak resident memory and how long it took.
func (b *bench) rostersync(url string, args ...string) (peak int64, took time.Duration, err error) {
	args = append(args, "--base-url", url, "--report", filepath.Join(b.dir, "report.csv"), "--log-level", "error", "--progress-interval", "0")
	cmd := exec.Command(b.bin, args...)
	cmd.Env = append(os.Environ(), "ROSTERSYNC_TOKEN="+token, "XDG_STATE_HOME="+filepath.Join(b.dir, "state"), "ROSTERSYNC_LOGIN=", "ROSTERSYNC_PASSWORD=")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, 0, err
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
			took = time.Since(start)
			var exit *exec.ExitError
			if errors.As(err, &exit) && exit.ExitCode() == 1 {
				err = nil // some rows failed: still a measurement
			}
			if err != nil {
				return peak, took, fmt.Errorf("rostersync %s: %w\n%s", args[0], err, stderr.String())
			}
			return peak, took, nil
		case <-tick.C:
			peak = max(peak, highWater(cmd.Process.Pid))
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

func dnlFake(n int) *dnltest.Fake {
	users := make([]dnltest.User, n)
	for i := range users {
		last := fmt.Sprint("Last ", i+1)
		users[i] = dnltest.User{UserID: int64(i + 1), Name: fmt.Sprint("user", i+1), UserType: "agent", Active: true,
			Email: fmt.Sprintf("u%d@example.com", i+1), LastName: &last}
	}
	return dnltest.New(dnltest.Config{Token: token}, users)
}

func smartfloFake(n int) *smartflotest.Fake {
	users := make([]smartflotest.User, n)
	for i := range users {
		users[i] = smartflotest.User{ID: int64(i + 1), Name: fmt.Sprint("User ", i+1), Email: fmt.Sprintf("u%d@example.com", i+1),
			Number: "+919800000001", Designation: "Agent", LoginID: fmt.Sprint("u", i+1), RoleID: 54631, RoleName: "Agent",
			AgentID: "0502842370001", UsersForCDR: smartflotest.CDR{Type: "all"}}
	}
	return smartflotest.New(smartflotest.Config{Token: token}, users)
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

func mark(ok bool) string {
	if ok {
		return "✓"
	}
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
