package dnltest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/mail"
	"strconv"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// The vendor validates with marshmallow; these are its messages.
const (
	msgUnknown   = "Unknown field."
	msgBoolean   = "Not a valid boolean."
	msgInteger   = "Not a valid integer."
	msgString    = "Not a valid string."
	msgList      = "Not a valid list."
	msgEmail     = "Not a valid email address."
	msgUserType  = "Must be one of: admin, agent, client."
	msgNull      = "Field may not be null."
	msgRequired  = "Missing data for required field."
	msgNoData    = "No data provided."
	msgInput     = "Invalid input type."
	msgPasswdLen = "Longer than maximum length 72."
)

// maxPasswd is the longest password bcrypt takes, in bytes.
const maxPasswd = 72

// fieldError is one message about one field of a request.
type fieldError struct{ field, msg string }

// validator collects field errors.
type validator struct{ errs []fieldError }

func (v *validator) add(field, msg string) { v.errs = append(v.errs, fieldError{field, msg}) }

func (v *validator) str(key string, val any) (string, bool) {
	switch x := val.(type) {
	case string:
		return x, true
	case nil:
		v.add(key, msgNull)
	default:
		v.add(key, msgString)
	}
	return "", false
}

func (v *validator) boolean(key string, val any) (bool, bool) {
	switch x := val.(type) {
	case bool:
		return x, true
	case nil:
		v.add(key, msgNull)
	default:
		v.add(key, msgBoolean)
	}
	return false, false
}

// integer accepts a JSON number holding an int64, or null when nullable
// (then it returns nil).
func (v *validator) integer(key string, val any, nullable bool) (*int64, bool) {
	switch x := val.(type) {
	case json.Number:
		if n, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return &n, true
		}
		v.add(key, msgInteger)
	case nil:
		if nullable {
			return nil, true
		}
		v.add(key, msgNull)
	default:
		v.add(key, msgInteger)
	}
	return nil, false
}

func (v *validator) list(key string, val any) ([]any, bool) {
	switch x := val.(type) {
	case []any:
		return x, true
	case nil:
		v.add(key, msgNull)
	default:
		v.add(key, msgList)
	}
	return nil, false
}

func (v *validator) object(key string, val any) (map[string]any, bool) {
	switch x := val.(type) {
	case map[string]any:
		return x, true
	case nil:
		v.add(key, msgNull)
	default:
		v.add(key, msgInput)
	}
	return nil, false
}

func (v *validator) requiredString(obj map[string]any, key string) (string, bool) {
	val, ok := obj[key]
	if !ok {
		v.add(key, msgRequired)
		return "", false
	}
	return v.str(key, val)
}

// decodeObject reads a request body that must be one non-empty JSON object.
func decodeObject(r *http.Request) (map[string]any, []fieldError) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, []fieldError{{"_schema", msgInput}}
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, []fieldError{{"_schema", msgNoData}}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var val any
	if err := dec.Decode(&val); err != nil {
		return nil, []fieldError{{"_schema", msgInput}}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, []fieldError{{"_schema", msgInput}}
	}
	obj, ok := val.(map[string]any)
	switch {
	case val == nil, ok && len(obj) == 0:
		return nil, []fieldError{{"_schema", msgNoData}}
	case !ok:
		return nil, []fieldError{{"_schema", msgInput}}
	}
	return obj, nil
}

// change is a validated PATCH body.
type change struct {
	applies []func(*User)
	passwd  *string // plain text, hashed before it is stored
}

// fieldParser validates one PATCH field; it returns how to apply it, or nil
// after adding errors to v.
type fieldParser func(v *validator, key string, val any) func(*User)

