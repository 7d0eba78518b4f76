// Package dnl is the DNL (Denovo Lab class 4 softswitch) target: its field
// table, its API client and how its answers are read. The fake server
// lives in dnltest.
package dnl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/rostersync/rostersync/sync/apply"
	"github.com/rostersync/rostersync/sync/model"
	"github.com/rostersync/rostersync/sync/plan"
	"github.com/rostersync/rostersync/sync/vendors/rest"
)

// table is every PATCH field of the vendor's page. The list items and the
// one-user read are the same USER object, which holds each field under its
// PATCH name; passwd comes back as a bcrypt hash.
var table = model.NewTable(fields()...)

func fields() []model.Field {
	f := func(name string, kind model.Kind) model.Field {
		return model.Field{Name: name, Kind: kind, Read: model.At(name), List: model.At(name)}
	}
	passwd := f("passwd", model.Text)
	passwd.Secret = true
	active := f("active", model.Bool)
	active.Blocks = false // active false blocks the user
	list := []model.Field{
		passwd,
		f("user_type", model.OneOf("admin", "agent", "client")),
		f("default_mod", model.Text),
		f("reseller_id", model.Int),
		f("outbound_report", model.Bool),
		f("client_limits", model.List(model.Int, "client_id")),
		f("last_name", model.Text),
		f("role_id", model.Int),
		f("all_termination", model.Bool),
		f("auth_ip", model.List(model.Text, "ip")),
		f("landing_page", model.Text),
		f("first_name", model.Text),
		active,
		f("client_id", model.Int),
		f("default_mod2", model.Text),
		f("avatar_id", model.Int),
		f("report_group", model.Bool),
		f("card_id", model.Int),
		f("show_carrier_trunk_drop_only", model.Bool),
		f("name", model.Text),
		f("report_fields", model.Text),
		f("email", model.Email),
		f("client.carrier_name", model.Text),
	}
	for _, panel := range []string{"ratetable", "invoices", "products", "paymenthistory", "trunks", "balance",
		"onlinepayment", "cid_blocking", "sippacket", "accountsummary", "summaryreport", "cdrslist"} {
		list = append(list, f("client.is_panel_"+panel, model.Bool))
	}
	return append(list, f("client.is_panelaccess", model.Bool))
}

// Target is DNL's users: the field table, the id key, and the fields a
// roster may name users by.
// Its admins never count as absent unless a run's scope names them: the
// API's own admin would otherwise be blocked by a roster of agents.
var Target = model.Target{Name: "dnl", Table: table, Key: "user_id", MatchFields: []string{"email", "name"},
	Protected: &model.Value{Field: table.Field("user_type"), V: "admin"}}

// Client is a DNL API client.
type Client struct {
	api    *rest.Client
	listed *reading // the fields a list read picks
	read   *reading // the fields a one-user read picks: all it holds
	ahead  int      // list pages asked for at once, past the one read
}

var (
	_ plan.Reader      = (*Client)(nil)
	_ plan.NamedLister = (*Client)(nil)
	_ plan.Narrower    = (*Client)(nil)
	_ apply.Patcher    = (*Client)(nil)
)

// New returns a client for cfg. DNL is self-hosted: BaseURL is required.
func New(cfg rest.Config) *Client {
	return &Client{api: rest.NewClient(cfg, rest.API{AuthHeader: "X-Auth-Token",
		SecretKeys: []string{"passwd", "password"}, Check: Check, Login: login}),
		listed: newReading(table.PickList(nil)), read: newReading(table.PickRead(nil)), ahead: max(1, cfg.Workers)}
}

// Only implements plan.Narrower: a client whose list reads carry only the
// named fields, sharing this one's connection, limiter and token.
func (c *Client) Only(fields []string) plan.Reader {
	n := *c
	n.listed = newReading(table.PickList(func(name string) bool { return slices.Contains(fields, name) }))
	n.listed.lend = true
	return &n
}

// List implements plan.Reader, reading pages until it holds the total the
// API reports; a short count is an error, never a partial state.
func (c *Client) List(ctx context.Context, yield func(model.User) error) error {
	_, err := c.list(ctx, listing{}, yield)
	return err
}

// idsPerRead is how many ids one user_id_in read asks for: a URL of a
// couple of kilobytes at most.
const idsPerRead = 200

