package smartflotest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/rostersync/rostersync/sync/vendors/fakehttp"
)

const (
	permanent = "perm-token-123"
	demoSeed  = "../../../../testdata/demo/smartflo/users.json"
)

// twoUsers is a small seed whose answers the shape tests spell out in full.
func twoUsers() []User {
	return []User{
		{
			ID: 370822, Name: "Ravi Kumar", Number: "+919800000002", Email: "ravi@example.com",
			Designation: "Agent", LoginID: "ravi", RoleID: 54631, RoleName: "Agent",
			AgentID: "0502842370098", Blocked: true, WebLoginBlocked: true,
			LoginBasedCalling: true, InternationalOutbound: true,
			UsersForCDR: CDR{Type: "agent", Value: []string{"0502842370097"}},
			CallerID:    []string{"101"},
		},
		{
			ID: 314678, Name: "Asha Rao", Number: "+919800000001", Email: "asha@example.com",
			Designation: "Team lead", LoginID: "asha", RoleID: 54630, RoleName: "Quality",
			AgentID: "0502842370097",
		},
	}
}

func start(t *testing.T, cfg Config, users []User) (*Fake, *httptest.Server) {
	t.Helper()
	if cfg.BcryptCost == 0 {
		cfg.BcryptCost = bcrypt.MinCost
	}
	f := New(cfg, users)
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

type answer struct {
	status int
	header http.Header
	body   []byte
}

// json decodes the answer's body into a generic value.
func (a answer) json(t *testing.T) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(a.body, &v); err != nil {
		t.Fatalf("body %q: %v", a.body, err)
	}
	return v
}

func call(t *testing.T, srv *httptest.Server, method, path, token, body string) answer {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{resp.StatusCode, resp.Header, b}
}

// sameJSON fails unless got and want hold the same JSON value.
func sameJSON(t *testing.T, got []byte, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("got %q: %v", got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("want %q: %v", want, err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("body\n got %s\nwant %s", got, want)
	}
}

func login(t *testing.T, srv *httptest.Server, email, password string) answer {
	t.Helper()
	b, _ := json.Marshal(map[string]string{"email": email, "password": password})
	return call(t, srv, http.MethodPost, "/v1/auth/login", "", string(b))
}

func accessToken(t *testing.T, a answer) string {
	t.Helper()
	v := a.json(t)
	tok, _ := v["access_token"].(string)
	if a.status != http.StatusOK || v["success"] != true || tok == "" {
		t.Fatalf("no token: %d %s", a.status, a.body)
	}
	return tok
}

func TestAuth(t *testing.T) {
	_, srv := start(t, Config{Token: permanent}, twoUsers())
	calls := []struct{ method, path, body string }{
		{http.MethodGet, "/v1/users", ""},
		{http.MethodGet, "/v1/user/314678", ""},
		{http.MethodPatch, "/v1/user/314678", `{"name": "Asha R"}`},
	}
	tokens := []struct {
		name   string
		header string // Authorization value; "" sends none
		want   int
	}{
		{"missing", "", http.StatusUnauthorized},
		{"unknown", "Bearer nope", http.StatusUnauthorized},
		{"not bearer", "Basic " + permanent, http.StatusUnauthorized},
		{"permanent", "Bearer " + permanent, http.StatusOK},
		{"permanent lower-case scheme", "bearer " + permanent, http.StatusOK},
	}
	for _, c := range calls {
		for _, tc := range tokens {
			t.Run(c.method+" "+c.path+" "+tc.name, func(t *testing.T) {
				req, _ := http.NewRequest(c.method, srv.URL+c.path, strings.NewReader(c.body))
				if tc.header != "" {
					req.Header.Set("Authorization", tc.header)
				}
				resp, err := srv.Client().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != tc.want {
					t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.want, b)
				}
				if tc.want == http.StatusUnauthorized {
					sameJSON(t, b, `{"success": false, "message": "Unauthenticated"}`)
				}
			})
		}
	}
}

func TestLogin(t *testing.T) {
	tests := []struct {
		name            string
		cfg             Config
		email, password string
		wantStatus      int
	}{
		{"ok", Config{Email: "ops@example.com", Password: "s3cret"}, "ops@example.com", "s3cret", http.StatusOK},
		{"wrong password", Config{Email: "ops@example.com", Password: "s3cret"}, "ops@example.com", "guess", http.StatusUnauthorized},
		{"wrong email", Config{Email: "ops@example.com", Password: "s3cret"}, "other@example.com", "s3cret", http.StatusUnauthorized},
		{"empty email", Config{Email: "ops@example.com", Password: "s3cret"}, "", "s3cret", http.StatusBadRequest},
		{"login disabled, any email", Config{Token: permanent}, "ops@example.com", "s3cret", http.StatusUnauthorized},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, srv := start(t, tc.cfg, twoUsers())
			a := login(t, srv, tc.email, tc.password)
			if a.status != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", a.status, tc.wantStatus, a.body)
			}
			if f.Logins() != 1 {
				t.Errorf("Logins() = %d, want 1", f.Logins())
			}
			switch tc.wantStatus {
			case http.StatusUnauthorized:
				sameJSON(t, a.body, `{"success": false, "message": "The username or password is incorrect.", "login_failed_count": 1}`)
			case http.StatusOK:
				v := a.json(t)
				if v["token_type"] != "bearer" || v["expires_in"] != 3600.0 || v["number_of_days_left"] != 90.0 {
					t.Errorf("login answer %s", a.body)
				}
				tok := accessToken(t, a)
				if g := call(t, srv, http.MethodGet, "/v1/users", tok, ""); g.status != http.StatusOK {
					t.Errorf("GET with login token: %d %s", g.status, g.body)
				}
			}
		})
	}
}

