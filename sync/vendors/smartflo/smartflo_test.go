package smartflo_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/rostersync/rostersync/ratelimit"
	"github.com/rostersync/rostersync/sync/model"
	"github.com/rostersync/rostersync/sync/vendors/rest"
	"github.com/rostersync/rostersync/sync/vendors/rest/resttest"
	"github.com/rostersync/rostersync/sync/vendors/smartflo"
	"github.com/rostersync/rostersync/sync/vendors/smartflo/smartflotest"
)

const (
	permanent = "perm-token-7f3c"
	admin     = "admin@example.com"
	adminPw   = "admin-pw-9"
)

// seed returns n users with ids that are neither contiguous nor in order,
// two roles, and every flag and CDR type in use.
func seed(n int) []smartflotest.User {
	users := make([]smartflotest.User, n)
	for i := range users {
		id := int64(300000 + (n-i)*7) // reverse order: the fake must sort
		u := smartflotest.User{
			ID: id, Name: fmt.Sprintf("User %d", i), Number: fmt.Sprintf("+9198%08d", i),
			Email: fmt.Sprintf("user%d@example.com", i), Designation: []string{"Agent", "Team lead", ""}[i%3],
			LoginID: fmt.Sprintf("user%d", i), RoleID: 54630 + int64(i%2), RoleName: []string{"Quality", "Sales"}[i%2],
			AgentID: fmt.Sprintf("05028423%05d", i), Blocked: i%5 == 0, Disabled: i%4 == 2 || i%10 == 0, WebLoginBlocked: i%3 == 0,
			LoginBasedCalling: i%2 == 0, InternationalOutbound: i%7 == 0,
		}
		if i%4 == 1 {
			u.UsersForCDR = smartflotest.CDR{Type: smartflotest.CDRAgent, Value: []string{"0502842300001", u.AgentID}}
		}
		users[i] = u
	}
	return users
}

// start serves a fake over real HTTP (httptest) and returns a client of it
// with cfg's credentials (the permanent token when cfg has none).
func start(t *testing.T, fcfg smartflotest.Config, users []smartflotest.User, cfg rest.Config) (*smartflotest.Fake, *smartflo.Client) {
	t.Helper()
	fcfg.Token, fcfg.Email, fcfg.Password, fcfg.BcryptCost = permanent, admin, adminPw, bcrypt.MinCost
	fake := smartflotest.New(fcfg, users)
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	return fake, newClient(srv, cfg)
}

func newClient(srv *httptest.Server, cfg rest.Config) *smartflo.Client {
	cfg.BaseURL, cfg.HTTP = srv.URL, srv.Client()
	if cfg.Token == "" && cfg.Login == "" {
		cfg.Token = permanent
	}
	if cfg.Policy.Attempts == 0 {
		cfg.Policy = ratelimit.Policy{Attempts: 3, Base: time.Millisecond, Max: time.Millisecond}
	}
	return smartflo.New(cfg)
}

// listValues is what the list says of u, per the field table: a disabled
// agent's status hides whether it is blocked.
func listValues(u smartflotest.User) map[string]any {
	var blocked any = u.Blocked
	if u.Disabled {
		blocked = nil
	}
	return map[string]any{
		"name":                   u.Name,
		"login_id":               u.LoginID,
		"user_role":              strconv.FormatInt(u.RoleID, 10),
		"block_agent":            blocked,
		"disable_agent":          u.Disabled,
		"login_based_calling":    u.LoginBasedCalling,
		"international_outbound": u.InternationalOutbound,
	}
}

// readValues is what the one-user read says of u, per the field table.
func readValues(u smartflotest.User) map[string]any {
	v := listValues(u)
	v["block_agent"] = u.Blocked
	v["number"] = u.Number
	v["email"] = u.Email
	v["designation"] = u.Designation
	v["block_web_login"] = u.WebLoginBlocked
	v["user_for_cdr.type"] = u.UsersForCDR.Type
	agents := []any{}
	for _, a := range u.UsersForCDR.Value {
		agents = append(agents, a)
	}
	v["user_for_cdr.value"] = agents
	return v
}

