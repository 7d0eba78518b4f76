package model

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
)

// Digest returns a keyed digest of what the row asks for: its key and
// every value it sets, "" for a row that cannot be used. Rows with equal
// digests under one key ask for the same thing (a resumed run skips a row
// only when it still does). The key, which the caller derives from a
// secret, keeps a digest from testing guesses of a password the row sets.
func (r *Row) Digest(key []byte) string {
	if r.Err != nil {
		return ""
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(r.Key))
	for _, v := range r.Values {
		m.Write([]byte{0})
		m.Write([]byte(v.Field.Name))
		m.Write([]byte{'='})
		m.Write([]byte(v.Field.Kind.Format(v.V)))
	}
	return hex.EncodeToString(m.Sum(nil)[:16])
}
