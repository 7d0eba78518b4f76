package dnl_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/rostersync/rostersync/ratelimit"
	"github.com/rostersync/rostersync/sync/model"
	"github.com/rostersync/rostersync/sync/plan"
	"github.com/rostersync/rostersync/sync/vendors/dnl"
	"github.com/rostersync/rostersync/sync/vendors/dnl/dnltest"
	"github.com/rostersync/rostersync/sync/vendors/rest"
	"github.com/rostersync/rostersync/sync/vendors/rest/resttest"
)

const (
	adminTok = "dnl-admin-token-41"
	agentTok = "dnl-agent-token-42"
	admin    = "admin"
	adminPw  = "admin-pw-8"
)

// oldHash is a bcrypt hash of "old-pw" in the vendor's "$2b$" form.
var oldHash = func() string {
	h, err := bcrypt.GenerateFromPassword([]byte("old-pw"), bcrypt.MinCost)
	if err != nil {
		panic(err)
	}
	return "$2b$" + strings.TrimPrefix(string(h), "$2a$")
}()

func ptr[T any](v T) *T { return &v }

// seed returns n users covering null and set values of every field kind.
func seed(n int) []dnltest.User {
	users := make([]dnltest.User, n)
	for i := range users {
		u := dnltest.User{
			UserID: int64(10 + i*3), Passwd: oldHash, UserType: []string{"admin", "agent", "client"}[i%3],
			Active: i%4 != 0, Name: fmt.Sprintf("user%d", i), FirstName: fmt.Sprintf("First%d", i),
			Email: fmt.Sprintf("user%d@carrier.example", i), DefaultMod: "cdr", LandingPage: "/home",
			OutboundReport: i%2 == 0, AllTermination: i%3 == 0, ReportGroup: i%5 == 0,
			ShowCarrierTrunkDropOnly: i%6 == 0, ReportFields: "a,b",
			CreateTime: "2024-01-02T03:04:05Z", CreateUserID: 1,
		}
		if i%2 == 1 {
			u.LastName = ptr(fmt.Sprintf("Last%d", i))
			u.RoleID = ptr(int64(i % 7))
			u.ClientID = ptr(int64(100 + i))
			u.ClientLimits = []dnltest.ClientLimit{{ClientID: 5}, {ClientID: int64(i)}}
			u.AuthIP = []dnltest.AuthIP{{IP: "192.0.2.1"}, {IP: fmt.Sprintf("10.0.%d.%d", i/250, i%250)}}
			u.Client = &dnltest.Client{CarrierName: fmt.Sprintf("Carrier %d", i), IsPanelTrunks: true, IsPanelaccess: i%3 == 0}
		}
		if i%10 == 3 {
			u.Passwd = "" // no password set
		}
		users[i] = u
	}
	return users
}

