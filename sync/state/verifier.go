package state

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// A secret the ledger keeps is a verifier, not the secret: with a key (the
// run's, derived from its credentials, never stored here), an HMAC-SHA256
// of the user, the field and the secret, "v1$<key id>$<mac>"; without one,
// a bcrypt hash, as before keys. A verifier costs a microsecond to check
// where bcrypt costs tens of milliseconds, and a stolen state directory
// alone gives no way to test guesses against it: that needs the key,
// which needs the run's credentials. A verifier made under another key
// (the token was rotated) cannot be checked, so it counts as unknown and
// the secret is sent again, once.
//
// DNL returns each user's password as the server's own bcrypt hash, and
// comparing a roster's password with it costs a bcrypt (cost 12: about a
// quarter of a CPU-second). Once a password matched a server hash, the
// ledger remembers it, keyed the same way, "m1$<key id>$<mac of the
// hash>$<mac of the password>", under "<field>@server": for as long as
// the server's hash is unchanged, the next run needs no bcrypt.

const (
	verifierPrefix = "v1$"
	memoPrefix     = "m1$"
	memoSuffix     = "@server"
)

// keyed is the ledger's key and its id.
type keyed struct {
	key []byte
	id  string // names the key in what it made, and tells nothing of it
}

func newKeyed(key []byte) keyed {
	if len(key) == 0 {
		return keyed{}
	}
	sum := sha256.Sum256(append([]byte("rostersync ledger key id\x00"), key...))
	return keyed{key: key, id: hex.EncodeToString(sum[:6])}
}

func (k keyed) mac(parts ...string) string {
	m := hmac.New(sha256.New, k.key)
	m.Write([]byte(strings.Join(parts, "\x00")))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// verifier returns what the ledger keeps of a secret a user's field was
// set to: a keyed verifier, or without a key a bcrypt hash of cost.
func (k keyed) verifier(userID, field, plain string, cost int) (string, error) {
	if k.key == nil {
		hash, err := bcrypt.GenerateFromPassword([]byte(plain), cost)
		return string(hash), err
	}
	return verifierPrefix + k.id + "$" + k.mac("secret", userID, field, plain), nil
}

// checkable reports whether a value the ledger keeps can be checked: not
// a verifier made under another key (any other value can).
func (k keyed) checkable(stored string) bool {
	rest, ok := strings.CutPrefix(stored, verifierPrefix)
	if !ok {
		return true
	}
	id, _, _ := strings.Cut(rest, "$")
	return k.key != nil && id == k.id
}

// matches reports whether plain is the secret stored stands for: a keyed
// verifier of this key, or a bcrypt hash. known is false for a verifier
// made under another key, which cannot be checked.
func (k keyed) matches(userID, field, stored, plain string) (same, known bool) {
	if rest, ok := strings.CutPrefix(stored, verifierPrefix); ok {
		if !k.checkable(stored) {
			return false, false
		}
		_, mac, _ := strings.Cut(rest, "$")
		return hmac.Equal([]byte(mac), []byte(k.mac("secret", userID, field, plain))), true
	}
	return bcrypt.CompareHashAndPassword([]byte(stored), []byte(plain)) == nil, true
}

// memo returns what the ledger keeps to remember that plain matched the
// server's hash of a user's field.
func (k keyed) memo(userID, field, hash, plain string) string {
	return memoPrefix + k.id + "$" + k.mac("server hash", userID, field, hash) + "$" + k.mac("secret", userID, field, plain)
}

// remembered reports whether memo says plain matched hash, this very
// server hash, under this key.
func (k keyed) remembered(memo, userID, field, hash, plain string) bool {
	return k.key != nil && hmac.Equal([]byte(memo), []byte(k.memo(userID, field, hash, plain)))
}
