// Package smartflotest is a fake Smartflo API server, shipped like
// net/http/httptest so that tests, the demo and the fake command can run a
// sync against something that answers as the vendor does: bearer tokens
// (permanent, or from login and refresh, which expire), cursor paging of the
// user list, the one-user read, and PATCH with the vendor's validation
// answers. It owns the Smartflo shapes of those answers and the users it
// stores; the request log, the request limit and injected faults belong to
// fakehttp, which wraps its handler. It is not a client of the API.
package smartflotest

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/rostersync/rostersync/sync/vendors/fakehttp"
)

// User is one user as the fake stores it; a seed file is a JSON array of these.
type User struct {
	ID                    int64    `json:"id"`
	Name                  string   `json:"name"`
	Number                string   `json:"number"` // e.g. "+919800000001"
	Email                 string   `json:"email"`
	Designation           string   `json:"designation"`
	LoginID               string   `json:"login_id"`
	RoleID                int64    `json:"role_id"`
	RoleName              string   `json:"role_name"`
	AgentID               string   `json:"agent_id"` // e.g. "0502842370097"
	Blocked               bool     `json:"blocked"`
	Disabled              bool     `json:"disabled,omitempty"` // disable_agent
	WebLoginBlocked       bool     `json:"web_login_blocked"`
	LoginBasedCalling     bool     `json:"login_based_calling"`
	InternationalOutbound bool     `json:"international_outbound"`
	UsersForCDR           CDR      `json:"users_for_cdr"`
	CallerID              []string `json:"caller_id,omitempty"`     // write-only at the API
	AgentGroup            []string `json:"agent_group,omitempty"`   // write-only at the API
	PasswordHash          string   `json:"password_hash,omitempty"` // bcrypt; write-only at the API
}

// CDR says whose call records a user may see: type "all" (value null) or
// "agent" (value lists agent ids).
type CDR struct {
	Type  string   `json:"type"`
	Value []string `json:"value"`
}

// CDR types.
const (
	CDRAll   = "all"
	CDRAgent = "agent"
)

// clone returns a copy of u sharing no slices with it.
func (u User) clone() User {
	u.CallerID = slices.Clone(u.CallerID)
	u.AgentGroup = slices.Clone(u.AgentGroup)
	u.UsersForCDR.Value = slices.Clone(u.UsersForCDR.Value)
	return u
}

// Config configures a Fake. The zero value accepts no token and no login.
type Config struct {
	Token      string          // a permanent access token accepted as Bearer; "" = none
	Email      string          // the login POST /v1/auth/login accepts; "" disables login
	Password   string          // the password that goes with Email
	TokenTTL   time.Duration   // lifetime of tokens from login and refresh; 0 = 1h
	BcryptCost int             // cost for stored passwords; 0 (or out of bcrypt's range) = bcrypt.DefaultCost
	Faults     fakehttp.Faults // limit and injected faults
	// ShortLists makes every list page say in its count one user more than
	// it holds: a listing that ends early, which a client must refuse.
	ShortLists bool
	// Echo makes every failure answer repeat the request it refuses (its
	// token and body included) in its message, as careless servers do.
	Echo bool
	// RepeatInList makes every list page of two users or more hold its
	// first user again in place of its last: a listing that repeats one
	// user and lacks another while each page's count adds up, which a
	// client must refuse.
	RepeatInList bool
	// MixedTypes answers every other user (by position in the store) with
	// ids and role ids in the other JSON type than the reference pages
	// show: in the list "id" and "user_role.id" as strings, in the one-user
	// read "data.id" as a number and "team_member.role.id" as a string. The
	// vendor types the role as int on Create User and string on PATCH, and
	// the id as an integer in the list and a string in the one-user read
	// (api.md, "What public sources add", Smartflo: "Types on create vs
	// patch", "One-user read"): a client must read either.
	MixedTypes bool
	// StringSuccess writes "success" as the string "false" in every
	// failure answer, as the vendor's documentation writes it in its 429
	// (api.md, "What public sources add", Smartflo: "success may be a
	// string"); otherwise only the 429 does.
	StringSuccess bool
	// PluralErrors puts a 400's per-field messages under "errors", as
	// public PHP code reads them, instead of "error", the only name the
	// vendor's docs give (api.md, "What public sources add", Smartflo:
	// "400 bodies").
	PluralErrors bool
	// PasswordDaysLeft is the login's number_of_days_left, the days before
	// its password expires under the vendor's 90-day reset policy (api.md,
	// "What public sources add", Smartflo: "Login"); 0 = 90, negative = 0.
	PasswordDaysLeft int
}