// ListNamed implements plan.NamedLister. The first page tells the total;
// the rest comes from whichever costs fewer requests: the remaining pages,
// or user_id_in reads of the ids the first page did not hold.
//
// user_id_in is not documented publicly (api.md, "What public sources
// add", DNL: "If a server ignored it, a client would get users it did not
// ask for: keep only the ids asked for"), so a filtered read yields only
// the users it asked for, and a read whose total exceeds the ids it asked
// for shows a server that ignored the filter: then the rest of the list
// is read as pages, once, instead of a whole listing per read.
func (c *Client) ListNamed(ctx context.Context, ids []string, yield func(model.User) error) (int, error) {
	seen := map[string]bool{}
	total, err := c.list(ctx, listing{maxPages: 1}, func(u model.User) error {
		seen[u.ID] = true
		return yield(u)
	})
	if err != nil || len(seen) == total {
		return total, err
	}
	isMissing := func(id string) bool {
		_, err := strconv.ParseInt(id, 10, 64)
		return err == nil && !seen[id]
	}
	pagesLeft := (total+MaxPerPage-1)/MaxPerPage - 1
	if reads := (countFunc(ids, isMissing) + idsPerRead - 1) / idsPerRead; reads >= pagesLeft {
		_, err := c.list(ctx, listing{page: 1}, yield)
		return total, err
	}
	var missing []string
	for _, id := range ids {
		if isMissing(id) {
			missing = append(missing, id)
		}
	}
	filtered := map[string]bool{} // users yielded by user_id_in reads
	for lo := 0; lo < len(missing); lo += idsPerRead {
		chunk := missing[lo:min(lo+idsPerRead, len(missing))]
		asked := make(map[string]bool, len(chunk))
		for _, id := range chunk {
			asked[id] = true
		}
		_, err := c.list(ctx, listing{filter: "&user_id_in=" + strings.Join(chunk, ","), maxTotal: len(chunk),
			keep: func(id string) bool { return asked[id] }}, func(u model.User) error {
			filtered[u.ID] = true
			return yield(u)
		})
		if errors.Is(err, errFilterIgnored) {
			// The rest of the list as pages; users an earlier filtered read
			// gave are not given again.
			_, err = c.list(ctx, listing{page: 1, keep: func(id string) bool { return !filtered[id] }}, yield)
			return total, err
		}
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// countFunc counts the elements of s that f holds for.
func countFunc[T any](s []T, f func(T) bool) int {
	n := 0
	for _, v := range s {
		if f(v) {
			n++
		}
	}
	return n
}

// errFilterIgnored is a filtered read whose answer holds more users than
// the filter can match.
var errFilterIgnored = errors.New("the API ignored the user_id_in filter")

// listing is one walk of GET /v1/user/list's pages.
type listing struct {
	filter   string // "" or "&name=value..."
	page     int    // the first page to read
	maxPages int    // 0 = until the total is read
	// keep, when set, says which users are yielded; the others still count
	// towards the total.
	keep func(id string) bool
	// maxTotal, when positive, is the most users the filter can match: a
	// larger total fails with errFilterIgnored before any user is yielded.
	maxTotal int
}

// listOrder asks for the list in user_id order. Offset paging over an
// unordered listing can skip one user and repeat another while the count
// still adds up; the vendor's own web client sends order_by and order_dir
// (api.md, "What public sources add", DNL: "Stable paging").
const listOrder = "order_by=user_id&order_dir=asc"

// list reads the pages of l, checking what it gathered against the total
// the API reports, which it returns. The first page tells the total; the
// pages after it are fetched several at once (as many as the client's
// workers, each waiting its turn on the limiter) and read in order, with
// the same checks as one after another.
func (c *Client) list(ctx context.Context, l listing, yield func(model.User) error) (total int, err error) {
	ctx, cancel := context.WithCancel(ctx)
	var pending []chan fetched // pages asked for, in order
	defer func() {
		cancel() // pages fetched ahead and not wanted any more
		for _, ch := range pending {
			<-ch
		}
	}()
	page, next := l.page, l.page+1 // the page to read, and the next to ask for
	seen := page * MaxPerPage
	last := -1 // the last page the total says there is; -1: not known yet
	for n := 0; l.maxPages == 0 || n < l.maxPages; n, page = n+1, page+1 {
		var out *listAnswer
		if len(pending) > 0 {
			f := <-pending[0]
			pending = pending[1:]
			out, err = f.out, f.err
		} else {
			out, err = c.page(ctx, l, page)
			next = page + 1
		}
		if err != nil {
			return total, err
		}
		total = out.total
		if l.maxTotal > 0 && total > l.maxTotal {
			return total, fmt.Errorf("GET /v1/user/list: %w: it reports %d users for %d ids", errFilterIgnored, total, l.maxTotal)
		}
		if last < 0 && total > 0 {
			last = (total - 1) / MaxPerPage
			if l.maxPages > 0 {
				last = min(last, l.page+l.maxPages-1)
			}
		}
		for ; next <= last && len(pending) < c.ahead; next++ {
			pending = append(pending, c.fetch(ctx, l, next))
		}
		for _, u := range out.users {
			if l.keep != nil && !l.keep(u.ID) {
				continue
			}
			if err := yield(u); err != nil {
				return total, err
			}
		}
		if out.err != nil {
			return total, out.err
		}
		got := len(out.users)
		seen += got
		c.listed.done(out) // out is not touched after this
		switch {
		case seen == total:
			return total, nil
		case seen > total, got == 0:
			return total, fmt.Errorf("GET /v1/user/list: read %d users but the API reports a total of %d", seen, total)
		}
	}
	return total, nil
}

// fetched is a page asked for ahead of its turn.
type fetched struct {
	out *listAnswer
	err error
}

// fetch asks for a page in the background.
func (c *Client) fetch(ctx context.Context, l listing, page int) chan fetched {
	ch := make(chan fetched, 1)
	go func() {
		out, err := c.page(ctx, l, page)
		ch <- fetched{out, err}
	}()
	return ch
}

// page reads one page of l.
func (c *Client) page(ctx context.Context, l listing, page int) (*listAnswer, error) {
	out := c.listed.answer()
	path := fmt.Sprintf("/v1/user/list?%s&page=%d&per_page=%d%s", listOrder, page, MaxPerPage, l.filter)
	_, err := c.api.Do(ctx, http.MethodGet, path, nil, out)
	return out, err
}

// Get implements plan.Reader.
func (c *Client) Get(ctx context.Context, id string) (model.User, error) {
	out := c.read.one()
	if _, err := c.api.Do(ctx, http.MethodGet, "/v1/user/"+url.PathEscape(id), nil, out); err != nil {
		return model.User{}, err
	}
	switch {
	case out.Err != nil:
		return model.User{}, out.Err
	case out.User == nil:
		return model.User{}, fmt.Errorf("GET /v1/user/%s: the answer holds no payload", id)
	}
	return *out.User, nil
}

// Patch implements apply.Patcher.
// DNL answers with the user as changed, which Result.After holds (the
// fields the body set), so that the change can be verified without
// another request.
func (c *Client) Patch(ctx context.Context, id string, body map[string]any) (model.Result, error) {
	out := readingOf(body).one()
	res, err := c.api.Do(ctx, http.MethodPatch, "/v1/user/"+url.PathEscape(id), body, out)
	if err != nil {
		return res, err
	}
	res.After = out.User
	return res, nil
}

// login sends POST /v1/auth once; DNL has no refresh call, so an
// expired token is replaced by a new login. The answer's payload is
// {"token", "expired"} (api.md, "What public sources add", DNL: "Auth"):
// tokens expire, and a long run logs in again when a call is answered 401
// (error_type operation_error), so the client needs no clock of its own
// and does not read "expired", whose format is not public.
func login(ctx context.Context, api *rest.Client, name string, password, _ model.Secret) (model.Secret, error) {
	in := map[string]string{"email_or_name": name, "password": password.Reveal()}
	var out struct {
		Payload struct {
			Token string `json:"token"`
		} `json:"payload"`
	}
	if _, err := api.Call(ctx, http.MethodPost, "/v1/auth", in, &out, rest.NoToken); err != nil {
		return "", rest.LoginError(name, err)
	}
	if out.Payload.Token == "" {
		return "", fmt.Errorf("logging in as %s: the answer holds no token", name)
	}
	return model.Secret(out.Payload.Token), nil
}

// envelope is the part of a DNL answer that tells failure.
type envelope struct {
	Success   rest.Success          `json:"success"`
	ErrorType string                `json:"error_type"`
	Errors    []map[string][]string `json:"errors"`
	Error     struct {
		Message string `json:"message"`
		Reason  string `json:"reason"`
	} `json:"error"`
}

// Check reads a DNL answer, matching on the HTTP status, not the strings:
// an HTTP error, or a 2xx whose body's success is false ("false" in any
// case, or 0), is a failure.
// A 401 is an expired or rejected token: the client renews it once when it
// can log in, else the run stops.
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
	e.Expired = status == http.StatusUnauthorized
	e.Denied = status == http.StatusUnauthorized || status == ForbiddenStatus
	e.Missing = status == http.StatusNotFound
	if status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable {
		e.Retry = rest.RetryAfterHeader(h)
	}
	return e
}

func message(env envelope, body []byte) string {
	fields := map[string][]string{}
	for _, obj := range env.Errors {
		for k, v := range obj {
			fields[k] = append(fields[k], v...)
		}
	}
	parts := []string{}
	for _, s := range []string{env.ErrorType, env.Error.Message, rest.FieldErrors(fields)} {
		if s != "" {
			parts = append(parts, s)
		}
	}
	if len(parts) == 0 && !env.Success.Given() {
		return rest.Snippet(body)
	}
	return strings.Join(parts, ": ")
}
