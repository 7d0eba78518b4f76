package dnltest

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rostersync/rostersync/sync/vendors/fakehttp"
	"golang.org/x/crypto/bcrypt"
)

const (
	adminTok = "admin-token"
	agentTok = "agent-token"
	demoSeed = "../../../../testdata/demo/dnl/users.json"
)

func ptr[T any](v T) *T { return &v }

// testUsers is a small store: an admin, an agent, a client and an inactive agent.
func testUsers() []User {
	return []User{
		{UserID: 1, Name: "admin", UserType: "admin", Active: true, Email: "noc@carrier.example"},
		{UserID: 2, Name: "jmorales", UserType: "agent", Active: true, Email: "julia@carrier.example",
			ClientLimits: []ClientLimit{{ClientID: 1012}}},
		{UserID: 3, Name: "atlas", UserType: "client", Active: true, Email: "noc@atlas.example",
			ClientID: ptr(int64(1012)), CarrierName: ptr("Atlas Telecom"),
			Client: &Client{IsPanelRatetable: true, IsPanelInvoices: true, CarrierName: "Atlas Telecom"},
			AuthIP: []AuthIP{{IP: "192.0.2.10"}, {IP: "192.0.2.11"}}},
		{UserID: 4, Name: "pdubois", UserType: "agent", Active: false, Email: "pierre@carrier.example"},
	}
}

// setup starts a fake over real HTTP; cfg gets the test tokens and a fast bcrypt cost.
func setup(t *testing.T, cfg Config, users []User) (*Fake, string) {
	t.Helper()
	cfg.Token, cfg.AgentToken = adminTok, agentTok
	if cfg.BcryptCost == 0 {
		cfg.BcryptCost = bcrypt.MinCost
	}
	fake := New(cfg, users)
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	return fake, srv.URL
}

type reply struct {
	status int
	header http.Header
	body   []byte
}

func do(t *testing.T, method, url, token, body string) reply {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("X-Auth-Token", token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return reply{resp.StatusCode, resp.Header, b}
}

// jsonEq fails unless got and want hold the same JSON value.
func jsonEq(t *testing.T, got []byte, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("body %q is not JSON: %v", got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad want %q: %v", want, err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("body = %s\nwant   %s", got, want)
	}
}

// payloadUser decodes the USER of a {"success": true, "payload": USER} answer.
func payloadUser(t *testing.T, body []byte) User {
	t.Helper()
	var env struct {
		Success bool
		Payload User
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&env); err != nil || !env.Success {
		t.Fatalf("not a USER answer (%v): %s", err, body)
	}
	return env.Payload
}

const (
	noHeader = `{"success": false, "error_type": "unauthenticated_error",
		"error": {"message": "No header X-Auth-Token present", "code": 110, "reason": "auth_token_not_provided"}}`
	badToken = `{"success": false, "error_type": "operation_error",
		"error": {"message": "Token is invalid or expired", "code": 111, "reason": "auth_token_invalid"}}`
	badLogin = `{"success": false, "error_type": "operation_error",
		"error": {"message": "Invalid credentials", "reason": "invalid_credentials"}}`
	notFound404 = `{"success": false, "error_type": "Object not found error"}`
)

func TestAuth(t *testing.T) {
	_, base := setup(t, Config{}, testUsers())
	tests := []struct {
		name, method, path, token, body string
		status                          int
		want                            string // "" = not checked
	}{
		{"list without header", "GET", "/v1/user/list", "", "", 401, noHeader},
		{"get without header", "GET", "/v1/user/1", "", "", 401, noHeader},
		{"patch without header", "PATCH", "/v1/user/1", "", `{"active": false}`, 401, noHeader},
		{"unknown token", "GET", "/v1/user/1", "nope", "", 401, badToken},
		{"bearer prefix is not a token", "GET", "/v1/user/1", "Bearer " + adminTok, "", 401, badToken},
		{"fixed admin token", "GET", "/v1/user/1", adminTok, "", 200, ""},
		{"fixed agent token reads", "GET", "/v1/user/list", agentTok, "", 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := do(t, tt.method, base+tt.path, tt.token, tt.body)
			if r.status != tt.status {
				t.Fatalf("status = %d, want %d: %s", r.status, tt.status, r.body)
			}
			if tt.want != "" {
				jsonEq(t, r.body, tt.want)
			}
		})
	}
}