// TestLoginAnswersAsDocumented checks the login answers of the vendor's
// reference: failures count up in login_failed_count until a login
// succeeds, and a success tells the days the password has left.
func TestLoginAnswersAsDocumented(t *testing.T) {
	_, srv := start(t, Config{Email: "ops@example.com", Password: "s3cret", PasswordDaysLeft: 9, StringSuccess: true}, twoUsers())
	for i := 1; i <= 3; i++ {
		a := login(t, srv, "ops@example.com", "guess")
		sameJSON(t, a.body, fmt.Sprintf(`{"success": "false", "message": "The username or password is incorrect.", "login_failed_count": %d}`, i))
	}
	if v := login(t, srv, "ops@example.com", "s3cret").json(t); v["number_of_days_left"] != 9.0 {
		t.Errorf("number_of_days_left = %v, want 9", v["number_of_days_left"])
	}
	if v := login(t, srv, "ops@example.com", "guess").json(t); v["login_failed_count"] != 1.0 {
		t.Errorf("after a good login the count is %v, want 1 again", v["login_failed_count"])
	}
	_, srv = start(t, Config{Email: "ops@example.com", Password: "s3cret", PasswordDaysLeft: -1}, twoUsers())
	if v := login(t, srv, "ops@example.com", "s3cret").json(t); v["number_of_days_left"] != 0.0 {
		t.Errorf("number_of_days_left = %v, want 0", v["number_of_days_left"])
	}
}

func TestLoginMalformedBody(t *testing.T) {
	f, srv := start(t, Config{Email: "ops@example.com", Password: "s3cret"}, twoUsers())
	for _, body := range []string{`not json`, `{"email": "ops@example.com"}`, `[]`} {
		a := call(t, srv, http.MethodPost, "/v1/auth/login", "", body)
		if a.status != http.StatusBadRequest || a.json(t)["success"] != false {
			t.Errorf("login %s: %d %s", body, a.status, a.body)
		}
	}
	if f.Logins() != 3 {
		t.Errorf("Logins() = %d, want 3", f.Logins())
	}
}

func TestTokenExpiry(t *testing.T) {
	const ttl = time.Millisecond
	f, srv := start(t, Config{Email: "ops@example.com", Password: "s3cret", TokenTTL: ttl}, twoUsers())
	a := login(t, srv, "ops@example.com", "s3cret")
	if v := a.json(t); v["expires_in"] != 1.0 {
		t.Errorf("expires_in %v, want 1 (rounded up)", v["expires_in"])
	}
	tok := accessToken(t, a)
	time.Sleep(5 * ttl)
	before := f.Users()

	t.Run("GET answers 401", func(t *testing.T) {
		for _, path := range []string{"/v1/users", "/v1/user/314678"} {
			g := call(t, srv, http.MethodGet, path, tok, "")
			if g.status != http.StatusUnauthorized {
				t.Fatalf("%s: status %d", path, g.status)
			}
			sameJSON(t, g.body, `{"success": false, "message": "Token has expired"}`)
		}
	})
	t.Run("PATCH answers 200 with success false and changes nothing", func(t *testing.T) {
		p := call(t, srv, http.MethodPatch, "/v1/user/314678", tok, `{"name": "Changed"}`)
		if p.status != http.StatusOK {
			t.Fatalf("status %d", p.status)
		}
		sameJSON(t, p.body, `{"success": false, "message": "Token has expired"}`)
		if !reflect.DeepEqual(f.Users(), before) {
			t.Error("an expired token changed a user")
		}
	})
	t.Run("refresh accepts the expired token once", func(t *testing.T) {
		r := call(t, srv, http.MethodPost, "/v1/auth/refresh", tok, "")
		if nt := accessToken(t, r); nt == tok {
			t.Error("refresh returned the same token")
		}
		g := call(t, srv, http.MethodGet, "/v1/users", tok, "")
		if g.status != http.StatusUnauthorized || g.json(t)["message"] != "Unauthenticated" {
			t.Errorf("old token after refresh: %d %s", g.status, g.body)
		}
		if r := call(t, srv, http.MethodPost, "/v1/auth/refresh", tok, ""); r.status != http.StatusUnauthorized {
			t.Errorf("second refresh of the old token: %d", r.status)
		}
	})
	if f.Refreshes() != 2 {
		t.Errorf("Refreshes() = %d, want 2", f.Refreshes())
	}
}

