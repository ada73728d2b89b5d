// Package subject turns a subject's key into the only forms of it that lethe
// writes anywhere outside the application's own tables: a keyed hash for
// logs and receipts, and a pseudonym for anonymized columns.
package subject

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"hash"
)

// Hasher derives keyed hashes of subject keys with HMAC-SHA-256. Without
// the secret, a hash cannot be turned back into the key nor recomputed from
// a guess.
type Hasher struct {
	secret []byte
}

// NewHasher returns a Hasher keyed with secret (LETHE_SUBJECT_HASH_KEY).
func NewHasher(secret string) *Hasher { return &Hasher{secret: []byte(secret)} }

func (h *Hasher) sum(domain, key string) string {
	m := hmac.New(sha256.New, h.secret)
	m.Write([]byte(domain))
	m.Write([]byte{0})
	m.Write([]byte(key))
	return hex.EncodeToString(m.Sum(nil))
}

// Hash is the subject's identity in logs, metrics-free records and receipts:
// 32 hex digits.
func (h *Hasher) Hash(key string) string { return h.sum("subject", key)[:32] }

// Pseudonym is the suffix written into anonymized columns: 16 hex digits,
// stable per subject, unrelated to Hash so that a receipt cannot be joined
// to a tombstone.
func (h *Hasher) Pseudonym(key string) string { return h.sum("pseudonym", key)[:16] }

// Fingerprint names the key itself, never the key: 16 hex digits of an
// HMAC of a fixed label. lethe records it with each run, so that a receipt
// looked up with another key can be told from no receipt.
func (h *Hasher) Fingerprint() string { return h.sum("key-fingerprint", "")[:16] }

// Stream hashes many keys, one after another, with one reusable HMAC
// state: what lethe replay uses to hash a whole subject table. It is not
// safe for concurrent use.
type Stream struct {
	m   hash.Hash
	sum []byte
}

// Stream returns a Stream of h's subject hashes.
func (h *Hasher) Stream() *Stream { return &Stream{m: hmac.New(sha256.New, h.secret)} }

// subjectDomain is what Hash's HMAC starts with.
var subjectDomain = []byte("subject\x00")

// HashLen is the length in bytes of a subject hash (Hash is its hex).
const HashLen = 16

// Hash returns the raw bytes of the subject hash of key: Hash(key) is
// their hex.
func (s *Stream) Hash(key []byte) (out [HashLen]byte) {
	s.m.Reset()
	s.m.Write(subjectDomain)
	s.m.Write(key)
	s.sum = s.m.Sum(s.sum[:0])
	copy(out[:], s.sum)
	return out
}
