package dnltest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// User is one user as the fake stores and returns it: the USER object of the
// seed's example response. A seed file is a JSON array of these. Pointer
// fields are the ones the vendor returns as null.
type User struct {
	UserID                   int64            `json:"user_id"`
	Passwd                   string           `json:"passwd"` // a bcrypt hash, "$2b$12$..."
	UserType                 string           `json:"user_type"`
	Active                   bool             `json:"active"`
	CarrierName              *string          `json:"carrier_name"`
	DefaultMod               string           `json:"default_mod"`
	ResellerID               *int64           `json:"reseller_id"`
	OutboundReport           bool             `json:"outbound_report"`
	ClientLimits             []ClientLimit    `json:"client_limits"`
	LastName                 *string          `json:"last_name"`
	RoleID                   *int64           `json:"role_id"`
	LastLoginTime            *string          `json:"last_login_time"`
	AllTermination           bool             `json:"all_termination"`
	ReportFields             string           `json:"report_fields"`
	Client                   *Client          `json:"client"`
	ReportCount              string           `json:"report_count"`
	Name                     string           `json:"name"`
	FirstName                string           `json:"first_name"`
	CdrExpire                *string          `json:"cdr_expire"` // type not documented; assumed a timestamp
	IsPreload                bool             `json:"is_preload"`
	LandingPage              string           `json:"landing_page"`
	LoginIP                  *string          `json:"login_ip"`
	DefaultMod2              string           `json:"default_mod2"`
	AvatarID                 *int64           `json:"avatar_id"`
	CreateUserID             int64            `json:"create_user_id"`
	CreateTime               string           `json:"create_time"`
	Agent                    *json.RawMessage `json:"agent"` // shape not documented, kept as raw JSON
	ReportGroup              bool             `json:"report_group"`
	AuthIP                   []AuthIP         `json:"auth_ip"`
	DefaultBillingDecimal    int              `json:"default_billing_decimal"`
	CardID                   *int64           `json:"card_id"`
	Email                    string           `json:"email"`
	LastSeen                 *string          `json:"last_seen"`
	IsOnline                 int              `json:"is_online"`
	RoleName                 string           `json:"role_name"`
	ClientID                 *int64           `json:"client_id"`
	Fullname                 *string          `json:"fullname"`
	CdrAPIToken              *string          `json:"cdr_api_token"`
	ShowCarrierTrunkDropOnly bool             `json:"show_carrier_trunk_drop_only"`
}

// Client is the client object of a USER and of the PATCH body: which panels
// a client user may open, and its carrier name.
type Client struct {
	IsPanelRatetable      bool   `json:"is_panel_ratetable"`
	IsPanelInvoices       bool   `json:"is_panel_invoices"`
	IsPanelProducts       bool   `json:"is_panel_products"`
	IsPanelPaymenthistory bool   `json:"is_panel_paymenthistory"`
	CarrierName           string `json:"carrier_name"`
	IsPanelTrunks         bool   `json:"is_panel_trunks"`
	IsPanelBalance        bool   `json:"is_panel_balance"`
	IsPanelOnlinepayment  bool   `json:"is_panel_onlinepayment"`
	IsPanelCidBlocking    bool   `json:"is_panel_cid_blocking"`
	IsPanelSippacket      bool   `json:"is_panel_sippacket"`
	IsPanelaccess         bool   `json:"is_panelaccess"`
	IsPanelAccountsummary bool   `json:"is_panel_accountsummary"`
	IsPanelSummaryreport  bool   `json:"is_panel_summaryreport"`
	IsPanelCdrslist       bool   `json:"is_panel_cdrslist"`
}

// ClientLimit is one element of client_limits: a client the user is limited to.
// It is an alias, so a literal of the plain struct type works too.
type ClientLimit = struct {
	ClientID int64 `json:"client_id"`
}

// AuthIP is one element of auth_ip: an address the user may log in from.
// It is an alias, so a literal of the plain struct type works too.
type AuthIP = struct {
	IP string `json:"ip"`
}

