// Package dnltest is a fake DNL (Denovo Lab class 4 softswitch) API server,
// shipped as an ordinary package like net/http/httptest so that tests, the
// demo command and the fake command can run against it. It owns what the
// vendor answers: the paths under /v1, X-Auth-Token authentication, listing,
// reading and patching users, the validation errors and the error envelopes.
// It does not own the request log, the request limit or injected faults:
// those come from fakehttp, which wraps its handler.
package dnltest

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rostersync/rostersync/sync/vendors/fakehttp"
)

// Config configures a Fake.
type Config struct {
	Token      string // a fixed admin token accepted in X-Auth-Token; "" = none
	AgentToken string // a fixed non-admin token: reads allowed, PATCH answers 403; "" = none
	Admin      string // the email_or_name POST /v1/auth accepts (an admin); "" disables login
	Password   string // the password POST /v1/auth accepts with Admin
	// TokenTTL is the lifetime of tokens from POST /v1/auth unless the
	// login asks another (expire_after_minutes); 0 = an hour. DNL's tokens
	// expire (api.md, "What public sources add", DNL: "Auth"); the
	// default lifetime is not public.
	TokenTTL   time.Duration
	BcryptCost int             // cost for a stored passwd; 0 = 12 like the vendor
	Faults     fakehttp.Faults // limit and injected faults
	// ShortLists makes every list page report a total one user more than
	// the listing holds: a listing that ends early, which a client must
	// refuse.
	ShortLists bool
	// Echo makes every failure answer repeat the request it refuses (its
	// token and body included) in its error message, as careless servers do.
	Echo bool
	// IgnoreIDFilter makes the list ignore user_id_in and answer with every
	// user, as a server might: the filter is not documented publicly
	// (api.md, "What public sources add", DNL: "user_id_in").
	IgnoreIDFilter bool
	// RepeatInList makes every list page of two users or more hold its
	// first user again in place of its last: a listing that repeats one
	// user and lacks another while the total still adds up, which a
	// client must refuse.
	RepeatInList bool
}

// Fake is a fake DNL API. It embeds the fakehttp.Server, so it is an
// http.Handler and has Requests(), Writes(), MaxInWindow().
type Fake struct {
	*fakehttp.Server
	cfg Config

	mu           sync.Mutex
	users        map[int64]*User
	ids          []int64 // sorted; users are never added or removed
	tokens       map[string]session
	fixedExpired bool // the fixed tokens have expired (ExpireTokens)
	logins       int
	unordered    int // list requests without order_by so far: where the next one starts
}

// session is a token issued by POST /v1/auth.
type session struct {
	expires time.Time // zero: never
}

// defaultCost is the bcrypt cost the vendor's hashes show ("$2b$12$").
const defaultCost = 12

// New returns a Fake holding deep copies of users. It panics when two users
// share a user_id; seed files read with ReadUsers never do.
func New(cfg Config, users []User) *Fake {
	if cfg.BcryptCost == 0 {
		cfg.BcryptCost = defaultCost
	}
	if cfg.TokenTTL <= 0 {
		cfg.TokenTTL = time.Hour
	}
	f := &Fake{cfg: cfg, users: make(map[int64]*User, len(users)), tokens: map[string]session{}}
	for _, u := range users {
		if _, dup := f.users[u.UserID]; dup {
			panic(fmt.Sprintf("dnltest: duplicate user_id %d", u.UserID))
		}
		c := u.clone()
		f.users[u.UserID] = &c
		f.ids = append(f.ids, u.UserID)
	}
	slices.Sort(f.ids)

	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/auth", f.handleAuth)
	mux.HandleFunc("GET /v1/user/list", f.authed(f.handleList))
	mux.HandleFunc("GET /v1/user/{user_id}", f.authed(f.handleGet))
	mux.HandleFunc("PATCH /v1/user/{user_id}", f.authed(f.handlePatch))
	var h http.Handler = mux
	if cfg.Echo {
		h = fakehttp.Echo(h, echo)
	}
	f.Server = fakehttp.Wrap(h, cfg.Faults, throttled)
	return f
}

