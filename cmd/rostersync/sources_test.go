package main

import (
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rostersync/rostersync/sync/vendors"
)

// fakeHarness is a harness around the vendor's shipped fake built from
// cfg, seeded from the demo's users, with the test token.
func fakeHarness(t *testing.T, target string, cfg vendors.FakeConfig) *harness {
	t.Helper()
	v, err := vendors.Lookup(target)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Seed, cfg.Token, cfg.BcryptCost = filepath.Join("..", "..", filepath.FromSlash(v.DemoSeed())), testToken, 4
	fake, err := v.NewFake(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, target: target, dir: t.TempDir(), fake: fake}
	h.srv = httptest.NewServer(fake)
	t.Cleanup(h.srv.Close)
	h.env = map[string]string{"ROSTERSYNC_TOKEN": testToken, "XDG_STATE_HOME": filepath.Join(h.dir, "state")}
	return h
}

// TestListingThatRepeatsAUserStopsTheRun serves, for each target, a
// listing that holds one user twice and lacks another while its counts
// add up (as offset paging in no stable order does): apply stops before
// any write, exit 2, naming the repeated user, and every row is reported
// not planned.
func TestListingThatRepeatsAUserStopsTheRun(t *testing.T) {
	t.Parallel()
	rosters := map[string]string{
		"smartflo": "id,name\n314678,Asha R\n314702,Rohit S\n",
		"dnl":      "user_id,first_name\n2,Jules\n3,Ollie\n",
	}
	for _, v := range vendors.All {
		t.Run(v.Name, func(t *testing.T) {
			t.Parallel()
			h := fakeHarness(t, v.Name, vendors.FakeConfig{RepeatInList: true})
			out := filepath.Join(h.dir, "report.csv")
			res := h.run("apply", "--roster", h.file("roster.csv", rosters[v.Name]), "--report", out)
			if res.code != exitNotStarted || res.writes != 0 || h.fake.Writes() != 0 {
				t.Fatalf("exit %d with %d writes; want exit 2 and none\n%s", res.code, h.fake.Writes(), res.stderr)
			}
			if !strings.Contains(res.stderr, "the listing holds a user twice") {
				t.Errorf("the error does not say the listing repeats a user:\n%s", res.stderr)
			}
			for _, r := range readReport(t, out, 2) {
				if r.Status == "applied" || !strings.Contains(r.Error, "not planned") {
					t.Errorf("row %d: %s %q; want it not planned", r.Row, r.Status, r.Error)
				}
			}
		})
	}
}