func TestRefresh(t *testing.T) {
	tests := []struct {
		name       string
		token      func(t *testing.T, srv *httptest.Server) string
		wantStatus int
		oldWorks   bool // the token still works after the refresh
	}{
		{"login token", func(t *testing.T, srv *httptest.Server) string {
			return accessToken(t, login(t, srv, "ops@example.com", "s3cret"))
		}, http.StatusOK, false},
		{"permanent token", func(*testing.T, *httptest.Server) string { return permanent }, http.StatusOK, true},
		{"unknown token", func(*testing.T, *httptest.Server) string { return "forged" }, http.StatusUnauthorized, false},
		{"no token", func(*testing.T, *httptest.Server) string { return "" }, http.StatusUnauthorized, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, srv := start(t, Config{Token: permanent, Email: "ops@example.com", Password: "s3cret"}, twoUsers())
			old := tc.token(t, srv)
			r := call(t, srv, http.MethodPost, "/v1/auth/refresh", old, "")
			if r.status != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", r.status, tc.wantStatus, r.body)
			}
			if f.Refreshes() != 1 {
				t.Errorf("Refreshes() = %d, want 1", f.Refreshes())
			}
			if tc.wantStatus != http.StatusOK {
				sameJSON(t, r.body, `{"success": false, "message": "Unauthenticated"}`)
				return
			}
			v := r.json(t)
			if v["token_type"] != "bearer" || v["expires_in"] != 3600.0 {
				t.Errorf("refresh answer %s", r.body)
			}
			fresh := accessToken(t, r)
			if g := call(t, srv, http.MethodGet, "/v1/users", fresh, ""); g.status != http.StatusOK {
				t.Errorf("new token: %d", g.status)
			}
			g := call(t, srv, http.MethodGet, "/v1/users", old, "")
			if works := g.status == http.StatusOK; works != tc.oldWorks {
				t.Errorf("old token works = %v, want %v (%d %s)", works, tc.oldWorks, g.status, g.body)
			}
		})
	}
}

func loadDemo(t *testing.T) []User {
	t.Helper()
	users, err := LoadUsers(demoSeed)
	if err != nil {
		t.Fatal(err)
	}
	return users
}

type page struct {
	HasMore    bool  `json:"has_more"`
	Count      int   `json:"count"`
	LastSeenID int64 `json:"last_seen_id"`
	Data       []struct {
		ID int64 `json:"id"`
	} `json:"data"`
}

func TestListPaging(t *testing.T) {
	users := loadDemo(t)
	_, srv := start(t, Config{Token: permanent}, users)
	for _, limit := range []int{0, 1, 7, 29, 30, 31, 100} { // 0: no limit parameter, default 20
		t.Run(fmt.Sprintf("limit=%d", limit), func(t *testing.T) {
			size := limit
			if size == 0 {
				size = 20
			}
			seen := map[int64]int{}
			var last int64
			pages := 0
			for cursor := int64(0); ; pages++ {
				path := "/v1/users?last_seen_id=" + strconv.FormatInt(cursor, 10)
				if limit != 0 {
					path += "&limit=" + strconv.Itoa(limit)
				}
				a := call(t, srv, http.MethodGet, path, permanent, "")
				if a.status != http.StatusOK {
					t.Fatalf("%s: %d %s", path, a.status, a.body)
				}
				var p page
				if err := json.Unmarshal(a.body, &p); err != nil {
					t.Fatal(err)
				}
				if p.Count != len(p.Data) || len(p.Data) > size || len(p.Data) == 0 {
					t.Fatalf("%s: count %d, %d items, limit %d", path, p.Count, len(p.Data), size)
				}
				for _, it := range p.Data {
					if it.ID <= last {
						t.Fatalf("%s: id %d after %d", path, it.ID, last)
					}
					last = it.ID
					seen[it.ID]++
				}
				if p.LastSeenID != last {
					t.Fatalf("%s: last_seen_id %d, want %d", path, p.LastSeenID, last)
				}
				if !p.HasMore {
					break
				}
				if len(p.Data) != size {
					t.Fatalf("%s: short page %d with has_more", path, len(p.Data))
				}
				cursor = p.LastSeenID
			}
			if len(seen) != len(users) {
				t.Errorf("saw %d users, want %d", len(seen), len(users))
			}
			for _, u := range users {
				if seen[u.ID] != 1 {
					t.Errorf("user %d seen %d times", u.ID, seen[u.ID])
				}
			}
			if want := (len(users) + size - 1) / size; pages+1 != want {
				t.Errorf("%d pages, want %d", pages+1, want)
			}
		})
	}
	t.Run("past the end", func(t *testing.T) {
		a := call(t, srv, http.MethodGet, "/v1/users?last_seen_id=999999999", permanent, "")
		sameJSON(t, a.body, `{"has_more": false, "count": 0, "data": []}`)
	})
}

func TestListBadParams(t *testing.T) {
	_, srv := start(t, Config{Token: permanent}, twoUsers())
	tests := []struct{ query, field string }{
		{"limit=101", "limit"},
		{"limit=0", "limit"},
		{"limit=-5", "limit"},
		{"limit=ten", "limit"},
		{"limit=2.5", "limit"},
		{"last_seen_id=abc", "last_seen_id"},
		{"last_seen_id=-1", "last_seen_id"},
	}
	for _, tc := range tests {
		t.Run(tc.query, func(t *testing.T) {
			a := call(t, srv, http.MethodGet, "/v1/users?"+tc.query, permanent, "")
			if a.status != http.StatusBadRequest {
				t.Fatalf("status %d: %s", a.status, a.body)
			}
			v := a.json(t)
			errs, _ := v["error"].(map[string]any)
			if v["success"] != false || v["message"] == "" || errs[tc.field] == nil {
				t.Errorf("body %s lacks error.%s", a.body, tc.field)
			}
		})
	}
}