func TestLogin(t *testing.T) {
	tests := []struct {
		name   string
		admin  string
		body   string
		status int
		want   string
	}{
		{"ok", "admin", `{"email_or_name": "admin", "password": "s3cret"}`, 200, ""},
		{"wrong password", "admin", `{"email_or_name": "admin", "password": "guess"}`, 401, badLogin},
		{"wrong name", "admin", `{"email_or_name": "root", "password": "s3cret"}`, 401, badLogin},
		{"login disabled", "", `{"email_or_name": "", "password": "s3cret"}`, 401, badLogin},
		{"missing password", "admin", `{"email_or_name": "admin"}`, 400,
			`{"success": false, "error_type": "validation_error", "errors": [{"password": ["Missing data for required field."]}]}`},
		{"not JSON", "admin", `email_or_name=admin`, 400,
			`{"success": false, "error_type": "validation_error", "errors": [{"_schema": ["Invalid input type."]}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, base := setup(t, Config{Admin: tt.admin, Password: "s3cret"}, testUsers())
			r := do(t, "POST", base+"/v1/auth", "", tt.body)
			if r.status != tt.status {
				t.Fatalf("status = %d, want %d: %s", r.status, tt.status, r.body)
			}
			if fake.Logins() != 1 {
				t.Errorf("Logins() = %d, want 1", fake.Logins())
			}
			if tt.want != "" {
				jsonEq(t, r.body, tt.want)
				return
			}
			// The cookbook's payload: {"token", "expired"}, nothing else.
			var ok struct {
				Success bool
				Payload struct {
					Token   string `json:"token"`
					Expired string `json:"expired"`
				}
			}
			dec := json.NewDecoder(bytes.NewReader(r.body))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&ok); err != nil || !ok.Success || ok.Payload.Token == "" {
				t.Fatalf("bad login answer (%v): %s", err, r.body)
			}
			exp, err := time.Parse(time.RFC3339, ok.Payload.Expired)
			if d := time.Until(exp); err != nil || d < 59*time.Minute || d > time.Hour {
				t.Errorf("expired %q (%v), want an hour from now", ok.Payload.Expired, err)
			}
			if r := do(t, "PATCH", base+"/v1/user/2", ok.Payload.Token, `{"active": false}`); r.status != 200 {
				t.Errorf("PATCH with the login token: status %d: %s", r.status, r.body)
			}
			again := do(t, "POST", base+"/v1/auth", "", tt.body)
			if again.status != 200 || bytes.Contains(again.body, []byte(ok.Payload.Token)) {
				t.Errorf("second login: status %d, must give a new token: %s", again.status, again.body)
			}
			if fake.Logins() != 2 {
				t.Errorf("Logins() = %d, want 2", fake.Logins())
			}
		})
	}
}

// TestTokenTTL runs in a synctest bubble, calling the handler directly so the
// fake clock decides expiry: a login's token expires after TokenTTL, or
// after the minutes the login asks (expire_after_minutes), and is then
// answered 401 operation_error.
func TestTokenTTL(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := New(Config{Admin: "admin", Password: "pw", TokenTTL: time.Hour, BcryptCost: bcrypt.MinCost}, testUsers())
		serve := func(method, path, token, body string) *httptest.ResponseRecorder {
			req := httptest.NewRequest(method, path, strings.NewReader(body))
			if token != "" {
				req.Header.Set("X-Auth-Token", token)
			}
			rec := httptest.NewRecorder()
			fake.ServeHTTP(rec, req)
			return rec
		}
		rec := serve("POST", "/v1/auth", "", `{"email_or_name": "admin", "password": "pw", "expire_after_minutes": 5}`)
		var login struct {
			Payload struct{ Token, Expired string }
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &login); err != nil || login.Payload.Token == "" {
			t.Fatalf("login: %d %s", rec.Code, rec.Body)
		}
		if want := time.Now().Add(5 * time.Minute).UTC().Format(time.RFC3339); login.Payload.Expired != want {
			t.Errorf("expired %q, want %q", login.Payload.Expired, want)
		}
		time.Sleep(5 * time.Minute)
		if rec := serve("GET", "/v1/user/1", login.Payload.Token, ""); rec.Code != 401 {
			t.Errorf("after the minutes asked: status %d, want 401", rec.Code)
		}
		for _, bad := range []string{`0`, `"5"`, `null`} {
			rec := serve("POST", "/v1/auth", "", `{"email_or_name": "admin", "password": "pw", "expire_after_minutes": `+bad+`}`)
			if rec.Code != 400 || !strings.Contains(rec.Body.String(), "expire_after_minutes") {
				t.Errorf("expire_after_minutes %s: %d %s, want a 400 naming it", bad, rec.Code, rec.Body)
			}
		}
	})
	synctest.Test(t, func(t *testing.T) {
		fake := New(Config{Admin: "admin", Password: "pw", TokenTTL: time.Hour, Token: adminTok, BcryptCost: bcrypt.MinCost}, testUsers())
		serve := func(method, path, token, body string) *httptest.ResponseRecorder {
			req := httptest.NewRequest(method, path, strings.NewReader(body))
			if token != "" {
				req.Header.Set("X-Auth-Token", token)
			}
			rec := httptest.NewRecorder()
			fake.ServeHTTP(rec, req)
			return rec
		}
		rec := serve("POST", "/v1/auth", "", `{"email_or_name": "admin", "password": "pw"}`)
		var login struct{ Payload struct{ Token string } }
		if err := json.Unmarshal(rec.Body.Bytes(), &login); err != nil || login.Payload.Token == "" {
			t.Fatalf("login: %d %s", rec.Code, rec.Body)
		}
		tok := login.Payload.Token

		time.Sleep(time.Hour - time.Second)
		if rec := serve("GET", "/v1/user/1", tok, ""); rec.Code != 200 {
			t.Fatalf("before expiry: status %d: %s", rec.Code, rec.Body)
		}
		time.Sleep(time.Second)
		rec = serve("GET", "/v1/user/1", tok, "")
		if rec.Code != 401 {
			t.Fatalf("after expiry: status %d, want 401", rec.Code)
		}
		jsonEq(t, rec.Body.Bytes(), badToken)
		if rec := serve("GET", "/v1/user/1", adminTok, ""); rec.Code != 200 {
			t.Errorf("the fixed token must never expire: status %d", rec.Code)
		}
	})
}

func TestAgentCannotPatch(t *testing.T) {
	fake, base := setup(t, Config{}, testUsers())
	before := fake.Users()
	r := do(t, "PATCH", base+"/v1/user/2", agentTok, `{"active": false}`)
	if r.status != 403 {
		t.Fatalf("status = %d, want 403: %s", r.status, r.body)
	}
	jsonEq(t, r.body, `{"success": false, "error_type": "forbidden_error", "error": {"message": "Only admin can edit users"}}`)
	if !reflect.DeepEqual(fake.Users(), before) {
		t.Error("a refused PATCH changed the store")
	}
}

type listPage struct {
	Success bool
	Payload struct {
		Total   int    `json:"total"`
		Page    int    `json:"page"`
		PerPage int    `json:"per_page"`
		Items   []User `json:"items"`
	}
}

func getList(t *testing.T, base, query string) listPage {
	t.Helper()
	r := do(t, "GET", base+"/v1/user/list?"+query, adminTok, "")
	if r.status != 200 {
		t.Fatalf("list?%s: status %d: %s", query, r.status, r.body)
	}
	var p listPage
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil || !p.Success {
		t.Fatalf("list?%s: %v: %s", query, err, r.body)
	}
	if p.Payload.Items == nil {
		t.Fatalf("list?%s: items is null, want a list: %s", query, r.body)
	}
	return p
}

func TestListPaging(t *testing.T) {
	users, err := LoadUsers(demoSeed)
	if err != nil {
		t.Fatal(err)
	}
	_, base := setup(t, Config{}, users)
	for _, perPage := range []int{1, 7, 30, 1000} {
		t.Run(fmt.Sprint("per_page=", perPage), func(t *testing.T) {
			var ids []int64
			for page := 0; ; page++ {
				p := getList(t, base, fmt.Sprintf("order_by=user_id&order_dir=asc&page=%d&per_page=%d", page, perPage))
				if p.Payload.Total != len(users) || p.Payload.Page != page || p.Payload.PerPage != perPage {
					t.Fatalf("page %d: total/page/per_page = %d/%d/%d", page, p.Payload.Total, p.Payload.Page, p.Payload.PerPage)
				}
				if len(p.Payload.Items) > perPage {
					t.Fatalf("page %d holds %d items", page, len(p.Payload.Items))
				}
				if len(p.Payload.Items) == 0 {
					break
				}
				for _, u := range p.Payload.Items {
					ids = append(ids, u.UserID)
				}
			}
			if len(ids) != len(users) || !slices.IsSorted(ids) || len(slices.Compact(slices.Clone(ids))) != len(ids) {
				t.Errorf("ids across pages = %v, want each of %d users once, in order", ids, len(users))
			}
		})
	}
	t.Run("defaults", func(t *testing.T) {
		p := getList(t, base, "")
		if p.Payload.Page != 0 || p.Payload.PerPage != 100 || len(p.Payload.Items) != len(users) {
			t.Errorf("page/per_page/items = %d/%d/%d", p.Payload.Page, p.Payload.PerPage, len(p.Payload.Items))
		}
	})
	t.Run("desc", func(t *testing.T) {
		var ids []int64
		for page := range 3 {
			for _, u := range getList(t, base, fmt.Sprintf("order_by=user_id&order_dir=DESC&page=%d&per_page=11", page)).Payload.Items {
				ids = append(ids, u.UserID)
			}
		}
		if len(ids) != len(users) || !slices.IsSortedFunc(ids, func(a, b int64) int { return cmp.Compare(b, a) }) {
			t.Errorf("ids = %v, want each of %d users once, highest first", ids, len(users))
		}
	})
}

// TestListWithoutOrder pages through the list without order_by, as a
// client that does not ask for an order would: every page answers with
// the right total and a full page, yet the pages overlap, so the listing
// repeats users and lacks as many others while its count adds up. The
// same pages with order_by hold every user once.
func TestListWithoutOrder(t *testing.T) {
	users := Generate(10)
	_, base := setup(t, Config{}, users)
	listing := func(order string) (ids []int64, total int) {
		for page := 0; page*4 < len(users); page++ {
			p := getList(t, base, fmt.Sprintf("%spage=%d&per_page=4", order, page))
			total += len(p.Payload.Items)
			if p.Payload.Total != len(users) {
				t.Fatalf("page %d says total %d, want %d", page, p.Payload.Total, len(users))
			}
			for _, u := range p.Payload.Items {
				ids = append(ids, u.UserID)
			}
		}
		return ids, total
	}
	ids, count := listing("")
	seen := map[int64]int{}
	for _, id := range ids {
		seen[id]++
	}
	repeated, missing := 0, 0
	for _, u := range users {
		switch seen[u.UserID] {
		case 0:
			missing++
		case 1:
		default:
			repeated += seen[u.UserID] - 1
		}
	}
	if count != len(users) || repeated == 0 || missing != repeated {
		t.Errorf("without order: %d items for %d users, %d repeated, %d missing (%v); want the count to add up over a skip for each repeat",
			count, len(users), repeated, missing, ids)
	}
	if ordered, _ := listing("order_by=user_id&"); !slices.Equal(ordered, []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}) {
		t.Errorf("with order_by: %v, want every user once, in order", ordered)
	}
}

// TestListKnobs checks the list's misbehaviours on demand: IgnoreIDFilter
// answers user_id_in with everyone, RepeatInList holds a page's first
// user again in place of its last.
func TestListKnobs(t *testing.T) {
	_, base := setup(t, Config{IgnoreIDFilter: true}, testUsers())
	if p := getList(t, base, "order_by=user_id&user_id_in=2"); p.Payload.Total != 4 || len(p.Payload.Items) != 4 {
		t.Errorf("ignored user_id_in: total %d, %d items; want everyone (4)", p.Payload.Total, len(p.Payload.Items))
	}
	_, base = setup(t, Config{RepeatInList: true}, testUsers())
	var ids []int64
	for _, u := range getList(t, base, "order_by=user_id").Payload.Items {
		ids = append(ids, u.UserID)
	}
	if !slices.Equal(ids, []int64{1, 2, 3, 1}) {
		t.Errorf("RepeatInList: ids %v, want [1 2 3 1]", ids)
	}
}

func TestListBadQuery(t *testing.T) {
	_, base := setup(t, Config{}, testUsers())
	tests := []struct{ query, field, msg string }{
		{"per_page=1001", "per_page", "Must be greater than or equal to 1 and less than or equal to 1000."},
		{"per_page=0", "per_page", "Must be greater than or equal to 1 and less than or equal to 1000."},
		{"per_page=ten", "per_page", "Not a valid integer."},
		{"page=-1", "page", "Must be greater than or equal to 0."},
		{"page=1.5", "page", "Not a valid integer."},
		{"user_id_in=1,x", "user_id_in", "Not a valid integer."},
		{"active=maybe", "active", "Not a valid boolean."},
		{"user_type=boss", "user_type", "Must be one of: admin, agent, client."},
		{"limit=10", "limit", "Unknown field."},
		{"order_by=name", "order_by", "Must be one of: user_id."},
		{"order_by=user_id&order_dir=up", "order_dir", "Must be one of: asc, desc."},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			r := do(t, "GET", base+"/v1/user/list?"+tt.query, adminTok, "")
			if r.status != 400 {
				t.Fatalf("status = %d, want 400: %s", r.status, r.body)
			}
			jsonEq(t, r.body, fmt.Sprintf(`{"success": false, "error_type": "validation_error", "errors": [{%q: [%q]}]}`, tt.field, tt.msg))
		})
	}
}

func TestListFilters(t *testing.T) {
	_, base := setup(t, Config{}, testUsers())
	tests := []struct {
		query string
		want  []int64
	}{
		{"user_id_in=3,1,99", []int64{1, 3}},
		{"user_id_in=2", []int64{2}},
		{"active=false", []int64{4}},
		{"active=true", []int64{1, 2, 3}},
		{"user_type=agent", []int64{2, 4}},
		{"user_type=agent&active=true", []int64{2}},
		{"user_id_in=1,2,3,4&per_page=2&page=1", []int64{3, 4}},
		{"user_id_in=99", []int64{}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			p := getList(t, base, "order_by=user_id&"+tt.query)
			got := []int64{}
			for _, u := range p.Payload.Items {
				got = append(got, u.UserID)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("ids = %v, want %v", got, tt.want)
			}
			if tt.query == "user_id_in=1,2,3,4&per_page=2&page=1" {
				if p.Payload.Total != 4 {
					t.Errorf("total = %d, want 4 (all matching, not the page)", p.Payload.Total)
				}
			} else if p.Payload.Total != len(tt.want) {
				t.Errorf("total = %d, want %d", p.Payload.Total, len(tt.want))
			}
		})
	}
}

func TestGetUser(t *testing.T) {
	fake, base := setup(t, Config{}, testUsers())
	t.Run("known", func(t *testing.T) {
		r := do(t, "GET", base+"/v1/user/3", agentTok, "")
		if r.status != 200 {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		want, _ := fake.User(3)
		if got := payloadUser(t, r.body); !reflect.DeepEqual(got, want) {
			t.Errorf("got %+v\nwant %+v", got, want)
		}
		// Nullable fields are null, lists are [], like the seed's example.
		var raw struct{ Payload map[string]json.RawMessage }
		if err := json.Unmarshal(r.body, &raw); err != nil {
			t.Fatal(err)
		}
		for k, v := range map[string]string{"reseller_id": "null", "agent": "null", "client_limits": "[]", "last_login_time": "null"} {
			if string(raw.Payload[k]) != v {
				t.Errorf("%s = %s, want %s", k, raw.Payload[k], v)
			}
		}
		if len(raw.Payload) != 39 {
			t.Errorf("USER has %d fields, want the seed's 39", len(raw.Payload))
		}
	})
	for _, path := range []string{"/v1/user/99", "/v1/user/abc", "/v1/user/-1"} {
		t.Run(path, func(t *testing.T) {
			r := do(t, "GET", base+path, adminTok, "")
			if r.status != 404 {
				t.Fatalf("status = %d, want 404", r.status)
			}
			jsonEq(t, r.body, notFound404)
		})
	}
}

func TestPatch(t *testing.T) {
	tests := []struct {
		name string
		id   int64
		body string
		want func(u *User) // the expected change to the stored user
	}{
		{"email only, like the seed", 2, `{"email": "julia.m@carrier.example"}`,
			func(u *User) { u.Email = "julia.m@carrier.example" }},
		{"client merged key by key", 3, `{"client": {"is_panel_invoices": false, "is_panel_trunks": true}}`,
			func(u *User) { u.Client.IsPanelInvoices, u.Client.IsPanelTrunks = false, true }},
		{"client created when null", 2, `{"client": {"carrier_name": "Atlas", "is_panel_cdrslist": true}}`,
			func(u *User) { u.Client = &Client{CarrierName: "Atlas", IsPanelCdrslist: true} }},
		{"auth_ip replaced", 3, `{"auth_ip": [{"ip": "203.0.113.5"}]}`,
			func(u *User) { u.AuthIP = []AuthIP{{IP: "203.0.113.5"}} }},
		{"auth_ip emptied", 3, `{"auth_ip": []}`,
			func(u *User) { u.AuthIP = []AuthIP{} }},
		{"client_limits replaced", 2, `{"client_limits": [{"client_id": 7}, {"client_id": 8}]}`,
			func(u *User) { u.ClientLimits = []ClientLimit{{ClientID: 7}, {ClientID: 8}} }},
		{"nullable integer set to null", 3, `{"client_id": null, "role_id": 5}`,
			func(u *User) { u.ClientID, u.RoleID = nil, ptr(int64(5)) }},
		{"many fields", 4, `{"active": true, "user_type": "admin", "last_name": "Dubois", "first_name": "Pierre",
			"name": "pierre", "show_carrier_trunk_drop_only": true, "report_fields": "a,b", "landing_page": "/x",
			"default_mod": "m", "default_mod2": "m2", "outbound_report": true, "all_termination": true,
			"report_group": true, "reseller_id": 1, "avatar_id": 2, "card_id": 0}`,
			func(u *User) {
				u.Active, u.UserType, u.LastName, u.FirstName, u.Name = true, "admin", ptr("Dubois"), "Pierre", "pierre"
				u.ShowCarrierTrunkDropOnly, u.ReportFields, u.LandingPage, u.DefaultMod, u.DefaultMod2 = true, "a,b", "/x", "m", "m2"
				u.OutboundReport, u.AllTermination, u.ReportGroup = true, true, true
				u.ResellerID, u.AvatarID, u.CardID = ptr(int64(1)), ptr(int64(2)), ptr(int64(0))
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, base := setup(t, Config{}, testUsers())
			want, _ := fake.User(tt.id)
			tt.want(&want)
			r := do(t, "PATCH", fmt.Sprintf("%s/v1/user/%d", base, tt.id), adminTok, tt.body)
			if r.status != 200 {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			if got := payloadUser(t, r.body); !reflect.DeepEqual(got, want) {
				t.Errorf("answer %+v\nwant   %+v", got, want)
			}
			if got, _ := fake.User(tt.id); !reflect.DeepEqual(got, want) {
				t.Errorf("stored %+v\nwant   %+v", got, want)
			}
			if fake.Writes() != 1 {
				t.Errorf("Writes() = %d, want 1", fake.Writes())
			}
		})
	}
}

func TestPatchInvalid(t *testing.T) {
	tests := []struct {
		name, body string
		errors     string // the errors list
	}{
		{"empty object", `{}`, `[{"_schema": ["No data provided."]}]`},
		{"empty body", ``, `[{"_schema": ["No data provided."]}]`},
		{"null", `null`, `[{"_schema": ["No data provided."]}]`},
		{"invalid JSON", `{"email": `, `[{"_schema": ["Invalid input type."]}]`},
		{"not an object", `[{"email": "a@b.example"}]`, `[{"_schema": ["Invalid input type."]}]`},
		{"two objects", `{"active": true} {"active": false}`, `[{"_schema": ["Invalid input type."]}]`},
		{"unknown field", `{"nickname": "x"}`, `[{"nickname": ["Unknown field."]}]`},
		{"read-only user_id", `{"user_id": 5}`, `[{"user_id": ["Unknown field."]}]`},
		{"read-only role_name", `{"role_name": "x"}`, `[{"role_name": ["Unknown field."]}]`},
		{"string for boolean", `{"active": "false"}`, `[{"active": ["Not a valid boolean."]}]`},
		{"string for integer", `{"role_id": "5"}`, `[{"role_id": ["Not a valid integer."]}]`},
		{"fraction for integer", `{"card_id": 1.5}`, `[{"card_id": ["Not a valid integer."]}]`},
		{"number for string", `{"first_name": 5}`, `[{"first_name": ["Not a valid string."]}]`},
		{"object for list", `{"auth_ip": {"ip": "192.0.2.1"}}`, `[{"auth_ip": ["Not a valid list."]}]`},
		{"bad email", `{"email": "julia.carrier.example"}`, `[{"email": ["Not a valid email address."]}]`},
		{"email without a dotted domain", `{"email": "julia@carrier"}`, `[{"email": ["Not a valid email address."]}]`},
		{"email with display name", `{"email": "Julia <j@carrier.example>"}`, `[{"email": ["Not a valid email address."]}]`},
		{"bad user_type", `{"user_type": "reseller"}`, `[{"user_type": ["Must be one of: admin, agent, client."]}]`},
		{"null for a boolean", `{"active": null}`, `[{"active": ["Field may not be null."]}]`},
		{"client field wrong type", `{"client": {"is_panel_trunks": "yes"}}`, `[{"client.is_panel_trunks": ["Not a valid boolean."]}]`},
		{"client unknown field", `{"client": {"is_panel_fun": true}}`, `[{"client.is_panel_fun": ["Unknown field."]}]`},
		{"auth_ip element", `{"auth_ip": [{"ip": "192.0.2.1"}, {"ip": 7}]}`, `[{"auth_ip.1.ip": ["Not a valid string."]}]`},
		{"client_limits element", `{"client_limits": [{"id": 7}]}`,
			`[{"client_limits.0.client_id": ["Missing data for required field."]}, {"client_limits.0.id": ["Unknown field."]}]`},
		{"passwd too long for bcrypt", `{"passwd": "` + strings.Repeat("x", 73) + `"}`, `[{"passwd": ["Longer than maximum length 72."]}]`},
		{"one object per bad field, nothing applied", `{"active": false, "email": "x", "role_id": true, "client": {"carrier_name": 1}}`,
			`[{"client.carrier_name": ["Not a valid string."]}, {"email": ["Not a valid email address."]}, {"role_id": ["Not a valid integer."]}]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, base := setup(t, Config{}, testUsers())
			before := fake.Users()
			r := do(t, "PATCH", base+"/v1/user/3", adminTok, tt.body)
			if r.status != 400 {
				t.Fatalf("status = %d, want 400: %s", r.status, r.body)
			}
			jsonEq(t, r.body, `{"success": false, "error_type": "validation_error", "errors": `+tt.errors+`}`)
			if !reflect.DeepEqual(fake.Users(), before) {
				t.Error("a rejected PATCH changed the store")
			}
		})
	}
}