// values is what a read says of u, per the field table (list and one-user
// read alike).
func values(u dnltest.User) map[string]any {
	optInt := func(p *int64) any {
		if p == nil {
			return nil
		}
		return *p
	}
	optStr := func(p *string) any {
		if p == nil {
			return ""
		}
		return *p
	}
	limits, ips := []any{}, []any{}
	for _, l := range u.ClientLimits {
		limits = append(limits, l.ClientID)
	}
	for _, ip := range u.AuthIP {
		ips = append(ips, ip.IP)
	}
	v := map[string]any{
		"passwd": u.Passwd, "user_type": u.UserType, "default_mod": u.DefaultMod,
		"reseller_id": optInt(u.ResellerID), "outbound_report": u.OutboundReport, "client_limits": limits,
		"last_name": optStr(u.LastName), "role_id": optInt(u.RoleID), "all_termination": u.AllTermination,
		"auth_ip": ips, "landing_page": u.LandingPage, "first_name": u.FirstName, "active": u.Active,
		"client_id": optInt(u.ClientID), "default_mod2": u.DefaultMod2, "avatar_id": optInt(u.AvatarID),
		"report_group": u.ReportGroup, "card_id": optInt(u.CardID),
		"show_carrier_trunk_drop_only": u.ShowCarrierTrunkDropOnly, "name": u.Name,
		"report_fields": u.ReportFields, "email": u.Email,
	}
	panels := map[string]func(*dnltest.Client) bool{
		"ratetable":      func(c *dnltest.Client) bool { return c.IsPanelRatetable },
		"invoices":       func(c *dnltest.Client) bool { return c.IsPanelInvoices },
		"products":       func(c *dnltest.Client) bool { return c.IsPanelProducts },
		"paymenthistory": func(c *dnltest.Client) bool { return c.IsPanelPaymenthistory },
		"trunks":         func(c *dnltest.Client) bool { return c.IsPanelTrunks },
		"balance":        func(c *dnltest.Client) bool { return c.IsPanelBalance },
		"onlinepayment":  func(c *dnltest.Client) bool { return c.IsPanelOnlinepayment },
		"cid_blocking":   func(c *dnltest.Client) bool { return c.IsPanelCidBlocking },
		"sippacket":      func(c *dnltest.Client) bool { return c.IsPanelSippacket },
		"accountsummary": func(c *dnltest.Client) bool { return c.IsPanelAccountsummary },
		"summaryreport":  func(c *dnltest.Client) bool { return c.IsPanelSummaryreport },
		"cdrslist":       func(c *dnltest.Client) bool { return c.IsPanelCdrslist },
	}
	v["client.carrier_name"] = ""
	v["client.is_panelaccess"] = nil
	for name, get := range panels {
		v["client.is_panel_"+name] = nil
		if u.Client != nil {
			v["client.is_panel_"+name] = get(u.Client)
		}
	}
	if u.Client != nil {
		v["client.carrier_name"] = u.Client.CarrierName
		v["client.is_panelaccess"] = u.Client.IsPanelaccess
	}
	return v
}

func start(t *testing.T, fcfg dnltest.Config, users []dnltest.User, cfg rest.Config) (*dnltest.Fake, *dnl.Client) {
	t.Helper()
	fcfg.Token, fcfg.AgentToken, fcfg.Admin, fcfg.Password, fcfg.BcryptCost = adminTok, agentTok, admin, adminPw, bcrypt.MinCost
	fake := dnltest.New(fcfg, users)
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	return fake, newClient(srv, cfg)
}

func newClient(srv *httptest.Server, cfg rest.Config) *dnl.Client {
	cfg.BaseURL, cfg.HTTP = srv.URL, srv.Client()
	if cfg.Token == "" && cfg.Login == "" {
		cfg.Token = adminTok
	}
	if cfg.Policy.Attempts == 0 {
		cfg.Policy = ratelimit.Policy{Attempts: 3, Base: time.Millisecond, Max: time.Millisecond}
	}
	return dnl.New(cfg)
}

// TestListFieldsAndPages checks what only DNL's list has: offset pages of
// 1000 counted from 0, and the USER object read as the field table says.
// That every user is listed once, and a short total fails, is the
// conformance suite's (vendortest).
func TestListFieldsAndPages(t *testing.T) {
	n := dnl.MaxPerPage + 203
	fake, c := start(t, dnltest.Config{}, seed(n), rest.Config{})
	var got []model.User
	if err := c.List(t.Context(), func(u model.User) error { got = append(got, u); return nil }); err != nil {
		t.Fatal(err)
	}
	want := fake.Users()
	if len(got) != n {
		t.Fatalf("List gave %d users of %d", len(got), n)
	}
	for i, u := range got {
		if u.ID != strconv.FormatInt(want[i].UserID, 10) || u.Full {
			t.Fatalf("user %d: id %s full %v, want %d from the list", i, u.ID, u.Full, want[i].UserID)
		}
		if !reflect.DeepEqual(u.Values, values(want[i])) {
			t.Fatalf("user %s:\n got %v\nwant %v", u.ID, u.Values, values(want[i]))
		}
	}
	var queries []string
	for _, r := range fake.Requests() {
		queries = append(queries, r.Query)
	}
	wantQ := []string{"order_by=user_id&order_dir=asc&page=0&per_page=1000", "order_by=user_id&order_dir=asc&page=1&per_page=1000"}
	if !slices.Equal(queries, wantQ) {
		t.Errorf("queries = %q, want %q", queries, wantQ)
	}
}