// echo appends a request's echo to a failure's error.message, which
// clients read along with error_type.
func echo(answer map[string]any, text string) {
	detail, _ := answer["error"].(map[string]any)
	if detail == nil {
		detail = map[string]any{}
	}
	msg, _ := detail["message"].(string)
	detail["message"] = strings.TrimSpace(msg + " " + text)
	answer["error"] = detail
}

// Users returns a snapshot of all users (deep copies), sorted by user_id.
func (f *Fake) Users() []User {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]User, 0, len(f.ids))
	for _, id := range f.ids {
		out = append(out, f.users[id].clone())
	}
	return out
}

// User returns a deep copy of the user with the given id, and whether it exists.
func (f *Fake) User(id int64) (User, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	u, ok := f.users[id]
	if !ok {
		return User{}, false
	}
	return u.clone(), true
}

// Logins reports the POST /v1/auth calls so far, successful or not.
func (f *Fake) Logins() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.logins
}

// Refreshes reports 0: DNL has no refresh call, an expired token is
// replaced by a new login.
func (f *Fake) Refreshes() int { return 0 }

// ExpireTokens makes every token the fake accepts expire now: the fixed
// ones and those POST /v1/auth issued. They are answered 401 from then on;
// a new login still gives a working token.
func (f *Fake) ExpireTokens() {
	now := time.Now()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fixedExpired = true
	for tok, s := range f.tokens {
		if s.expires.IsZero() || s.expires.After(now) {
			f.tokens[tok] = session{expires: now}
		}
	}
}

// throttled is the 429 the fake answers past fakehttp's limit. DNL publishes
// no limit (api.md); this is what a proxy in front of it answers. With no
// retryAt it has no Retry-After header.
func throttled(w http.ResponseWriter, retryAt time.Time) {
	if !retryAt.IsZero() {
		secs := int64(math.Ceil(time.Until(retryAt).Seconds()))
		w.Header().Set("Retry-After", strconv.FormatInt(max(secs, 1), 10))
	}
	writeJSON(w, http.StatusTooManyRequests, struct {
		Success   bool   `json:"success"`
		ErrorType string `json:"error_type"`
	}{false, "rate_limit_error"})
}

// authed checks X-Auth-Token before calling h, telling h whether the token
// is an admin's.
func (f *Fake) authed(h func(w http.ResponseWriter, r *http.Request, admin bool)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok := r.Header.Get("X-Auth-Token")
		if tok == "" {
			unauthenticated(w, "No header X-Auth-Token present", 110, "auth_token_not_provided")
			return
		}
		admin, ok := f.checkToken(tok)
		if !ok {
			// A token the server does not take, or no longer: the 401 of the
			// vendor's cookbook (api.md, "What public sources add", DNL:
			// "Auth": "a 401 carries error_type operation_error").
			unauthorized(w, "Token is invalid or expired", 111, "auth_token_invalid")
			return
		}
		h(w, r, admin)
	}
}

// checkToken reports whether tok is valid now and whether it is an admin's.
func (f *Fake) checkToken(tok string) (admin, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cfg.Token != "" && subtle.ConstantTimeCompare([]byte(tok), []byte(f.cfg.Token)) == 1 {
		return true, !f.fixedExpired
	}
	if f.cfg.AgentToken != "" && subtle.ConstantTimeCompare([]byte(tok), []byte(f.cfg.AgentToken)) == 1 {
		return false, !f.fixedExpired
	}
	s, ok := f.tokens[tok]
	if !ok {
		return false, false
	}
	if !s.expires.IsZero() && !time.Now().Before(s.expires) {
		delete(f.tokens, tok)
		return false, false
	}
	return true, true // only the admin can log in
}