func TestPatchUnknownUser(t *testing.T) {
	fake, base := setup(t, Config{}, testUsers())
	before := fake.Users()
	for _, path := range []string{"/v1/user/99", "/v1/user/abc", "/v1/user/list"} {
		t.Run(path, func(t *testing.T) {
			r := do(t, "PATCH", base+path, adminTok, `{"active": false}`)
			if r.status != 404 {
				t.Fatalf("status = %d, want 404: %s", r.status, r.body)
			}
			jsonEq(t, r.body, notFound404)
		})
	}
	if !reflect.DeepEqual(fake.Users(), before) {
		t.Error("a PATCH of an unknown user changed the store")
	}
}

func TestPatchPasswd(t *testing.T) {
	fake, base := setup(t, Config{}, testUsers())
	const plain = "N3w-passw0rd!"
	r := do(t, "PATCH", base+"/v1/user/2", adminTok, `{"passwd": "`+plain+`"}`)
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	answered := payloadUser(t, r.body).Passwd
	stored, _ := fake.User(2)
	switch {
	case stored.Passwd != answered:
		t.Errorf("answered passwd %q, stored %q", answered, stored.Passwd)
	case stored.Passwd == plain || bytes.Contains(r.body, []byte(plain)):
		t.Error("the plain password is stored or answered")
	case !strings.HasPrefix(stored.Passwd, "$2b$04$"):
		t.Errorf("passwd %q, want a $2b$ hash at the configured cost", stored.Passwd)
	}
	if err := bcrypt.CompareHashAndPassword([]byte(stored.Passwd), []byte(plain)); err != nil {
		t.Errorf("stored hash does not verify: %v", err)
	}
	if err := bcrypt.CompareHashAndPassword([]byte(stored.Passwd), []byte("other")); err == nil {
		t.Error("stored hash verifies a wrong password")
	}
}