// TestListFieldsAndCursor checks what only Smartflo's list has: cursor
// paging (last_seen_id after the last id of each page, at most 100 a page)
// and where a list item holds each field. That every user is listed once,
// and fails on a short page, is the conformance suite's (vendortest).
func TestListFieldsAndCursor(t *testing.T) {
	const n = 250
	fake, c := start(t, smartflotest.Config{}, seed(n), rest.Config{})
	var got []model.User
	err := c.List(t.Context(), func(u model.User) error {
		got = append(got, u)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := fake.Users()
	if len(got) != n || len(want) != n {
		t.Fatalf("List gave %d users of %d", len(got), n)
	}
	for i, u := range got {
		w := want[i]
		if u.ID != strconv.FormatInt(w.ID, 10) || u.Full {
			t.Fatalf("user %d: id %s full %v, want id %d from the list", i, u.ID, u.Full, w.ID)
		}
		if !reflect.DeepEqual(u.Values, listValues(w)) {
			t.Errorf("user %s:\n got %v\nwant %v", u.ID, u.Values, listValues(w))
		}
	}
	// Three pages of at most 100, each after the last id of the one before.
	var queries []string
	for _, r := range fake.Requests() {
		queries = append(queries, r.Query)
	}
	wantQ := []string{
		"limit=100",
		"limit=100&last_seen_id=" + strconv.FormatInt(want[99].ID, 10),
		"limit=100&last_seen_id=" + strconv.FormatInt(want[199].ID, 10),
	}
	if !slices.Equal(queries, wantQ) {
		t.Errorf("queries = %q, want %q", queries, wantQ)
	}
}

// TestListBadPages serves malformed list answers the client must refuse
// rather than take for the full state. A page that holds fewer users than
// its count says is the conformance suite's ShortTotal case.
func TestListBadPages(t *testing.T) {
	tests := []struct {
		name string
		page string
		want string
	}{
		{"cursor stuck", `{"has_more": true, "count": 1, "last_seen_id": 0, "data": [{"id": 1}]}`, "did not advance"},
		{"no cursor", `{"has_more": true, "count": 1, "data": [{"id": 1}]}`, "did not advance"},
		{"id not a number", `{"has_more": false, "count": 1, "data": [{"id": "x1"}]}`, "numeric id"},
		{"bad field", `{"has_more": false, "count": 1, "data": [{"id": 1, "name": true}]}`, "true is not a string"},
		{"not JSON", `<html>gateway</html>`, "not the JSON expected"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls++
				if calls > 5 {
					http.Error(w, "looping", 500)
					return
				}
				_, _ = w.Write([]byte(tt.page))
			}))
			defer srv.Close()
			c := newClient(srv, rest.Config{})
			err := c.List(t.Context(), func(model.User) error { return nil })
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("List = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

// TestGetFields checks where the one-user read holds each field, for
// users covering every flag, role and CDR type (api.md's field table).
func TestGetFields(t *testing.T) {
	fake, c := start(t, smartflotest.Config{}, seed(12), rest.Config{})
	for _, w := range fake.Users() {
		t.Run(fmt.Sprint(w.ID), func(t *testing.T) {
			u, err := c.Get(t.Context(), strconv.FormatInt(w.ID, 10))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(u.Values, readValues(w)) {
				t.Errorf("\n got %v\nwant %v", u.Values, readValues(w))
			}
		})
	}
}

func TestPatch(t *testing.T) {
	users := seed(3)
	fake, c := start(t, smartflotest.Config{}, users, rest.Config{})
	id := users[0].ID
	body := map[string]any{
		"name": "Asha Rao", "email": "asha@example.com", "block_agent": false,
		"user_role": "54631", "caller_id": []any{"101", "102"},
		"user_for_cdr": map[string]any{"type": "agent", "value": []any{"0502842300009"}},
	}
	res, err := c.Patch(t.Context(), strconv.FormatInt(id, 10), body)
	if err != nil {
		t.Fatal(err)
	}
	if res.HTTPStatus != 200 || res.Attempts != 1 {
		t.Errorf("Result = %+v", res)
	}
	got, _ := fake.User(id)
	if got.Name != "Asha Rao" || got.Email != "asha@example.com" || got.Blocked || got.RoleID != 54631 ||
		!slices.Equal(got.CallerID, []string{"101", "102"}) ||
		got.UsersForCDR.Type != "agent" || !slices.Equal(got.UsersForCDR.Value, []string{"0502842300009"}) {
		t.Errorf("the fake holds %+v after the patch", got)
	}
	if other, _ := fake.User(users[1].ID); other.Name != users[1].Name {
		t.Errorf("another user changed: %+v", other)
	}
	// A read gives the new state back.
	u, err := c.Get(t.Context(), strconv.FormatInt(id, 10))
	if err != nil || u.Values["name"] != "Asha Rao" || u.Values["user_role"] != "54631" {
		t.Errorf("Get after Patch = %v, %v", u.Values, err)
	}
}

func TestPatchValidation(t *testing.T) {
	users := seed(2)
	fake, c := start(t, smartflotest.Config{}, users, rest.Config{})
	id := strconv.FormatInt(users[0].ID, 10)
	tests := []struct {
		body map[string]any
		want []string
	}{
		{map[string]any{"email": "not-an-address"}, []string{"HTTP 400", "email: The email field must be a valid email address."}},
		{map[string]any{"number": "12", "login_id": "a b"}, []string{"login_id: The login_id field must not contain spaces.", "number: The number field must be"}},
		{map[string]any{"user_role": "1"}, []string{"user_role: The selected user_role is invalid."}},
		{map[string]any{"user_for_cdr": map[string]any{"type": "agent"}}, []string{"user_for_cdr.value"}},
		{map[string]any{"designation_typo": "x"}, []string{"designation_typo: The designation_typo field is not allowed."}},
	}
	for _, tt := range tests {
		t.Run(tt.want[0], func(t *testing.T) {
			res, err := c.Patch(t.Context(), id, tt.body)
			if err == nil {
				t.Fatal("Patch succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if res.Attempts != 1 || res.HTTPStatus != 400 || errors.Is(err, model.ErrAuth) || errors.Is(err, model.ErrNotFound) {
				t.Errorf("Result = %+v, err %v: want one 400, neither auth nor not-found", res, err)
			}
		})
	}
	if got, _ := fake.User(users[0].ID); got.Email != users[0].Email || got.Number != users[0].Number ||
		got.LoginID != users[0].LoginID || got.RoleID != users[0].RoleID || got.UsersForCDR.Type != "all" {
		t.Errorf("a rejected patch changed the user: %+v", got)
	}
}

// TestRenewalRefreshesThenLogsIn checks how Smartflo renews an expired
// login token, on a read (401 "Token has expired") and on a write (200
// with success false): a refresh, not a login; and when the refresh is
// refused, one login. The conformance suite checks that the renewal
// happens once; which call it takes is Smartflo's own.
func TestRenewalRefreshesThenLogsIn(t *testing.T) {
	users := seed(3)
	id := strconv.FormatInt(users[0].ID, 10)
	const ttl = 5 * time.Minute
	for _, refused := range []bool{false, true} {
		for _, op := range []string{"Get", "Patch"} {
			name := op
			if refused {
				name += " refresh refused"
			}
			t.Run(name, func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					fake := smartflotest.New(smartflotest.Config{Token: permanent, Email: admin, Password: adminPw,
						TokenTTL: ttl, BcryptCost: bcrypt.MinCost}, users)
					var refusals atomic.Int32
					srv := resttest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
						if refused && r.URL.Path == "/v1/auth/refresh" {
							refusals.Add(1)
							w.WriteHeader(http.StatusUnauthorized)
							_, _ = w.Write([]byte(`{"success": false, "message": "Unauthenticated"}`))
							return
						}
						fake.ServeHTTP(w, r)
					}))
					defer srv.Close()
					c := newClient(srv, rest.Config{Login: admin, Password: adminPw})
					if _, err := c.Get(t.Context(), id); err != nil {
						t.Fatal(err)
					}
					time.Sleep(ttl + time.Second)
					var err error
					if op == "Get" {
						_, err = c.Get(t.Context(), id)
					} else {
						_, err = c.Patch(t.Context(), id, map[string]any{"name": "Renewed"})
					}
					if err != nil {
						t.Fatalf("%s after expiry: %v", op, err)
					}
					refreshes, logins := fake.Refreshes()+int(refusals.Load()), fake.Logins()
					if wantLogins := 1 + btoi(refused); refreshes != 1 || logins != wantLogins {
						t.Errorf("%d refreshes and %d logins, want 1 and %d", refreshes, logins, wantLogins)
					}
					if u, _ := fake.User(users[0].ID); op == "Patch" && u.Name != "Renewed" {
						t.Errorf("name %q after the renewed patch", u.Name)
					}
				})
			})
		}
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestCheck(t *testing.T) {
	// The fake clock of a synctest bubble starts at 2000-01-01 00:00 UTC,
	// which is 05:30 in India.
	start := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		status  int
		header  http.Header
		body    string
		ok      bool
		expired bool
		denied  bool
		missing bool
		message string
		retry   time.Time
	}{
		{name: "success", status: 200, body: `{"success": true, "message": "User updated successfully"}`, ok: true},
		{name: "read without success", status: 200, body: `{"data": {"id": "1"}}`, ok: true},
		{name: "empty 204", status: 204, body: ``, ok: true},
		{name: "200 success false", status: 200, body: `{"success": false, "message": "Could not update"}`, message: "Could not update"},
		{name: "200 token expired", status: 200, body: `{"success": false, "message": "Token has expired"}`, expired: true, message: "Token has expired"},
		// The vendor's documentation writes success as a string.
		{name: "200 success \"false\"", status: 200, body: `{"success": "false", "message": "Could not update"}`, message: "Could not update"},
		{name: "200 success \"FALSE\"", status: 200, body: `{"success":" FALSE ","message":"Could not update"}`, message: "Could not update"},
		{name: "200 success 0", status: 200, body: `{"success": 0, "message": "Could not update"}`, message: "Could not update"},
		{name: "200 success \"0\"", status: 200, body: `{"success": "0"}`},
		{name: "200 success \"false\", token expired", status: 200, body: `{"success": "false", "message": "Token has expired"}`, expired: true, message: "Token has expired"},
		{name: "200 success \"true\"", status: 200, body: `{"success": "true", "message": "User updated successfully"}`, ok: true},
		{name: "200 success 1", status: 200, body: `{"success": 1}`, ok: true},
		{name: "200 success null", status: 200, body: `{"success": null, "data": {"id": "1"}}`, ok: true},
		{name: "200 success \"yes\"", status: 200, body: `{"success": "yes"}`, ok: true},
		{name: "429 as documented", status: 429, body: `{"success": "false", "message": "Too many requests."}`, message: "Too many requests."},
		{name: "401 token expired", status: 401, body: `{"success": false, "message": "Token has expired"}`, expired: true, message: "Token has expired"},
		{name: "401 unauthenticated", status: 401, body: `{"success": false, "message": "Unauthenticated"}`, denied: true, message: "Unauthenticated"},
		{name: "401 bad credentials", status: 401, body: `{"success": false, "message": "Invalid credentials"}`, denied: true, message: "Invalid credentials"},
		{name: "403", status: 403, body: `{"success": false, "message": "Forbidden"}`, denied: true, message: "Forbidden"},
		{name: "404", status: 404, body: `{"success": false, "message": "User not found"}`, missing: true, message: "User not found"},
		{name: "400 fields", status: 400,
			body:    `{"success": false, "message": "The given data was invalid.", "error": {"name": ["The name field must not be empty."], "email": ["The email field must be a valid email address."]}}`,
			message: "The given data was invalid: email: The email field must be a valid email address.; name: The name field must not be empty."},
		{name: "400 field as a string", status: 400, body: `{"success": false, "message": "Bad", "error": {"number": "too short", "x": 5}}`,
			message: "Bad: number: too short"},
		// Public PHP code reads "errors" (api.md, "What public sources add").
		{name: "400 errors", status: 400,
			body:    `{"success": "false", "message": "The given data was invalid.", "errors": {"email": ["The email field must be a valid email address."]}}`,
			message: "The given data was invalid: email: The email field must be a valid email address."},
		{name: "400 error and errors", status: 400,
			body:    `{"success": false, "message": "Bad.", "error": {"name": "empty"}, "errors": [{"name": ["too long"]}, "see the docs"]}`,
			message: "Bad: name: empty too long; see the docs"},
		{name: "400 error as a string", status: 400, body: `{"success": false, "message": "Bad.", "error": "no such role"}`,
			message: "Bad: no such role"},
		// The documented failed login (api.md, "What public sources add": "Login").
		{name: "401 failed login", status: 401,
			body:   `{"success": false, "message": "The username or password is incorrect.", "login_failed_count": 2}`,
			denied: true,
			message: "The username or password is incorrect. (login_failed_count 2: more failed logins lock the account; " +
				"rostersync does not log in again, so check ROSTERSYNC_LOGIN and ROSTERSYNC_PASSWORD before the next run)"},
		{name: "429 header only", status: 429, header: http.Header{"Retry-After": {"3"}}, body: `{"success": false, "message": "Too Many Requests"}`,
			message: "Too Many Requests", retry: start.Add(3 * time.Second)},
		{name: "429 body later than header", status: 429, header: http.Header{"Retry-After": {"3"}},
			body:    `{"success": false, "message": "Too Many Requests", "retry_after": "2000-01-01 05:30:10"}`,
			message: "Too Many Requests", retry: start.Add(10 * time.Second)},
		{name: "429 header later than body", status: 429, header: http.Header{"Retry-After": {"30"}},
			body:    `{"success": false, "message": "Too Many Requests", "retry_after": "2000-01-01 05:30:10"}`,
			message: "Too Many Requests", retry: start.Add(30 * time.Second)},
		{name: "429 body only", status: 429, body: `{"success": false, "retry_after": "2000-01-01 06:00:00"}`,
			retry: start.Add(30 * time.Minute)},
		{name: "429 unreadable body date", status: 429, body: `{"success": false, "retry_after": "soon"}`},
		{name: "503 html", status: 503, header: http.Header{"Retry-After": {"1"}}, body: "<html>\n<h1>503 Service Unavailable</h1></html>",
			message: "<html> <h1>503 Service Unavailable</h1></html>", retry: start.Add(time.Second)},
		{name: "500 empty", status: 500, body: ``},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := smartflo.Check(tt.status, tt.header, []byte(tt.body))
				if tt.ok {
					if e != nil {
						t.Fatalf("Check = %v, want success", e)
					}
					return
				}
				if e == nil {
					t.Fatal("Check = nil, want a failure")
				}
				if e.Status != tt.status || e.Expired != tt.expired || e.Denied != tt.denied || e.Missing != tt.missing {
					t.Errorf("Check = %+v, want status %d expired %v denied %v missing %v", e, tt.status, tt.expired, tt.denied, tt.missing)
				}
				if e.Message != tt.message {
					t.Errorf("Message = %q, want %q", e.Message, tt.message)
				}
				if !e.Retry.Equal(tt.retry) {
					t.Errorf("Retry = %v, want %v", e.Retry, tt.retry)
				}
				if errors.Is(e, model.ErrAuth) != tt.denied || errors.Is(e, model.ErrNotFound) != tt.missing {
					t.Errorf("errors.Is on %v disagrees with the flags", e)
				}
			})
		})
	}
}

