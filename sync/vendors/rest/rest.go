// Package rest is the HTTP plumbing both target clients share: every
// request waits on the run's limiter and goes through its retry policy,
// bodies are read through a size limit, the token is renewed once when it
// expires, and failures become *Error values whose text holds no secret.
// What the vendor's answers mean stays with the vendor's package.
package rest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rostersync/rostersync/ratelimit"
	"github.com/rostersync/rostersync/sync/model"
	"github.com/rostersync/rostersync/sync/vendors/jsonpick"
)

// MaxBody bounds what is read of any response body.
const MaxBody = 8 << 20

// Error is an API call that failed: an HTTP error status, or a success
// status whose body says the call failed.
type Error struct {
	Method  string
	Path    string // without the query
	Status  int
	Message string    // the vendor's words, secrets removed
	Retry   time.Time // when the server asked to be called again; zero = not said
	Expired bool      // the token expired
	Denied  bool      // the credentials were rejected or lack rights
	Missing bool      // the object does not exist
}

func (e *Error) Error() string {
	msg := e.Message
	switch {
	case msg != "":
	case e.Status >= 200 && e.Status < 300:
		msg = `the answer says the call failed ("success": false)`
	default:
		msg = http.StatusText(e.Status)
	}
	text := fmt.Sprintf("%s %s: HTTP %d: %s", e.Method, e.Path, e.Status, msg)
	if e.Denied {
		text = model.ErrAuth.Error() + ": " + text
	}
	return text
}

// HTTPStatus returns the status, for the retry policy.
func (e *Error) HTTPStatus() int { return e.Status }

// RetryAt returns when the server asked to be called again.
func (e *Error) RetryAt() time.Time { return e.Retry }

// Unwrap lets callers match rejected credentials and unknown users with
// errors.Is(err, model.ErrAuth) and model.ErrNotFound.
func (e *Error) Unwrap() error {
	switch {
	case e.Denied:
		return model.ErrAuth
	case e.Missing:
		return model.ErrNotFound
	}
	return nil
}

// CheckFunc reads a vendor's answer: nil for success, else an *Error with
// Status, Message and the flags filled in (Method and Path are added).
type CheckFunc func(status int, header http.Header, body []byte) *Error

// LoginFunc obtains a fresh token for login and password; stale is the
// token that expired ("" at the start). It sends its own requests with
// c.Call, never Renewing.
type LoginFunc func(ctx context.Context, c *Client, login string, password, stale model.Secret) (model.Secret, error)

// API is what a vendor tells the client of its API.
type API struct {
	AuthHeader string   // "Authorization" or "X-Auth-Token"
	AuthPrefix string   // "Bearer " or ""
	SecretKeys []string // body keys whose values are secrets ("password")
	Check      CheckFunc
	Login      LoginFunc // how to log in; used when Config holds a login
}

// Client sends one target's API calls.
type Client struct {
	baseURL  string // without /v1
	http     *http.Client
	limiter  *ratelimit.Limiter
	policy   ratelimit.Policy
	grace    time.Duration
	api      API
	login    string
	password model.Secret
	warn     func(string)
	sent     *atomic.Int64 // counts the requests sent; nil: not counted

	// renewing holds one token while a renewal runs: one at a time, and
	// waiting for it respects the caller's ctx (a channel, not a mutex,
	// since the renewal itself waits on the network and the limiter).
	renewing     chan struct{}
	renewingOnce sync.Once

	secrets *Secrets // every value to scrub from error text

	mu       sync.Mutex
	token    model.Secret
	fresh    bool  // the token came from a login and no request has succeeded with it yet
	loginErr error // why a login failed: no login is tried again
}

// Warn passes msg, with secrets removed, to the Config's Warn.
func (c *Client) Warn(msg string) {
	if c.warn != nil {
		c.warn(c.secretSet().Redact(msg))
	}
}

// SetToken sets the token sent with every call.
func (c *Client) SetToken(tok model.Secret) {
	c.secretSet().Add(tok.Reveal())
	c.mu.Lock()
	defer c.mu.Unlock()
	c.token = tok
}

// AddSecret adds a value (a login password) to scrub from error text.
func (c *Client) AddSecret(s model.Secret) { c.secretSet().Add(s.Reveal()) }