// The answers below are api.md's examples, filled with twoUsers.
const (
	ashaOne = `{"data": {"id": "314678", "name": "Asha Rao", "number": "+919800000001",
	  "team_member": {"designation": "Team lead", "email": "asha@example.com",
	                  "login_id": "asha", "status": 1,
	                  "role": {"id": 54630, "name": "Quality"},
	                  "is_login_based_calling": false, "is_web_login_block": false,
	                  "users_for_cdr": {"type": "all", "value": null}},
	  "agent": {"id": "0502842370097", "number": "+919800000001", "agent_status": 0,
	            "is_international_outbound_enabled": false}}}`
	raviOne = `{"data": {"id": "370822", "name": "Ravi Kumar", "number": "+919800000002",
	  "team_member": {"designation": "Agent", "email": "ravi@example.com",
	                  "login_id": "ravi", "status": 0,
	                  "role": {"id": 54631, "name": "Agent"},
	                  "is_login_based_calling": true, "is_web_login_block": true,
	                  "users_for_cdr": {"type": "agent", "value": ["0502842370097"]}},
	  "agent": {"id": "0502842370098", "number": "+919800000002", "agent_status": 1,
	            "is_international_outbound_enabled": true}}}`
	ashaItem = `{"id": 314678, "name": "Asha Rao", "login_id": "asha",
	  "is_login_based_calling_enabled": false, "is_international_outbound_enabled": false,
	  "user_role": {"id": 54630, "name": "Quality"}, "user_status": 1,
	  "agent": {"id": "0502842370097", "name": "Asha Rao", "status": 0, "follow_me_number": "+919800000001"}}`
	raviItem = `{"id": 370822, "name": "Ravi Kumar", "login_id": "ravi",
	  "is_login_based_calling_enabled": true, "is_international_outbound_enabled": true,
	  "user_role": {"id": 54631, "name": "Agent"}, "user_status": 1,
	  "agent": {"id": "0502842370098", "name": "Ravi Kumar", "status": 1, "follow_me_number": "+919800000002"}}`
)

func TestShapes(t *testing.T) {
	_, srv := start(t, Config{Token: permanent}, twoUsers())
	tests := []struct{ path, want string }{
		{"/v1/user/314678", ashaOne},
		{"/v1/user/370822", raviOne},
		{"/v1/users", `{"has_more": false, "count": 2, "last_seen_id": 370822, "data": [` + ashaItem + `,` + raviItem + `]}`},
		{"/v1/users?limit=1", `{"has_more": true, "count": 1, "last_seen_id": 314678, "data": [` + ashaItem + `]}`},
		{"/v1/users?limit=1&last_seen_id=314678", `{"has_more": false, "count": 1, "last_seen_id": 370822, "data": [` + raviItem + `]}`},
		{"/v1/users?last_seen_id=314677", `{"has_more": false, "count": 2, "last_seen_id": 370822, "data": [` + ashaItem + `,` + raviItem + `]}`},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			a := call(t, srv, http.MethodGet, tc.path, permanent, "")
			if a.status != http.StatusOK {
				t.Fatalf("status %d", a.status)
			}
			if ct := a.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			sameJSON(t, a.body, tc.want)
		})
	}
}

func TestNotFound(t *testing.T) {
	f, srv := start(t, Config{Token: permanent}, twoUsers())
	for _, method := range []string{http.MethodGet, http.MethodPatch} {
		for _, id := range []string{"999", "abc", "-1", "314678abc"} {
			t.Run(method+" "+id, func(t *testing.T) {
				a := call(t, srv, method, "/v1/user/"+id, permanent, `{"name": "X"}`)
				if a.status != http.StatusNotFound {
					t.Fatalf("status %d", a.status)
				}
				sameJSON(t, a.body, `{"success": false, "message": "User not found"}`)
			})
		}
	}
	if !reflect.DeepEqual(f.Users(), New(Config{}, twoUsers()).Users()) {
		t.Error("a 404 PATCH changed a user")
	}
}

// get returns GET /v1/user/{id} decoded.
func get(t *testing.T, srv *httptest.Server, id int64) map[string]any {
	t.Helper()
	a := call(t, srv, http.MethodGet, "/v1/user/"+strconv.FormatInt(id, 10), permanent, "")
	if a.status != http.StatusOK {
		t.Fatalf("GET user %d: %d", id, a.status)
	}
	return a.json(t)["data"].(map[string]any)
}

// listed returns the list item of user id.
func listed(t *testing.T, srv *httptest.Server, id int64) map[string]any {
	t.Helper()
	a := call(t, srv, http.MethodGet, "/v1/users?limit=100", permanent, "")
	for _, it := range a.json(t)["data"].([]any) {
		m := it.(map[string]any)
		if m["id"] == float64(id) {
			return m
		}
	}
	t.Fatalf("user %d not listed", id)
	return nil
}

// at walks a decoded JSON value along dotted keys.
func at(v map[string]any, path string) any {
	var cur any = v
	for k := range strings.SplitSeq(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[k]
	}
	return cur
}

