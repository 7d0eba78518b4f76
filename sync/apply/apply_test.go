package apply_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rostersync/rostersync/ratelimit"
	"github.com/rostersync/rostersync/sync/apply"
	"github.com/rostersync/rostersync/sync/internal/fixture"
	"github.com/rostersync/rostersync/sync/model"
	"github.com/rostersync/rostersync/sync/plan"
	"github.com/rostersync/rostersync/sync/vendors/fakehttp"
	"github.com/rostersync/rostersync/sync/vendors/rest"
	"github.com/rostersync/rostersync/sync/vendors/rest/resttest"
	"github.com/rostersync/rostersync/sync/vendors/smartflo"
	"github.com/rostersync/rostersync/sync/vendors/smartflo/smartflotest"
)

// recorder collects outcomes, failing the test on a second outcome for an
// item.
type recorder struct {
	t  *testing.T
	mu sync.Mutex
	by map[*plan.Item]apply.Outcome
}

func newRecorder(t *testing.T) *recorder { return &recorder{t: t, by: map[*plan.Item]apply.Outcome{}} }

func (r *recorder) record(o apply.Outcome) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.by[o.Item]; dup {
		r.t.Errorf("row %d recorded twice", o.Item.Row)
	}
	r.by[o.Item] = o
}

// check fails unless every item of p has exactly one outcome, and returns
// them in plan order.
func (r *recorder) check(p *plan.Plan) []apply.Outcome {
	r.t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]apply.Outcome, len(p.Items))
	for i := range p.Items {
		o, ok := r.by[&p.Items[i]]
		if !ok {
			r.t.Errorf("row %d has no outcome", p.Items[i].Row)
		}
		out[i] = o
	}
	if len(r.by) != len(p.Items) {
		r.t.Errorf("%d outcomes for %d items", len(r.by), len(p.Items))
	}
	return out
}

// manyUsers is a Smartflo seed of n users with ids 1..n.
func manyUsers(n int) []smartflotest.User {
	users := make([]smartflotest.User, n)
	for i := range users {
		users[i] = smartflotest.User{ID: int64(i + 1), Name: fmt.Sprint("User ", i+1), Number: "+919800000001",
			Email: fmt.Sprintf("u%d@example.com", i+1), LoginID: fmt.Sprint("u", i+1), AgentID: fmt.Sprint("A", i+1)}
	}
	return users
}

// renameAll plans a new designation for users 1..n.
func renameAll(t *testing.T, tgt any, n int) *plan.Plan {
	p := &plan.Plan{Target: targetOf(tgt).Name}
	for i := 1; i <= n; i++ {
		f := targetOf(tgt).Table.Field("designation")
		p.Items = append(p.Items, plan.Item{Row: i, Key: strconv.Itoa(i), UserID: strconv.Itoa(i), Status: model.Planned,
			Changes: []plan.Change{{Field: f, Known: true, Old: "", New: "Renamed"}},
			Body:    map[string]any{"designation": "Renamed"}})
	}
	return p
}

func TestApplyOutcomes(t *testing.T) {
	fake, c := startSmartflo(t, sfUsers())
	rows := []model.Row{
		row(t, c, 1, "101", "name", "Asha R."),
		row(t, c, 2, "104", "name", "Unchanged User"),
		row(t, c, 3, "99999", "name", "Nobody"),
		row(t, c, 4, "102", "designation", "Lead"),
		row(t, c, 5, "103", "name", "Meera I."),
		row(t, c, 6, "106", "number", "12"), // the vendor rejects it
		row(t, c, 7, "105", "name", "Skip Me"),
	}
	p, err := plan.Planner{Target: targetOf(c), Reader: c, Done: func(r *model.Row) (string, bool) { return "done before", r.N == 7 }}.Plan(t.Context(), rows)
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorder(t)
	(apply.Applier{Patcher: c, Workers: 3}).Apply(t.Context(), p, rec.record)
	want := []model.Status{model.Applied, model.Unchanged, model.Failed, model.Applied, model.Applied, model.Failed, model.Skipped}
	for i, o := range rec.check(p) {
		if o.Status != want[i] {
			t.Errorf("row %d: %s (%v), want %s", p.Items[i].Row, o.Status, o.Err, want[i])
		}
		if o.Status == model.Applied && (o.Err != nil || o.Result.HTTPStatus != 200 || o.Result.Attempts != 1) {
			t.Errorf("row %d applied with %+v, %v", p.Items[i].Row, o.Result, o.Err)
		}
	}
	bad := rec.check(p)[5]
	if bad.Err == nil || !strings.Contains(bad.Err.Error(), "row 6") || !strings.Contains(bad.Err.Error(), "number: The number field must be") ||
		bad.Result.HTTPStatus != 400 {
		t.Errorf("row 6: %v %+v; want the vendor's words about the number", bad.Err, bad.Result)
	}
	if fake.Writes() != 4 {
		t.Errorf("%d writes, want 4", fake.Writes())
	}
	if u, _ := fake.User(102); u.Designation != "Lead" {
		t.Errorf("user 102 designation %q", u.Designation)
	}
}