// Fake is a fake Smartflo API. It embeds the fakehttp.Server, so it is an
// http.Handler and has Requests(), Writes(), MaxInWindow().
type Fake struct {
	*fakehttp.Server

	cfg   Config
	roles map[int64]string // role id -> name, from the seed; fixed after New
	index map[int64]int    // user id -> position in users; fixed after New

	mu           sync.Mutex
	users        []User               // sorted by ID
	tokens       map[string]time.Time // issued token -> expiry
	fixedExpired bool                 // the permanent token has expired (ExpireTokens)
	logins       int
	failedLogins int // failed logins since the last that succeeded
	refreshes    int
}

// New returns a fake serving a copy of users. Users without a CDR type get
// "all". New panics if two users share an id or an id is not positive; seed
// files read with ReadUsers never do.
func New(cfg Config, users []User) *Fake {
	if cfg.TokenTTL <= 0 {
		cfg.TokenTTL = time.Hour
	}
	if cfg.BcryptCost < bcrypt.MinCost || cfg.BcryptCost > bcrypt.MaxCost {
		cfg.BcryptCost = bcrypt.DefaultCost
	}
	f := &Fake{
		cfg:    cfg,
		roles:  make(map[int64]string),
		index:  make(map[int64]int, len(users)),
		tokens: make(map[string]time.Time),
	}
	for _, u := range users {
		f.users = append(f.users, u.clone())
	}
	slices.SortFunc(f.users, func(a, b User) int { return cmpInt(a.ID, b.ID) })
	for i := range f.users {
		u := &f.users[i]
		if err := checkID(u.ID, f.index); err != nil {
			panic("smartflotest.New: " + err.Error())
		}
		f.index[u.ID] = i
		if u.UsersForCDR.Type == "" {
			u.UsersForCDR.Type = CDRAll
		}
		if u.UsersForCDR.Type == CDRAll {
			u.UsersForCDR.Value = nil
		}
		if u.RoleID > 0 && f.roles[u.RoleID] == "" {
			f.roles[u.RoleID] = u.RoleName
		}
	}
	var h http.Handler = http.HandlerFunc(f.serve)
	if cfg.Echo {
		h = fakehttp.Echo(h, echo)
	}
	f.Server = fakehttp.Wrap(h, cfg.Faults, throttled)
	return f
}

// echo appends a request's echo to a failure's message, where clients
// read the vendor's words.
func echo(answer map[string]any, text string) {
	msg, _ := answer["message"].(string)
	answer["message"] = strings.TrimSpace(msg + " " + text)
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func checkID[V any](id int64, seen map[int64]V) error {
	if id <= 0 {
		return fmt.Errorf("user id %d is not positive", id)
	}
	if _, dup := seen[id]; dup {
		return fmt.Errorf("user id %d appears twice", id)
	}
	return nil
}

// Users returns a snapshot of the stored users, sorted by ID.
func (f *Fake) Users() []User {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]User, len(f.users))
	for i, u := range f.users {
		out[i] = u.clone()
	}
	return out
}

// User returns a copy of the user with the given id.
func (f *Fake) User(id int64) (User, bool) {
	i, ok := f.index[id]
	if !ok {
		return User{}, false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.users[i].clone(), true
}

// Logins counts the POST /v1/auth/login calls so far, successful or not.
func (f *Fake) Logins() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.logins
}

// Refreshes counts the POST /v1/auth/refresh calls so far, successful or not.
func (f *Fake) Refreshes() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.refreshes
}