func TestPatch(t *testing.T) {
	const id = 314678
	tests := []struct {
		name     string
		body     string
		wantGet  map[string]any // dotted path in GET data -> value
		wantList map[string]any // dotted path in the list item -> value
		check    func(t *testing.T, u User)
	}{
		{"name", `{"name": "Asha R. Rao"}`,
			map[string]any{"name": "Asha R. Rao"}, map[string]any{"name": "Asha R. Rao", "agent.name": "Asha R. Rao"}, nil},
		{"number", `{"number": "+919811122233"}`,
			map[string]any{"number": "+919811122233", "agent.number": "+919811122233"},
			map[string]any{"agent.follow_me_number": "+919811122233"}, nil},
		{"email", `{"email": "asha.rao@example.com"}`, map[string]any{"team_member.email": "asha.rao@example.com"}, nil, nil},
		{"designation", `{"designation": "Floor manager"}`, map[string]any{"team_member.designation": "Floor manager"}, nil, nil},
		{"designation emptied", `{"designation": ""}`, map[string]any{"team_member.designation": nil}, nil, nil},
		{"login_id", `{"login_id": "asha.rao"}`,
			map[string]any{"team_member.login_id": "asha.rao"}, map[string]any{"login_id": "asha.rao"}, nil},
		{"block_agent", `{"block_agent": true}`,
			map[string]any{"team_member.status": 0.0, "agent.agent_status": 1.0}, map[string]any{"agent.status": 1.0}, nil},
		{"disable_agent", `{"disable_agent": true}`,
			map[string]any{"team_member.status": 1.0, "agent.agent_status": 2.0}, map[string]any{"agent.status": 2.0},
			func(t *testing.T, u User) {
				if !u.Disabled || u.Blocked {
					t.Errorf("disabled %v, blocked %v", u.Disabled, u.Blocked)
				}
			}},
		{"blocked and disabled", `{"disable_agent": true, "block_agent": true}`,
			map[string]any{"team_member.status": 0.0, "agent.agent_status": 2.0}, map[string]any{"agent.status": 2.0}, nil},
		{"user_role as a number, as Create User types it", `{"user_role": 54631}`,
			map[string]any{"team_member.role.id": 54631.0}, map[string]any{"user_role.id": 54631.0}, nil},
		{"caller_id of numbers, as Create User types it", `{"caller_id": [101, "102"]}`, nil, nil,
			func(t *testing.T, u User) {
				if !reflect.DeepEqual(u.CallerID, []string{"101", "102"}) {
					t.Errorf("caller_id %v", u.CallerID)
				}
			}},
		{"block_web_login", `{"block_web_login": true}`, map[string]any{"team_member.is_web_login_block": true}, nil, nil},
		{"login_based_calling", `{"login_based_calling": true}`,
			map[string]any{"team_member.is_login_based_calling": true}, map[string]any{"is_login_based_calling_enabled": true}, nil},
		{"international_outbound", `{"international_outbound": true}`,
			map[string]any{"agent.is_international_outbound_enabled": true}, map[string]any{"is_international_outbound_enabled": true}, nil},
		{"user_role", `{"user_role": "54631"}`,
			map[string]any{"team_member.role.id": 54631.0, "team_member.role.name": "Agent"},
			map[string]any{"user_role.id": 54631.0, "user_role.name": "Agent"}, nil},
		{"user_for_cdr agent", `{"user_for_cdr": {"type": "agent", "value": ["0502842370098"]}}`,
			map[string]any{"team_member.users_for_cdr.type": "agent", "team_member.users_for_cdr.value": []any{"0502842370098"}}, nil, nil},
		{"caller_id and agent_group", `{"caller_id": ["101", "102"], "agent_group": ["Sales"]}`, nil, nil,
			func(t *testing.T, u User) {
				if !reflect.DeepEqual(u.CallerID, []string{"101", "102"}) || !reflect.DeepEqual(u.AgentGroup, []string{"Sales"}) {
					t.Errorf("caller_id %v, agent_group %v", u.CallerID, u.AgentGroup)
				}
			}},
		{"several at once", `{"name": "A. Rao", "block_agent": true, "block_web_login": true}`,
			map[string]any{"name": "A. Rao", "team_member.status": 0.0, "team_member.is_web_login_block": true},
			map[string]any{"agent.status": 1.0}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, srv := start(t, Config{Token: permanent}, twoUsers())
			a := call(t, srv, http.MethodPatch, "/v1/user/314678", permanent, tc.body)
			if a.status != http.StatusOK {
				t.Fatalf("status %d: %s", a.status, a.body)
			}
			sameJSON(t, a.body, `{"success": true, "message": "User updated successfully"}`)
			g := get(t, srv, id)
			for p, want := range tc.wantGet {
				if got := at(g, p); !reflect.DeepEqual(got, want) {
					t.Errorf("GET %s = %#v, want %#v", p, got, want)
				}
			}
			l := listed(t, srv, id)
			for p, want := range tc.wantList {
				if got := at(l, p); !reflect.DeepEqual(got, want) {
					t.Errorf("list %s = %#v, want %#v", p, got, want)
				}
			}
			if tc.check != nil {
				u, _ := f.User(id)
				tc.check(t, u)
			}
			other, _ := f.User(370822)
			if !reflect.DeepEqual(other, New(Config{}, twoUsers()).Users()[1]) {
				t.Error("the PATCH changed another user")
			}
		})
	}
}