func TestRateLimit(t *testing.T) {
	_, base := setup(t, Config{Faults: fakehttp.Faults{Limit: 2, LimitHints: true}}, testUsers())
	for i := range 2 {
		if r := do(t, "GET", base+"/v1/user/1", adminTok, ""); r.status != 200 {
			t.Fatalf("request %d: status %d", i, r.status)
		}
	}
	r := do(t, "GET", base+"/v1/user/1", adminTok, "")
	if r.status != 429 {
		t.Fatalf("third request in a second: status %d, want 429", r.status)
	}
	if got := r.header.Get("Retry-After"); got != "1" {
		t.Errorf("Retry-After = %q, want \"1\"", got)
	}
	jsonEq(t, r.body, `{"success": false, "error_type": "rate_limit_error"}`)
}

func TestRateLimitWithoutHints(t *testing.T) {
	_, base := setup(t, Config{Faults: fakehttp.Faults{Limit: 1}}, testUsers())
	do(t, "GET", base+"/v1/user/1", adminTok, "")
	r := do(t, "GET", base+"/v1/user/1", adminTok, "")
	if r.status != 429 || r.header.Get("Retry-After") != "" {
		t.Fatalf("status %d, Retry-After %q; want 429 with no Retry-After", r.status, r.header.Get("Retry-After"))
	}
	jsonEq(t, r.body, `{"success": false, "error_type": "rate_limit_error"}`)
}

