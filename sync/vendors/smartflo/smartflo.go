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
	"strings"
	"time"

	"github.com/rostersync/rostersync/sync/apply"
	"github.com/rostersync/rostersync/sync/model"
	"github.com/rostersync/rostersync/sync/plan"
	"github.com/rostersync/rostersync/sync/vendors/rest"
)

// DefaultBaseURL is the vendor's API host; white labels use their own.
const DefaultBaseURL = "https://api-smartflo.tatateleservices.com"

var at = model.At

// table is every PATCH field, where the one-user read (under "data") and
// the list items hold it.
var table = model.NewTable(
	model.Field{Name: "name", Kind: model.Text, Read: at("name"), List: at("name")},
	model.Field{Name: "number", Kind: model.Phone, Read: at("number")},
	model.Field{Name: "email", Kind: model.Email, Read: at("team_member.email")},
	model.Field{Name: "designation", Kind: model.Text, Read: at("team_member.designation")},
	model.Field{Name: "login_id", Kind: model.Text, Read: at("team_member.login_id"), List: at("login_id")},
	model.Field{Name: "user_role", Kind: model.Text, Read: at("team_member.role.id"), List: at("user_role.id")},
	model.Field{Name: "block_agent", Kind: model.Bool, Read: at("team_member.status").Is(0), List: at("agent.status").Is(1).UnknownAt(AgentDisabled), Blocks: true},
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
	api *rest.Client
}

var (
	_ plan.Reader   = (*Client)(nil)
	_ apply.Patcher = (*Client)(nil)
)

// New returns a client for cfg; an empty BaseURL means DefaultBaseURL.
func New(cfg rest.Config) *Client {
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultBaseURL
	}
	return &Client{api: rest.NewClient(cfg, rest.API{AuthHeader: "Authorization", AuthPrefix: "Bearer ",
		SecretKeys: []string{"password"}, Check: Check, Login: login})}
}

// listPage is one answer of GET /v1/users.
type listPage struct {
	HasMore    bool             `json:"has_more"`
	Count      int              `json:"count"`
	LastSeenID json.Number      `json:"last_seen_id"`
	Data       []map[string]any `json:"data"`
}

// List implements plan.Reader, walking the cursor pages.
func (c *Client) List(ctx context.Context, yield func(model.User) error) error {
	var last json.Number
	for {
		path := fmt.Sprintf("/v1/users?limit=%d", MaxPageSize)
		if last != "" {
			path += "&last_seen_id=" + url.QueryEscape(last.String())
		}
		var page listPage
		if _, err := c.api.Do(ctx, http.MethodGet, path, nil, &page); err != nil {
			return err
		}
		if page.Count != len(page.Data) {
			return fmt.Errorf("GET /v1/users: the page says count %d but holds %d users", page.Count, len(page.Data))
		}
		for _, item := range page.Data {
			id, ok := item["id"].(json.Number)
			if !ok {
				return fmt.Errorf("GET /v1/users: a user without a numeric id")
			}
			u, err := table.UserFromList(id.String(), item)
			if err != nil {
				return err
			}
			if err := yield(u); err != nil {
				return err
			}
		}
		if !page.HasMore {
			return nil
		}
		if page.LastSeenID == "" || page.LastSeenID == last {
			return fmt.Errorf("GET /v1/users: has_more is true but last_seen_id did not advance past %q", last)
		}
		last = page.LastSeenID
	}
}

// Get implements plan.Reader.
func (c *Client) Get(ctx context.Context, id string) (model.User, error) {
	var out struct {
		Data map[string]any `json:"data"`
	}
	if _, err := c.api.Do(ctx, http.MethodGet, "/v1/user/"+url.PathEscape(id), nil, &out); err != nil {
		return model.User{}, err
	}
	if out.Data == nil {
		return model.User{}, fmt.Errorf("GET /v1/user/%s: the answer holds no data", id)
	}
	return table.UserFromRead(id, out.Data)
}

// Patch implements apply.Patcher.
func (c *Client) Patch(ctx context.Context, id string, body map[string]any) (model.Result, error) {
	return c.api.Do(ctx, http.MethodPatch, "/v1/user/"+url.PathEscape(id), body, nil)
}

// login obtains a token: a refresh of the stale one when there is one,
// else (or when the refresh is refused) a login. Each is sent once, never
// in a loop: repeated failed logins lock the account.
func login(ctx context.Context, api *rest.Client, email string, password, stale model.Secret) (model.Secret, error) {
	var out struct {
		AccessToken string `json:"access_token"`
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
	return model.Secret(out.AccessToken), nil
}

// envelope is the part of every Smartflo answer that tells failure.
type envelope struct {
	Success    rest.Success               `json:"success"`
	Message    string                     `json:"message"`
	Error      map[string]json.RawMessage `json:"error"`
	RetryAfter string                     `json:"retry_after"`
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

// message renders the vendor's words: the message and per-field errors.
func message(env envelope, body []byte) string {
	msg := env.Message
	fields := map[string][]string{}
	for k, raw := range env.Error {
		var list []string
		if json.Unmarshal(raw, &list) != nil {
			var one string
			if json.Unmarshal(raw, &one) != nil {
				continue
			}
			list = []string{one}
		}
		fields[k] = list
	}
	if detail := rest.FieldErrors(fields); detail != "" {
		msg = strings.TrimSuffix(msg, ".") + ": " + detail
	}
	if msg == "" && !env.Success.Given() {
		msg = rest.Snippet(body)
	}
	return msg
}