// secretSet returns the client's secrets, making the set of a client
// built without NewClient.
func (c *Client) secretSet() *Secrets {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.secrets == nil {
		c.secrets = new(Secrets)
	}
	return c.secrets
}

// Auth says how a call uses the token.
type Auth int

const (
	// Renewing sends the token and renews it once when it expires.
	Renewing Auth = iota
	// TokenOnly sends the token but never renews it (for refreshing it).
	TokenOnly
	// NoToken sends no token (for logging in).
	NoToken
)

// Do sends a call with the token, renewing it when it expires, with
// retries, and decodes a success body into out (when out is not nil).
func (c *Client) Do(ctx context.Context, method, path string, in, out any) (model.Result, error) {
	return c.Call(ctx, method, path, in, out, Renewing)
}

// Call is Do with a choice of how the token is used.
func (c *Client) Call(ctx context.Context, method, path string, in, out any, auth Auth) (model.Result, error) {
	c.addBodySecrets(in)
	var payload []byte
	if in != nil {
		var err error
		if payload, err = json.Marshal(in); err != nil {
			return model.Result{}, fmt.Errorf("%s %s: encoding the body: %w", method, trimQuery(path), err)
		}
	}
	var res model.Result
	attempts, err := c.policy.Do(ctx, c.limiter, func(ctx context.Context) error {
		var tok model.Secret
		if auth != NoToken {
			tok = c.currentToken()
		}
		if auth == Renewing && tok == "" && c.login != "" {
			if err := c.renew(ctx, "", nil); err != nil {
				return err
			}
			tok = c.currentToken()
		}
		status, err := c.once(ctx, method, path, payload, out, tok)
		res.HTTPStatus = status
		if err == nil && tok != "" {
			c.tokenWorked(tok)
		}
		var apiErr *Error
		if errors.As(err, &apiErr) && auth == Renewing {
			switch {
			case apiErr.Expired:
				if rerr := c.renew(ctx, tok, apiErr); rerr != nil {
					return rerr
				}
				return ratelimit.Again(err)
			case apiErr.Denied && tok != "" && c.renewedSince(ctx, tok):
				// Another worker renewed the token while this request was
				// in flight, and the server no longer takes the old one.
				return ratelimit.Again(err)
			}
		}
		return err
	})
	res.Attempts = attempts
	if err != nil {
		return res, c.scrub(err)
	}
	return res, nil
}

// once sends a single request. A write already sent outlives ctx by the
// grace period, so that an interrupt does not cut a change the server may
// be applying. A request written whose answer never came fails matching
// model.ErrUnconfirmed.
func (c *Client) once(ctx context.Context, method, path string, payload []byte, out any, tok model.Secret) (int, error) {
	if isWrite(method) {
		var stop func()
		ctx, stop = c.outliving(ctx)
		defer stop()
	}
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	var wrote atomic.Bool
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{WroteHeaders: func() { wrote.Store(true) }})
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.baseURL, "/")+path, body)
	if err != nil {
		return 0, fmt.Errorf("%s %s: %w", method, trimQuery(path), err)
	}
	req.Header.Set("Accept", "application/json")
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if tok != "" {
		req.Header.Set(c.api.AuthHeader, c.api.AuthPrefix+tok.Reveal())
	}
	if c.sent != nil {
		c.sent.Add(1)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		err = c.timedOut(ctx, stripURL(err))
		if wrote.Load() {
			err = unconfirmed{err}
		}
		return 0, fmt.Errorf("%s %s: %w", method, trimQuery(path), err)
	}
	defer resp.Body.Close()
	buf := bodies.Get().(*bytes.Buffer)
	defer putBody(buf)
	buf.Reset()
	if n := resp.ContentLength; n > 0 && n <= MaxBody {
		buf.Grow(int(n) + bytes.MinRead)
	}
	_, err = buf.ReadFrom(io.LimitReader(resp.Body, MaxBody+1))
	data := buf.Bytes() // nothing made of it may keep it: the buffer is reused
	if err != nil {
		return resp.StatusCode, fmt.Errorf("%s %s: reading the answer: %w", method, trimQuery(path), unconfirmed{c.timedOut(ctx, err)})
	}
	return resp.StatusCode, c.answer(method, path, resp.StatusCode, resp.Header, data, out)
}

