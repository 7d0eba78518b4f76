package model

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"sync"
)

// Digest returns a keyed digest of what the row asks for: its key and
// every value it sets, "" for a row that cannot be used. Rows with equal
// digests under one key ask for the same thing (a resumed run skips a row
// only when it still does). The key, which the caller derives from a
// secret, keeps a digest from testing guesses of a password the row sets.
func (r *Row) Digest(key []byte) string {
	return NewDigester(key).Digest(r)
}

// Digester computes the digests of many rows under one key, reusing its
// HMACs: a digest a row for a million rows would otherwise allocate half
// a gigabyte. It is safe for concurrent use.
type Digester struct {
	macs sync.Pool
}

// NewDigester returns a Digester of key.
func NewDigester(key []byte) *Digester {
	key = append([]byte(nil), key...)
	return &Digester{macs: sync.Pool{New: func() any { return hmac.New(sha256.New, key) }}}
}

// Digest returns r.Digest of the Digester's key.
func (d *Digester) Digest(r *Row) string {
	if r.Err != nil {
		return ""
	}
	m := d.macs.Get().(hash.Hash)
	defer d.macs.Put(m)
	m.Reset()
	var buf [64]byte
	b := append(buf[:0], r.Key...)
	for _, v := range r.Values {
		b = append(b, 0)
		b = append(b, v.Field.Name...)
		b = append(b, '=')
		b = append(b, v.Field.Kind.Format(v.V)...)
		if len(b) > len(buf) {
			m.Write(b)
			b = buf[:0]
		}
	}
	m.Write(b)
	var sum [sha256.Size]byte
	return hex.EncodeToString(m.Sum(sum[:0])[:16])
}