// patchFields are the PATCH body fields of the seed, except passwd.
var patchFields = map[string]fieldParser{
	"user_type": func(v *validator, key string, val any) func(*User) {
		s, ok := v.str(key, val)
		if !ok {
			return nil
		}
		if !validUserType(s) {
			v.add(key, msgUserType)
			return nil
		}
		return func(u *User) { u.UserType = s }
	},
	"email": func(v *validator, key string, val any) func(*User) {
		s, ok := v.str(key, val)
		if !ok {
			return nil
		}
		if !validEmail(s) {
			v.add(key, msgEmail)
			return nil
		}
		return func(u *User) { u.Email = s }
	},
	"client":                       parseClient,
	"client_limits":                parseClientLimits,
	"auth_ip":                      parseAuthIP,
	"default_mod":                  stringField(func(u *User, s string) { u.DefaultMod = s }),
	"last_name":                    stringField(func(u *User, s string) { u.LastName = &s }),
	"landing_page":                 stringField(func(u *User, s string) { u.LandingPage = s }),
	"first_name":                   stringField(func(u *User, s string) { u.FirstName = s }),
	"default_mod2":                 stringField(func(u *User, s string) { u.DefaultMod2 = s }),
	"name":                         stringField(func(u *User, s string) { u.Name = s }),
	"report_fields":                stringField(func(u *User, s string) { u.ReportFields = s }),
	"outbound_report":              boolField(func(u *User, b bool) { u.OutboundReport = b }),
	"all_termination":              boolField(func(u *User, b bool) { u.AllTermination = b }),
	"active":                       boolField(func(u *User, b bool) { u.Active = b }),
	"report_group":                 boolField(func(u *User, b bool) { u.ReportGroup = b }),
	"show_carrier_trunk_drop_only": boolField(func(u *User, b bool) { u.ShowCarrierTrunkDropOnly = b }),
	"reseller_id":                  nullIntField(func(u *User, n *int64) { u.ResellerID = n }),
	"role_id":                      nullIntField(func(u *User, n *int64) { u.RoleID = n }),
	"client_id":                    nullIntField(func(u *User, n *int64) { u.ClientID = n }),
	"avatar_id":                    nullIntField(func(u *User, n *int64) { u.AvatarID = n }),
	"card_id":                      nullIntField(func(u *User, n *int64) { u.CardID = n }),
}

func stringField(set func(*User, string)) fieldParser {
	return func(v *validator, key string, val any) func(*User) {
		s, ok := v.str(key, val)
		if !ok {
			return nil
		}
		return func(u *User) { set(u, s) }
	}
}

func boolField(set func(*User, bool)) fieldParser {
	return func(v *validator, key string, val any) func(*User) {
		b, ok := v.boolean(key, val)
		if !ok {
			return nil
		}
		return func(u *User) { set(u, b) }
	}
}

func nullIntField(set func(*User, *int64)) fieldParser {
	return func(v *validator, key string, val any) func(*User) {
		n, ok := v.integer(key, val, true)
		if !ok {
			return nil
		}
		return func(u *User) { set(u, n) }
	}
}

// clientBools are the client object's booleans, by JSON name.
var clientBools = map[string]func(*Client) *bool{
	"is_panel_ratetable":      func(c *Client) *bool { return &c.IsPanelRatetable },
	"is_panel_invoices":       func(c *Client) *bool { return &c.IsPanelInvoices },
	"is_panel_products":       func(c *Client) *bool { return &c.IsPanelProducts },
	"is_panel_paymenthistory": func(c *Client) *bool { return &c.IsPanelPaymenthistory },
	"is_panel_trunks":         func(c *Client) *bool { return &c.IsPanelTrunks },
	"is_panel_balance":        func(c *Client) *bool { return &c.IsPanelBalance },
	"is_panel_onlinepayment":  func(c *Client) *bool { return &c.IsPanelOnlinepayment },
	"is_panel_cid_blocking":   func(c *Client) *bool { return &c.IsPanelCidBlocking },
	"is_panel_sippacket":      func(c *Client) *bool { return &c.IsPanelSippacket },
	"is_panelaccess":          func(c *Client) *bool { return &c.IsPanelaccess },
	"is_panel_accountsummary": func(c *Client) *bool { return &c.IsPanelAccountsummary },
	"is_panel_summaryreport":  func(c *Client) *bool { return &c.IsPanelSummaryreport },
	"is_panel_cdrslist":       func(c *Client) *bool { return &c.IsPanelCdrslist },
}