// inFlight is a transport that counts the requests in flight, each held
// a moment, and the most at once.
type inFlight struct {
	next     http.RoundTripper
	mu       sync.Mutex
	now, max int
}

func (f *inFlight) RoundTrip(r *http.Request) (*http.Response, error) {
	f.mu.Lock()
	f.now++
	f.max = max(f.max, f.now)
	f.mu.Unlock()
	time.Sleep(20 * time.Millisecond)
	defer func() {
		f.mu.Lock()
		f.now--
		f.mu.Unlock()
	}()
	return f.next.RoundTrip(r)
}

// TestListPagesAtOnce lists 5,500 users, whose first page tells the total:
// the other five pages are asked for at once, up to the workers, and read
// in order, every user once, with the count checked as ever.
func TestListPagesAtOnce(t *testing.T) {
	t.Parallel()
	const n = 5*dnl.MaxPerPage + 500
	fake := dnltest.New(dnltest.Config{Token: adminTok}, dnltest.Generate(n))
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	for _, workers := range []int{1, 4} {
		flight := &inFlight{next: srv.Client().Transport}
		c := dnl.New(rest.Config{BaseURL: srv.URL, HTTP: &http.Client{Transport: flight}, Token: adminTok, Workers: workers})
		var ids []string
		if err := c.List(t.Context(), func(u model.User) error { ids = append(ids, u.ID); return nil }); err != nil {
			t.Fatal(err)
		}
		if len(ids) != n || ids[0] != "1" || ids[n-1] != strconv.Itoa(n) || !slices.IsSortedFunc(ids, func(a, b string) int {
			x, _ := strconv.Atoi(a)
			y, _ := strconv.Atoi(b)
			return x - y
		}) {
			t.Errorf("%d workers: listed %d users, not 1 to %d in order", workers, len(ids), n)
		}
		if want := min(workers, 5); flight.max != want {
			t.Errorf("%d workers: %d pages in flight at most, want %d", workers, flight.max, want)
		}
	}
	// A listing that ends short of its total still fails, pages at once
	// or not.
	short := dnltest.New(dnltest.Config{Token: adminTok, ShortLists: true}, dnltest.Generate(n))
	ssrv := httptest.NewServer(short)
	t.Cleanup(ssrv.Close)
	c := dnl.New(rest.Config{BaseURL: ssrv.URL, HTTP: ssrv.Client(), Token: adminTok, Workers: 4})
	if err := c.List(t.Context(), func(model.User) error { return nil }); err == nil {
		t.Error("a listing short of its total was taken")
	}
}