// TestApplyFailuresDoNotStop fails every third PATCH: the others all land.
func TestApplyFailuresDoNotStop(t *testing.T) {
	const n = 30
	fake, c := startSmartflo(t, manyUsers(n))
	tgt := &fixture.Flaky{Client: c, PatchErr: map[string]error{}}
	for i := 3; i <= n; i += 3 {
		tgt.PatchErr[strconv.Itoa(i)] = fmt.Errorf("PATCH /v1/user/%d: HTTP 503: gave up", i)
	}
	p := renameAll(t, c, n)
	rec := newRecorder(t)
	(apply.Applier{Patcher: tgt, Workers: 4}).Apply(t.Context(), p, rec.record)
	for i, o := range rec.check(p) {
		want := model.Applied
		if (i+1)%3 == 0 {
			want = model.Failed
		}
		if o.Status != want {
			t.Errorf("row %d: %s %v, want %s", i+1, o.Status, o.Err, want)
		}
	}
	if fake.Writes() != n-n/3 {
		t.Errorf("%d writes, want %d", fake.Writes(), n-n/3)
	}
}

// TestApplyCancelled cancels the run while the third PATCH is in flight
// (each takes 3s at the fake): with the client's grace period it
// finishes; without, it is cut and reported skipped; no later row is sent.
func TestApplyCancelled(t *testing.T) {
	tests := []struct {
		name     string
		grace    time.Duration
		third    model.Status
		landings int
	}{
		{"grace lets the request in flight finish", time.Minute, model.Applied, 3},
		{"no grace cuts it", 0, model.Skipped, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				const n = 8
				fake := smartflotest.New(smartflotest.Config{Token: token, Faults: fakehttp.Faults{Latency: 3 * time.Second}}, manyUsers(n))
				srv := resttest.NewServer(fake)
				defer srv.Close()
				c := smartflo.New(rest.Config{BaseURL: srv.URL, HTTP: srv.Client(), Token: token, Policy: ratelimit.DefaultPolicy(),
					Grace: tt.grace})
				p := renameAll(t, c, n)
				ctx, cancel := context.WithCancel(t.Context())
				time.AfterFunc(7*time.Second, cancel) // during the third PATCH (6s to 9s)
				rec := newRecorder(t)
				apply.Applier{Patcher: c, Workers: 1}.Apply(ctx, p, rec.record)
				out := rec.check(p)
				for i, o := range out {
					want := model.Skipped
					switch {
					case i < 2:
						want = model.Applied
					case i == 2:
						want = tt.third
					}
					if o.Status != want {
						t.Errorf("row %d: %s (%v), want %s", i+1, o.Status, o.Err, want)
					}
				}
				if o := out[2]; o.Status == model.Skipped && !strings.Contains(o.Err.Error(), "may or may not have applied") {
					t.Errorf("row 3: %v; want it to say the change may have landed", o.Err)
				}
				if o := out[n-1]; o.Err == nil || !strings.Contains(o.Err.Error(), "not sent") {
					t.Errorf("last row: %v; want not sent", o.Err)
				}
				landed := 0
				for _, u := range fake.Users() {
					if u.Designation == "Renamed" {
						landed++
					}
				}
				if landed != tt.landings {
					t.Errorf("%d users changed at the fake, want %d", landed, tt.landings)
				}
				if w := fake.Writes(); w != 3 {
					t.Errorf("%d PATCHes reached the fake, want 3", w)
				}
			})
		})
	}
}