// answer reads an answer of status: into out through its Decoder (or as
// JSON), or as the vendor's error; a redirect, an oversized answer and
// one not shaped as expected are errors too.
func (c *Client) answer(method, path string, status int, header http.Header, data []byte, out any) error {
	if status >= 300 && status < 400 {
		// Redirects are not followed (they could carry the token elsewhere),
		// and a redirected PATCH was not applied.
		return &Error{Method: method, Path: trimQuery(path), Status: status,
			Message: "the API answered with a redirect; check --base-url (its scheme, host and path)"}
	}
	if len(data) > MaxBody {
		return &Error{Method: method, Path: trimQuery(path), Status: status,
			Message: fmt.Sprintf("answer larger than %d bytes", MaxBody)}
	}
	decoder, _ := out.(Decoder)
	var undecoded error // the answer's shape was not a success's
	if decoder != nil && status < 400 {
		switch said, err := decoder.DecodeAnswer(data); {
		case err != nil:
			// A failure need not have a success's shape (Smartflo's expiry
			// comes with "data": {}): Check reads the vendor's own error
			// first, so that an expiry is still renewed.
			undecoded = fmt.Errorf("%s %s: HTTP %d: the answer is not the JSON expected: %w", method, trimQuery(path), status, err)
		case !said.Failed():
			return nil
		}
		// The body says the call failed: Check reads why.
	}
	if apiErr := c.api.Check(status, header, data); apiErr != nil {
		// Read the failure again from a body with its secrets removed, so
		// that no shortening of the vendor's words can cut one in half.
		if clean := c.api.Check(status, header, []byte(c.secretSet().Redact(string(data)))); clean != nil {
			apiErr = clean
		}
		apiErr.Method, apiErr.Path = method, trimQuery(path)
		if apiErr.Status == 0 {
			apiErr.Status = status
		}
		return apiErr
	}
	if undecoded != nil {
		return undecoded
	}
	if out != nil && decoder == nil {
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		if err := dec.Decode(out); err != nil {
			return fmt.Errorf("%s %s: HTTP %d: the answer is not the JSON expected: %w", method, trimQuery(path), status, err)
		}
	}
	return nil
}

// bodies are buffers answers are read into, reused: a run reads
// thousands of answers a second, each once.
var bodies = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// putBody gives back a buffer, unless it grew past what most answers need.
func putBody(b *bytes.Buffer) {
	if b.Cap() <= 4<<20 {
		bodies.Put(b)
	}
}

// Decoder is what a call's answer decodes into when it reads the body
// itself: a vendor's list page or user, read in one pass with jsonpick,
// picking only the fields it needs, instead of through encoding/json. It reads
// the body of an answer whose status says the call succeeded, and returns
// the body's own word, its top-level "success" (a key in any case, as
// encoding/json matches it), which spares Check a search of the body for
// it: when it says the call failed, Check reads the answer as usual.
type Decoder interface {
	DecodeAnswer(body []byte) (Success, error)
}

// Envelope reads an answer, a JSON object, in one pass: its "success"
// value into the Success it returns, every other member through member,
// which reads or skips it. Keys match without regard to case, as
// encoding/json matches a struct's fields.
func Envelope(data []byte, member func(sc *jsonpick.Scanner, key []byte) error) (Success, error) {
	sc := jsonpick.New(data)
	var said Success
	err := sc.Object(func(key []byte) error {
		if !isSuccessKey(key) {
			return member(sc, key)
		}
		raw, err := sc.Raw()
		if err == nil {
			err = said.UnmarshalJSON(raw)
		}
		return err
	})
	return said, err
}

// UserAnswer is an answer whose member Key holds one user, read in one
// pass: the values at Paths are picked, and Build makes the user of them.
type UserAnswer struct {
	Key   string
	Paths *jsonpick.Paths
	Build func(picked []any) (model.User, error)

	User *model.User // nil: no such member, or a null one
	Err  error       // the user could not be built (the answer was read)
}

// DecodeAnswer implements Decoder.
func (a *UserAnswer) DecodeAnswer(data []byte) (Success, error) {
	a.User, a.Err = nil, nil
	picked := make([]any, a.Paths.Len())
	return Envelope(data, func(sc *jsonpick.Scanner, key []byte) error {
		if !bytes.EqualFold(key, []byte(a.Key)) {
			return sc.Skip()
		}
		a.User, a.Err = nil, nil // a member given again replaces the first
		if sc.Null() {
			return nil
		}
		if err := sc.Pick(a.Paths, picked); err != nil {
			return err
		}
		u, err := a.Build(picked)
		if err != nil {
			a.Err = err
			return nil
		}
		a.User = &u
		return nil
	})
}