// handleAuth serves POST /v1/auth.
func (f *Fake) handleAuth(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.logins++
	f.mu.Unlock()

	obj, errs := decodeObject(r)
	if errs == nil {
		var v validator
		for k := range obj {
			if k != "email_or_name" && k != "password" && k != "expire_after_minutes" {
				v.add(k, msgUnknown)
			}
		}
		name, _ := v.requiredString(obj, "email_or_name")
		pass, _ := v.requiredString(obj, "password")
		// A login may ask its token's lifetime (api.md, "What public
		// sources add", DNL: "Auth": expire_after_minutes).
		ttl := f.cfg.TokenTTL
		if raw, asked := obj["expire_after_minutes"]; asked {
			if n, ok := v.integer("expire_after_minutes", raw, false); ok && n != nil {
				if *n < 1 {
					v.add("expire_after_minutes", "Must be greater than or equal to 1.")
				} else {
					ttl = time.Duration(min(*n, 1<<20)) * time.Minute // at most two years
				}
			}
		}
		errs = v.errs
		if errs == nil {
			f.login(w, name, pass, ttl)
			return
		}
	}
	validationError(w, errs)
}

// login answers a well-formed POST /v1/auth, with a token that lives ttl.
// The payload is the vendor cookbook's {"token", "expired"} (api.md, "What
// public sources add", DNL: "Auth"); how "expired" is written is not
// public: the fake writes RFC 3339 in UTC (dnl's assumed.go).
func (f *Fake) login(w http.ResponseWriter, name, pass string, ttl time.Duration) {
	if f.cfg.Admin == "" || name != f.cfg.Admin ||
		subtle.ConstantTimeCompare([]byte(pass), []byte(f.cfg.Password)) != 1 {
		unauthorized(w, "Invalid credentials", 0, "invalid_credentials")
		return
	}
	tok := newToken()
	now := time.Now()
	s := session{expires: now.Add(ttl)}

	f.mu.Lock()
	for t, old := range f.tokens {
		if !old.expires.IsZero() && !now.Before(old.expires) {
			delete(f.tokens, t)
		}
	}
	f.tokens[tok] = s
	f.mu.Unlock()

	type payload struct {
		Token   string `json:"token"`
		Expired string `json:"expired"`
	}
	writeJSON(w, http.StatusOK, struct {
		Success bool    `json:"success"`
		Payload payload `json:"payload"`
	}{true, payload{tok, s.expires.UTC().Format(time.RFC3339)}})
}

func newToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}

// listParams are the query parameters GET /v1/user/list takes. order_by
// and order_dir are what the vendor's own web client sends (api.md, "What
// public sources add", DNL: "Stable paging").
var listParams = []string{"page", "per_page", "user_id_in", "active", "user_type", "order_by", "order_dir"}

// orderColumns are the columns the fake's list can be ordered by.
var orderColumns = []string{"user_id"}

// maxPerPage is the largest per_page the list accepts (assumed, api.md).
const maxPerPage = 1000

// handleList serves GET /v1/user/list.
func (f *Fake) handleList(w http.ResponseWriter, r *http.Request, _ bool) {
	lq, errs := parseListQuery(r.URL.Query())
	if errs != nil {
		validationError(w, errs)
		return
	}
	f.mu.Lock()
	items, total := f.listPage(lq)
	// {"success":true,"payload":{"total","page","per_page","items"}}, as
	// encoding/json writes it, encoded while the users cannot change.
	b := make([]byte, 0, 128+1200*len(items))
	b = append(b, `{"success":true,"payload":{"total":`...)
	b = strconv.AppendInt(b, int64(total), 10)
	b = append(b, `,"page":`...)
	b = strconv.AppendInt(b, lq.page, 10)
	b = append(b, `,"per_page":`...)
	b = strconv.AppendInt(b, lq.perPage, 10)
	b = append(b, `,"items":[`...)
	for i, u := range items {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendUser(b, u)
	}
	f.mu.Unlock()
	b = append(b, "]}}"...)
	writeBody(w, http.StatusOK, b)
}

// listQuery is what a GET /v1/user/list asks for.
type listQuery struct {
	page, perPage int64
	ids           map[int64]bool // user_id_in; nil: every user
	active        *bool          // nil: either
	userType      string         // "": any
	ordered, desc bool           // order_by given; order_dir desc
}

