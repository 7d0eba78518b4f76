package engine_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/crypto/bcrypt"

	"github.com/rostersync/rostersync/ratelimit"
	"github.com/rostersync/rostersync/report"
	"github.com/rostersync/rostersync/sync/apply"
	"github.com/rostersync/rostersync/sync/engine"
	"github.com/rostersync/rostersync/sync/model"
	"github.com/rostersync/rostersync/sync/plan"
	"github.com/rostersync/rostersync/sync/vendors/fakehttp"
	"github.com/rostersync/rostersync/sync/vendors/rest"
	"github.com/rostersync/rostersync/sync/vendors/rest/resttest"
	"github.com/rostersync/rostersync/sync/vendors/smartflo"
	"github.com/rostersync/rostersync/sync/vendors/smartflo/smartflotest"
)

const token = "engine-test-token"

// memReport is a report in memory that fails every write after the first
// failAfter (0: never fails).
type memReport struct {
	mu        sync.Mutex
	rows      map[int]report.Row
	failAfter int
	writes    int
}

func (r *memReport) Write(row report.Row) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.writes++
	if r.failAfter > 0 && r.writes > r.failAfter {
		return errors.New("no space left on device")
	}
	if r.rows == nil {
		r.rows = map[int]report.Row{}
	}
	if _, dup := r.rows[row.Row]; dup {
		return fmt.Errorf("row %d written twice", row.Row)
	}
	r.rows[row.Row] = row
	return nil
}

func (r *memReport) Close() error { return nil }

// renames returns n rows renaming users 1..n.
func renames(n int) []model.Row {
	rows := make([]model.Row, n)
	f := smartflo.Target.Table.Field("name") // in the list: one read for all
	for i := range rows {
		rows[i] = model.Row{N: i + 1, Key: fmt.Sprint(i + 1), Values: []model.Value{{Field: f, V: "Renamed"}}}
	}
	return rows
}

// newRun returns a run applying rows through c with one worker.
func newRun(c *smartflo.Client, rows []model.Row, rep engine.Report) *engine.Run {
	return &engine.Run{
		Apply:   true,
		Rows:    rows,
		Planner: plan.Planner{Target: smartflo.Target, Reader: c, Workers: 1},
		Guard:   plan.Guard{MaxChanges: 1000, MaxBlockShare: 10},
		Applier: apply.Applier{Patcher: c, Workers: 1},
		Report:  rep,
		Digest:  func(*model.Row) string { return "" },
		Review:  func(*plan.Plan, plan.Standing) error { return nil },
		Log:     zerolog.Nop(),
	}
}

