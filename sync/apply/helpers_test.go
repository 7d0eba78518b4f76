package apply_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/rostersync/rostersync/ratelimit"
	"github.com/rostersync/rostersync/sync/apply"
	"github.com/rostersync/rostersync/sync/model"
	"github.com/rostersync/rostersync/sync/plan"
	"github.com/rostersync/rostersync/sync/vendors/rest"
	"github.com/rostersync/rostersync/sync/vendors/smartflo"
	"github.com/rostersync/rostersync/sync/vendors/smartflo/smartflotest"
	"golang.org/x/crypto/bcrypt"
)

// token is the fixed token of the test fakes.
const token = "engine-test-token"

// sfUsers is the Smartflo seed of the engine tests.
func sfUsers() []smartflotest.User {
	return []smartflotest.User{
		{ID: 101, Name: "Asha Rao", Number: "+919800000001", Email: "asha@example.com", Designation: "Team lead",
			LoginID: "asha", RoleID: 54630, RoleName: "Quality", AgentID: "0502842370001"},
		{ID: 102, Name: "Ravi Kumar", Number: "+919800000002", Email: "ravi@example.com", LoginID: "ravi",
			RoleID: 54631, RoleName: "Agent", AgentID: "0502842370002", Blocked: true,
			UsersForCDR: smartflotest.CDR{Type: "agent", Value: []string{"0502842370001"}}},
		{ID: 103, Name: "Meera Iyer", Number: "+919800000003", Email: "meera@example.com", LoginID: "meera",
			RoleID: 54631, RoleName: "Agent", AgentID: "0502842370003",
			UsersForCDR: smartflotest.CDR{Type: "agent", Value: []string{"0502842370001", "0502842370002"}}},
		{ID: 104, Name: "Unchanged User", Number: "+919800000004", Email: "u@example.com", LoginID: "u4",
			RoleID: 54630, RoleName: "Quality", AgentID: "0502842370004"},
		{ID: 105, Name: "Twice Named", Number: "+919800000005", Email: "t@example.com", LoginID: "u5",
			RoleID: 54630, RoleName: "Quality", AgentID: "0502842370005"},
		{ID: 106, Name: "To Block", Number: "+919800000006", Email: "b@example.com", LoginID: "u6",
			RoleID: 54630, RoleName: "Quality", AgentID: "0502842370006"},
	}
}

// startSmartflo serves a Smartflo fake over httptest and returns the real
// client of it.
func startSmartflo(t *testing.T, users []smartflotest.User) (*smartflotest.Fake, *smartflo.Client) {
	t.Helper()
	fake := smartflotest.New(smartflotest.Config{Token: token, BcryptCost: bcrypt.MinCost}, users)
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	return fake, smartflo.New(rest.Config{BaseURL: srv.URL, HTTP: srv.Client(), Token: token,
		Policy: ratelimit.Policy{Attempts: 2, Base: time.Millisecond, Max: time.Millisecond}})
}

// row builds a roster row of canonical values: field, value, field, value...
func row(t *testing.T, tgt any, n int, key string, kv ...any) model.Row {
	t.Helper()
	var vals []model.Value
	for i := 0; i < len(kv); i += 2 {
		f := targetOf(tgt).Table.Field(kv[i].(string))
		if f == nil {
			t.Fatalf("no field %q", kv[i])
		}
		vals = append(vals, model.Value{Field: f, V: kv[i+1]})
	}
	model.SortValues(vals)
	return model.Row{N: n, Key: key, Values: vals}
}

// flaky wraps a target, failing patches of chosen users.
type flaky struct {
	client
	mu       sync.Mutex
	patchErr map[string]error
	patched  []string
	onPatch  func(n int) // called before the n-th patch (from 1)
}

func (f *flaky) Patch(ctx context.Context, id string, body map[string]any) (model.Result, error) {
	f.mu.Lock()
	f.patched = append(f.patched, id)
	n := len(f.patched)
	f.mu.Unlock()
	if f.onPatch != nil {
		f.onPatch(n)
	}
	if err := f.patchErr[id]; err != nil {
		return model.Result{Attempts: 1}, err
	}
	return f.client.Patch(ctx, id, body)
}

// client is a vendor's client as the tests use it.
type client interface {
	plan.Reader
	apply.Patcher
}

// targetOf returns what the users of a test's target look like.
func targetOf(c any) model.Target {
	switch c := c.(type) {
	case *smartflo.Client:
		return smartflo.Target
	case *flaky:
		return targetOf(c.client)
	}
	panic(fmt.Sprintf("targetOf(%T)", c))
}