// TestListBadPages serves list answers that disagree with their own total
// or are malformed: the client must fail, never take a partial state. A
// listing that ends before its total is the conformance suite's
// ShortTotal case.
func TestListBadPages(t *testing.T) {
	tests := []struct {
		name  string
		pages []string
		want  string
	}{
		{"more than the total", []string{
			`{"success": true, "payload": {"total": 1, "page": 0, "per_page": 1000, "items": [{"user_id": 1}, {"user_id": 2}]}}`,
		}, "total of 1"},
		{"id not a number", []string{
			`{"success": true, "payload": {"total": 1, "items": [{"user_id": "1"}]}}`,
		}, "numeric user_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if calls >= len(tt.pages) {
					http.Error(w, "no such page", 500)
					return
				}
				_, _ = w.Write([]byte(tt.pages[calls]))
				calls++
			}))
			defer srv.Close()
			err := newClient(srv, rest.Config{}).List(t.Context(), func(model.User) error { return nil })
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("List = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

// TestGetFields checks the one-user read of users covering null and set
// values of every field kind, against the field table.
func TestGetFields(t *testing.T) {
	fake, c := start(t, dnltest.Config{}, seed(12), rest.Config{})
	for _, w := range fake.Users() {
		t.Run(fmt.Sprint(w.UserID), func(t *testing.T) {
			u, err := c.Get(t.Context(), strconv.FormatInt(w.UserID, 10))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(u.Values, values(w)) {
				t.Errorf("\n got %v\nwant %v", u.Values, values(w))
			}
		})
	}
}

func TestPatch(t *testing.T) {
	users := seed(3)
	fake, c := start(t, dnltest.Config{}, users, rest.Config{})
	id := users[0].UserID
	body := map[string]any{
		"email": "new@carrier.example", "active": false, "role_id": int64(4), "last_name": "Dubois",
		"auth_ip": []any{map[string]any{"ip": "10.0.0.1"}}, "client_limits": []any{map[string]any{"client_id": int64(9)}},
		"client": map[string]any{"is_panel_trunks": true, "carrier_name": "Acme"},
		"passwd": "brand-new-pw",
	}
	res, err := c.Patch(t.Context(), strconv.FormatInt(id, 10), body)
	if err != nil {
		t.Fatal(err)
	}
	if res.HTTPStatus != 200 || res.Attempts != 1 {
		t.Errorf("Result = %+v", res)
	}
	u, _ := fake.User(id)
	if u.Email != "new@carrier.example" || u.Active || u.RoleID == nil || *u.RoleID != 4 || u.LastName == nil || *u.LastName != "Dubois" ||
		len(u.AuthIP) != 1 || u.AuthIP[0].IP != "10.0.0.1" || len(u.ClientLimits) != 1 || u.ClientLimits[0].ClientID != 9 ||
		u.Client == nil || !u.Client.IsPanelTrunks || u.Client.CarrierName != "Acme" {
		t.Errorf("the fake holds %+v after the patch", u)
	}
	if bcrypt.CompareHashAndPassword([]byte(u.Passwd), []byte("brand-new-pw")) != nil {
		t.Errorf("passwd %q is not a hash of the new password", u.Passwd)
	}
	got, err := c.Get(t.Context(), strconv.FormatInt(id, 10))
	if err != nil || !reflect.DeepEqual(got.Values, values(u)) {
		t.Errorf("Get after Patch = %v, %v", got.Values, err)
	}
}

func TestPatchValidation(t *testing.T) {
	users := seed(2)
	fake, c := start(t, dnltest.Config{}, users, rest.Config{})
	id := strconv.FormatInt(users[0].UserID, 10)
	tests := []struct {
		body map[string]any
		want []string
	}{
		{map[string]any{"email": "not-an-address"}, []string{"HTTP 400", "validation_error", "email: Not a valid email address."}},
		{map[string]any{"active": "maybe", "user_type": "boss"}, []string{"active: Not a valid boolean.", "user_type: Must be one of: admin, agent, client."}},
		{map[string]any{"auth_ip": []any{map[string]any{"addr": "x"}}}, []string{"auth_ip.0.addr: Unknown field.", "auth_ip.0.ip: Missing data for required field."}},
		{map[string]any{}, []string{"HTTP 400"}},
	}
	for _, tt := range tests {
		t.Run(tt.want[len(tt.want)-1], func(t *testing.T) {
			res, err := c.Patch(t.Context(), id, tt.body)
			if err == nil {
				t.Fatal("Patch succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if res.Attempts != 1 || res.HTTPStatus != 400 || errors.Is(err, model.ErrAuth) {
				t.Errorf("Result = %+v, err %v: want one 400, not an auth failure", res, err)
			}
		})
	}
	if got, _ := fake.User(users[0].UserID); !reflect.DeepEqual(values(got), values(users[0])) {
		t.Errorf("a rejected patch changed the user: %+v", got)
	}
}

// TestAgentToken checks DNL's non-admin token: it may read, and a PATCH
// with it is refused (403) as rejected credentials, from one request and
// with the token kept out of the error. Rejected and expired tokens are
// the conformance suite's.
func TestAgentToken(t *testing.T) {
	users := seed(2)
	id := strconv.FormatInt(users[0].UserID, 10)
	fake, c := start(t, dnltest.Config{}, users, rest.Config{Token: agentTok})
	if _, err := c.Get(t.Context(), id); err != nil {
		t.Errorf("Get with the agent token: %v", err)
	}
	res, err := c.Patch(t.Context(), id, map[string]any{"name": "x"})
	if !errors.Is(err, model.ErrAuth) || res.HTTPStatus != dnl.ForbiddenStatus || res.Attempts != 1 {
		t.Errorf("Patch with the agent token = %+v, %v; want ErrAuth from one 403", res, err)
	}
	if err != nil && strings.Contains(err.Error(), agentTok) {
		t.Errorf("the token is in the error: %v", err)
	}
	if u, _ := fake.User(users[0].UserID); u.Name != users[0].Name || fake.Logins() != 0 {
		t.Errorf("name %q after a refused patch, %d logins", u.Name, fake.Logins())
	}
}

func TestCheck(t *testing.T) {
	start := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC) // a synctest bubble's clock
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
		{name: "success", status: 200, body: `{"success": true, "payload": {"user_id": 1}}`, ok: true},
		{name: "200 success false", status: 200, body: `{"success": false, "error_type": "server_error"}`, message: "server_error"},
		{name: "200 success \"false\"", status: 200, body: `{"success": "false", "error_type": "server_error"}`, message: "server_error"},
		{name: "200 success \"False\"", status: 200, body: `{"success": "False", "payload": {"user_id": 1}}`},
		{name: "200 success 0", status: 200, body: `{"success": 0, "error_type": "server_error"}`, message: "server_error"},
		{name: "200 success \"true\"", status: 200, body: `{"success": "true", "payload": {"user_id": 1}}`, ok: true},
		{name: "200 success null", status: 200, body: `{"success": null, "payload": {"user_id": 1}}`, ok: true},
		{name: "401 no header", status: 401,
			body:    `{"success": false, "error_type": "unauthenticated_error", "error": {"message": "No header X-Auth-Token present", "code": 110, "reason": "auth_token_not_provided"}}`,
			expired: true, denied: true, message: "unauthenticated_error: No header X-Auth-Token present"},
		{name: "401 bad token", status: 401,
			body:    `{"success": false, "error_type": "unauthenticated_error", "error": {"message": "Token is invalid or expired", "code": 111}}`,
			expired: true, denied: true, message: "unauthenticated_error: Token is invalid or expired"},
		// The vendor cookbook's 401 (api.md, "What public sources add", DNL: "Auth").
		{name: "401 operation_error", status: 401,
			body:    `{"success": false, "error_type": "operation_error", "error": {"message": "Token is invalid or expired", "code": 111, "reason": "auth_token_invalid"}}`,
			expired: true, denied: true, message: "operation_error: Token is invalid or expired"},
		{name: "401 operation_error, no detail", status: 401, body: `{"success": false, "error_type": "operation_error"}`,
			expired: true, denied: true, message: "operation_error"},
		{name: "403", status: 403, body: `{"success": false, "error_type": "forbidden_error", "error": {"message": "Only admin can edit users"}}`,
			denied: true, message: "forbidden_error: Only admin can edit users"},
		{name: "404", status: 404, body: `{"success": false, "error_type": "Object not found error"}`,
			missing: true, message: "Object not found error"},
		{name: "400", status: 400,
			body:    `{"success": false, "error_type": "validation_error", "errors": [{"email": ["Not a valid email address."]}, {"active": ["Not a valid boolean."]}, {"email": ["Too long."]}]}`,
			message: "validation_error: active: Not a valid boolean.; email: Not a valid email address. Too long."},
		{name: "429", status: 429, header: http.Header{"Retry-After": {"4"}}, body: `{"success": false, "error_type": "rate_limit_error"}`,
			message: "rate_limit_error", retry: start.Add(4 * time.Second)},
		{name: "503 proxy page", status: 503, body: "<html><body>\n502 Bad Gateway\n</body></html>",
			message: "<html><body> 502 Bad Gateway </body></html>"},
		{name: "500 empty", status: 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := dnl.Check(tt.status, tt.header, []byte(tt.body))
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
					t.Errorf("Check = %+v, want expired %v denied %v missing %v", e, tt.expired, tt.denied, tt.missing)
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

// FuzzDNLCheck feeds Check arbitrary answers: never a panic, and every
// HTTP error status is a failure.
func FuzzDNLCheck(f *testing.F) {
	f.Add(200, "", []byte(`{"success": true, "payload": {}}`))
	f.Add(400, "", []byte(`{"success": false, "error_type": "validation_error", "errors": [{"email": ["bad"]}]}`))
	f.Add(400, "", []byte(`{"errors": [{"email": "not a list"}], "error": "a string"}`))
	f.Add(401, "", []byte(`{"success": false, "error": {"message": "No header X-Auth-Token present", "code": 110}}`))
	// The vendor cookbook's auth answers (api.md, "What public sources add", DNL: "Auth").
	f.Add(401, "", []byte(`{"success": false, "error_type": "operation_error", "error": {"message": "Invalid credentials", "reason": "invalid_credentials"}}`))
	f.Add(401, "", []byte(`{"success": false, "error_type": "operation_error"}`))
	f.Add(200, "", []byte(`{"success": true, "payload": {"token": "abc", "expired": "2026-01-02T03:04:05Z"}}`))
	f.Add(429, "7", []byte(`{"success": false, "error_type": "rate_limit_error"}`))
	f.Add(503, "Wed, 21 Oct 2015 07:28:00 GMT", []byte("<html>down</html>"))
	f.Add(200, "", []byte(`{"success": null, "errors": null}`))
	f.Add(200, "", []byte(`{"success": "false", "error_type": "server_error"}`))
	f.Add(200, "", []byte(`{"success": "FALSE", "payload": {}}`))
	f.Add(200, "", []byte(`{"success": 0}`))
	f.Fuzz(func(t *testing.T, status int, retryAfter string, body []byte) {
		if status < 100 || status > 999 {
			return
		}
		h := http.Header{}
		if retryAfter != "" {
			h.Set("Retry-After", retryAfter)
		}
		e := dnl.Check(status, h, body)
		if status >= 400 && e == nil {
			t.Fatalf("Check(%d, %q) = nil, want a failure", status, body)
		}
		if status < 300 && e == nil && resttest.SaysFailed(body) {
			t.Fatalf("Check(%d, %q) = nil, but its success says the call failed", status, body)
		}
		if e == nil {
			return
		}
		if e.Missing != (status == 404) || e.Expired != (status == 401) {
			t.Errorf("Check(%d) = %+v", status, e)
		}
		_ = e.Error()
	})
}

// FuzzUserFrom decodes arbitrary JSON objects as a USER: never a panic,
// and every value in canonical form.
func FuzzUserFrom(f *testing.F) {
	for _, u := range seed(4) {
		b, err := json.Marshal(u)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"user_id": 1, "client": {"is_panel_trunks": "yes", "carrier_name": 5}, "auth_ip": [{"ip": null}], "client_limits": [{"client_id": 1.5}]}`))
	f.Add([]byte(`{"user_type": "root", "role_id": "x", "active": 1, "passwd": 7, "email": "A <a@b.example>"}`))
	f.Add([]byte(`{"auth_ip": "10.0.0.1|10.0.0.2", "client_limits": [3, {"client_id": "4"}], "reseller_id": 99999999999999999999}`))
	table := dnl.Target.Table
	f.Fuzz(func(t *testing.T, data []byte) {
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		var doc map[string]any
		if dec.Decode(&doc) != nil || doc == nil {
			return
		}
		for _, build := range []func(string, map[string]any) (model.User, error){table.UserFromRead, table.UserFromList} {
			u, err := build("1", doc)
			if err != nil {
				continue
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
			}
		}
	})
}

// TestListNamed reads few of many users with user_id_in after the first
// page, and many of them by paging on: whichever costs fewer requests.
func TestListNamed(t *testing.T) {
	users := seed(2500)
	id := func(i int) string { return strconv.FormatInt(users[i].UserID, 10) }
	var past []string
	for i := 1000; i < len(users); i++ {
		past = append(past, id(i))
	}
	tests := []struct {
		name     string
		ids      []string
		requests int
	}{
		{"all on the first page", []string{id(0), id(499), id(999)}, 1},
		{"a few past it", []string{id(7), id(1500), id(2400), id(2499), "no-such"}, 2},
		{"many past it", past, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, c := start(t, dnltest.Config{}, users, rest.Config{})
			got := map[string]bool{}
			total, err := c.ListNamed(t.Context(), tt.ids, func(u model.User) error {
				got[u.ID] = true
				return nil
			})
			if err != nil || total != 2500 {
				t.Fatalf("ListNamed = %d, %v; want the total 2500", total, err)
			}
			for _, id := range tt.ids {
				if id != "no-such" && !got[id] {
					t.Errorf("user %s not read", id)
				}
			}
			if n := len(fake.Requests()); n != tt.requests {
				t.Errorf("%d requests, want %d", n, tt.requests)
			}
		})
	}
}

// TestFailureShapedUnlikeASuccess: a 200 saying "success": false whose
// payload is not shaped like a success's is the vendor's error, with its
// message, not "the answer is not the JSON expected".
func TestFailureShapedUnlikeASuccess(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"success":false,"error":{"message":"bad page"},"payload":[]}`)
	}))
	defer srv.Close()
	c := newClient(srv, rest.Config{})
	_, err := c.Get(t.Context(), "7")
	var apiErr *rest.Error
	if !errors.As(err, &apiErr) || !strings.Contains(err.Error(), "bad page") {
		t.Fatalf("Get = %v; want the API's error saying bad page", err)
	}
}

