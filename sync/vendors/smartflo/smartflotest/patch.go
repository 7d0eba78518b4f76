package smartflotest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/mail"
	"regexp"
	"strconv"
	"strings"
)

// patch is a validated PATCH /v1/user/{id} body: nil fields were not sent.
type patch struct {
	name, number, email, designation, loginID *string
	callerID, agentGroup                      *[]string
	blockAgent, international, disableAgent   *bool
	blockWebLogin, loginBasedCalling          *bool
	roleID                                    *int64
	password                                  *string // plain, from the body
	hash                                      *string // bcrypt of password, set before apply
	cdr                                       *CDR
}

// numberRE is what the fake takes for a phone number: E.164-ish.
var numberRE = regexp.MustCompile(`^\+[0-9]{8,15}$`)

// maxPassword is bcrypt's input limit.
const maxPassword = 72

// parsePatch validates a whole body before anything changes, collecting
// every field's errors the way Laravel reports them.
func (f *Fake) parsePatch(body []byte) (patch, map[string][]string) {
	var p patch
	errs := fieldErrors{}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil || fields == nil {
		errs.add("body", "The request body must be a JSON object.")
		return p, errs
	}
	if len(fields) == 0 {
		errs.add("body", "The request body must contain at least one field.")
		return p, errs
	}
	for field, raw := range fields {
		switch field {
		case "name":
			p.name = errs.str(field, raw, true, nil)
		case "number":
			p.number = errs.str(field, raw, true, checkNumber)
		case "email":
			p.email = errs.str(field, raw, true, checkEmail)
		case "designation":
			p.designation = errs.str(field, raw, false, nil)
		case "login_id":
			p.loginID = errs.str(field, raw, true, checkLoginID)
		case "password":
			p.password = errs.str(field, raw, true, checkPassword)
		case "user_role":
			p.roleID = f.role(raw, errs)
		case "caller_id":
			// An array of string on the PATCH page, array_int on Create
			// User (api.md, "What public sources add", Smartflo: "Types on
			// create vs patch"): the fake takes both.
			p.callerID = errs.strs(field, raw)
		case "agent_group":
			p.agentGroup = errs.strs(field, raw)
		case "block_agent":
			p.blockAgent = errs.boolean(field, raw)
		case "disable_agent":
			// "To disable the agent" (api.md, "What public sources add",
			// Smartflo: "disable_agent").
			p.disableAgent = errs.boolean(field, raw)
		case "international_outbound":
			p.international = errs.boolean(field, raw)
		case "block_web_login":
			p.blockWebLogin = errs.boolean(field, raw)
		case "login_based_calling":
			p.loginBasedCalling = errs.boolean(field, raw)
		case "user_for_cdr":
			p.cdr = parseCDR(raw, errs.add)
		default:
			errs.add(field, fmt.Sprintf("The %s field is not allowed.", field))
		}
	}
	return p, errs
}

// fieldErrors are the vendor's messages for a request's fields, by field.
type fieldErrors map[string][]string

func (e fieldErrors) add(field, msg string) { e[field] = append(e[field], msg) }

// str reads a string field, not blank when nonEmpty, that check (when
// set) accepts; nil when it is refused.
func (e fieldErrors) str(field string, raw json.RawMessage, nonEmpty bool, check func(string) string) *string {
	s, ok := asString(raw)
	switch {
	case !ok:
		e.add(field, fmt.Sprintf("The %s field must be a string.", field))
		return nil
	case nonEmpty && strings.TrimSpace(s) == "":
		e.add(field, fmt.Sprintf("The %s field must not be empty.", field))
		return nil
	case check != nil:
		if msg := check(s); msg != "" {
			e.add(field, msg)
			return nil
		}
	}
	return &s
}

// boolean reads a true or false field; nil when it is refused.
func (e fieldErrors) boolean(field string, raw json.RawMessage) *bool {
	var b bool
	if isNull(raw) || json.Unmarshal(raw, &b) != nil {
		e.add(field, fmt.Sprintf("The %s field must be true or false.", field))
		return nil
	}
	return &b
}

// strs reads an array of strings (or of integers, as Create User takes
// them); nil when it is refused.
func (e fieldErrors) strs(field string, raw json.RawMessage) *[]string {
	ss, ok := asStrings(raw)
	if !ok {
		e.add(field, fmt.Sprintf("The %s field must be an array of strings.", field))
		return nil
	}
	return &ss
}

// role reads user_role: a string on the PATCH page, an int on Create User
// (api.md, "What public sources add", Smartflo: "Types on create vs
// patch"); the fake takes both. It must name a role the account has.
func (f *Fake) role(raw json.RawMessage, errs fieldErrors) *int64 {
	s, ok := asString(raw)
	if !ok {
		s, ok = asInteger(raw)
	}
	if !ok || strings.TrimSpace(s) == "" {
		errs.add("user_role", "The user_role field must be a string.")
		return nil
	}
	id, err := strconv.ParseInt(s, 10, 64)
	if _, known := f.roles[id]; err != nil || !known {
		errs.add("user_role", "The selected user_role is invalid.")
		return nil
	}
	return &id
}