// TestApplyLedgerFailure checks a ledger that cannot record leaves the row
// applied, with an error saying what the next run will do.
func TestApplyLedgerFailure(t *testing.T) {
	_, c := startSmartflo(t, sfUsers())
	p, err := plan.Planner{Target: targetOf(c), Reader: c}.Plan(t.Context(), []model.Row{row(t, c, 1, "101", "caller_id", []any{"7"})})
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorder(t)
	(apply.Applier{Patcher: c, Ledger: brokenLedger{}}).Apply(t.Context(), p, rec.record)
	if o := rec.check(p)[0]; o.Status != model.Applied || o.Err == nil || !strings.Contains(o.Err.Error(), "ledger") {
		t.Errorf("outcome %s %v", o.Status, o.Err)
	}
}

type brokenLedger struct{}

func (brokenLedger) SameSecret(string, string, string, string) bool { return false }

func (brokenLedger) Record(string, []model.Value) error {
	return errors.New("disk full")
}

// TestApplyConcurrentWithLimiter runs many workers through one limiter at a
// fake that takes 5 requests a second: all land, and the fake never sees
// more than its limit in a second.
func TestApplyConcurrentWithLimiter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = 40
		fake := smartflotest.New(smartflotest.Config{Token: token, Faults: fakehttp.Faults{Limit: 5}}, manyUsers(n))
		srv := resttest.NewServer(fake)
		defer srv.Close()
		c := smartflo.New(rest.Config{BaseURL: srv.URL, HTTP: srv.Client(), Token: token,
			Limiter: ratelimit.New(5), Policy: ratelimit.DefaultPolicy()})
		p := renameAll(t, c, n)
		rec := newRecorder(t)
		begin := time.Now()
		(apply.Applier{Patcher: c, Workers: 8}).Apply(t.Context(), p, rec.record)
		for _, o := range rec.check(p) {
			if o.Status != model.Applied {
				t.Errorf("row %d: %s %v", o.Item.Row, o.Status, o.Err)
			}
		}
		throttled := 0
		for _, r := range fake.Requests() {
			if r.Status == http.StatusTooManyRequests {
				throttled++
			}
		}
		if throttled != 0 {
			t.Errorf("%d 429s at a rate the fake takes", throttled)
		}
		if d := time.Since(begin); d < 7*time.Second || d > 8*time.Second {
			t.Errorf("40 requests at 5/s took %v, want about 7.8s", d)
		}
	})
}

// TestInterruptSendsNothingNew cancels an apply paced at one request a
// second while eight workers wait for their turn: not one more request
// reaches the server, and every row not sent is skipped as not sent.
func TestInterruptSendsNothingNew(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = 30
		fake := smartflotest.New(smartflotest.Config{Token: token}, manyUsers(n))
		srv := resttest.NewServer(fake)
		defer srv.Close()
		c := smartflo.New(rest.Config{BaseURL: srv.URL, HTTP: srv.Client(), Token: token,
			Limiter: ratelimit.New(1), Policy: ratelimit.DefaultPolicy(), Grace: 10 * time.Second})
		p := renameAll(t, c, n)
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(3500*time.Millisecond, cancel)
		rec := newRecorder(t)
		(apply.Applier{Patcher: c, Workers: 8}).Apply(ctx, p, rec.record)
		sent := len(fake.Requests())
		if sent > 4 {
			t.Errorf("%d requests reached the server; at 1/s only those before the interrupt at 3.5s may", sent)
		}
		applied := 0
		for _, o := range rec.check(p) {
			switch o.Status {
			case model.Applied:
				applied++
			case model.Skipped:
				if !strings.Contains(o.Err.Error(), "not sent") {
					t.Errorf("row %d skipped as %q, want not sent", o.Item.Row, o.Err)
				}
			default:
				t.Errorf("row %d: %s %v", o.Item.Row, o.Status, o.Err)
			}
		}
		if applied != sent {
			t.Errorf("%d applied for %d requests sent", applied, sent)
		}
	})
}