// isSuccessKey reports whether an object key names the "success" value,
// as encoding/json matches a struct field tagged "success".
func isSuccessKey(key []byte) bool {
	return len(key) >= len("success") && strings.EqualFold(string(key), "success")
}

func (c *Client) currentToken() model.Secret {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.token
}

// renewedSince reports whether the token is no longer tok, once any
// renewal in progress has ended.
func (c *Client) renewedSince(ctx context.Context, tok model.Secret) bool {
	if c.lockRenewal(ctx) != nil {
		return false
	}
	defer c.unlockRenewal()
	return c.currentToken() != tok
}

// lockRenewal waits until no renewal runs, or ctx is done.
func (c *Client) lockRenewal(ctx context.Context) error {
	c.renewingOnce.Do(func() { c.renewing = make(chan struct{}, 1) })
	select {
	case c.renewing <- struct{}{}:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

func (c *Client) unlockRenewal() { <-c.renewing }

// tokenWorked notes that a request succeeded with tok.
func (c *Client) tokenWorked(tok model.Secret) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.token == tok {
		c.fresh = false
	}
}

// renew logs in again, once per expiry: callers that saw the same stale
// token wait for one login and share its token. A fixed token that
// expires, or a token from a login that expires before any request
// succeeded with it, stops the run: logging in again would loop, and a
// loop of logins can lock the vendor account.
func (c *Client) renew(ctx context.Context, stale model.Secret, cause error) error {
	if err := c.lockRenewal(ctx); err != nil {
		return err
	}
	defer c.unlockRenewal()
	if c.currentToken() != stale {
		return nil // someone renewed it already
	}
	if c.login == "" {
		return authError(cause, "with ROSTERSYNC_LOGIN and ROSTERSYNC_PASSWORD set instead of a fixed token, rostersync logs in again once")
	}
	c.mu.Lock()
	loop, failed := stale != "" && c.fresh, c.loginErr
	c.mu.Unlock()
	switch {
	case failed != nil:
		return failed // the login for this token failed already: once is enough
	case loop:
		return authError(cause, "though no request has succeeded since the last login; not logging in again")
	}
	tok, err := c.api.Login(ctx, c, c.login, c.password, stale)
	if err != nil {
		c.mu.Lock()
		c.loginErr = err
		c.mu.Unlock()
		return err
	}
	c.SetToken(tok)
	c.mu.Lock()
	c.fresh = true
	c.mu.Unlock()
	return nil
}

// authError stops the run on cause, with a hint; cause's text already
// says the credentials were rejected when it wraps model.ErrAuth.
func authError(cause error, hint string) error {
	if errors.Is(cause, model.ErrAuth) {
		return fmt.Errorf("%w (%s)", cause, hint)
	}
	return fmt.Errorf("%w: %w (%s)", model.ErrAuth, cause, hint)
}

// LoginError reports a failed login by who. An answer that refused it (a
// 4xx other than 408 and 429, or a 2xx that said it failed) means the
// credentials were rejected, which stops the run.
func LoginError(who string, err error) error {
	var apiErr *Error
	if errors.As(err, &apiErr) && !ratelimit.Retryable(apiErr) && !errors.Is(err, model.ErrAuth) {
		return fmt.Errorf("logging in as %s: %w: %w", who, model.ErrAuth, err)
	}
	return fmt.Errorf("logging in as %s: %w", who, err)
}

// addBodySecrets adds the secret values of a call's body (in) to the
// secrets scrubbed from error text.
func (c *Client) addBodySecrets(in any) {
	if m, ok := in.(map[string]any); ok {
		for _, k := range c.api.SecretKeys {
			if s, ok := m[k].(string); ok && s != "" {
				c.secretSet().Add(s)
			}
		}
	}
}

// scrub returns err with every secret removed from its text.
func (c *Client) scrub(err error) error {
	text := err.Error()
	if clean := c.secretSet().Redact(text); clean != text {
		return &relabeled{msg: clean, err: err}
	}
	return err
}

// relabeled is an error shown with other text (secrets or a URL removed)
// that errors.Is and As still see through to the original.
type relabeled struct {
	msg string
	err error
}

func (r *relabeled) Error() string { return r.msg }
func (r *relabeled) Unwrap() error { return r.err }

func trimQuery(path string) string {
	if i := strings.IndexByte(path, '?'); i >= 0 {
		return path[:i]
	}
	return path
}

// timedOut says so when err is the request's own time limit running out
// (the CLI's --timeout, set as the http.Client's Timeout), rather than
// Go's "context deadline exceeded (Client.Timeout exceeded ...)"; the
// error stays a timeout for errors.As.
func (c *Client) timedOut(ctx context.Context, err error) error {
	var ne net.Error
	if c.http.Timeout <= 0 || ctx.Err() != nil || !errors.As(err, &ne) || !ne.Timeout() {
		return err
	}
	return &relabeled{msg: fmt.Sprintf("no answer within --timeout %s", c.http.Timeout), err: err}
}

// stripURL drops the URL from a transport error, keeping the *url.Error
// for errors.As (the retry policy wants it): the method and path are said
// already, and a URL may carry credentials.
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return &relabeled{msg: ue.Err.Error(), err: err}
	}
	return err
}

