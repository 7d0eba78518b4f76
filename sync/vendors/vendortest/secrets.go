package vendortest

import (
	"strings"
	"testing"

	"github.com/rostersync/rostersync/sync/model"
	"github.com/rostersync/rostersync/sync/vendors"
	"github.com/rostersync/rostersync/sync/vendors/rest"
)

// testSecrets has the fake echo every refused request, credentials and
// body included, in its answer: the token, the login password and a
// secret field's value must stay out of the client's error text, while
// the rest of the answer still shows.
func testSecrets(t *testing.T, v *vendors.Vendor) {
	var secretField *model.Field
	for _, f := range v.Table.Fields() {
		if f.Secret {
			secretField = &f
			break
		}
	}
	const (
		forged  = "forged-token-echoed-61d0"
		wrong   = "wrong-pw-echoed-2c7a"
		newPass = "new-secret-echoed-93f4"
	)
	tests := []struct {
		name    string
		cfg     rest.Config
		expire  bool // the fake's tokens expire before the call
		call    func(*testing.T, vendors.Client) error
		secrets []string
	}{
		{"rejected token", rest.Config{Token: forged}, false, func(t *testing.T, c vendors.Client) error {
			return c.List(t.Context(), func(model.User) error { return nil })
		}, []string{forged}},
		{"expired token", rest.Config{}, true, func(t *testing.T, c vendors.Client) error {
			_, err := c.Get(t.Context(), "1")
			return err
		}, []string{token}},
		{"rejected login", loginConfig(wrong), false, func(t *testing.T, c vendors.Client) error {
			_, err := c.Get(t.Context(), "1")
			return err
		}, []string{wrong}},
		{"token of a refused read", rest.Config{}, false, func(t *testing.T, c vendors.Client) error {
			_, err := c.Get(t.Context(), unknownID)
			return err
		}, []string{token}},
		{"token from a login, and a secret field, of a refused patch", loginConfig(password), false, func(t *testing.T, c vendors.Client) error {
			if secretField == nil {
				t.Skipf("the %s table has no secret field", v.Name)
			}
			body := sampleBody(v)
			setPath(body, secretField.Name, newPass)
			_, err := c.Patch(t.Context(), unknownID, body)
			return err
		}, []string{newPass, password}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := serve(t, v, vendors.FakeConfig{Users: 2, Echo: true})
			if tt.expire {
				h.fake.ExpireTokens()
			}
			err := tt.call(t, h.client(tt.cfg))
			if err == nil {
				t.Fatal("the call succeeded")
			}
			text := err.Error()
			for _, s := range tt.secrets {
				if strings.Contains(text, s) {
					t.Errorf("a secret is in the error: %s", text)
				}
			}
			if !strings.Contains(text, "[REDACTED]") {
				t.Errorf("the server's echo is not in the error, so the case proves nothing: %s", text)
			}
		})
	}
}
