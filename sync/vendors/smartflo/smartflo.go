// Package smartflo is the Smartflo (Tata Tele Business Services) target:
// its field table, its API client and how its answers are read. The fake
// server lives in smartflotest.
package smartflo

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rostersync/rostersync/sync/apply"
	"github.com/rostersync/rostersync/sync/model"
	"github.com/rostersync/rostersync/sync/plan"
	"github.com/rostersync/rostersync/sync/vendors/rest"
)

// DefaultBaseURL is the vendor's API host; white labels use their own.
const DefaultBaseURL = "https://api-smartflo.tatateleservices.com"

// WhiteLabels are the other hosts of the same API, for --base-url:
// Servetel, Acefone (India and UK), and the cloudphone host public
// integrations use for /v1/users and /v1/user/{id} (api.md, "What public
// sources add", Smartflo: "White labels, same API, other hosts").
var WhiteLabels = []string{
	"https://api.servetel.in",
	"https://api.acefone.in",
	"https://api.acefone.co.uk",
	"https://api-cloudphone.tatateleservices.com",
}

var at = model.At

// table is every PATCH field, where the one-user read (under "data") and
// the list items hold it; the README's table "Where Smartflo's fields are
// read" says the same for people. A role id may come back as a number or
// a string (model.Text reads both: api.md, "What public sources add",
// Smartflo: "Types on create vs patch"), and designation as null, read as
// empty ("One-user read").
//
// The block shows in two places that must agree: the one-user read's
// team_member.status ("BLOCK = 0 UNBLOCK = 1") and the list's agent.status
// (1 = blocked), which also shows a disabled agent (2) and so cannot tell
// whether a disabled agent is blocked too: then it is unknown, and the
// plan reads that user in full (api.md, "What public sources add",
// Smartflo: "Which status shows a block"; AgentDisabled).
//
// disable_agent ("To disable the agent", on the white labels' PATCH page
// and sent by public code to the Smartflo host: api.md, "What public
// sources add", Smartflo: "disable_agent") reads back from no documented
// place: assumed, agent.status (list) and agent.agent_status (one-user
// read) equal to AgentDisabled. Disabling an agent stops its calls as a
// block does, so the guard counts it as one.
var table = model.NewTable(
	model.Field{Name: "name", Kind: model.Text, Read: at("name"), List: at("name")},
	model.Field{Name: "number", Kind: model.Phone, Read: at("number")},
	model.Field{Name: "email", Kind: model.Email, Read: at("team_member.email")},
	model.Field{Name: "designation", Kind: model.Text, Read: at("team_member.designation")},
	model.Field{Name: "login_id", Kind: model.Text, Read: at("team_member.login_id"), List: at("login_id")},
	model.Field{Name: "user_role", Kind: model.Text, Read: at("team_member.role.id"), List: at("user_role.id")},
	model.Field{Name: "block_agent", Kind: model.Bool, Read: at("team_member.status").Is(0), List: at("agent.status").Is(1).UnknownAt(AgentDisabled), Blocks: true},
	model.Field{Name: "disable_agent", Kind: model.Bool, Read: at(disabledRead).Is(AgentDisabled), List: at(disabledList).Is(AgentDisabled), Blocks: true},
	model.Field{Name: "block_web_login", Kind: model.Bool, Read: at("team_member.is_web_login_block")},
	model.Field{Name: "login_based_calling", Kind: model.Bool, Read: at("team_member.is_login_based_calling"), List: at("is_login_based_calling_enabled")},
	model.Field{Name: "international_outbound", Kind: model.Bool, Read: at("agent.is_international_outbound_enabled"), List: at("is_international_outbound_enabled")},
	model.Field{Name: "user_for_cdr.type", Kind: model.OneOf("all", "agent"), Read: at("team_member.users_for_cdr.type"), Group: "user_for_cdr"},
	model.Field{Name: "user_for_cdr.value", Kind: model.List(model.Digits(AgentIDDigits, "agent id"), ""), Read: at("team_member.users_for_cdr.value"), Group: "user_for_cdr"},
	model.Field{Name: "caller_id", Kind: model.List(model.Text, "")},
	model.Field{Name: "agent_group", Kind: model.List(model.Text, "")},
	model.Field{Name: "password", Kind: model.Text, Secret: true},
)

// Target is Smartflo's users: the field table, the id key, and the fields
// a roster may name users by.
var Target = model.Target{Name: "smartflo", Table: table, Key: "id", MatchFields: []string{"email", "login_id"}}

// Client is a Smartflo API client.
type Client struct {
	api    *rest.Client
	listed *reading // the fields a list read picks
	read   *reading // the fields a one-user read picks: all it holds
}