// The checks of string fields: "" when the value is accepted, else the
// vendor's message.

func checkNumber(s string) string {
	if !numberRE.MatchString(s) {
		return "The number field must be + followed by 8 to 15 digits."
	}
	return ""
}

func checkEmail(s string) string {
	if !validEmail(s) {
		return "The email field must be a valid email address."
	}
	return ""
}

func checkLoginID(s string) string {
	if strings.ContainsAny(s, " \t\r\n") {
		return "The login_id field must not contain spaces."
	}
	return ""
}

func checkPassword(s string) string {
	if len(s) > maxPassword {
		return fmt.Sprintf("The password field must not be greater than %d bytes.", maxPassword)
	}
	return ""
}

// parseCDR validates user_for_cdr: {"type": "all"} or {"type": "agent",
// "value": [agent ids...]}. A value sent with type all is checked, then
// dropped.
func parseCDR(raw json.RawMessage, add func(field, msg string)) *CDR {
	var obj map[string]json.RawMessage
	if isNull(raw) || json.Unmarshal(raw, &obj) != nil {
		add("user_for_cdr", "The user_for_cdr field must be an object.")
		return nil
	}
	ok := true
	for k := range obj {
		if k != "type" && k != "value" {
			add("user_for_cdr."+k, fmt.Sprintf("The user_for_cdr.%s field is not allowed.", k))
			ok = false
		}
	}
	typ, typeOK := asString(obj["type"])
	if !typeOK || (typ != CDRAll && typ != CDRAgent) {
		add("user_for_cdr.type", "The user_for_cdr.type field must be all or agent.")
		ok = false
	}
	var value []string
	if rawValue, sent := obj["value"]; sent && !isNull(rawValue) {
		v, valueOK := asStrings(rawValue)
		if !valueOK {
			add("user_for_cdr.value", "The user_for_cdr.value field must be an array of strings.")
			ok = false
		}
		value = v
	}
	if typ == CDRAgent && len(value) == 0 && ok {
		add("user_for_cdr.value", "The user_for_cdr.value field is required when user_for_cdr.type is agent.")
		ok = false
	}
	if !ok {
		return nil
	}
	if typ == CDRAll {
		value = nil
	}
	return &CDR{Type: typ, Value: value}
}

// isNull reports whether raw is JSON null (or absent).
func isNull(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || bytes.Equal(t, []byte("null"))
}

// asString decodes a JSON string; null and other types fail.
func asString(raw json.RawMessage) (string, bool) {
	var s string
	if isNull(raw) || json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// asInteger decodes a JSON whole number as its digits.
func asInteger(raw json.RawMessage) (string, bool) {
	var n int64
	if isNull(raw) || json.Unmarshal(raw, &n) != nil {
		return "", false
	}
	return strconv.FormatInt(n, 10), true
}

// asStrings decodes a JSON array of strings (or whole numbers, read as
// their digits); null, and null elements, fail.
func asStrings(raw json.RawMessage) ([]string, bool) {
	var items []json.RawMessage
	if isNull(raw) || json.Unmarshal(raw, &items) != nil {
		return nil, false
	}
	out := make([]string, 0, len(items))
	for _, item := range items {
		s, ok := asString(item)
		if !ok {
			s, ok = asInteger(item)
		}
		if !ok {
			return nil, false
		}
		out = append(out, s)
	}
	return out, true
}

// validEmail accepts a bare address (no display name) with a dotted domain.
func validEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" {
		return false
	}
	_, domain, _ := strings.Cut(s, "@")
	return strings.Contains(strings.Trim(domain, "."), ".")
}

// apply writes a validated patch to u; the caller holds the fake's mutex.
func (p *patch) apply(u *User, roles map[int64]string) {
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	setBool := func(dst *bool, src *bool) {
		if src != nil {
			*dst = *src
		}
	}
	set(&u.Name, p.name)
	set(&u.Number, p.number)
	set(&u.Email, p.email)
	set(&u.Designation, p.designation)
	set(&u.LoginID, p.loginID)
	set(&u.PasswordHash, p.hash)
	setBool(&u.Blocked, p.blockAgent)
	setBool(&u.Disabled, p.disableAgent)
	setBool(&u.InternationalOutbound, p.international)
	setBool(&u.WebLoginBlocked, p.blockWebLogin)
	setBool(&u.LoginBasedCalling, p.loginBasedCalling)
	if p.callerID != nil {
		u.CallerID = *p.callerID
	}
	if p.agentGroup != nil {
		u.AgentGroup = *p.agentGroup
	}
	if p.roleID != nil {
		u.RoleID, u.RoleName = *p.roleID, roles[*p.roleID]
	}
	if p.cdr != nil {
		u.UsersForCDR = *p.cdr
	}
}