// parseListQuery reads and validates the list's query parameters, as the
// vendor's validation answers them: every bad parameter, each once.
func parseListQuery(q url.Values) (listQuery, []fieldError) {
	var v validator
	for k := range q {
		if !slices.Contains(listParams, k) {
			v.add(k, msgUnknown)
		}
	}
	lq := listQuery{perPage: 100, userType: q.Get("user_type"), ordered: q.Has("order_by")}
	if s := q.Get("page"); q.Has("page") {
		if n, err := strconv.ParseInt(s, 10, 64); err != nil {
			v.add("page", msgInteger)
		} else if n < 0 {
			v.add("page", "Must be greater than or equal to 0.")
		} else {
			lq.page = n
		}
	}
	if s := q.Get("per_page"); q.Has("per_page") {
		if n, err := strconv.ParseInt(s, 10, 64); err != nil {
			v.add("per_page", msgInteger)
		} else if n < 1 || n > maxPerPage {
			v.add("per_page", fmt.Sprintf("Must be greater than or equal to 1 and less than or equal to %d.", maxPerPage))
		} else {
			lq.perPage = n
		}
	}
	if s := q.Get("user_id_in"); s != "" {
		lq.ids = map[int64]bool{}
		for _, part := range strings.Split(s, ",") {
			n, err := strconv.ParseInt(strings.TrimSpace(part), 10, 64)
			if err != nil {
				v.add("user_id_in", msgInteger)
				break
			}
			lq.ids[n] = true
		}
	}
	if s := q.Get("active"); q.Has("active") {
		switch strings.ToLower(s) {
		case "true", "1":
			lq.active = new(true)
		case "false", "0":
			lq.active = new(false)
		default:
			v.add("active", msgBoolean)
		}
	}
	if q.Has("user_type") && !validUserType(lq.userType) {
		v.add("user_type", msgUserType)
	}
	if lq.ordered && !slices.Contains(orderColumns, q.Get("order_by")) {
		v.add("order_by", "Must be one of: "+strings.Join(orderColumns, ", ")+".")
	}
	if s := q.Get("order_dir"); q.Has("order_dir") {
		switch strings.ToLower(s) {
		case "asc":
		case "desc":
			lq.desc = true
		default:
			v.add("order_dir", "Must be one of: asc, desc.")
		}
	}
	return lq, v.errs
}

// listPage returns the users of the page lq asks for, and the total the
// answer reports. f.mu must be held.
func (f *Fake) listPage(lq listQuery) (items []*User, total int) {
	// Candidates in user_id order: the filter's ids, else everyone. Only the
	// active and user_type filters need a look at each candidate, so an
	// unfiltered page costs its own size, not the whole store's.
	candidates := f.ids
	if lq.ids != nil && !f.cfg.IgnoreIDFilter {
		candidates = make([]int64, 0, len(lq.ids))
		for id := range lq.ids {
			if f.users[id] != nil {
				candidates = append(candidates, id)
			}
		}
		slices.Sort(candidates)
	}
	if lq.active != nil || lq.userType != "" {
		var kept []int64
		for _, id := range candidates {
			if u := f.users[id]; (lq.active == nil || u.Active == *lq.active) && (lq.userType == "" || u.UserType == lq.userType) {
				kept = append(kept, id)
			}
		}
		candidates = kept
	}
	// The order of the answer. Without order_by it is not stable from one
	// request to the next, as a database's is with no ORDER BY (a scan may
	// start where another one is, as PostgreSQL's synchronized sequential
	// scans do): each answer starts the users one place further on, so
	// pages read one after another overlap by a user and skip one.
	n := int64(len(candidates))
	at := func(i int64) int64 { return candidates[i] }
	switch {
	case !lq.ordered && n > 0:
		shift := int64(f.unordered) % n
		f.unordered++
		at = func(i int64) int64 { return candidates[(i+shift)%n] }
	case lq.desc:
		at = func(i int64) int64 { return candidates[n-1-i] }
	}
	if lq.page < (n+lq.perPage-1)/lq.perPage { // so page*perPage cannot overflow
		for i := lq.page * lq.perPage; i < min((lq.page+1)*lq.perPage, n); i++ {
			items = append(items, f.users[at(i)])
		}
	}
	if f.cfg.RepeatInList && len(items) >= 2 {
		items[len(items)-1] = items[0]
	}
	total = len(candidates)
	if f.cfg.ShortLists {
		total++
	}
	return items, total
}

