package plan_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/rostersync/rostersync/ratelimit"
	"github.com/rostersync/rostersync/sync/apply"
	"github.com/rostersync/rostersync/sync/internal/fixture"
	"github.com/rostersync/rostersync/sync/model"
	"github.com/rostersync/rostersync/sync/plan"
	"github.com/rostersync/rostersync/sync/state"
	"github.com/rostersync/rostersync/sync/vendors/dnl"
	"github.com/rostersync/rostersync/sync/vendors/dnl/dnltest"
	"github.com/rostersync/rostersync/sync/vendors/rest"
	"github.com/rostersync/rostersync/sync/vendors/smartflo"
	"github.com/rostersync/rostersync/sync/vendors/smartflo/smartflotest"
)

// newLedger returns an empty ledger of the real kind, in a folder of the
// test's, hashing at bcrypt's lowest cost.
func newLedger(t *testing.T) *state.Ledger {
	t.Helper()
	l, err := state.Open(t.TempDir(), "test", "http://test", state.Options{Key: []byte("test key"), Cost: bcrypt.MinCost})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// readsOf returns the user ids of the one-user reads in a fake's log.
func readsOf(reqs []fakeRequest) []string {
	var ids []string
	for _, r := range reqs {
		if r.method == http.MethodGet && strings.HasPrefix(r.path, "/v1/user/") && !strings.HasSuffix(r.path, "/list") {
			ids = append(ids, strings.TrimPrefix(r.path, "/v1/user/"))
		}
	}
	slices.Sort(ids)
	return ids
}

type fakeRequest struct{ method, path string }

func sfRequests(f *smartflotest.Fake) []fakeRequest {
	var out []fakeRequest
	for _, r := range f.Requests() {
		out = append(out, fakeRequest{r.Method, r.Path})
	}
	return out
}

func TestPlanSmartflo(t *testing.T) {
	fake, c := startSmartflo(t, sfUsers())
	broken := row(t, c, 9, "107", "name", "x")
	broken.Err = errors.New("row 9: email: \"x\" is not an email address")
	rows := []model.Row{
		row(t, c, 1, "101", "name", "Asha R.", "email", "ASHA@example.com"),
		row(t, c, 2, "102", "user_for_cdr.value", []any{"0502842370001", "0502842370009"}),
		row(t, c, 3, "103", "user_for_cdr.type", "all"),
		row(t, c, 4, "104", "name", "Unchanged User", "block_agent", false),
		row(t, c, 5, "105", "name", "First"),
		row(t, c, 6, "105", "name", "Second"),
		row(t, c, 7, "99999", "name", "Nobody"),
		row(t, c, 8, "106", "block_agent", true, "international_outbound", false),
		broken,
		row(t, c, 10, "102", "user_for_cdr.type", "agent", "user_for_cdr.value", []any{"0502842370001"}, "name", "Ravi Kumar"),
	}
	// Rows 2 and 10 name the same user: both fail.
	p, err := plan.Planner{Target: targetOf(c), Reader: c, Workers: 4}.Plan(t.Context(), rows)
	if err != nil {
		t.Fatal(err)
	}
	if p.Target != "smartflo" || len(p.Items) != len(rows) {
		t.Fatalf("plan for %s has %d items", p.Target, len(p.Items))
	}
	want := []struct {
		status model.Status
		body   string
		err    string
	}{
		{model.Planned, `{"name": "Asha R."}`, ""},
		{model.Failed, ``, `duplicate id "102" (rows 2, 10)`},
		{model.Planned, `{"user_for_cdr": {"type": "all", "value": ["0502842370001", "0502842370002"]}}`, ""},
		{model.Unchanged, ``, ""},
		{model.Failed, ``, `row 5: duplicate id "105" (rows 5, 6)`},
		{model.Failed, ``, `row 6: duplicate id "105" (rows 5, 6)`},
		{model.Failed, ``, `row 7: no user with id "99999"`},
		{model.Planned, `{"block_agent": true}`, ""},
		{model.Failed, ``, `is not an email address`},
		{model.Failed, ``, `row 10: duplicate id "102" (rows 2, 10)`},
	}
	for i, w := range want {
		it := p.Items[i]
		if it.Row != rows[i].N || it.Key != rows[i].Key {
			t.Errorf("item %d is for row %d key %s", i, it.Row, it.Key)
		}
		if it.Status != w.status {
			t.Errorf("row %d: status %s (%v), want %s", it.Row, it.Status, it.Err, w.status)
			continue
		}
		if w.body != "" {
			jsonEqual(t, it.Body, w.body)
		} else if it.Body != nil {
			t.Errorf("row %d: body %v, want none", it.Row, it.Body)
		}
		if w.err != "" && (it.Err == nil || !strings.Contains(it.Err.Error(), w.err)) {
			t.Errorf("row %d: error %v, want one containing %q", it.Row, it.Err, w.err)
		}
		if w.err == "" && it.Err != nil {
			t.Errorf("row %d: error %v", it.Row, it.Err)
		}
	}
	if got := p.Items[0].Fields(); !slices.Equal(got, []string{"name"}) {
		t.Errorf("row 1 changes %v, want only the name (email differs only in case)", got)
	}
	if !p.Items[7].Blocks() || p.Items[0].Blocks() {
		t.Errorf("Blocks: row 8 %v, row 1 %v; want true, false", p.Items[7].Blocks(), p.Items[0].Blocks())
	}
	if c := p.Items[7].Changes; len(c) != 1 || c[0].Old != false || c[0].New != true || !c[0].Known {
		t.Errorf("row 8 changes %+v", c)
	}
	if p.Count(model.Planned) != 3 || p.Count(model.Failed) != 6 || p.Count(model.Unchanged) != 1 {
		t.Errorf("counts planned %d failed %d unchanged %d", p.Count(model.Planned), p.Count(model.Failed), p.Count(model.Unchanged))
	}
	// Only rows that set fields the list lacks are read one by one.
	if got := readsOf(sfRequests(fake)); !slices.Equal(got, []string{"101", "103"}) {
		t.Errorf("one-user reads of %v, want [101 103]", got)
	}
	if fake.Writes() != 0 {
		t.Errorf("planning wrote %d times", fake.Writes())
	}

	// Applying it and planning again finds nothing left to do.
	var mu sync.Mutex
	outcomes := map[int]model.Status{}
	apply.Applier{Patcher: c, Workers: 3}.Apply(t.Context(), p, func(o apply.Outcome) {
		mu.Lock()
		defer mu.Unlock()
		outcomes[o.Item.Row] = o.Status
	})
	if outcomes[1] != model.Applied || outcomes[3] != model.Applied || outcomes[8] != model.Applied {
		t.Errorf("outcomes %v", outcomes)
	}
	if u, _ := fake.User(103); u.UsersForCDR.Type != "all" || u.UsersForCDR.Value != nil {
		t.Errorf("user 103 CDR = %+v", u.UsersForCDR)
	}
	again, err := plan.Planner{Target: targetOf(c), Reader: c, Workers: 4}.Plan(t.Context(), rows)
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{0, 2, 3, 7} {
		if it := again.Items[i]; it.Status != model.Unchanged {
			t.Errorf("row %d after apply: %s %v", it.Row, it.Status, it.Body)
		}
	}
}

// TestPlanGroupSentWhole checks a change to one member of user_for_cdr
// sends the other member too, from the row or else from the read.
func TestPlanGroupSentWhole(t *testing.T) {
	_, c := startSmartflo(t, sfUsers())
	tests := []struct {
		row  model.Row
		want string
	}{
		{row(t, c, 1, "102", "user_for_cdr.value", []any{"0502842370001", "0502842370009"}), `{"user_for_cdr": {"type": "agent", "value": ["0502842370001", "0502842370009"]}}`},
		{row(t, c, 1, "101", "user_for_cdr.type", "agent", "user_for_cdr.value", []any{"0502842370004"}), `{"user_for_cdr": {"type": "agent", "value": ["0502842370004"]}}`},
		{row(t, c, 1, "103", "user_for_cdr.type", "agent", "user_for_cdr.value", []any{"0502842370003"}), `{"user_for_cdr": {"type": "agent", "value": ["0502842370003"]}}`},
		{row(t, c, 1, "103", "user_for_cdr.value", []any{"0502842370002", "0502842370001"}, "name", "Meera I."), `{"name": "Meera I."}`},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			p, err := plan.Planner{Target: targetOf(c), Reader: c}.Plan(t.Context(), []model.Row{tt.row})
			if err != nil {
				t.Fatal(err)
			}
			if it := p.Items[0]; it.Status != model.Planned {
				t.Fatalf("status %s (%v)", it.Status, it.Err)
			}
			jsonEqual(t, p.Items[0].Body, tt.want)
		})
	}
}