// parseClient validates the client object; applying it merges the given
// keys into the stored client, created with zero values when null.
func parseClient(v *validator, key string, val any) func(*User) {
	obj, ok := v.object(key, val)
	if !ok {
		return nil
	}
	before := len(v.errs)
	var sets []func(*Client)
	for k, kv := range obj {
		full := key + "." + k
		if k == "carrier_name" {
			if s, ok := v.str(full, kv); ok {
				sets = append(sets, func(c *Client) { c.CarrierName = s })
			}
			continue
		}
		field, known := clientBools[k]
		if !known {
			v.add(full, msgUnknown)
			continue
		}
		if b, ok := v.boolean(full, kv); ok {
			sets = append(sets, func(c *Client) { *field(c) = b })
		}
	}
	if len(v.errs) > before {
		return nil
	}
	return func(u *User) {
		if u.Client == nil {
			u.Client = &Client{}
		}
		for _, set := range sets {
			set(u.Client)
		}
	}
}

// listOfObjects validates a list of objects that each hold exactly the one
// field elem, checked by parse; errors name "<key>.<index>[.<field>]".
func listOfObjects(v *validator, key string, val any, elem string, parse func(key string, val any)) bool {
	items, ok := v.list(key, val)
	if !ok {
		return false
	}
	before := len(v.errs)
	for i, it := range items {
		ik := key + "." + strconv.Itoa(i)
		obj, ok := v.object(ik, it)
		if !ok {
			continue
		}
		for k := range obj {
			if k != elem {
				v.add(ik+"."+k, msgUnknown)
			}
		}
		raw, present := obj[elem]
		if !present {
			v.add(ik+"."+elem, msgRequired)
			continue
		}
		parse(ik+"."+elem, raw)
	}
	return len(v.errs) == before
}

// parseClientLimits validates client_limits; applying it replaces the list.
func parseClientLimits(v *validator, key string, val any) func(*User) {
	limits := []ClientLimit{}
	ok := listOfObjects(v, key, val, "client_id", func(k string, raw any) {
		if n, ok := v.integer(k, raw, false); ok {
			limits = append(limits, ClientLimit{ClientID: *n})
		}
	})
	if !ok {
		return nil
	}
	return func(u *User) { u.ClientLimits = limits }
}

// parseAuthIP validates auth_ip; applying it replaces the list.
func parseAuthIP(v *validator, key string, val any) func(*User) {
	ips := []AuthIP{}
	ok := listOfObjects(v, key, val, "ip", func(k string, raw any) {
		if s, ok := v.str(k, raw); ok {
			ips = append(ips, AuthIP{IP: s})
		}
	})
	if !ok {
		return nil
	}
	return func(u *User) { u.AuthIP = ips }
}

// parsePatch validates a whole PATCH body before anything changes.
func parsePatch(r *http.Request) (change, []fieldError) {
	obj, errs := decodeObject(r)
	if errs != nil {
		return change{}, errs
	}
	var v validator
	var ch change
	for k, val := range obj {
		if k == "passwd" {
			if s, ok := v.str(k, val); ok {
				if len(s) > maxPasswd {
					v.add(k, msgPasswdLen)
				} else {
					ch.passwd = &s
				}
			}
			continue
		}
		parse, known := patchFields[k]
		if !known {
			v.add(k, msgUnknown)
			continue
		}
		if apply := parse(&v, k, val); apply != nil {
			ch.applies = append(ch.applies, apply)
		}
	}
	if v.errs != nil {
		return change{}, v.errs
	}
	return ch, nil
}

// validEmail is a plain addr-spec check, close to marshmallow's Email.
func validEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return false
	}
	domain := s[strings.LastIndexByte(s, '@')+1:]
	if domain == "localhost" {
		return true
	}
	return strings.Contains(domain, ".") && !strings.HasPrefix(domain, ".") && !strings.HasSuffix(domain, ".") &&
		!strings.Contains(domain, "..")
}

// hashPassword hashes pw the way the vendor stores it: bcrypt shown with
// the "$2b$" prefix (the same algorithm as Go's "$2a$").
func hashPassword(pw string, cost int) (string, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(pw), cost)
	if err != nil {
		return "", fmt.Errorf("dnltest: hashing passwd: %w", err)
	}
	return "$2b$" + strings.TrimPrefix(string(h), "$2a$"), nil
}