// ExpireTokens makes every token the fake accepts expire now: the
// permanent one (a panel token past the expiry chosen for it) and those
// login and refresh issued. They are answered as expired from then on;
// a refresh or a login still gives a new token.
func (f *Fake) ExpireTokens() {
	now := time.Now()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fixedExpired = true
	for tok, exp := range f.tokens {
		if exp.After(now) {
			f.tokens[tok] = now
		}
	}
}

// ReadUsers decodes a seed file: a JSON array of User. It rejects unknown
// fields, trailing data, ids that are not positive or appear twice, unknown
// CDR types and password hashes that are not bcrypt.
func ReadUsers(r io.Reader) ([]User, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var users []User
	if err := dec.Decode(&users); err != nil {
		return nil, fmt.Errorf("smartflo seed: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("smartflo seed: data after the array")
	}
	seen := make(map[int64]struct{}, len(users))
	for i, u := range users {
		if err := checkID(u.ID, seen); err != nil {
			return nil, fmt.Errorf("smartflo seed: user %d: %w", i+1, err)
		}
		seen[u.ID] = struct{}{}
		switch u.UsersForCDR.Type {
		case "", CDRAll, CDRAgent:
		default:
			return nil, fmt.Errorf("smartflo seed: user %d: users_for_cdr.type %q is not all or agent", u.ID, u.UsersForCDR.Type)
		}
		if u.PasswordHash != "" {
			if _, err := bcrypt.Cost([]byte(u.PasswordHash)); err != nil {
				return nil, fmt.Errorf("smartflo seed: user %d: password_hash: %w", u.ID, err)
			}
		}
	}
	return users, nil
}

// LoadUsers reads the seed file at path with ReadUsers.
func LoadUsers(path string) ([]User, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	users, err := ReadUsers(fh)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return users, nil
}

// ist is India Standard Time, without depending on tzdata.
var ist = time.FixedZone("IST", 5*3600+1800)

// throttled writes Smartflo's 429: a Retry-After header in whole seconds,
// rounded up, and retry_after in the body as India time. With no retryAt it
// is the 429 the vendor documents: no hint at all, and "success" a string.
func throttled(w http.ResponseWriter, retryAt time.Time) {
	if retryAt.IsZero() {
		writeJSON(w, http.StatusTooManyRequests, struct {
			Success string `json:"success"`
			Message string `json:"message"`
		}{"false", "Too many requests."})
		return
	}
	secs := max(1, int64(math.Ceil(time.Until(retryAt).Seconds())))
	at := retryAt
	if t := at.Truncate(time.Second); !t.Equal(at) {
		at = t.Add(time.Second) // never tell a client to come back early
	}
	w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	writeJSON(w, http.StatusTooManyRequests, struct {
		Success    bool   `json:"success"`
		Message    string `json:"message"`
		RetryAfter string `json:"retry_after"`
	}{false, "Too Many Requests", at.In(ist).Format(time.DateTime)})
}

// failure is the body of every Smartflo error answer. Success is false,
// or the string "false" (Config.StringSuccess).
type failure struct {
	Success          any                 `json:"success"`
	Message          string              `json:"message"`
	Error            map[string][]string `json:"error,omitempty"`
	Errors           map[string][]string `json:"errors,omitempty"`
	LoginFailedCount int                 `json:"login_failed_count,omitempty"`
}

// Messages of the answers.
const (
	msgUnauthenticated = "Unauthenticated"
	msgExpired         = "Token has expired"
	msgBadCredentials  = "The username or password is incorrect."
	msgInvalid         = "The given data was invalid."
	msgUserNotFound    = "User not found"
	msgUpdated         = "User updated successfully"
)

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only the fake's own types are written
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func (f *Fake) fail(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, f.failure(msg))
}

func (f *Fake) invalid(w http.ResponseWriter, errs map[string][]string) {
	ans := f.failure(msgInvalid)
	if f.cfg.PluralErrors {
		ans.Errors = errs
	} else {
		ans.Error = errs
	}
	writeJSON(w, http.StatusBadRequest, ans)
}