// handleGet serves GET /v1/user/{user_id}.
func (f *Fake) handleGet(w http.ResponseWriter, r *http.Request, _ bool) {
	u, ok := f.lookup(r)
	if !ok {
		notFound(w)
		return
	}
	writeUser(w, u)
}

// handlePatch serves PATCH /v1/user/{user_id}.
func (f *Fake) handlePatch(w http.ResponseWriter, r *http.Request, admin bool) {
	if !admin {
		type detail struct {
			Message string `json:"message"`
		}
		writeJSON(w, http.StatusForbidden, struct {
			Success   bool   `json:"success"`
			ErrorType string `json:"error_type"`
			Error     detail `json:"error"`
		}{false, "forbidden_error", detail{"Only admin can edit users"}})
		return
	}
	u, ok := f.lookup(r)
	if !ok {
		notFound(w)
		return
	}
	ch, errs := parsePatch(r)
	if errs != nil {
		validationError(w, errs)
		return
	}
	hash := ""
	if ch.passwd != nil {
		var err error
		if hash, err = hashPassword(*ch.passwd, f.cfg.BcryptCost); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
	}

	f.mu.Lock()
	stored := f.users[u.UserID]
	next := stored.clone()
	for _, apply := range ch.applies {
		apply(&next)
	}
	if ch.passwd != nil {
		next.Passwd = hash
	}
	*stored = next
	u = next.clone()
	f.mu.Unlock()
	writeUser(w, u)
}

// lookup returns a copy of the user the path's {user_id} names.
func (f *Fake) lookup(r *http.Request) (User, bool) {
	id, err := strconv.ParseInt(r.PathValue("user_id"), 10, 64)
	if err != nil {
		return User{}, false
	}
	return f.User(id)
}

func writeUser(w http.ResponseWriter, u User) {
	b := append(make([]byte, 0, 1400), `{"success":true,"payload":`...)
	b = appendUser(b, &u)
	writeBody(w, http.StatusOK, append(b, '}'))
}

func writeBody(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func notFound(w http.ResponseWriter) {
	writeJSON(w, http.StatusNotFound, struct {
		Success   bool   `json:"success"`
		ErrorType string `json:"error_type"`
	}{false, "Object not found error"})
}

// unauthenticated writes the seed's 401 envelope, for a request with no
// token. A zero code is left out.
func unauthenticated(w http.ResponseWriter, message string, code int, reason string) {
	writeAuthError(w, "unauthenticated_error", message, code, reason)
}

// unauthorized writes the 401 of a token or login the server refuses,
// with error_type operation_error as the vendor's cookbook shows (api.md,
// "What public sources add", DNL: "Auth"). A zero code is left out.
func unauthorized(w http.ResponseWriter, message string, code int, reason string) {
	writeAuthError(w, "operation_error", message, code, reason)
}

func writeAuthError(w http.ResponseWriter, errorType, message string, code int, reason string) {
	type detail struct {
		Message string `json:"message"`
		Code    int    `json:"code,omitempty"`
		Reason  string `json:"reason"`
	}
	writeJSON(w, http.StatusUnauthorized, struct {
		Success   bool   `json:"success"`
		ErrorType string `json:"error_type"`
		Error     detail `json:"error"`
	}{false, errorType, detail{message, code, reason}})
}

// validationError writes the 400 envelope, one object per bad field.
func validationError(w http.ResponseWriter, errs []fieldError) {
	slices.SortStableFunc(errs, func(a, b fieldError) int { return strings.Compare(a.field, b.field) })
	items := make([]map[string][]string, 0, len(errs))
	for _, e := range errs {
		if n := len(items); n > 0 {
			if msgs, same := items[n-1][e.field]; same {
				items[n-1][e.field] = append(msgs, e.msg)
				continue
			}
		}
		items = append(items, map[string][]string{e.field: {e.msg}})
	}
	writeJSON(w, http.StatusBadRequest, struct {
		Success   bool                  `json:"success"`
		ErrorType string                `json:"error_type"`
		Errors    []map[string][]string `json:"errors"`
	}{false, "validation_error", items})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