// Config is what a target client needs to reach its API.
type Config struct {
	BaseURL  string // API root without /v1
	HTTP     *http.Client
	Limiter  *ratelimit.Limiter
	Policy   ratelimit.Policy
	Token    model.Secret // a fixed token; or
	Login    string       // a login and
	Password model.Secret // its password, to log in once and renew on expiry
	// Grace is how long a write already sent may go on once its ctx is done
	// (an interrupt), so that a change the server may be applying is not
	// cut; 0 cuts it at once.
	Grace time.Duration
	// Secrets, when set, is the run's set of secrets, shared with whoever
	// else scrubs output; the client adds its tokens and passwords to it.
	Secrets *Secrets
	// Warn, when set, hears what a person running the sync should act on
	// although the run goes on (a login's password about to expire).
	Warn func(msg string)
	// Sent, when set, counts every request sent, retries included.
	Sent *atomic.Int64
	// Workers is how many requests a client may have in flight when it
	// can send several at once (the pages of a list whose total it knows);
	// 0 is one. Every request still waits its turn on Limiter.
	Workers int
}

// NewClient returns a client of a vendor's API with cfg's connection,
// limiter and credentials.
func NewClient(cfg Config, api API) *Client {
	c := &Client{baseURL: cfg.BaseURL, http: cfg.HTTP, limiter: cfg.Limiter, policy: cfg.Policy, grace: cfg.Grace,
		api: api, secrets: cfg.Secrets, warn: cfg.Warn, sent: cfg.Sent}
	if c.http == nil {
		c.http = http.DefaultClient
	}
	if c.limiter == nil {
		c.limiter = ratelimit.New(0)
	}
	if cfg.Login != "" && api.Login != nil {
		c.login, c.password = cfg.Login, cfg.Password
	}
	if cfg.Token != "" {
		c.SetToken(cfg.Token)
	}
	if cfg.Password != "" {
		c.AddSecret(cfg.Password)
	}
	return c
}

// RetryAfterHeader reads a Retry-After header, in seconds or as an HTTP
// date; zero when absent or unreadable.
func RetryAfterHeader(h http.Header) time.Time {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return time.Time{}
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil && secs >= 0 {
		// Bounded so that the product cannot overflow into the past.
		return time.Now().Add(time.Duration(min(secs, int64(math.MaxInt64/time.Second))) * time.Second)
	}
	if t, err := http.ParseTime(v); err == nil {
		return t
	}
	return time.Time{}
}

// ID reads a user id as an API writes it: a JSON whole number, or a
// string of digits (Smartflo writes the id as an integer in its list and
// as a string in its one-user read, and types role ids both ways: api.md,
// "What public sources add", Smartflo: "Types on create vs patch"). It
// returns the digits, and false for anything else.
func ID(v any) (string, bool) {
	var s string
	switch v := v.(type) {
	case json.Number:
		s = v.String()
	case string:
		s = strings.TrimSpace(v)
	default:
		return "", false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return "", false
	}
	return strconv.FormatInt(n, 10), true
}