func TestConcurrentPatches(t *testing.T) {
	fake, base := setup(t, Config{}, testUsers())
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			id := 1 + i%4
			do(t, "PATCH", fmt.Sprintf("%s/v1/user/%d", base, id), adminTok, fmt.Sprintf(`{"report_fields": "r%d"}`, id))
			do(t, "GET", base+"/v1/user/list", agentTok, "")
		})
	}
	wg.Wait()
	for _, u := range fake.Users() {
		if want := fmt.Sprintf("r%d", u.UserID); u.ReportFields != want {
			t.Errorf("user %d: report_fields %q, want %q", u.UserID, u.ReportFields, want)
		}
	}
	if fake.Writes() != 20 {
		t.Errorf("Writes() = %d, want 20", fake.Writes())
	}
}

func TestUsersAreCopies(t *testing.T) {
	users := testUsers()
	fake := New(Config{}, users)
	users[2].Client.IsPanelTrunks = true
	got := fake.Users()
	if got[2].Client.IsPanelTrunks {
		t.Error("New kept the caller's client object")
	}
	got[2].AuthIP[0].IP = "changed"
	if u, _ := fake.User(3); u.AuthIP[0].IP != "192.0.2.10" {
		t.Error("Users() shares auth_ip with the store")
	}
	if _, ok := fake.User(99); ok {
		t.Error("User(99) found a user that does not exist")
	}
}

