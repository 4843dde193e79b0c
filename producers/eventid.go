package producers

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
)

// eventIDNamespace separates Sluice event ids from any other use of the same hash.
const eventIDNamespace = "sluice.event-id.v1"

// EventID returns a deterministic event id for the given parts: the lowercase hex of
// the first 128 bits of SHA-256 over a fixed namespace and the length-prefixed parts
// (so ("ab","c") and ("a","bc") differ). It is always 32 bytes, well within the
// 64-byte event_id limit.
//
// Derive the id from what identifies the business event (e.g. the order id and the
// lifecycle step), never from time or randomness: a caller that retries a publish then
// reuses the same id and downstream deduplication collapses the copies.
func EventID(parts ...string) string {
	h := sha256.New()
	var n [binary.MaxVarintLen64]byte
	h.Write([]byte(eventIDNamespace))
	for _, p := range parts {
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(p)))])
		h.Write([]byte(p))
	}
	var sum [sha256.Size]byte
	return hex.EncodeToString(h.Sum(sum[:0])[:16])
}