// FuzzSmartfloCheck feeds Check arbitrary answers: it must never panic, and
// every HTTP error status must be a failure.
func FuzzSmartfloCheck(f *testing.F) {
	f.Add(200, "", []byte(`{"success": true}`))
	f.Add(200, "", []byte(`{"success": false, "message": "Token has expired"}`))
	f.Add(200, "", []byte(`{"success": "false", "message": "Token has expired"}`)) // as the vendor's docs write it
	f.Add(200, "", []byte(`{"success": "False", "message": "Could not update"}`))
	f.Add(200, "", []byte(`{"success": 0}`))
	f.Add(429, "", []byte(`{"success": "false", "message": "Too many requests."}`)) // the documented 429
	f.Add(400, "", []byte(`{"success": false, "message": "The given data was invalid.", "error": {"email": ["bad"]}}`))
	f.Add(400, "", []byte(`{"success": "false", "message": "The given data was invalid.", "errors": {"email": ["bad"]}}`)) // as PHP code reads it
	f.Add(400, "", []byte(`{"errors": [[["deep"]], {"a": 1}, 7], "error": "text"}`))
	// The documented login answers (api.md, "What public sources add": "Login").
	f.Add(401, "", []byte(`{"success": false, "message": "The username or password is incorrect.", "login_failed_count": 1}`))
	f.Add(200, "", []byte(`{"success": false, "message": "Invalid credentials", "login_failed_count": "3"}`))
	f.Add(200, "", []byte(`{"success": true, "access_token": "eyJ0", "token_type": "bearer", "expires_in": 3600, "number_of_days_left": 12}`))
	f.Add(401, "", []byte(`{"login_failed_count": 1e999}`))
	f.Add(429, "5", []byte(`{"success": false, "retry_after": "2026-01-02 03:04:05"}`))
	f.Add(429, "Wed, 21 Oct 2015 07:28:00 GMT", []byte(`{"retry_after": 5}`))
	f.Add(503, "-1", []byte("<html>down</html>"))
	f.Add(200, "", []byte(`{"success": "yes", "error": [1, 2]}`))
	f.Add(401, "", []byte(`null`))
	f.Add(404, "", []byte{0xff, 0xfe})
	f.Fuzz(func(t *testing.T, status int, retryAfter string, body []byte) {
		if status < 100 || status > 999 {
			return
		}
		h := http.Header{}
		if retryAfter != "" {
			h.Set("Retry-After", retryAfter)
		}
		e := smartflo.Check(status, h, body)
		if status >= 400 && e == nil {
			t.Fatalf("Check(%d, %q) = nil, want a failure", status, body)
		}
		if status < 300 && e == nil && resttest.SaysFailed(body) {
			t.Fatalf("Check(%d, %q) = nil, but its success says the call failed", status, body)
		}
		if e == nil {
			return
		}
		if e.Expired && e.Denied {
			t.Errorf("Check(%d, %q) says both expired and denied", status, body)
		}
		if e.Missing != (status == smartflo.NotFoundStatus) {
			t.Errorf("Check(%d) Missing = %v", status, e.Missing)
		}
		_ = e.Error()
	})
}