// clone returns a deep copy of u whose lists are never nil, so they marshal as [].
func (u User) clone() User {
	c := u
	c.CarrierName = clonePtr(u.CarrierName)
	c.ResellerID = clonePtr(u.ResellerID)
	c.ClientLimits = append(make([]ClientLimit, 0, len(u.ClientLimits)), u.ClientLimits...)
	c.LastName = clonePtr(u.LastName)
	c.RoleID = clonePtr(u.RoleID)
	c.LastLoginTime = clonePtr(u.LastLoginTime)
	c.Client = clonePtr(u.Client)
	c.CdrExpire = clonePtr(u.CdrExpire)
	c.LoginIP = clonePtr(u.LoginIP)
	c.AvatarID = clonePtr(u.AvatarID)
	if u.Agent != nil {
		raw := json.RawMessage(bytes.Clone(*u.Agent))
		c.Agent = &raw
	}
	c.AuthIP = append(make([]AuthIP, 0, len(u.AuthIP)), u.AuthIP...)
	c.CardID = clonePtr(u.CardID)
	c.LastSeen = clonePtr(u.LastSeen)
	c.ClientID = clonePtr(u.ClientID)
	c.Fullname = clonePtr(u.Fullname)
	c.CdrAPIToken = clonePtr(u.CdrAPIToken)
	return c
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// ReadUsers decodes a seed file: a JSON array of users. It rejects unknown
// fields, duplicate or non-positive ids, a user_type other than admin, agent
// or client, and a passwd that is not a bcrypt hash.
func ReadUsers(r io.Reader) ([]User, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var users []User
	if err := dec.Decode(&users); err != nil {
		return nil, fmt.Errorf("dnltest: decoding users: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("dnltest: decoding users: data after the array")
	}
	seen := make(map[int64]int, len(users))
	for i, u := range users {
		if u.UserID <= 0 {
			return nil, fmt.Errorf("dnltest: user %d: user_id %d is not positive", i, u.UserID)
		}
		if j, dup := seen[u.UserID]; dup {
			return nil, fmt.Errorf("dnltest: user %d: user_id %d already used by user %d", i, u.UserID, j)
		}
		seen[u.UserID] = i
		if !validUserType(u.UserType) {
			return nil, fmt.Errorf("dnltest: user %d (user_id %d): user_type %q is not admin, agent or client", i, u.UserID, u.UserType)
		}
		if u.Passwd != "" && !isBcryptHash(u.Passwd) {
			return nil, fmt.Errorf("dnltest: user %d (user_id %d): passwd is not a bcrypt hash", i, u.UserID)
		}
	}
	return users, nil
}

// LoadUsers reads the seed file at path with ReadUsers.
func LoadUsers(path string) ([]User, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("dnltest: %w", err)
	}
	defer f.Close()
	users, err := ReadUsers(f)
	if err != nil {
		return nil, fmt.Errorf("%w (in %s)", err, path)
	}
	return users, nil
}

var userTypes = []string{"admin", "agent", "client"}

func validUserType(s string) bool {
	for _, t := range userTypes {
		if s == t {
			return true
		}
	}
	return false
}

// isBcryptHash reports whether s has the form of a bcrypt hash.
func isBcryptHash(s string) bool {
	if len(s) != 60 || !(strings.HasPrefix(s, "$2a$") || strings.HasPrefix(s, "$2b$") || strings.HasPrefix(s, "$2y$")) {
		return false
	}
	_, err := bcrypt.Cost([]byte(s))
	return err == nil
}

// Generate returns n made-up users, ids 1 to n, for tests and benchmarks
// that need many: agents named user<i>, u<i>@example.com, active.
func Generate(n int) []User {
	users := make([]User, n)
	for i := range users {
		users[i] = User{UserID: int64(i + 1), Name: fmt.Sprint("user", i+1), UserType: "agent", Active: true,
			Email: fmt.Sprintf("u%d@example.com", i+1)}
	}
	return users
}
