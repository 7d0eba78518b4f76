package smartflo_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/rostersync/rostersync/sync/model"
	"github.com/rostersync/rostersync/sync/plan"
	"github.com/rostersync/rostersync/sync/vendors/rest"
	"github.com/rostersync/rostersync/sync/vendors/smartflo"
	"github.com/rostersync/rostersync/sync/vendors/smartflo/smartflotest"
)

// The tests of this file follow what the vendor's public reference pages
// and public client code add to the model (api.md, "What public sources
// add", Smartflo).

// TestExpiryWithStringSuccessRenewsOnce lets a login's token expire, with
// the fake writing every failure's success as the string "false": the
// PATCH answered 200 {"success": "false", "message": "Token has expired"}
// makes the client refresh the token once and send the change again.
func TestExpiryWithStringSuccessRenewsOnce(t *testing.T) {
	users := seed(3)
	fake, c := start(t, smartflotest.Config{StringSuccess: true}, users, rest.Config{Login: admin, Password: adminPw})
	id := strconv.FormatInt(users[0].ID, 10)
	if _, err := c.Get(t.Context(), id); err != nil {
		t.Fatal(err)
	}
	fake.ExpireTokens()

	// The answer an expired token gets on a write, as the fake sends it.
	srv := fakeURL(t, fake)
	req, _ := http.NewRequest(http.MethodPatch, srv+"/v1/user/"+id, strings.NewReader(`{"name": "X"}`))
	req.Header.Set("Authorization", "Bearer "+permanent)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != `{"success":"false","message":"Token has expired"}` {
		t.Fatalf("an expired token's PATCH is answered %d %s; want 200 with the string \"false\"", resp.StatusCode, body)
	}

	res, err := c.Patch(t.Context(), id, map[string]any{"designation": "Renewed"})
	if err != nil {
		t.Fatalf("Patch after the expiry: %v", err)
	}
	if res.Attempts != 2 || fake.Logins() != 1 || fake.Refreshes() != 1 {
		t.Errorf("%d attempts, %d logins, %d refreshes; want 2, 1 and 1: one renewal, then the change sent again",
			res.Attempts, fake.Logins(), fake.Refreshes())
	}
	if u, _ := fake.User(users[0].ID); u.Designation != "Renewed" {
		t.Errorf("designation %q: the patch did not land", u.Designation)
	}
}