// failure is a failure answer's body with the fake's way of writing
// success.
func (f *Fake) failure(msg string) failure {
	if f.cfg.StringSuccess {
		return failure{Success: "false", Message: msg}
	}
	return failure{Success: false, Message: msg}
}

// serve routes a request that survived fakehttp's limit and faults.
func (f *Fake) serve(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch {
	case p == "/v1/auth/login":
		if f.allow(w, r, http.MethodPost) {
			f.login(w, r)
		}
	case p == "/v1/auth/refresh":
		if f.allow(w, r, http.MethodPost) {
			f.refresh(w, r)
		}
	case p == "/v1/users":
		if f.allow(w, r, http.MethodGet) {
			f.list(w, r)
		}
	case strings.HasPrefix(p, "/v1/user/") && !strings.Contains(p[len("/v1/user/"):], "/"):
		if !f.allow(w, r, http.MethodGet, http.MethodPatch) || !f.authorize(w, r) {
			break
		}
		i, ok := f.lookup(p[len("/v1/user/"):])
		switch {
		case !ok:
			f.fail(w, http.StatusNotFound, msgUserNotFound)
		case r.Method == http.MethodGet:
			f.getUser(w, i)
		default:
			f.patchUser(w, r, i)
		}
	default:
		f.fail(w, http.StatusNotFound, "Route not found")
	}
}

// allow answers 405 and reports false unless r uses one of methods.
func (f *Fake) allow(w http.ResponseWriter, r *http.Request, methods ...string) bool {
	if slices.Contains(methods, r.Method) {
		return true
	}
	w.Header().Set("Allow", strings.Join(methods, ", "))
	f.fail(w, http.StatusMethodNotAllowed, "Method Not Allowed")
	return false
}

// tokenState is what the fake makes of a request's bearer token.
type tokenState int

const (
	tokenMissing   tokenState = iota // no token, or one the fake never issued
	tokenValid                       // the permanent token or an unexpired issued one
	tokenExpired                     // an issued token past its TTL, or any after ExpireTokens
	tokenPermanent                   // the permanent token (only from checkToken)
)

func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(tok)
}

// checkToken classifies tok; the caller holds f.mu.
func (f *Fake) checkToken(tok string, now time.Time) tokenState {
	if tok == "" {
		return tokenMissing
	}
	if f.cfg.Token != "" && subtle.ConstantTimeCompare([]byte(tok), []byte(f.cfg.Token)) == 1 {
		if f.fixedExpired {
			return tokenExpired
		}
		return tokenPermanent
	}
	exp, ok := f.tokens[tok]
	switch {
	case !ok:
		return tokenMissing
	case !now.Before(exp):
		return tokenExpired
	}
	return tokenValid
}

// authorize reports whether r carries a usable token, answering for it when
// not: 401 for a missing or unknown token; for an expired one, 401 on reads
// and, as Smartflo does on some calls, 200 with success false on writes.
func (f *Fake) authorize(w http.ResponseWriter, r *http.Request) bool {
	f.mu.Lock()
	state := f.checkToken(bearer(r), time.Now())
	f.mu.Unlock()
	switch state {
	case tokenMissing:
		f.fail(w, http.StatusUnauthorized, msgUnauthenticated)
		return false
	case tokenExpired:
		if r.Method == http.MethodGet {
			f.fail(w, http.StatusUnauthorized, msgExpired)
		} else {
			f.fail(w, http.StatusOK, msgExpired)
		}
		return false
	}
	return true
}

// tokenAnswer is the body of a successful login or refresh. A login's
// also tells the days before the password expires (api.md, "What public
// sources add", Smartflo: "Login": number_of_days_left, "based on the
// 90-day password reset policy").
type tokenAnswer struct {
	Success          bool   `json:"success"`
	AccessToken      string `json:"access_token"`
	TokenType        string `json:"token_type"`
	ExpiresIn        int64  `json:"expires_in"`
	NumberOfDaysLeft *int   `json:"number_of_days_left,omitempty"`
}