// TestListLentUsers lists through Only with pages at once, where the
// answers and their users' values are lent and reused once yield returns:
// every user yields its own values, a yield error stops the listing with
// that error, and the client lists correctly after it.
func TestListLentUsers(t *testing.T) {
	t.Parallel()
	const n = 4*dnl.MaxPerPage + 300
	fake := dnltest.New(dnltest.Config{Token: adminTok}, dnltest.Generate(n))
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	names := func(c plan.Reader) map[string]any {
		got := map[string]any{}
		if err := c.List(t.Context(), func(u model.User) error { got[u.ID] = u.Values["last_name"]; return nil }); err != nil {
			t.Fatal(err)
		}
		return got
	}
	want := names(dnl.New(rest.Config{BaseURL: srv.URL, HTTP: srv.Client(), Token: adminTok, Workers: 1}))
	if len(want) != n {
		t.Fatalf("the plain listing has %d users, want %d", len(want), n)
	}
	lent := dnl.New(rest.Config{BaseURL: srv.URL, HTTP: srv.Client(), Token: adminTok, Workers: 4}).Only([]string{"last_name"})
	stop := errors.New("enough")
	for round := range 3 {
		seen := 0
		err := lent.List(t.Context(), func(u model.User) error {
			if u.Values["last_name"] != want[u.ID] {
				t.Errorf("round %d: user %s yields last_name %v, want %v", round, u.ID, u.Values["last_name"], want[u.ID])
			}
			if seen++; seen == 1500 {
				return stop
			}
			return nil
		})
		if !errors.Is(err, stop) || seen != 1500 {
			t.Fatalf("round %d: a yield error after %d users: List = %v", round, seen, err)
		}
		if got := names(lent); !maps.Equal(got, want) {
			t.Fatalf("round %d: the lent listing differs from the plain one (%d users against %d)", round, len(got), len(want))
		}
	}
}