var (
	_ plan.Reader   = (*Client)(nil)
	_ plan.Narrower = (*Client)(nil)
	_ apply.Patcher = (*Client)(nil)
)

// New returns a client for cfg; an empty BaseURL means DefaultBaseURL.
func New(cfg rest.Config) *Client {
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultBaseURL
	}
	var warned atomic.Bool // the password's expiry is told once a run
	login := func(ctx context.Context, api *rest.Client, email string, password, stale model.Secret) (model.Secret, error) {
		return login(ctx, api, email, password, stale, &warned)
	}
	return &Client{api: rest.NewClient(cfg, rest.API{AuthHeader: "Authorization", AuthPrefix: "Bearer ",
		SecretKeys: []string{"password"}, Check: Check, Login: login}),
		listed: newReading(table.PickList(nil)), read: newReading(table.PickRead(nil))}
}

// PasswordWarnDays is how close to its expiry a login's password makes
// the run warn: two weeks, time enough for a scheduled job's owner to
// change it before the job breaks.
const PasswordWarnDays = 14

// List implements plan.Reader, walking the cursor pages.
func (c *Client) List(ctx context.Context, yield func(model.User) error) error {
	var last json.Number
	page := &listAnswer{r: c.listed}
	for {
		path := fmt.Sprintf("/v1/users?limit=%d", MaxPageSize)
		if last != "" {
			path += "&last_seen_id=" + url.QueryEscape(last.String())
		}
		if _, err := c.api.Do(ctx, http.MethodGet, path, nil, page); err != nil {
			return err
		}
		if page.count != page.items {
			return fmt.Errorf("GET /v1/users: the page says count %d but holds %d users", page.count, page.items)
		}
		for _, u := range page.users {
			if err := yield(u); err != nil {
				return err
			}
		}
		if page.err != nil {
			return page.err
		}
		if !page.hasMore {
			return nil
		}
		if page.lastSeenID == "" || page.lastSeenID == last {
			return fmt.Errorf("GET /v1/users: has_more is true but last_seen_id did not advance past %q", last)
		}
		last = page.lastSeenID
	}
}

// Only implements plan.Narrower: a client whose list reads carry only the
// named fields, sharing this one's connection, limiter and token.
func (c *Client) Only(fields []string) plan.Reader {
	n := *c
	n.listed = newReading(table.PickList(func(name string) bool { return slices.Contains(fields, name) }))
	return &n
}

// Get implements plan.Reader.
func (c *Client) Get(ctx context.Context, id string) (model.User, error) {
	out := c.read.one(id)
	if _, err := c.api.Do(ctx, http.MethodGet, "/v1/user/"+url.PathEscape(id), nil, out); err != nil {
		return model.User{}, err
	}
	switch {
	case out.Err != nil:
		return model.User{}, out.Err
	case out.User == nil:
		return model.User{}, fmt.Errorf("GET /v1/user/%s: the answer holds no data", id)
	}
	return *out.User, nil
}

// Patch implements apply.Patcher.
func (c *Client) Patch(ctx context.Context, id string, body map[string]any) (model.Result, error) {
	return c.api.Do(ctx, http.MethodPatch, "/v1/user/"+url.PathEscape(id), body, nil)
}

// login obtains a token: a refresh of the stale one when there is one,
// else (or when the refresh is refused) a login. Each is sent once, never
// in a loop: repeated failed logins lock the account.
//
// A login's answer tells the days before the password expires under the
// vendor's 90-day reset policy (api.md, "What public sources add",
// Smartflo: "Login": number_of_days_left): a nightly job logging in with
// a password breaks when it expires, so within PasswordWarnDays the run
// warns, once (warned).
func login(ctx context.Context, api *rest.Client, email string, password, stale model.Secret, warned *atomic.Bool) (model.Secret, error) {
	var out struct {
		AccessToken      string      `json:"access_token"`
		NumberOfDaysLeft json.Number `json:"number_of_days_left"`
	}
	if stale != "" {
		if _, err := api.Call(ctx, http.MethodPost, "/v1/auth/refresh", nil, &out, rest.TokenOnly); err == nil && out.AccessToken != "" {
			return model.Secret(out.AccessToken), nil
		}
	}
	in := map[string]string{"email": email, "password": password.Reveal()}
	if _, err := api.Call(ctx, http.MethodPost, "/v1/auth/login", in, &out, rest.NoToken); err != nil {
		return "", rest.LoginError(email, err)
	}
	if out.AccessToken == "" {
		return "", fmt.Errorf("logging in as %s: the answer holds no access_token", email)
	}
	if days, err := out.NumberOfDaysLeft.Int64(); err == nil && days <= PasswordWarnDays && !warned.Swap(true) {
		api.Warn(passwordExpiry(email, days))
	}
	return model.Secret(out.AccessToken), nil
}