// TestPlanWriteOnly checks a write-only field is sent while the ledger does
// not know it, and not again once it recorded the value.
func TestPlanWriteOnly(t *testing.T) {
	fake, c := startSmartflo(t, sfUsers())
	ledger := newLedger(t)
	planOf := func(rows ...model.Row) *plan.Plan {
		t.Helper()
		p, err := plan.Planner{Target: targetOf(c), Reader: c, Ledger: ledger}.Plan(t.Context(), rows)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	applyAll := func(p *plan.Plan) {
		t.Helper()
		apply.Applier{Patcher: c, Ledger: ledger, Workers: 2}.Apply(t.Context(), p, func(o apply.Outcome) {
			if o.Err != nil {
				t.Errorf("row %d: %v", o.Item.Row, o.Err)
			}
		})
	}

	first := planOf(row(t, c, 1, "101", "caller_id", []any{"101", "102"}, "agent_group", []any{"g1"}))
	it := first.Items[0]
	if it.Status != model.Planned {
		t.Fatalf("first plan: %s", it.Status)
	}
	jsonEqual(t, it.Body, `{"caller_id": ["101", "102"], "agent_group": ["g1"]}`)
	for _, ch := range it.Changes {
		if ch.Known {
			t.Errorf("%s is known before anything was written", ch.Field.Name)
		}
	}
	// Without a ledger it is sent every time.
	if p, _ := (plan.Planner{Target: targetOf(c), Reader: c}).Plan(t.Context(), []model.Row{row(t, c, 1, "101", "caller_id", []any{"101", "102"})}); p.Items[0].Status != model.Planned {
		t.Errorf("without a ledger: %s", p.Items[0].Status)
	}
	applyAll(first)
	if u, _ := fake.User(101); !slices.Equal(u.CallerID, []string{"101", "102"}) || !slices.Equal(u.AgentGroup, []string{"g1"}) {
		t.Fatalf("the fake holds caller_id %v agent_group %v", u.CallerID, u.AgentGroup)
	}

	tests := []struct {
		name   string
		value  []any
		status model.Status
		body   string
	}{
		{"same", []any{"101", "102"}, model.Unchanged, ""},
		{"same in another order", []any{"102", "101"}, model.Unchanged, ""},
		{"changed", []any{"103"}, model.Planned, `{"caller_id": ["103"]}`},
		{"cleared", []any{}, model.Planned, `{"caller_id": []}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := planOf(row(t, c, 1, "101", "caller_id", tt.value, "agent_group", []any{"g1"}))
			it := p.Items[0]
			if it.Status != tt.status {
				t.Fatalf("status %s, want %s (body %v)", it.Status, tt.status, it.Body)
			}
			if tt.body != "" {
				jsonEqual(t, it.Body, tt.body)
				if ch := it.Changes[0]; !ch.Known || !reflect.DeepEqual(ch.Old, []any{"101", "102"}) {
					t.Errorf("change %+v, want the old value from the ledger", ch)
				}
			}
		})
	}
	// A user the ledger does not know still gets it.
	if p := planOf(row(t, c, 1, "103", "caller_id", []any{"101", "102"})); p.Items[0].Status != model.Planned {
		t.Errorf("another user: %s", p.Items[0].Status)
	}
}

// TestPlanWriteOnlySecret checks Smartflo's password: sent while the
// ledger does not know it, kept there only as a bcrypt hash, then compared
// through the hash.
func TestPlanWriteOnlySecret(t *testing.T) {
	fake, c := startSmartflo(t, sfUsers())
	ledger := newLedger(t)
	p, err := plan.Planner{Target: targetOf(c), Reader: c, Ledger: ledger}.Plan(t.Context(), []model.Row{row(t, c, 1, "104", "password", "Secret-1")})
	if err != nil || p.Items[0].Status != model.Planned {
		t.Fatalf("plan: %v %v", err, p.Items[0].Status)
	}
	jsonEqual(t, p.Items[0].Body, `{"password": "Secret-1"}`)
	(apply.Applier{Patcher: c, Ledger: ledger}).Apply(t.Context(), p, func(apply.Outcome) {})
	if u, _ := fake.User(104); bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte("Secret-1")) != nil {
		t.Error("the fake did not get the password")
	}
	stored, _ := ledger.Written("104")["password"].(string)
	if !strings.HasPrefix(stored, "v1$") || strings.Contains(stored, "Secret-1") {
		t.Fatalf("the ledger holds %q, want a keyed verifier of the password", stored)
	}

	known := newLedger(t)
	if err := known.Record("104", []model.Value{{Field: smartflo.Target.Table.Field("password"), V: "Secret-1"}}); err != nil {
		t.Fatal(err)
	}
	hash := known.Written("104")["password"]
	for pw, want := range map[string]model.Status{"Secret-1": model.Unchanged, "Secret-2": model.Planned, "": model.Planned} {
		p, err := plan.Planner{Target: targetOf(c), Reader: c, Ledger: known}.Plan(t.Context(), []model.Row{row(t, c, 1, "104", "password", pw)})
		if err != nil || p.Items[0].Status != want {
			t.Errorf("password %q: %s (%v), want %s", pw, p.Items[0].Status, err, want)
			continue
		}
		if want == model.Planned {
			if ch := p.Items[0].Changes[0]; !ch.Known || ch.Old != hash {
				t.Errorf("change %+v, want the hash as the old value", ch)
			}
		}
	}
}

func dnlUsers(t *testing.T) []dnltest.User {
	hash, err := bcrypt.GenerateFromPassword([]byte("old-pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	vendorHash := "$2b$" + strings.TrimPrefix(string(hash), "$2a$")
	return []dnltest.User{
		{UserID: 1, Name: "admin", UserType: "admin", Active: true, Email: "admin@carrier.example", Passwd: vendorHash},
		{UserID: 2, Name: "jsmith", UserType: "client", Active: true, Email: "john@carrier.example", Passwd: vendorHash,
			AuthIP: []dnltest.AuthIP{{IP: "10.0.0.1"}, {IP: "10.0.0.2"}}},
		{UserID: 3, Name: "nopass", UserType: "agent", Active: true, Email: "n@carrier.example"},
	}
}

func TestPlanDNL(t *testing.T) {
	fake, c := startDNL(t, dnlUsers(t))
	ledger := newLedger(t) // compares the roster's passwords with the API's hashes
	rows := []model.Row{
		row(t, c, 1, "1", "passwd", "old-pw"),
		row(t, c, 2, "2", "passwd", "new-pw", "email", "JOHN@carrier.example", "auth_ip", []any{"10.0.0.2", "10.0.0.1"}),
		row(t, c, 3, "3", "passwd", "first-pw", "active", false, "client.is_panel_trunks", true),
	}
	p, err := plan.Planner{Target: targetOf(c), Reader: c, Ledger: ledger, Workers: 2}.Plan(t.Context(), rows)
	if err != nil {
		t.Fatal(err)
	}
	if p.Items[0].Status != model.Unchanged {
		t.Errorf("row 1 (same password): %s %v", p.Items[0].Status, p.Items[0].Body)
	}
	jsonEqual(t, p.Items[1].Body, `{"passwd": "new-pw"}`)
	jsonEqual(t, p.Items[2].Body, `{"passwd": "first-pw", "active": false, "client": {"is_panel_trunks": true}}`)
	if !p.Items[2].Blocks() || p.Items[1].Blocks() {
		t.Error("deactivating a DNL user must count as blocking it, and only that")
	}
	for _, it := range p.Items {
		for _, ch := range it.Changes {
			if ch.Field.Name == "passwd" && ch.Old == "old-pw" {
				t.Error("the old password was recovered, not its hash")
			}
		}
	}
	(apply.Applier{Patcher: c, Workers: 2}).Apply(t.Context(), p, func(o apply.Outcome) {
		if o.Err != nil {
			t.Errorf("row %d: %v", o.Item.Row, o.Err)
		}
	})
	if u, _ := fake.User(2); bcrypt.CompareHashAndPassword([]byte(u.Passwd), []byte("new-pw")) != nil {
		t.Error("user 2's passwd was not changed")
	}
	again, err := plan.Planner{Target: targetOf(c), Reader: c, Ledger: ledger}.Plan(t.Context(), rows)
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range again.Items {
		if it.Status != model.Unchanged {
			t.Errorf("row %d after apply: %s %v", it.Row, it.Status, it.Body)
		}
	}
}

// TestPlanManyReads mixes rows the list serves with rows that need a read
// of their own, with many readers at once (run with -race).
func TestPlanManyReads(t *testing.T) {
	var users []smartflotest.User
	var rows []model.Row
	tbl := smartflo.New(rest.Config{}) // for the field table only
	for i := range 60 {
		id := int64(1000 + i)
		users = append(users, smartflotest.User{ID: id, Name: fmt.Sprint("u", i), Email: fmt.Sprintf("u%d@example.com", i),
			Number: "+919800000001", LoginID: fmt.Sprint("u", i), AgentID: fmt.Sprint("A", i)})
		if i%2 == 0 {
			rows = append(rows, row(t, tbl, i+1, strconv.FormatInt(id, 10), "email", fmt.Sprintf("new%d@example.com", i)))
		} else {
			rows = append(rows, row(t, tbl, i+1, strconv.FormatInt(id, 10), "name", fmt.Sprint("new", i)))
		}
	}
	rows = append(rows, row(t, tbl, 61, "5", "email", "ghost@example.com")) // not in the list: no read
	fake, c := startSmartflo(t, users)
	p, err := plan.Planner{Target: targetOf(c), Reader: c, Workers: 8}.Plan(t.Context(), rows)
	if err != nil {
		t.Fatal(err)
	}
	if p.Count(model.Planned) != 60 || p.Items[60].Status != model.Failed {
		t.Errorf("%d planned, last %s", p.Count(model.Planned), p.Items[60].Status)
	}
	if got := len(readsOf(sfRequests(fake))); got != 30 {
		t.Errorf("%d one-user reads, want 30", got)
	}
}

func TestPlanReadFailures(t *testing.T) {
	_, c := startSmartflo(t, sfUsers())
	rows := []model.Row{
		row(t, c, 1, "101", "email", "new1@example.com"),
		row(t, c, 2, "103", "email", "new3@example.com"),
		row(t, c, 3, "104", "email", "new4@example.com"),
	}
	t.Run("one read fails", func(t *testing.T) {
		tgt := &fixture.Flaky{Client: c, GetErr: map[string]error{"103": errors.New("HTTP 500 after 8 attempts")}}
		p, err := plan.Planner{Target: targetOf(tgt), Reader: tgt, Workers: 2}.Plan(t.Context(), rows)
		if err != nil {
			t.Fatal(err)
		}
		if it := p.Items[1]; it.Status != model.Failed || !strings.Contains(it.Err.Error(), "reading user 103") {
			t.Errorf("row 2: %s %v", it.Status, it.Err)
		}
		if p.Items[0].Status != model.Planned || p.Items[2].Status != model.Planned {
			t.Error("one failed read failed other rows")
		}
	})
	t.Run("gone between list and read", func(t *testing.T) {
		tgt := &fixture.Flaky{Client: c, GetErr: map[string]error{"103": fmt.Errorf("GET: %w", model.ErrNotFound)}}
		p, err := plan.Planner{Target: targetOf(tgt), Reader: tgt}.Plan(t.Context(), rows)
		if err != nil || p.Items[1].Status != model.Failed || !strings.Contains(p.Items[1].Err.Error(), `no user with id "103"`) {
			t.Errorf("Plan = %v; row 2 %s %v", err, p.Items[1].Status, p.Items[1].Err)
		}
	})
	t.Run("credentials rejected", func(t *testing.T) {
		tgt := &fixture.Flaky{Client: c, GetErr: map[string]error{"103": fmt.Errorf("GET: %w", model.ErrAuth)}}
		if _, err := (plan.Planner{Target: targetOf(tgt), Reader: tgt}).Plan(t.Context(), rows); !errors.Is(err, model.ErrAuth) {
			t.Errorf("Plan = %v, want ErrAuth", err)
		}
	})
	t.Run("bad token", func(t *testing.T) {
		srvFake := smartflotest.New(smartflotest.Config{Token: token}, sfUsers())
		srv := httptest.NewServer(srvFake)
		defer srv.Close()
		bad := smartflo.New(rest.Config{BaseURL: srv.URL, HTTP: srv.Client(), Token: "wrong", Policy: ratelimit.Policy{Attempts: 2}})
		if _, err := (plan.Planner{Target: targetOf(bad), Reader: bad}).Plan(t.Context(), rows); !errors.Is(err, model.ErrAuth) {
			t.Errorf("Plan = %v, want ErrAuth", err)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if _, err := (plan.Planner{Target: targetOf(c), Reader: c}).Plan(ctx, rows); !errors.Is(err, context.Canceled) {
			t.Errorf("Plan = %v, want context.Canceled", err)
		}
	})
}

func TestPlanResume(t *testing.T) {
	_, c := startSmartflo(t, sfUsers())
	rows := []model.Row{row(t, c, 1, "101", "name", "A"), row(t, c, 2, "103", "name", "B")}
	p, err := plan.Planner{Target: targetOf(c), Reader: c, Done: func(r *model.Row) (string, bool) {
		return "applied by the run of 10:02", r.N == 1
	}}.Plan(t.Context(), rows)
	if err != nil {
		t.Fatal(err)
	}
	if it := p.Items[0]; it.Status != model.Skipped || it.Err == nil || it.Err.Error() != "applied by the run of 10:02" {
		t.Errorf("row 1: %s %v", it.Status, it.Err)
	}
	if p.Items[1].Status != model.Planned {
		t.Errorf("row 2: %s", p.Items[1].Status)
	}
}

func TestGuard(t *testing.T) {
	block := &model.Field{Name: "block_agent", Kind: model.Bool, Blocks: true}
	tests := []struct {
		planned, blocks, users int
		maxChanges             int
		maxShare               float64
		refusal                string // "" = none
	}{
		{0, 0, -1, 0, 10, ""},
		{3, 0, -1, 3, 10, ""},
		{4, 0, -1, 3, 10, "4 users would change, more than --max-changes 3"},
		{1, 0, -1, 0, 10, "1 user would change, more than --max-changes 0"},
		{500, 0, -1, 1000, 10, ""},
		{20, 10, 100, 500, 10, ""}, // exactly 10%
		{20, 11, 100, 500, 10, "11 users would be blocked, 11.0% of the 100 the target holds, more than --max-block-share 10%"},
		{20, 11, 100, 500, 20, ""},                           // raised on purpose
		{600, 600, 1000, 500, 100, "600 users would change"}, // both: the change count is said first
		{1, 1, 0, 500, 10, "1 user would be blocked"},        // an empty target: any block is too many
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d changes %d blocks of %d", tt.planned, tt.blocks, tt.users), func(t *testing.T) {
			p := &plan.Plan{Users: tt.users}
			for i := range tt.planned {
				it := plan.Item{Status: model.Planned}
				if i < tt.blocks {
					it.Changes = []plan.Change{{Field: block, Known: true, Old: false, New: true}}
				}
				p.Items = append(p.Items, it)
			}
			p.Items = append(p.Items, plan.Item{Status: model.Unchanged}, plan.Item{Status: model.Failed})
			s := plan.Guard{MaxChanges: tt.maxChanges, MaxBlockShare: tt.maxShare}.Check(p)
			if s.Changes != tt.planned || s.Blocks != tt.blocks || s.Users != tt.users {
				t.Errorf("Standing = %+v", s)
			}
			err := s.Err()
			if (err != nil) != (tt.refusal != "") || (err != nil && !errors.Is(err, plan.ErrRefused)) {
				t.Fatalf("Err() = %v, want refusal %q", err, tt.refusal)
			}
			if err != nil && !strings.Contains(err.Error(), tt.refusal) {
				t.Errorf("Err() = %q, want it to say %q", err, tt.refusal)
			}
			lines := strings.Join(s.Lines(), "\n")
			if got := strings.Contains(lines, "REFUSE"); got != (tt.refusal != "") {
				t.Errorf("Lines() = %q", lines)
			}
			if !strings.Contains(lines, "--max-changes") || !strings.Contains(lines, "--max-block-share") {
				t.Errorf("Lines() does not show both thresholds: %q", lines)
			}
		})
	}
}

// TestLegacyValuesDoNotBlockEdits reads a user whose stored agent ids are
// not the 13 digits rosters must give: the user stays readable, a row that
// changes another field plans only that field, and a row that sets the ids
// sees them as different.
func TestLegacyValuesDoNotBlockEdits(t *testing.T) {
	users := sfUsers()
	users[1].UsersForCDR = smartflotest.CDR{Type: "agent", Value: []string{"A1", "A2"}}
	_, c := startSmartflo(t, users)
	p, err := plan.Planner{Target: targetOf(c), Reader: c, Workers: 2}.Plan(t.Context(), []model.Row{row(t, c, 1, "102", "designation", "Lead")})
	if err != nil {
		t.Fatal(err)
	}
	if it := p.Items[0]; it.Status != model.Planned || strings.Join(it.Fields(), "|") != "designation" {
		t.Fatalf("row 1: %s %v %v, want only designation planned", it.Status, it.Fields(), it.Err)
	}
	p, err = plan.Planner{Target: targetOf(c), Reader: c, Workers: 2}.Plan(t.Context(), []model.Row{row(t, c, 1, "102", "user_for_cdr.value", []any{"0502842370001"})})
	if err != nil {
		t.Fatal(err)
	}
	it := p.Items[0]
	if it.Status != model.Planned || len(it.Changes) != 1 || !slices.Equal(it.Changes[0].Old.([]any), []any{"A1", "A2"}) {
		t.Errorf("row setting the ids: %s %+v %v, want a change from the stored [A1 A2]", it.Status, it.Changes, it.Err)
	}
}

// TestRedactOnlyWhatIsShown plans with secrets that also occur in what
// users hold (a login id, a CDR type, part of a designation): the plan's
// old values show them redacted, but matching, diffing and the PATCH body
// (which carries the group's unchanged CDR type from the read) use the
// values as read, so scrubbing can never write [REDACTED] into a user.
func TestRedactOnlyWhatIsShown(t *testing.T) {
	fake, c := startSmartflo(t, sfUsers())
	var secrets rest.Secrets
	secrets.Add("asha", "agent", "Team", "0502842370001")
	rows := []model.Row{
		row(t, c, 1, "asha", "designation", "Lead"),
		row(t, c, 2, "ravi", "user_for_cdr.value", []any{"0502842370003"}),
		row(t, c, 3, "meera", "name", "Meera Iyer"),
	}
	p, err := plan.Planner{Target: targetOf(c), Reader: c, Workers: 2, Match: "login_id", Redact: secrets.Redact}.Plan(t.Context(), rows)
	if err != nil {
		t.Fatal(err)
	}
	if it := p.Items[0]; it.Status != model.Planned || it.UserID != "101" || len(it.Changes) != 1 || it.Changes[0].Old != "[REDACTED] lead" {
		t.Errorf("row 1: %+v; want user 101 matched by its login id, old designation shown redacted", it)
	}
	it := p.Items[1]
	if it.Status != model.Planned || len(it.Changes) != 1 || !reflect.DeepEqual(it.Changes[0].Old, []any{"[REDACTED]"}) {
		t.Fatalf("row 2: %+v; want the old CDR value shown redacted", it)
	}
	jsonEqual(t, it.Body, `{"user_for_cdr": {"type": "agent", "value": ["0502842370003"]}}`)
	if p.Items[2].Status != model.Unchanged {
		t.Errorf("row 3: %s; want unchanged", p.Items[2].Status)
	}
	(apply.Applier{Patcher: c, Workers: 1}).Apply(t.Context(), p, func(apply.Outcome) {})
	if u, _ := fake.User(102); u.UsersForCDR.Type != "agent" || !slices.Equal(u.UsersForCDR.Value, []string{"0502842370003"}) {
		t.Errorf("user 102's CDR after apply: %+v", u.UsersForCDR)
	}
	if u, _ := fake.User(101); u.Designation != "Lead" {
		t.Errorf("user 101's designation after apply: %q", u.Designation)
	}
}

// row builds a roster row of canonical values of tgt's table: field,
// value, field, value...
func row(t *testing.T, tgt any, n int, key string, kv ...any) model.Row {
	t.Helper()
	return fixture.Row(t, targetOf(tgt), n, key, kv...)
}

// targetOf returns what the users of a test's target look like.
func targetOf(c any) model.Target {
	if m, ok := c.(*memTarget); ok {
		return m.Target
	}
	return fixture.TargetOf(c)
}

// The fixtures these tests share with the apply tests.
const token = fixture.Token

var (
	jsonEqual     = fixture.JSONEqual
	sfUsers       = fixture.SmartfloUsers
	startSmartflo = fixture.StartSmartflo
	startDNL      = fixture.StartDNL
)

// TestMatchEmailIgnoresCase plans DNL rows named by email against users
// whose emails differ from the rows' in case and spaces: each row finds
// its user, two users whose emails differ only in case make a row that
// names either ambiguous, and two rows naming one email in two cases are
// duplicates. A field that is not an email (name) still matches exactly.
func TestMatchEmailIgnoresCase(t *testing.T) {
	doc := func(id int, name, email, last string) map[string]any {
		return map[string]any{"user_id": num(id), "name": name, "email": email, "last_name": last,
			"first_name": "", "active": true, "user_type": "agent"}
	}
	tg := &memTarget{Target: dnl.Target, idKey: "user_id", list: []map[string]any{
		doc(11, "asha", "Asha.Rao@Example.com", "Rao"),
		doc(12, "ravi", "ravi@example.com", "Kumar"),
		doc(13, "meera", "MEERA@example.com", "Iyer"),
		doc(14, "meera2", "meera@EXAMPLE.com", "Iyer"),
		doc(15, "dup", "dup@example.com", "Twice"),
	}}
	email := func(n int, key, last string) model.Row { return row(t, tg, n, key, "last_name", last) }
	rows := []model.Row{
		email(1, " asha.rao@example.COM ", "Rao-Nair"), // padded, other case: found, and changes
		email(2, "RAVI@EXAMPLE.COM", "Kumar"),          // other case: found, and equal
		email(3, "Meera@Example.com", "Iyer"),          // two users in two cases
		email(4, "nobody@example.com", "X"),
		email(5, "dup@example.com", "A"),
		email(6, "DUP@example.com", "B"), // row 5's email in another case
	}
	p, err := plan.Planner{Target: tg.Target, Reader: tg, Match: "email"}.Plan(t.Context(), rows)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		status model.Status
		user   string
		err    string
	}{
		{model.Planned, "11", ""},
		{model.Unchanged, "12", ""},
		{model.Failed, "", `email "Meera@Example.com" matches 2 users (ids 13, 14)`},
		{model.Failed, "", `no user with email "nobody@example.com"`},
		{model.Failed, "", "duplicate"},
		{model.Failed, "", "duplicate"},
	}
	for i, w := range want {
		it := p.Items[i]
		if it.Status != w.status || (w.user != "" && it.UserID != w.user) || (it.Err == nil) != (w.err == "") ||
			(it.Err != nil && !strings.Contains(it.Err.Error(), w.err)) {
			t.Errorf("row %d: %s user %q err %v; want %s user %q err %q", it.Row, it.Status, it.UserID, it.Err, w.status, w.user, w.err)
		}
	}

	// Names are not emails: their case counts.
	byName := []model.Row{row(t, tg, 1, "ASHA", "last_name", "X"), row(t, tg, 2, "ravi", "last_name", "Patel")}
	p, err = plan.Planner{Target: tg.Target, Reader: tg, Match: "name"}.Plan(t.Context(), byName)
	if err != nil {
		t.Fatal(err)
	}
	if it := p.Items[0]; it.Status != model.Failed || !strings.Contains(it.Err.Error(), `no user with name "ASHA"`) {
		t.Errorf("row 1 by name in another case: %s %v; want failed, no such user", it.Status, it.Err)
	}
	if it := p.Items[1]; it.Status != model.Planned || it.UserID != "12" {
		t.Errorf("row 2 by name: %s user %q %v; want planned for user 12", it.Status, it.UserID, it.Err)
	}
}

// TestRosterShrinkGuard measures an absence block against what the last
// applied roster named: at the line it passes, under it it refuses, an
// empty roster always does, and without --absent block the guard is off.
func TestRosterShrinkGuard(t *testing.T) {
	tests := []struct {
		absentBlock bool
		rows, named int
		last        int
		shrink      float64
		refusal     string
	}{
		{true, 90, 90, 100, 10, ""},
		{true, 89, 89, 100, 10, "names 89 users in scope, fewer than 90% of the 100 the last applied roster named (at least 90"},
		{true, 50, 50, 100, 60, ""},
		{true, 5, 5, 0, 10, ""}, // nothing remembered yet
		{true, 0, 0, 0, 10, "the roster has no rows"},
		{false, 0, 0, 100, 10, ""},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%v %d of %d shrink %g", tt.absentBlock, tt.named, tt.last, tt.shrink), func(t *testing.T) {
			p := &plan.Plan{Users: 200, Named: tt.named}
			for i := range tt.rows {
				p.Items = append(p.Items, plan.Item{Row: i + 1, Status: model.Unchanged})
			}
			s := plan.Guard{MaxChanges: 500, MaxBlockShare: 10, AbsentBlock: tt.absentBlock, MaxRosterShrink: tt.shrink, LastNamed: tt.last}.Check(p)
			err := s.Err()
			if (err != nil) != (tt.refusal != "") || (err != nil && (!errors.Is(err, plan.ErrRefused) || !strings.Contains(err.Error(), tt.refusal))) {
				t.Fatalf("Err() = %v, want refusal %q", err, tt.refusal)
			}
			lines := strings.Join(s.Lines(), "\n")
			if tt.absentBlock != strings.Contains(lines, "the roster names") || strings.Contains(lines, "REFUSE") != (tt.refusal != "") {
				t.Errorf("Lines() = %q", lines)
			}
		})
	}
}