func TestPatchUnblockAndCDRAll(t *testing.T) {
	f, srv := start(t, Config{Token: permanent}, twoUsers())
	a := call(t, srv, http.MethodPatch, "/v1/user/370822", permanent,
		`{"block_agent": false, "user_for_cdr": {"type": "all", "value": []}}`)
	if a.status != http.StatusOK {
		t.Fatalf("status %d: %s", a.status, a.body)
	}
	g := get(t, srv, 370822)
	if at(g, "team_member.status") != 1.0 || at(g, "agent.agent_status") != 0.0 {
		t.Errorf("after unblock: %v", g)
	}
	if l := listed(t, srv, 370822); at(l, "agent.status") != 0.0 {
		t.Errorf("list agent.status %v", at(l, "agent.status"))
	}
	cdr := at(g, "team_member.users_for_cdr").(map[string]any)
	if !reflect.DeepEqual(cdr, map[string]any{"type": "all", "value": nil}) {
		t.Errorf("users_for_cdr %v", cdr)
	}
	if u, _ := f.User(370822); u.Blocked {
		t.Error("User() still blocked")
	}
}

func TestPatchInvalid(t *testing.T) {
	tests := []struct {
		name, body, field string
	}{
		{"empty object", `{}`, "body"},
		{"empty body", ``, "body"},
		{"array", `[{"name": "X"}]`, "body"},
		{"null", `null`, "body"},
		{"invalid JSON", `{"name": "X"`, "body"},
		{"trailing data", `{"name": "X"} {}`, "body"},
		{"unknown field", `{"name": "X", "nickname": "Ash"}`, "nickname"},
		{"seed's misprint destination", `{"destination": "Team lead"}`, "destination"},
		{"bool as string", `{"block_agent": "yes"}`, "block_agent"},
		{"bool as number", `{"login_based_calling": 1}`, "login_based_calling"},
		{"bool null", `{"block_web_login": null}`, "block_web_login"},
		{"number for name", `{"name": 42}`, "name"},
		{"empty name", `{"name": "  "}`, "name"},
		{"bad email", `{"email": "not-an-email"}`, "email"},
		{"email with display name", `{"email": "Asha <asha@example.com>"}`, "email"},
		{"email without dotted domain", `{"email": "asha@localhost"}`, "email"},
		{"bad number", `{"number": "9800000001"}`, "number"},
		{"short number", `{"number": "+9198"}`, "number"},
		{"number with letters", `{"number": "+91980000000x"}`, "number"},
		{"unknown role", `{"user_role": "99999"}`, "user_role"},
		{"role not numeric", `{"user_role": "Agent"}`, "user_role"},
		{"role as a fraction", `{"user_role": 54631.5}`, "user_role"},
		{"role as a bool", `{"user_role": true}`, "user_role"},
		{"caller_id not array", `{"caller_id": "101"}`, "caller_id"},
		{"caller_id of fractions", `{"caller_id": [101.5]}`, "caller_id"},
		{"disable_agent as string", `{"disable_agent": "true"}`, "disable_agent"},
		{"agent_group with null", `{"agent_group": ["Sales", null]}`, "agent_group"},
		{"cdr not object", `{"user_for_cdr": "all"}`, "user_for_cdr"},
		{"cdr bad type", `{"user_for_cdr": {"type": "team"}}`, "user_for_cdr.type"},
		{"cdr agent without value", `{"user_for_cdr": {"type": "agent"}}`, "user_for_cdr.value"},
		{"cdr agent empty value", `{"user_for_cdr": {"type": "agent", "value": []}}`, "user_for_cdr.value"},
		{"cdr unknown key", `{"user_for_cdr": {"type": "all", "scope": 1}}`, "user_for_cdr.scope"},
		{"empty password", `{"password": ""}`, "password"},
		{"password too long", `{"password": "` + strings.Repeat("p", 73) + `"}`, "password"},
		{"login_id with space", `{"login_id": "asha rao"}`, "login_id"},
		{"valid fields beside a bad one", `{"name": "Changed", "block_agent": true, "email": "bad"}`, "email"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, srv := start(t, Config{Token: permanent}, twoUsers())
			before := f.Users()
			a := call(t, srv, http.MethodPatch, "/v1/user/314678", permanent, tc.body)
			if a.status != http.StatusBadRequest {
				t.Fatalf("status %d: %s", a.status, a.body)
			}
			v := a.json(t)
			errs, _ := v["error"].(map[string]any)
			if v["success"] != false || v["message"] != "The given data was invalid." || errs[tc.field] == nil {
				t.Errorf("body %s lacks error.%s", a.body, tc.field)
			}
			if msgs, _ := errs[tc.field].([]any); len(msgs) == 0 {
				t.Errorf("error.%s holds no message", tc.field)
			}
			if !reflect.DeepEqual(f.Users(), before) {
				t.Errorf("a 400 changed state:\n%+v\n%+v", f.Users(), before)
			}
			sameJSON(t, call(t, srv, http.MethodGet, "/v1/user/314678", permanent, "").body, ashaOne)
		})
	}
}

func TestPatchPassword(t *testing.T) {
	f, srv := start(t, Config{Token: permanent}, twoUsers())
	a := call(t, srv, http.MethodPatch, "/v1/user/314678", permanent, `{"password": "N3w-secret!"}`)
	if a.status != http.StatusOK {
		t.Fatalf("status %d: %s", a.status, a.body)
	}
	u, _ := f.User(314678)
	if err := bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte("N3w-secret!")); err != nil {
		t.Fatalf("stored hash %q does not verify: %v", u.PasswordHash, err)
	}
	if err := bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte("wrong")); err == nil {
		t.Error("stored hash verifies a wrong password")
	}
	if cost, _ := bcrypt.Cost([]byte(u.PasswordHash)); cost != bcrypt.MinCost {
		t.Errorf("cost %d, want %d", cost, bcrypt.MinCost)
	}
	for _, path := range []string{"/v1/user/314678", "/v1/users"} {
		g := call(t, srv, http.MethodGet, path, permanent, "")
		if bytes.Contains(g.body, []byte("N3w-secret!")) || bytes.Contains(g.body, []byte(u.PasswordHash)) || bytes.Contains(g.body, []byte("password")) {
			t.Errorf("%s leaks the password: %s", path, g.body)
		}
	}
}