func TestReadUsersDemoSeed(t *testing.T) {
	users, err := LoadUsers(demoSeed)
	if err != nil {
		t.Fatal(err)
	}
	if len(users) < 25 {
		t.Fatalf("%d users, want about 30", len(users))
	}
	count := map[string]int{}
	inactive := 0
	for _, u := range users {
		count[u.UserType]++
		if !u.Active {
			inactive++
		}
		if cost, err := bcrypt.Cost([]byte(u.Passwd)); err != nil || cost != 12 || !strings.HasPrefix(u.Passwd, "$2b$") {
			t.Errorf("user %d: passwd %q is not a $2b$ cost-12 hash", u.UserID, u.Passwd)
		}
		if u.UserType == "client" && (u.Client == nil || u.ClientID == nil) {
			t.Errorf("client user %d has no client object or client_id", u.UserID)
		}
	}
	if count["admin"] != 1 || count["agent"] == 0 || count["client"] == 0 || inactive < 2 {
		t.Errorf("types %v, inactive %d: want one admin, agents, clients and some inactive", count, inactive)
	}
}

func TestReadUsersRejects(t *testing.T) {
	const hash = "$2b$04$WvJ3hO4rl1rQ1e1RyzJ8..5C3Zg7zLQ/Y6xYtK5mIQ2yJ8lIp7n6S"
	tests := []struct{ name, in, wantErr string }{
		{"unknown field", `[{"user_id": 1, "user_type": "admin", "nick": "x"}]`, "unknown field"},
		{"duplicate id", `[{"user_id": 1, "user_type": "admin"}, {"user_id": 1, "user_type": "agent"}]`, "already used"},
		{"zero id", `[{"user_type": "admin"}]`, "not positive"},
		{"bad user_type", `[{"user_id": 1, "user_type": "root"}]`, "user_type"},
		{"plain passwd", `[{"user_id": 1, "user_type": "admin", "passwd": "secret"}]`, "bcrypt"},
		{"not an array", `{"user_id": 1}`, "decoding"},
		{"trailing data", `[] []`, "after the array"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadUsers(strings.NewReader(tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("err = %v, want one mentioning %q", err, tt.wantErr)
			}
		})
	}
	t.Run("valid", func(t *testing.T) {
		users, err := ReadUsers(strings.NewReader(`[{"user_id": 2, "user_type": "agent", "passwd": "` + hash + `"}, {"user_id": 1, "user_type": "admin"}]`))
		if err != nil || len(users) != 2 {
			t.Fatalf("users %v, err %v", users, err)
		}
		if ids := []int64{New(Config{}, users).Users()[0].UserID, users[0].UserID}; ids[0] != 1 || ids[1] != 2 {
			t.Errorf("Users() not sorted by user_id, or ReadUsers reordered the file: %v", ids)
		}
	})
	t.Run("missing file", func(t *testing.T) {
		if _, err := LoadUsers("testdata/does-not-exist.json"); err == nil {
			t.Error("LoadUsers of a missing file succeeded")
		}
	})
}

