package compile

import (
	"crypto/sha256"
	"encoding/binary"
	"strconv"
	"testing"
)

// keyHasher's blocks change nothing: its key is the SHA-256 of its fields,
// each length-prefixed, however many blocks they fill, so keys stay those
// of caches written before.
func TestKeyHasherStream(t *testing.T) {
	for _, n := range []int{0, 1, 100, 5000} {
		k := newKeyHasher("test")
		var stream []byte
		str := func(s string) []byte {
			return append(binary.AppendUvarint(nil, uint64(len(s))), s...)
		}
		stream = append(append(stream, str(keyVersion)...), str("test")...)
		k.int(int64(n))
		stream = binary.AppendVarint(stream, int64(n))
		for i := range n {
			u := "src/mod_" + strconv.Itoa(i) + ".c"
			var h Hash
			h[0], h[31] = byte(i), byte(i>>8)
			k.str(u)
			k.hash(h)
			stream = append(append(stream, str(u)...), h[:]...)
		}
		if got, want := k.sum(), Hash(sha256.Sum256(stream)); got != want {
			t.Fatalf("%d fields: key %x, want %x", n, got, want)
		}
	}
}