// TestRateLimit checks the 429 with hints (LimitHints): Retry-After in
// whole seconds, and retry_after in the body as India time, as public
// client code shows on the login call.
func TestRateLimit(t *testing.T) {
	f, srv := start(t, Config{Token: permanent, Faults: fakehttp.Faults{Limit: 2, LimitHints: true}}, twoUsers())
	var statuses []int
	var last answer
	for range 3 {
		last = call(t, srv, http.MethodGet, "/v1/users", permanent, "")
		statuses = append(statuses, last.status)
	}
	if !reflect.DeepEqual(statuses, []int{200, 200, 429}) {
		t.Fatalf("statuses %v, want [200 200 429]", statuses)
	}
	if ra := last.header.Get("Retry-After"); ra != "1" {
		t.Errorf("Retry-After %q, want 1", ra)
	}
	v := last.json(t)
	if v["success"] != false || v["message"] != "Too Many Requests" {
		t.Errorf("body %s", last.body)
	}
	s, _ := v["retry_after"].(string)
	ist := time.FixedZone("IST", 5*3600+1800)
	at, err := time.ParseInLocation(time.DateTime, s, ist)
	if err != nil {
		t.Fatalf("retry_after %q: %v", s, err)
	}
	if now := time.Now(); at.Before(now) || at.After(now.Add(2*time.Second)) {
		t.Errorf("retry_after %s is not within 2s after now (%s)", at, now.In(ist))
	}
	if got := f.Requests()[2].Status; got != http.StatusTooManyRequests {
		t.Errorf("logged status %d", got)
	}
}

// TestRateLimitAsDocumented checks the fake's default 429, the one the
// vendor documents, with no hint of when to come back: no Retry-After, no
// retry_after, and "success" the string "false".
func TestRateLimitAsDocumented(t *testing.T) {
	_, srv := start(t, Config{Token: permanent, Faults: fakehttp.Faults{Limit: 1}}, twoUsers())
	call(t, srv, http.MethodGet, "/v1/users", permanent, "")
	last := call(t, srv, http.MethodGet, "/v1/users", permanent, "")
	if last.status != http.StatusTooManyRequests || last.header.Get("Retry-After") != "" {
		t.Fatalf("status %d, Retry-After %q; want 429 with no Retry-After", last.status, last.header.Get("Retry-After"))
	}
	if v := last.json(t); len(v) != 2 || v["success"] != "false" || v["message"] != "Too many requests." {
		t.Errorf("body %s, want the documented {\"success\": \"false\", \"message\": \"Too many requests.\"}", last.body)
	}
}

func TestThrottledRoundsUp(t *testing.T) {
	tests := []struct {
		in   time.Duration
		want string
	}{
		{-time.Second, "1"},
		{10 * time.Millisecond, "1"},
		{2100 * time.Millisecond, "3"},
	}
	for _, tc := range tests {
		t.Run(tc.in.String(), func(t *testing.T) {
			rec := httptest.NewRecorder()
			retryAt := time.Now().Add(tc.in)
			throttled(rec, retryAt)
			if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") != tc.want {
				t.Errorf("%d, Retry-After %q, want %q", rec.Code, rec.Header().Get("Retry-After"), tc.want)
			}
			var body struct {
				RetryAfter string `json:"retry_after"`
			}
			_ = json.Unmarshal(rec.Body.Bytes(), &body)
			at, err := time.ParseInLocation(time.DateTime, body.RetryAfter, ist)
			if err != nil || at.Before(retryAt) || at.Sub(retryAt) >= time.Second {
				t.Errorf("retry_after %q for %s: %v", body.RetryAfter, retryAt.In(ist), err)
			}
		})
	}
}

func TestRoutes(t *testing.T) {
	_, srv := start(t, Config{Token: permanent}, twoUsers())
	tests := []struct {
		method, path string
		want         int
		allow        string
	}{
		{http.MethodGet, "/v1/nothing", http.StatusNotFound, ""},
		{http.MethodGet, "/v1/user/314678/extra", http.StatusNotFound, ""},
		{http.MethodDelete, "/v1/user/314678", http.StatusMethodNotAllowed, "GET, PATCH"},
		{http.MethodPost, "/v1/users", http.StatusMethodNotAllowed, "GET"},
		{http.MethodGet, "/v1/auth/login", http.StatusMethodNotAllowed, "POST"},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			a := call(t, srv, tc.method, tc.path, permanent, "")
			if a.status != tc.want || a.header.Get("Allow") != tc.allow || a.json(t)["success"] != false {
				t.Errorf("%d Allow %q %s", a.status, a.header.Get("Allow"), a.body)
			}
		})
	}
}

