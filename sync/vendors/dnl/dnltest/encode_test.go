package dnltest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestEncodeLikeEncodingJSON holds the hand-written answers to what
// encoding/json writes, byte for byte, for users with every field set,
// null, empty, and strings that need escaping.
func TestEncodeLikeEncodingJSON(t *testing.T) {
	str := func(s string) *string { return &s }
	num := func(n int64) *int64 { return &n }
	agent := json.RawMessage(` { "id" : 5, "x": [1, 2] } `)
	users := append(Generate(3),
		User{},
		User{UserID: -7, Passwd: "$2b$12$abc/def.", UserType: "admin", Active: true, CarrierName: str("Carrier <&>"),
			DefaultMod: "cdr", ResellerID: num(0), OutboundReport: true, ClientLimits: []ClientLimit{{ClientID: 5}, {ClientID: -1}},
			LastName: str("O'Brien \"quoted\" \\ back\nline\ttab"), RoleID: num(1 << 40), LastLoginTime: str("2024-01-02T03:04:05Z"),
			AllTermination: true, ReportFields: "a,b", Client: &Client{IsPanelRatetable: true, CarrierName: "Café ☎ \u2028", IsPanelaccess: true, IsPanelCdrslist: true},
			ReportCount: "12", Name: "名前", FirstName: "\x01\x7f\xff", CdrExpire: str(""), IsPreload: true, LandingPage: "/home",
			LoginIP: str("10.0.0.1"), DefaultMod2: "x", AvatarID: num(9), CreateUserID: 1, CreateTime: "t", Agent: &agent,
			ReportGroup: true, AuthIP: []AuthIP{{IP: "192.0.2.1"}, {IP: ""}}, DefaultBillingDecimal: 4, CardID: num(3),
			Email: "a+b@example.com", LastSeen: str("s"), IsOnline: 1, RoleName: "Role", ClientID: num(100), Fullname: str("F N"),
			CdrAPIToken: str("tok"), ShowCarrierTrunkDropOnly: true},
	)
	for i, u := range users {
		want, err := json.Marshal(u.clone())
		if err != nil {
			t.Fatal(err)
		}
		if got := appendUser(nil, &u); string(got) != string(want) {
			t.Errorf("user %d:\n got %s\nwant %s", i, got, want)
		}
	}
	// The list page and the one-user answer around them.
	f := New(Config{Token: "t"}, users[:3])
	for _, tc := range []struct{ path, want string }{
		{"/v1/user/list?order_by=user_id&order_dir=asc&page=0&per_page=2", mustJSON(map[string]any{"success": true,
			"payload": map[string]any{"total": 3, "page": 0, "per_page": 2, "items": []User{users[0].clone(), users[1].clone()}}})},
		{"/v1/user/list?order_by=user_id&page=9&per_page=2", mustJSON(map[string]any{"success": true,
			"payload": map[string]any{"total": 3, "page": 9, "per_page": 2, "items": []User{}}})},
		{"/v1/user/2", mustJSON(map[string]any{"success": true, "payload": users[1].clone()})},
	} {
		got := serveOnce(t, f, tc.path)
		if !sameJSON(got, tc.want) {
			t.Errorf("%s:\n got %s\nwant %s", tc.path, got, tc.want)
		}
	}
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// sameJSON compares two documents as values (the envelope's key order is
// encoding/json's map order in the reference).
func sameJSON(a, b string) bool {
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return false
	}
	return fmt.Sprint(x) == fmt.Sprint(y)
}

func serveOnce(t *testing.T, f *Fake, path string) string {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, path, nil)
	r.Header.Set("X-Auth-Token", "t")
	w := httptest.NewRecorder()
	f.ServeHTTP(w, r)
	if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("%s: HTTP %d, %q", path, w.Code, w.Header().Get("Content-Type"))
	}
	return w.Body.String()
}