// fakeURL serves fake on another listener and returns its URL, for raw
// requests beside the client's.
func fakeURL(t *testing.T, fake *smartflotest.Fake) string {
	t.Helper()
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestMixedTypes lists and reads users whose ids and role ids come back
// as numbers or strings, as the vendor types them differently on its
// pages: the client reads each the same.
func TestMixedTypes(t *testing.T) {
	fake, c := start(t, smartflotest.Config{MixedTypes: true}, seed(12), rest.Config{})
	want := fake.Users()
	var got []model.User
	if err := c.List(t.Context(), func(u model.User) error { got = append(got, u); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("List gave %d users of %d", len(got), len(want))
	}
	for i, u := range got {
		if u.ID != strconv.FormatInt(want[i].ID, 10) || !reflect.DeepEqual(u.Values, listValues(want[i])) {
			t.Errorf("listed user %s: %v\nwant %d: %v", u.ID, u.Values, want[i].ID, listValues(want[i]))
		}
		r, err := c.Get(t.Context(), u.ID)
		if err != nil || !reflect.DeepEqual(r.Values, readValues(want[i])) {
			t.Errorf("read user %s: %v, %v\nwant %v", u.ID, r.Values, err, readValues(want[i]))
		}
	}
}

// TestDesignationNull reads a user whose team_member.designation is null:
// it is empty, so a roster that clears it changes nothing and one that
// sets it shows it changing from empty.
func TestDesignationNull(t *testing.T) {
	users := seed(3)
	users[0].Designation = ""
	_, c := start(t, smartflotest.Config{}, users, rest.Config{})
	id := strconv.FormatInt(users[0].ID, 10)
	f := smartflo.Target.Table.Field("designation")
	rows := []model.Row{
		{N: 1, Key: id, Values: []model.Value{{Field: f, V: ""}}},
	}
	p, err := plan.Planner{Target: smartflo.Target, Reader: c}.Plan(t.Context(), rows)
	if err != nil {
		t.Fatal(err)
	}
	if it := p.Items[0]; it.Status != model.Unchanged {
		t.Errorf("clearing a null designation: %s %v, want unchanged", it.Status, it.Changes)
	}
	rows[0].Values[0].V = "Lead"
	if p, err = (plan.Planner{Target: smartflo.Target, Reader: c}).Plan(t.Context(), rows); err != nil {
		t.Fatal(err)
	}
	if it := p.Items[0]; it.Status != model.Planned || it.Changes[0].Old != "" {
		t.Errorf("setting a null designation: %s %+v, want planned from empty", it.Status, it.Changes)
	}
}

// TestPluralErrors has the fake put a 400's messages under "errors": the
// row's error still names the field and the vendor's message.
func TestPluralErrors(t *testing.T) {
	users := seed(2)
	_, c := start(t, smartflotest.Config{PluralErrors: true, StringSuccess: true}, users, rest.Config{})
	_, err := c.Patch(t.Context(), strconv.FormatInt(users[0].ID, 10), map[string]any{"email": "not-an-address"})
	if err == nil || !strings.Contains(err.Error(), "HTTP 400: The given data was invalid: email: The email field must be a valid email address.") {
		t.Errorf("Patch = %v, want the field's message", err)
	}
}

// TestDisableAgentRoundTrips plans and sends disable_agent, then plans
// again: the change lands, reads back from the list (agent.status 2, as
// assumed) and the second plan sends nothing. A disabled agent that is
// also blocked shows the list no block: the plan reads it in full and
// unblocks it when the roster says so (then nothing more). The guard
// counts a disable as a block.
func TestDisableAgentRoundTrips(t *testing.T) {
	users := seed(6)
	users[1].Blocked, users[1].Disabled = true, true // the list shows 2 for it
	fake, c := start(t, smartflotest.Config{}, users, rest.Config{})
	disable := smartflo.Target.Table.Field("disable_agent")
	block := smartflo.Target.Table.Field("block_agent")
	key := func(i int) string { return strconv.FormatInt(users[i].ID, 10) }
	rows := []model.Row{
		{N: 1, Key: key(3), Values: []model.Value{{Field: disable, V: true}}},
		{N: 2, Key: key(1), Values: []model.Value{{Field: block, V: false}}},
	}
	for round := range 2 {
		before := len(fake.Requests())
		p, err := plan.Planner{Target: smartflo.Target, Reader: c}.Plan(t.Context(), rows)
		if err != nil {
			t.Fatal(err)
		}
		var gets []string
		for _, r := range fake.Requests()[before:] {
			if strings.HasPrefix(r.Path, "/v1/user/") {
				gets = append(gets, r.Path)
			}
		}
		// Each round reads in full only the user whose list status (2,
		// disabled) hides its block.
		if want := []string{"/v1/user/" + key(1)}; !reflect.DeepEqual(gets, want) {
			t.Errorf("round %d: one-user reads %v, want %v", round+1, gets, want)
		}
		if round == 1 {
			for _, it := range p.Items {
				if it.Status != model.Unchanged {
					t.Errorf("round 2, row %d: %s %v; want unchanged", it.Row, it.Status, it.Changes)
				}
			}
			break
		}
		for _, it := range p.Items {
			if it.Status != model.Planned {
				t.Fatalf("row %d: %s %v", it.Row, it.Status, it.Err)
			}
			if _, err := c.Patch(t.Context(), it.UserID, it.Body); err != nil {
				t.Fatal(err)
			}
		}
		if !p.Items[0].Blocks() || p.Blocks() != 1 {
			t.Errorf("disabling an agent is not counted as a block (%d blocks)", p.Blocks())
		}
	}
	if u, _ := fake.User(users[3].ID); !u.Disabled || u.Blocked {
		t.Errorf("user %d: disabled %v, blocked %v after the patch; want disabled only", u.ID, u.Disabled, u.Blocked)
	}
	if u, _ := fake.User(users[1].ID); u.Blocked || !u.Disabled {
		t.Errorf("user %d: blocked %v, disabled %v; want unblocked and still disabled", u.ID, u.Blocked, u.Disabled)
	}
}

// TestLoginPasswordExpiry logs in with a password that has some days left
// under the vendor's 90-day policy: within 14 days the client warns, once
// a run however often it logs in, naming the login and never the password.
func TestLoginPasswordExpiry(t *testing.T) {
	tests := []struct {
		days int
		want string // "" = no warning
	}{
		{90, ""},
		{15, ""},
		{14, "expires in 14 days"},
		{2, "expires in 2 days"},
		{1, "expires tomorrow"},
		{-1, "expires today"}, // the fake's knob for 0 days left
	}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.days), func(t *testing.T) {
			var mu sync.Mutex
			var warnings []string
			warn := func(msg string) {
				mu.Lock()
				defer mu.Unlock()
				warnings = append(warnings, msg)
			}
			users := seed(2)
			fake, c := start(t, smartflotest.Config{PasswordDaysLeft: tt.days}, users,
				rest.Config{Login: admin, Password: adminPw, Warn: warn})
			id := strconv.FormatInt(users[0].ID, 10)
			for range 2 { // a second login, after the token expires
				if _, err := c.Get(t.Context(), id); err != nil {
					t.Fatal(err)
				}
				fake.ExpireTokens()
			}
			if tt.want == "" {
				if len(warnings) != 0 {
					t.Errorf("warnings %q, want none", warnings)
				}
				return
			}
			if len(warnings) != 1 || !strings.Contains(warnings[0], tt.want) || !strings.Contains(warnings[0], admin) ||
				strings.Contains(warnings[0], adminPw) {
				t.Errorf("warnings %q, want one saying %q for %s", warnings, tt.want, admin)
			}
		})
	}
}

// TestLoginFailedCount logs in with a wrong password: the run stops with
// the credentials rejected after one login, and the error names
// login_failed_count and says more failures lock the account.
func TestLoginFailedCount(t *testing.T) {
	users := seed(2)
	fake, c := start(t, smartflotest.Config{}, users, rest.Config{Login: admin, Password: "wrong-pw-3"})
	_, err := c.Get(t.Context(), strconv.FormatInt(users[0].ID, 10))
	if !errors.Is(err, model.ErrAuth) {
		t.Fatalf("Get = %v, want ErrAuth", err)
	}
	for _, want := range []string{"The username or password is incorrect", "login_failed_count 1", "lock the account"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "wrong-pw-3") {
		t.Errorf("the password is in the error: %v", err)
	}
	if fake.Logins() != 1 {
		t.Errorf("%d logins, want 1", fake.Logins())
	}
}