// FieldErrors renders per-field validation messages, sorted by field:
// "email: not a valid address; name: too long".
func FieldErrors(fields map[string][]string) string {
	names := make([]string, 0, len(fields))
	for k := range fields {
		names = append(names, k)
	}
	slices.Sort(names)
	parts := make([]string, len(names))
	for i, k := range names {
		parts[i] = k + ": " + strings.Join(fields[k], " ")
	}
	return strings.Join(parts, "; ")
}

// Snippet gives the start of a body that is not the JSON expected (a
// proxy's error page), on one line, for an error message.
func Snippet(body []byte) string {
	s := strings.Join(strings.Fields(string(body)), " ")
	if len(s) > 160 {
		s = s[:160] + "…"
	}
	return s
}

// Success is the "success" value of a vendor's answer, read as vendors
// write it: a boolean, a string (Smartflo's own documentation writes
// "false", in quotes) or a number. The zero value is an answer that holds
// none, or a null.
type Success struct {
	given  bool // the answer holds a success value that is not null
	failed bool // and the value says the call failed
}

// UnmarshalJSON reads any JSON value and never fails, so that an answer
// whose success is odd still gives its message. False, "false" in any
// case, 0 and "0" say the call failed; anything else does not.
func (s *Success) UnmarshalJSON(b []byte) error {
	*s = Success{}
	b = bytes.TrimSpace(b)
	if len(b) == 0 || string(b) == "null" {
		return nil
	}
	s.given = true
	switch b[0] {
	case 'f':
		s.failed = string(b) == "false"
	case '"':
		var text string
		if json.Unmarshal(b, &text) == nil {
			text = strings.ToLower(strings.TrimSpace(text))
			s.failed = text == "false" || text == "0"
		}
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		n, err := strconv.ParseFloat(string(b), 64)
		s.failed = err == nil && n == 0
	}
	return nil
}

// Given reports whether the answer held a success value (not null).
func (s Success) Given() bool { return s.given }

// Failed reports whether the answer's success value says the call failed.
func (s Success) Failed() bool { return s.failed }

// MayFail reports whether a body of a successful HTTP status might still
// say the call failed: whether it holds a "success" key (in any case, as
// encoding/json matches keys) anywhere whose value is not plainly true (a
// key spelled with \u escapes is not looked for). Only such bodies need
// decoding to find out, which spares decoding every large list page
// twice; a value that only might be false ("false" in quotes, 0, null) is
// decoded to tell.
func MayFail(body []byte) bool {
	const key = `success"`
	for i := 0; ; {
		j := bytes.IndexByte(body[i:], '"')
		if j < 0 {
			return false
		}
		i += j + 1
		if len(body)-i < len(key) || !bytes.EqualFold(body[i:i+len(key)], []byte(key)) {
			continue
		}
		tail := bytes.TrimLeft(body[i+len(key):], " \t\r\n")
		if len(tail) == 0 || tail[0] != ':' {
			continue
		}
		value := bytes.TrimLeft(tail[1:], " \t\r\n")
		if !bytes.HasPrefix(value, []byte("true")) && (len(value) == 0 || value[0] < '1' || value[0] > '9') {
			return true
		}
	}
}

// isWrite reports whether a method asks the server to change something.
func isWrite(method string) bool {
	return method == http.MethodPatch || method == http.MethodPut || method == http.MethodDelete
}

// outliving returns a context for a request that lives on for the grace
// period once ctx is done, and a func that releases it.
func (c *Client) outliving(ctx context.Context) (context.Context, func()) {
	if c.grace <= 0 {
		return ctx, func() {}
	}
	out, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	var timer *time.Timer
	var mu sync.Mutex
	stop := context.AfterFunc(ctx, func() {
		mu.Lock()
		defer mu.Unlock()
		timer = time.AfterFunc(c.grace, func() { cancel(context.Cause(ctx)) })
	})
	return out, func() {
		stop()
		mu.Lock()
		if timer != nil {
			timer.Stop()
		}
		mu.Unlock()
		cancel(nil)
	}
}

// unconfirmed is a request sent whose answer never came: it may or may
// not have been applied. It matches model.ErrUnconfirmed and still shows
// its cause to errors.As (the retry policy wants the network error).
type unconfirmed struct{ err error }

func (u unconfirmed) Error() string { return u.err.Error() }
func (u unconfirmed) Unwrap() []error {
	return []error{u.err, model.ErrUnconfirmed}
}