// passwordExpiry is the warning of a password that expires in days.
func passwordExpiry(email string, days int64) string {
	when := fmt.Sprintf("in %d days", days)
	switch {
	case days <= 0:
		when = "today"
	case days == 1:
		when = "tomorrow"
	}
	return fmt.Sprintf("the Smartflo password of %s expires %s (number_of_days_left %d, 90-day reset policy): "+
		"change it in the panel and in ROSTERSYNC_PASSWORD before then, or runs will fail to log in", email, when, days)
}

// envelope is the part of every Smartflo answer that tells failure.
// Per-field messages come under "error", the only name the vendor's docs
// give, or "errors", which public PHP code reads (api.md, "What public
// sources add", Smartflo: "400 bodies"): both are read. A failed login
// counts the failures so far in login_failed_count ("Login").
type envelope struct {
	Success          rest.Success    `json:"success"`
	Message          string          `json:"message"`
	Error            json.RawMessage `json:"error"`
	Errors           json.RawMessage `json:"errors"`
	RetryAfter       string          `json:"retry_after"`
	LoginFailedCount json.Number     `json:"login_failed_count"`
}

// india is the zone of the body's retry_after.
var india = time.FixedZone("IST", 5*3600+1800)

// Check reads a Smartflo answer: an HTTP error, or a 2xx whose body's
// success is false ("false" in any case, as the vendor's documentation
// writes it, or 0), is a failure. A message that says the token expired
// is an expiry, whatever the status.
func Check(status int, h http.Header, body []byte) *rest.Error {
	if status < 400 && !rest.MayFail(body) {
		return nil
	}
	var env envelope
	_ = json.Unmarshal(body, &env) // a body that is not JSON still fails on its status
	if status < 400 && !env.Success.Failed() {
		return nil
	}
	e := &rest.Error{Status: status, Message: message(env, body)}
	expired := strings.Contains(strings.ToLower(env.Message), "expired")
	e.Expired = expired
	e.Denied = !expired && (status == http.StatusUnauthorized || status == http.StatusForbidden)
	e.Missing = status == NotFoundStatus
	if status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable {
		e.Retry = rest.RetryAfterHeader(h)
		if t, err := time.ParseInLocation(time.DateTime, env.RetryAfter, india); err == nil && t.After(e.Retry) {
			e.Retry = t
		}
	}
	return e
}

// message renders the vendor's words: the message, per-field errors, and
// for a failed login how many failed so far and what more would do.
func message(env envelope, body []byte) string {
	msg := env.Message
	fields := map[string][]string{}
	var general []string
	fieldErrors(env.Error, fields, &general, 0)
	fieldErrors(env.Errors, fields, &general, 0)
	detail := rest.FieldErrors(fields)
	if len(general) > 0 {
		detail = strings.TrimPrefix(detail+"; "+strings.Join(general, "; "), "; ")
	}
	if detail != "" {
		msg = strings.TrimSuffix(msg, ".") + ": " + detail
	}
	if n, err := env.LoginFailedCount.Int64(); err == nil {
		msg = strings.TrimSpace(fmt.Sprintf("%s (login_failed_count %d: more failed logins lock the account; "+
			"rostersync does not log in again, so check ROSTERSYNC_LOGIN and ROSTERSYNC_PASSWORD before the next run)", msg, n))
	}
	if msg == "" && !env.Success.Given() {
		msg = rest.Snippet(body)
	}
	return msg
}

// fieldErrors gathers validation messages from raw, whatever its shape:
// an object of field to a message or a list of them (Laravel's), a list
// of such objects, or plain messages, which go to general.
func fieldErrors(raw json.RawMessage, fields map[string][]string, general *[]string, depth int) {
	if len(raw) == 0 || depth > 2 {
		return
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) == nil {
		for k, v := range obj {
			var list []string
			if json.Unmarshal(v, &list) != nil {
				var one string
				if json.Unmarshal(v, &one) != nil {
					continue
				}
				list = []string{one}
			}
			fields[k] = append(fields[k], list...)
		}
		return
	}
	var items []json.RawMessage
	if json.Unmarshal(raw, &items) == nil {
		for _, item := range items {
			fieldErrors(item, fields, general, depth+1)
		}
		return
	}
	var one string
	if json.Unmarshal(raw, &one) == nil && one != "" {
		*general = append(*general, one)
	}
}