func TestConcurrentPatches(t *testing.T) {
	users := loadDemo(t)
	f, srv := start(t, Config{Token: permanent}, users)
	var wg sync.WaitGroup
	for _, u := range users {
		wg.Go(func() {
			body := fmt.Sprintf(`{"name": "Renamed %d", "block_agent": true}`, u.ID)
			req, _ := http.NewRequest(http.MethodPatch, srv.URL+"/v1/user/"+strconv.FormatInt(u.ID, 10), strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+permanent)
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			_ = f.Users()
		})
		wg.Go(func() { _ = call(t, srv, http.MethodGet, "/v1/users?limit=100", permanent, "") })
	}
	wg.Wait()
	for _, u := range f.Users() {
		if u.Name != fmt.Sprintf("Renamed %d", u.ID) || !u.Blocked {
			t.Errorf("user %d: %q blocked=%v", u.ID, u.Name, u.Blocked)
		}
	}
	if f.Writes() != len(users) {
		t.Errorf("Writes() = %d, want %d", f.Writes(), len(users))
	}
}

func TestReadUsers(t *testing.T) {
	t.Run("demo seed", func(t *testing.T) {
		users := loadDemo(t)
		if len(users) < 25 {
			t.Fatalf("demo seed holds %d users", len(users))
		}
		roles := map[int64]bool{}
		blocked, withCallers := 0, 0
		for _, u := range users {
			roles[u.RoleID] = true
			if u.Blocked {
				blocked++
			}
			if len(u.CallerID) > 0 {
				withCallers++
			}
			if !numberRE.MatchString(u.Number) || !validEmail(u.Email) || u.AgentID == "" || u.LoginID == "" {
				t.Errorf("user %d is not one the fake would accept: %+v", u.ID, u)
			}
		}
		if len(roles) < 3 || blocked == 0 || withCallers == 0 {
			t.Errorf("demo seed lacks variety: %d roles, %d blocked, %d with caller ids", len(roles), blocked, withCallers)
		}
		// What the fake serves is what the file says.
		f := New(Config{}, users)
		got, _ := f.User(users[0].ID)
		if !reflect.DeepEqual(got, users[0]) {
			t.Errorf("served %+v, seeded %+v", got, users[0])
		}
	})
	hash, _ := bcrypt.GenerateFromPassword([]byte("x"), bcrypt.MinCost)
	tests := []struct {
		name, in string
		ok       bool
	}{
		{"empty array", `[]`, true},
		{"minimal", `[{"id": 1, "name": "A"}]`, true},
		{"bcrypt hash", `[{"id": 1, "password_hash": "` + string(hash) + `"}]`, true},
		{"unknown field", `[{"id": 1, "nmae": "A"}]`, false},
		{"duplicate id", `[{"id": 1}, {"id": 2}, {"id": 1}]`, false},
		{"zero id", `[{"name": "A"}]`, false},
		{"trailing data", `[{"id": 1}] [{"id": 2}]`, false},
		{"bad cdr type", `[{"id": 1, "users_for_cdr": {"type": "team", "value": null}}]`, false},
		{"plain password", `[{"id": 1, "password_hash": "secret"}]`, false},
		{"not an array", `{"id": 1}`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadUsers(strings.NewReader(tc.in))
			if (err == nil) != tc.ok {
				t.Errorf("err = %v, want ok=%v", err, tc.ok)
			}
		})
	}
	if _, err := LoadUsers("testdata/does-not-exist.json"); err == nil {
		t.Error("LoadUsers of a missing file succeeded")
	}
}

// TestMixedTypes checks MixedTypes: the users in store order alternate
// between the types the reference pages show (list id and role id as
// numbers, the one-user read's id as a string) and the other ones.
func TestMixedTypes(t *testing.T) {
	_, srv := start(t, Config{Token: permanent, MixedTypes: true}, twoUsers())
	items := call(t, srv, http.MethodGet, "/v1/users", permanent, "").json(t)["data"].([]any)
	first, second := items[0].(map[string]any), items[1].(map[string]any) // 314678, 370822
	if first["id"] != 314678.0 || at(first, "user_role.id") != 54630.0 {
		t.Errorf("first list item: id %#v, role %#v; want numbers", first["id"], at(first, "user_role.id"))
	}
	if second["id"] != "370822" || at(second, "user_role.id") != "54631" {
		t.Errorf("second list item: id %#v, role %#v; want strings", second["id"], at(second, "user_role.id"))
	}
	if g := get(t, srv, 314678); g["id"] != "314678" || at(g, "team_member.role.id") != 54630.0 {
		t.Errorf("first read: id %#v, role %#v; want the string and the number", g["id"], at(g, "team_member.role.id"))
	}
	if g := get(t, srv, 370822); g["id"] != 370822.0 || at(g, "team_member.role.id") != "54631" {
		t.Errorf("second read: id %#v, role %#v; want the number and the string", g["id"], at(g, "team_member.role.id"))
	}
}

// TestPluralErrors checks that PluralErrors puts a 400's per-field
// messages under "errors", and StringSuccess writes success as "false".
func TestPluralErrors(t *testing.T) {
	_, srv := start(t, Config{Token: permanent, PluralErrors: true, StringSuccess: true}, twoUsers())
	a := call(t, srv, http.MethodPatch, "/v1/user/314678", permanent, `{"email": "bad"}`)
	sameJSON(t, a.body, `{"success": "false", "message": "The given data was invalid.",
		"errors": {"email": ["The email field must be a valid email address."]}}`)
}