// passwordPolicyDays is the vendor's password reset policy.
const passwordPolicyDays = 90

// issue creates a token expiring TokenTTL after now; the caller holds f.mu.
func (f *Fake) issue(now time.Time) tokenAnswer {
	tok := rand.Text() + rand.Text()
	f.tokens[tok] = now.Add(f.cfg.TokenTTL)
	return tokenAnswer{
		Success:     true,
		AccessToken: tok,
		TokenType:   "bearer",
		ExpiresIn:   max(1, int64(math.Ceil(f.cfg.TokenTTL.Seconds()))),
	}
}

func (f *Fake) login(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.logins++
	f.mu.Unlock()
	var body struct {
		Email    *string `json:"email"`
		Password *string `json:"password"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		f.invalid(w, map[string][]string{"body": {"The request body must be a JSON object."}})
		return
	}
	errs := map[string][]string{}
	if body.Email == nil || *body.Email == "" {
		errs["email"] = []string{"The email field is required."}
	}
	if body.Password == nil || *body.Password == "" {
		errs["password"] = []string{"The password field is required."}
	}
	if len(errs) > 0 {
		f.invalid(w, errs)
		return
	}
	emailOK := subtle.ConstantTimeCompare([]byte(*body.Email), []byte(f.cfg.Email)) == 1
	passOK := subtle.ConstantTimeCompare([]byte(*body.Password), []byte(f.cfg.Password)) == 1
	if f.cfg.Email == "" || !emailOK || !passOK {
		// As the vendor documents a failed login (api.md, "What public
		// sources add", Smartflo: "Login"): it counts the failures, and
		// enough of them lock the account.
		f.mu.Lock()
		f.failedLogins++
		ans := f.failure(msgBadCredentials)
		ans.LoginFailedCount = f.failedLogins
		f.mu.Unlock()
		writeJSON(w, http.StatusUnauthorized, ans)
		return
	}
	f.mu.Lock()
	f.failedLogins = 0
	ans := f.issue(time.Now())
	f.mu.Unlock()
	days := passwordPolicyDays
	switch {
	case f.cfg.PasswordDaysLeft > 0:
		days = f.cfg.PasswordDaysLeft
	case f.cfg.PasswordDaysLeft < 0:
		days = 0
	}
	ans.NumberOfDaysLeft = &days
	writeJSON(w, http.StatusOK, ans)
}

// refresh swaps the request's token, expired or not, for a new one. The old
// issued token stops working; the permanent token stays valid.
func (f *Fake) refresh(w http.ResponseWriter, r *http.Request) {
	tok := bearer(r)
	now := time.Now()
	f.mu.Lock()
	f.refreshes++
	state := f.checkToken(tok, now)
	if state == tokenMissing {
		f.mu.Unlock()
		f.fail(w, http.StatusUnauthorized, msgUnauthenticated)
		return
	}
	if state != tokenPermanent {
		delete(f.tokens, tok)
	}
	ans := f.issue(now)
	f.mu.Unlock()
	writeJSON(w, http.StatusOK, ans)
}

// List shapes.
type (
	listPage struct {
		HasMore    bool       `json:"has_more"`
		Count      int        `json:"count"`
		LastSeenID int64      `json:"last_seen_id,omitempty"`
		Data       []listItem `json:"data"`
	}
	listItem struct {
		ID                             any       `json:"id"` // int64, or a string with MixedTypes
		Name                           string    `json:"name"`
		LoginID                        string    `json:"login_id"`
		IsLoginBasedCallingEnabled     bool      `json:"is_login_based_calling_enabled"`
		IsInternationalOutboundEnabled bool      `json:"is_international_outbound_enabled"`
		UserRole                       role      `json:"user_role"`
		UserStatus                     int       `json:"user_status"`
		Agent                          listAgent `json:"agent"`
	}
	role struct {
		ID   any    `json:"id"` // int64, or a string with MixedTypes
		Name string `json:"name"`
	}
	listAgent struct {
		ID             string `json:"id"`
		Name           string `json:"name"`
		Status         int    `json:"status"` // agentStatus
		FollowMeNumber string `json:"follow_me_number"`
	}
)

// Agent statuses, as the list's agent.status and the one-user read's
// agent.agent_status show them (api.md, "What public sources add",
// Smartflo: "Enabled 0, Blocked 1, Disabled 2, Busy 3").
const (
	agentEnabled  = 0
	agentBlocked  = 1
	agentDisabled = 2
)

// agentStatus is the one status both reads show for u's two flags. Which
// wins when an agent is both blocked and disabled is not documented; the
// fake shows disabled, as smartflo's assumed.go assumes. The block alone
// is always told by the one-user read's team_member.status, which the
// fake keeps in step with the same flag, so the two reads agree.
func agentStatus(u *User) int {
	switch {
	case u.Disabled:
		return agentDisabled
	case u.Blocked:
		return agentBlocked
	}
	return agentEnabled
}

// typed returns the id n in the JSON type the reference pages show it in
// (a number, or with docString a string), or with MixedTypes, for every
// other user (odd i), in the other type.
func (f *Fake) typed(n int64, i int, docString bool) any {
	asString := docString
	if f.cfg.MixedTypes && i%2 == 1 {
		asString = !asString
	}
	if asString {
		return strconv.FormatInt(n, 10)
	}
	return n
}

// Paging bounds of GET /v1/users.
const (
	defaultLimit = 20
	maxLimit     = 100 // assumed in api.md
)

func (f *Fake) list(w http.ResponseWriter, r *http.Request) {
	if !f.authorize(w, r) {
		return
	}
	q := r.URL.Query()
	errs := map[string][]string{}
	limit, after := int64(defaultLimit), int64(0)
	if s := q.Get("limit"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		switch {
		case err != nil:
			errs["limit"] = []string{"The limit must be an integer."}
		case n < 1 || n > maxLimit:
			errs["limit"] = []string{fmt.Sprintf("The limit must be between 1 and %d.", maxLimit)}
		}
		limit = n
	}
	if s := q.Get("last_seen_id"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		switch {
		case err != nil:
			errs["last_seen_id"] = []string{"The last seen id must be an integer."}
		case n < 0:
			errs["last_seen_id"] = []string{"The last seen id must be at least 0."}
		}
		after = n
	}
	if len(errs) > 0 {
		f.invalid(w, errs)
		return
	}

	f.mu.Lock()
	start, _ := slices.BinarySearchFunc(f.users, after+1, func(u User, id int64) int { return cmpInt(u.ID, id) })
	end := min(len(f.users), start+int(limit))
	page := listPage{HasMore: end < len(f.users), Data: make([]listItem, 0, end-start)}
	for i := start; i < end; i++ {
		u := &f.users[i]
		page.Data = append(page.Data, listItem{
			ID:                             f.typed(u.ID, i, false),
			Name:                           u.Name,
			LoginID:                        u.LoginID,
			IsLoginBasedCallingEnabled:     u.LoginBasedCalling,
			IsInternationalOutboundEnabled: u.InternationalOutbound,
			UserRole:                       role{f.typed(u.RoleID, i, false), u.RoleName},
			UserStatus:                     1,
			Agent:                          listAgent{u.AgentID, u.Name, agentStatus(u), u.Number},
		})
	}
	if end > start {
		page.LastSeenID = f.users[end-1].ID
	}
	f.mu.Unlock()
	page.Count = len(page.Data)
	if f.cfg.RepeatInList && page.Count >= 2 {
		page.Data[page.Count-1] = page.Data[0] // the cursor still moves past the user left out
	}
	if f.cfg.ShortLists {
		page.Count++
	}
	writeJSON(w, http.StatusOK, page)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// One-user shapes.
type (
	oneUser struct {
		Data userDetail `json:"data"`
	}
	userDetail struct {
		ID         any         `json:"id"` // a string, or a number with MixedTypes
		Name       string      `json:"name"`
		Number     string      `json:"number"`
		TeamMember teamMember  `json:"team_member"`
		Agent      agentDetail `json:"agent"`
	}
	teamMember struct {
		Designation         *string `json:"designation"` // null when empty (api.md, "What public sources add", Smartflo: "One-user read")
		Email               string  `json:"email"`
		LoginID             string  `json:"login_id"`
		Status              int     `json:"status"` // 1 unblocked, 0 blocked
		Role                role    `json:"role"`
		IsLoginBasedCalling bool    `json:"is_login_based_calling"`
		IsWebLoginBlock     bool    `json:"is_web_login_block"`
		UsersForCDR         CDR     `json:"users_for_cdr"`
	}
	agentDetail struct {
		ID                             string `json:"id"`
		Number                         string `json:"number"`
		AgentStatus                    int    `json:"agent_status"` // agentStatus
		IsInternationalOutboundEnabled bool   `json:"is_international_outbound_enabled"`
	}
)

// lookup finds the position of the user named by a path id.
func (f *Fake) lookup(id string) (int, bool) {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		return 0, false
	}
	i, ok := f.index[n]
	return i, ok
}

// getUser answers GET /v1/user/{id} for the user at i.
func (f *Fake) getUser(w http.ResponseWriter, i int) {
	f.mu.Lock()
	u := f.users[i].clone()
	f.mu.Unlock()
	var designation *string
	if u.Designation != "" {
		designation = &u.Designation
	}
	writeJSON(w, http.StatusOK, oneUser{userDetail{
		ID:     f.typed(u.ID, i, true),
		Name:   u.Name,
		Number: u.Number,
		TeamMember: teamMember{
			Designation:         designation,
			Email:               u.Email,
			LoginID:             u.LoginID,
			Status:              1 - boolInt(u.Blocked), // "BLOCK = 0 UNBLOCK = 1"
			Role:                role{f.typed(u.RoleID, i, false), u.RoleName},
			IsLoginBasedCalling: u.LoginBasedCalling,
			IsWebLoginBlock:     u.WebLoginBlocked,
			UsersForCDR:         u.UsersForCDR,
		},
		Agent: agentDetail{
			ID:                             u.AgentID,
			Number:                         u.Number,
			AgentStatus:                    agentStatus(&u),
			IsInternationalOutboundEnabled: u.InternationalOutbound,
		},
	}})
}

// patchUser answers PATCH /v1/user/{id} for the user at i.
func (f *Fake) patchUser(w http.ResponseWriter, r *http.Request, i int) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		f.fail(w, http.StatusBadRequest, "unreadable body")
		return
	}
	p, errs := f.parsePatch(body)
	if len(errs) > 0 {
		f.invalid(w, errs)
		return
	}
	if p.password != nil {
		// Hash outside the lock: bcrypt is slow on purpose.
		hash, err := bcrypt.GenerateFromPassword([]byte(*p.password), f.cfg.BcryptCost)
		if err != nil {
			f.fail(w, http.StatusInternalServerError, "Server Error")
			return
		}
		h := string(hash)
		p.hash = &h
	}
	f.mu.Lock()
	p.apply(&f.users[i], f.roles)
	f.mu.Unlock()
	writeJSON(w, http.StatusOK, struct {
		Success bool   `json:"success"`
		Message string `json:"message"`
	}{true, msgUpdated})
}

// Generate returns n made-up users, ids 1 to n, for tests and benchmarks
// that need many: "User i", u<i>@example.com, login u<i>, role 54631
// (Agent), not blocked.
func Generate(n int) []User {
	users := make([]User, n)
	for i := range users {
		users[i] = User{ID: int64(i + 1), Name: fmt.Sprint("User ", i+1), Email: fmt.Sprintf("u%d@example.com", i+1),
			Number: "+919800000001", LoginID: fmt.Sprint("u", i+1), RoleID: 54631, RoleName: "Agent",
			AgentID: fmt.Sprintf("05028%08d", i+1), UsersForCDR: CDR{Type: CDRAll}}
	}
	return users
}