// FuzzUserFrom decodes arbitrary JSON objects as the one-user read and as
// a list item: never a panic, and every value in canonical form.
func FuzzUserFrom(f *testing.F) {
	for _, u := range seed(6) {
		fake := smartflotest.New(smartflotest.Config{Token: permanent}, []smartflotest.User{u})
		srv := httptest.NewServer(fake)
		for _, path := range []string{"/v1/users", fmt.Sprintf("/v1/user/%d", u.ID)} {
			req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
			req.Header.Set("Authorization", "Bearer "+permanent)
			resp, err := srv.Client().Do(req)
			if err != nil {
				f.Fatal(err)
			}
			var buf bytes.Buffer
			_, _ = buf.ReadFrom(resp.Body)
			resp.Body.Close()
			var env struct {
				Data json.RawMessage `json:"data"`
			}
			_ = json.Unmarshal(buf.Bytes(), &env)
			if env.Data[0] == '[' {
				var items []json.RawMessage
				_ = json.Unmarshal(env.Data, &items)
				env.Data = items[0]
			}
			f.Add([]byte(env.Data))
		}
		srv.Close()
	}
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"name": null, "team_member": {"status": "0", "role": {"id": 1.5}}, "agent": []}`))
	f.Add([]byte(`{"agent": {"status": 1e400}, "user_role": {"id": "x"}, "team_member": {"users_for_cdr": {"type": "agent", "value": [null]}}}`))
	f.Add([]byte(`{"team_member": {"email": "A <a@b.c>", "users_for_cdr": {"type": "none", "value": "a|b"}}}`))
	// What public sources add (api.md): ids and role ids as strings or
	// numbers, a null designation, a disabled agent's status.
	f.Add([]byte(`{"id": 314678, "team_member": {"designation": null, "status": 1, "role": {"id": "54630"}}, "agent": {"agent_status": 2}}`))
	f.Add([]byte(`{"id": "314678", "user_role": {"id": 54630}, "user_status": 1, "extension": null, "agent": {"status": 2}}`))
	f.Add([]byte(`{"agent": {"status": "2", "agent_status": " 1 "}, "team_member": {"status": "0"}}`))
	table := smartflo.Target.Table
	f.Fuzz(func(t *testing.T, data []byte) {
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		var doc map[string]any
		if dec.Decode(&doc) != nil || doc == nil {
			return
		}
		for _, full := range []bool{true, false} {
			build := table.UserFromList
			if full {
				build = table.UserFromRead
			}
			u, err := build("7", doc)
			if err != nil {
				continue
			}
			if u.ID != "7" || u.Full != full {
				t.Errorf("user %+v", u)
			}
			for name, v := range u.Values {
				field := table.Field(name)
				if field == nil {
					t.Fatalf("value for unknown field %q", name)
				}
				if !resttest.Canonical(v) {
					t.Errorf("%s = %#v is not canonical", name, v)
				}
				_ = field.Kind.Format(v)
				if _, err := json.Marshal(field.Kind.Encode(v)); err != nil {
					t.Errorf("%s: %v", name, err)
				}
				if !field.Kind.Equal(v, v) {
					t.Errorf("%s = %#v is not equal to itself", name, v)
				}
			}
		}
	})
}

// TestFailureShapedUnlikeASuccess: a failure whose body is not shaped like
// the success it answers (an expiry with "data": {} where a list has an
// array) is still read as the vendor's error, so an expired token is
// renewed rather than the answer called malformed.
func TestFailureShapedUnlikeASuccess(t *testing.T) {
	t.Parallel()
	var lists, logins atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/v1/auth/login":
			fmt.Fprintf(w, `{"success":true,"access_token":"tok%d","expires_in":3600}`, logins.Add(1))
		case r.URL.Path != "/v1/users": // a refresh: refused, so the client logs in
			fmt.Fprint(w, `{"success":false,"message":"Token has expired"}`)
		case lists.Add(1) > 1 && r.Header.Get("Authorization") != "Bearer tok2": // the first token expires after one list
			fmt.Fprint(w, `{"success":false,"message":"Token has expired","data":{}}`)
		default:
			fmt.Fprint(w, `{"success":true,"count":1,"data":[{"id":1,"name":"Asha"}],"has_more":false}`)
		}
	}))
	defer srv.Close()
	c := newClient(srv, rest.Config{Login: admin, Password: adminPw})
	for i := range 2 {
		var names []any
		err := c.List(t.Context(), func(u model.User) error { names = append(names, u.Values["name"]); return nil })
		if err != nil || len(names) != 1 || names[0] != "Asha" {
			t.Fatalf("list %d = %v, names %v; want Asha", i+1, err, names)
		}
	}
	if logins.Load() != 2 || lists.Load() != 3 {
		t.Errorf("%d logins and %d list requests; want the expiry renewed: 2 logins, 3 lists", logins.Load(), lists.Load())
	}

	// With a fixed token there is no renewal: the error is the vendor's.
	c = newClient(srv, rest.Config{Token: "stale"})
	err := c.List(t.Context(), func(model.User) error { return nil })
	var apiErr *rest.Error
	if !errors.As(err, &apiErr) || !apiErr.Expired {
		t.Fatalf("List with a fixed token = %v; want the API's expiry", err)
	}
}
