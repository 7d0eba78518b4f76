// Package vendors is the table of the targets rostersync knows. Each entry
// says what the vendor's users look like, where its API lives, how to
// build its client and its shipped fake; the command line's --target, its
// help, `rostersync fake` and `rostersync demo` are all read from it. A new
// vendor is its client package, its fake package and one entry here.
package vendors

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/rostersync/rostersync/sync/apply"
	"github.com/rostersync/rostersync/sync/model"
	"github.com/rostersync/rostersync/sync/plan"
	"github.com/rostersync/rostersync/sync/vendors/dnl"
	"github.com/rostersync/rostersync/sync/vendors/dnl/dnltest"
	"github.com/rostersync/rostersync/sync/vendors/fakehttp"
	"github.com/rostersync/rostersync/sync/vendors/rest"
	"github.com/rostersync/rostersync/sync/vendors/smartflo"
	"github.com/rostersync/rostersync/sync/vendors/smartflo/smartflotest"
)

// Client is a vendor's API client: it reads users and patches them.
type Client interface {
	plan.Reader
	apply.Patcher
}

// Fake is a vendor's shipped fake API server.
type Fake interface {
	http.Handler
	Requests() []fakehttp.Request // every request it received, oldest first
	Writes() int                  // the requests that asked for a change
	Logins() int                  // the logins it was asked for
	Refreshes() int               // the token refreshes it was asked for (0 where the vendor has none)
	// ExpireTokens makes every token the fake accepts expire now, the
	// fixed one and those it issued, as a vendor answers a token past its
	// lifetime; a login still gives a new one.
	ExpireTokens()
}

// FakeConfig configures a vendor's fake.
type FakeConfig struct {
	Seed       string        // a users.json file to start from; "" = Users generated users
	Users      int           // with no Seed: how many users to generate, ids 1..Users
	Token      string        // the fixed token it accepts
	Login      string        // a login it accepts too ("" = none)
	Password   string        // the password of Login
	TokenTTL   time.Duration // lifetime of tokens from a login; 0 = the vendor's default
	BcryptCost int           // cost of the password hashes it stores; 0 = the vendor's
	Faults     fakehttp.Faults
	// ShortLists makes every list answer report one user more than it
	// holds (Smartflo's page count, DNL's total): a listing that ends
	// early, which a client must refuse rather than take for the state.
	ShortLists bool
	// Echo makes every failure answer repeat the request it refuses, its
	// credentials and body included, in the vendor's message, as careless
	// servers do: for tests that secrets stay out of error text.
	Echo bool
	// RepeatInList makes every list page of two users or more hold its
	// first user again in place of its last: a listing that repeats one
	// user and lacks another while its counts add up, as offset paging in
	// no stable order gives; the run must stop before any write.
	RepeatInList bool
	// IgnoreIDFilter makes the fake ignore the filter a client reads named
	// users with (DNL's user_id_in) and answer with everyone, as a server
	// might: the filter is not documented publicly (api.md, "What public
	// sources add", DNL). Vendors with no such filter have nothing to ignore.
	IgnoreIDFilter bool
}

// Edit is one field set to one value, as a PATCH sends it.
type Edit struct {
	Field string // a field of the table that the one-user read returns
	Value any    // a value the vendor accepts, in model's canonical form
}

// Vendor is one entry of the table.
type Vendor struct {
	model.Target
	Title string // for people: "Smartflo (Tata Tele Business Services)"
	// DefaultBaseURL is the vendor's API root; "" when it is self-hosted,
	// so that --base-url is required (BaseURLExample shows its form).
	DefaultBaseURL string
	BaseURLExample string
	// OtherBaseURLs are other hosts of the same API (white labels).
	OtherBaseURLs []string
	New           func(rest.Config) Client
	NewFake       func(FakeConfig) (Fake, error)
	// PageSize is how many users the client asks for in one list request.
	PageSize int
	// Sample is an edit the vendor accepts for any user of its fake, which
	// the one-user read then shows: the conformance suite patches it.
	Sample Edit
}

// DemoSeed is the users.json the demo and `rostersync fake` start from,
// relative to the repository's root.
func (v *Vendor) DemoSeed() string { return "testdata/demo/" + v.Name + "/users.json" }

// All is every vendor, in the order help lists them.
var All = []Vendor{
	{
		Target:         smartflo.Target,
		Title:          "Smartflo (Tata Tele Business Services) and its white labels",
		DefaultBaseURL: smartflo.DefaultBaseURL,
		OtherBaseURLs:  smartflo.WhiteLabels,
		New:            func(c rest.Config) Client { return smartflo.New(c) },
		PageSize:       smartflo.MaxPageSize,
		Sample:         Edit{Field: "designation", Value: "Team lead"},
		NewFake: func(c FakeConfig) (Fake, error) {
			users, err := seed(c, smartflotest.LoadUsers, smartflotest.Generate)
			if err != nil {
				return nil, err
			}
			return smartflotest.New(smartflotest.Config{Token: c.Token, Email: c.Login, Password: c.Password,
				TokenTTL: c.TokenTTL, BcryptCost: c.BcryptCost, Faults: c.Faults,
				ShortLists: c.ShortLists, Echo: c.Echo, RepeatInList: c.RepeatInList}, users), nil
		},
	},
	{
		Target:         dnl.Target,
		Title:          "DNL (Denovo Lab class 4 softswitch), self-hosted",
		BaseURLExample: "http://HOST:8000",
		New:            func(c rest.Config) Client { return dnl.New(c) },
		PageSize:       dnl.MaxPerPage,
		Sample:         Edit{Field: "landing_page", Value: "/cdr/report"},
		NewFake: func(c FakeConfig) (Fake, error) {
			users, err := seed(c, dnltest.LoadUsers, dnltest.Generate)
			if err != nil {
				return nil, err
			}
			return dnltest.New(dnltest.Config{Token: c.Token, Admin: c.Login, Password: c.Password,
				TokenTTL: c.TokenTTL, BcryptCost: c.BcryptCost, Faults: c.Faults,
				ShortLists: c.ShortLists, Echo: c.Echo, RepeatInList: c.RepeatInList, IgnoreIDFilter: c.IgnoreIDFilter}, users), nil
		},
	},
}

// seed returns a fake's users: loaded from c.Seed, else generated.
func seed[U any](c FakeConfig, load func(string) ([]U, error), generate func(int) []U) ([]U, error) {
	if c.Seed != "" {
		return load(c.Seed)
	}
	return generate(c.Users), nil
}

// Lookup returns the vendor named name, or an error listing the names.
func Lookup(name string) (*Vendor, error) {
	i := slices.IndexFunc(All, func(v Vendor) bool { return v.Name == name })
	if i < 0 {
		return nil, fmt.Errorf("--target must be %s", Names(" or "))
	}
	return &All[i], nil
}

// Names lists the vendors' names joined by sep ("smartflo|dnl").
func Names(sep string) string {
	names := make([]string, len(All))
	for i, v := range All {
		names[i] = v.Name
	}
	return strings.Join(names, sep)
}
