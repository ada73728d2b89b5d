package subject

import (
	"encoding/hex"
	"testing"
)

func TestStreamMatchesHash(t *testing.T) {
	h := NewHasher("k")
	s := h.Stream()
	for _, key := range []string{"", "42", "0d5f8c1e-0000-4000-8000-000000000001", "a\tb\\c"} {
		got := s.Hash([]byte(key))
		if hex.EncodeToString(got[:]) != h.Hash(key) {
			t.Fatalf("Stream.Hash(%q) = %x, Hash = %s", key, got, h.Hash(key))
		}
	}
}
