package model

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"sync"
)

// Digester computes the digests of many rows under one key, reusing its
// HMACs and buffers: a digest a row for a million rows would otherwise
// allocate half a gigabyte. It is safe for concurrent use.
type Digester struct {
	macs sync.Pool // of *digesting
}

// digesting is one HMAC and the buffers it writes and sums into.
type digesting struct {
	mac hash.Hash
	buf []byte
	sum []byte
}

// NewDigester returns a Digester of key.
func NewDigester(key []byte) *Digester {
	key = append([]byte(nil), key...)
	return &Digester{macs: sync.Pool{New: func() any {
		return &digesting{mac: hmac.New(sha256.New, key), buf: make([]byte, 0, 256), sum: make([]byte, 0, sha256.Size)}
	}}}
}

// Digest returns a keyed digest of what the row asks for: its key and
// every value it sets, "" for a row that cannot be used. Rows with equal
// digests under one key ask for the same thing (a resumed run skips a row
// only when it still does). The key, which the caller derives from a
// secret, keeps a digest from testing guesses of a password the row sets.
func (d *Digester) Digest(r *Row) string {
	if r.Err != nil {
		return ""
	}
	g := d.macs.Get().(*digesting)
	defer d.macs.Put(g)
	g.mac.Reset()
	b := append(g.buf[:0], r.Key...)
	for _, v := range r.Values {
		b = append(b, 0)
		b = append(b, v.Field.Name...)
		b = append(b, '=')
		b = append(b, v.Field.Kind.Format(v.V)...)
	}
	g.mac.Write(b)
	if cap(b) <= 4096 {
		g.buf = b
	}
	g.sum = g.mac.Sum(g.sum[:0])
	return hex.EncodeToString(g.sum[:16])
}