// FuzzReadUsers checks that ReadUsers never panics and that what it accepts
// a Fake can hold and serve.
func FuzzReadUsers(f *testing.F) {
	seed, err := os.ReadFile(demoSeed)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add([]byte(`[{"user_id": 1, "user_type": "admin", "agent": {"id": 5}}]`))
	f.Add([]byte(`[{"user_id": 1, "user_type": "admin"}, {"user_id": 1, "user_type": "agent"}]`))
	f.Fuzz(func(t *testing.T, in []byte) {
		users, err := ReadUsers(bytes.NewReader(in))
		if err != nil {
			return
		}
		fake := New(Config{}, users)
		if got := fake.Users(); len(got) != len(users) {
			t.Fatalf("Users() holds %d, read %d", len(got), len(users))
		}
	})
}

// FuzzPatchBody checks that any PATCH body is answered 200 or 400, and that
// a 400 leaves the store as it was.
func FuzzPatchBody(f *testing.F) {
	for _, b := range []string{`{"email": "a@b.example"}`, `{"client": {"is_panel_trunks": true}}`, `{}`,
		`{"auth_ip": [{"ip": "192.0.2.1"}], "role_id": null}`, `{"client_limits": [{"client_id": 1e3}]}`} {
		f.Add([]byte(b))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		fake := New(Config{Token: adminTok, BcryptCost: bcrypt.MinCost}, testUsers())
		before := fake.Users()
		req := httptest.NewRequest("PATCH", "/v1/user/3", bytes.NewReader(body))
		req.Header.Set("X-Auth-Token", adminTok)
		rec := httptest.NewRecorder()
		fake.ServeHTTP(rec, req)
		switch rec.Code {
		case 200:
			payloadUser(t, rec.Body.Bytes())
		case 400:
			if !reflect.DeepEqual(fake.Users(), before) {
				t.Fatalf("400 changed the store: %s", body)
			}
		default:
			t.Fatalf("status %d for %q: %s", rec.Code, body, rec.Body)
		}
	})
}