// TestStopsOnAuth lets the token expire mid-run (a token from a login, 10s
// to live, each PATCH taking 3s): the row that meets the expiry and every
// later row are skipped, and the run says why.
func TestStopsOnAuth(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = 8
		fake := smartflotest.New(smartflotest.Config{Email: "a@example.com", Password: "pw", TokenTTL: 10 * time.Second,
			BcryptCost: bcrypt.MinCost, Faults: fakehttp.Faults{Latency: 3 * time.Second}}, smartflotest.Generate(n))
		srv := resttest.NewServer(fake)
		defer srv.Close()
		resp, err := srv.Client().Post(srv.URL+"/v1/auth/login", "application/json", strings.NewReader(`{"email": "a@example.com", "password": "pw"}`))
		if err != nil {
			t.Fatal(err)
		}
		var tok struct {
			AccessToken string `json:"access_token"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&tok)
		resp.Body.Close()
		// The login is handled at 3s (after the fake's latency), so the token
		// dies at 13s. The list is read at 6s; the PATCHes are handled at 9s,
		// 12s, then 15s.
		c := smartflo.New(rest.Config{BaseURL: srv.URL, HTTP: srv.Client(), Token: model.Secret(tok.AccessToken), Policy: ratelimit.DefaultPolicy()})
		rep := &memReport{}
		_, err = newRun(c, renames(n), rep).Do(t.Context())
		if !errors.Is(err, engine.ErrStopped) || !errors.Is(err, model.ErrAuth) {
			t.Errorf("Do = %v, want ErrStopped wrapping ErrAuth", err)
		}
		applied := 0
		for i := 1; i <= n; i++ {
			r, ok := rep.rows[i]
			switch {
			case !ok:
				t.Fatalf("row %d is not in the report", i)
			case r.Status == "applied":
				if i != applied+1 {
					t.Errorf("row %d applied after a skipped row", i)
				}
				applied++
			case r.Status != "skipped":
				t.Errorf("row %d: %s (%s); after a credentials failure rows are skipped, not failed", i, r.Status, r.Error)
			}
		}
		if applied != 2 {
			t.Errorf("%d rows applied before the token expired, want 2", applied)
		}
		if r := rep.rows[applied+1]; !strings.Contains(r.Error, "not applied") || !strings.Contains(r.Error, model.ErrAuth.Error()) {
			t.Errorf("row %d: %q; want it not applied for the credentials", applied+1, r.Error)
		}
		for i := applied + 2; i <= n; i++ {
			if r := rep.rows[i]; !strings.HasPrefix(r.Error, "not sent: ") || !strings.Contains(r.Error, model.ErrAuth.Error()) {
				t.Errorf("row %d: %q; want not sent, naming the credentials", i, r.Error)
			}
		}
		if w := fake.Writes(); w != applied+1 {
			t.Errorf("%d PATCHes reached the fake, want %d", w, applied+1)
		}
	})
}

// TestReportFailureStops gives the run a report that stops taking rows
// after three: nothing more is sent, every outcome is counted, the ones
// the report lacks are counted as unrecorded, and the error says why.
func TestReportFailureStops(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = 10
		fake := smartflotest.New(smartflotest.Config{Token: token}, smartflotest.Generate(n))
		srv := resttest.NewServer(fake)
		defer srv.Close()
		c := smartflo.New(rest.Config{BaseURL: srv.URL, HTTP: srv.Client(), Token: token, Policy: ratelimit.DefaultPolicy()})
		res, err := newRun(c, renames(n), &memReport{failAfter: 3}).Do(t.Context())
		if !errors.Is(err, engine.ErrRowsFailed) || !strings.Contains(err.Error(), "no space left on device") {
			t.Fatalf("Do = %v; want ErrRowsFailed naming the cause", err)
		}
		if res.Unrecorded != n-3 {
			t.Errorf("%d unrecorded, want %d", res.Unrecorded, n-3)
		}
		total := 0
		for _, k := range res.Counts {
			total += k
		}
		if total != n || res.Counts["applied"] != fake.Writes() || fake.Writes() > 4 {
			t.Errorf("counts %v for %d rows, %d writes at the fake: want every row counted, applied = writes, sending stopped", res.Counts, n, fake.Writes())
		}
	})
}

// TestRefusedOrDeclinedSendsNothing: a plan past the guard, or one the
// review declines, sends nothing; every planned row is skipped saying why.
func TestRefusedOrDeclinedSendsNothing(t *testing.T) {
	errDeclined := errors.New("not confirmed")
	for _, tt := range []struct {
		name string
		set  func(*engine.Run)
		want error
	}{
		{"refused", func(r *engine.Run) { r.Guard.MaxChanges = 2 }, plan.ErrRefused},
		{"declined", func(r *engine.Run) { r.Review = func(*plan.Plan, plan.Standing) error { return errDeclined } }, errDeclined},
	} {
		t.Run(tt.name, func(t *testing.T) {
			fake := smartflotest.New(smartflotest.Config{Token: token}, smartflotest.Generate(5))
			srv := resttest.NewServer(fake)
			defer srv.Close()
			c := smartflo.New(rest.Config{BaseURL: srv.URL, HTTP: srv.Client(), Token: token, Policy: ratelimit.DefaultPolicy()})
			rep := &memReport{}
			run := newRun(c, renames(5), rep)
			tt.set(run)
			if _, err := run.Do(t.Context()); !errors.Is(err, tt.want) {
				t.Fatalf("Do = %v, want %v", err, tt.want)
			}
			if fake.Writes() != 0 || len(rep.rows) != 5 {
				t.Fatalf("%d writes, %d report rows; want 0 and 5", fake.Writes(), len(rep.rows))
			}
			for _, r := range rep.rows {
				if r.Status != "skipped" || !strings.Contains(r.Error, tt.want.Error()) {
					t.Errorf("row %d: %s %q", r.Row, r.Status, r.Error)
				}
			}
		})
	}
}
