package store

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// TestVerifyFindsEveryDamage: an entry with any one bit flipped, or cut
// short anywhere, reads as a *CorruptError, never as content.
func TestVerifyFindsEveryDamage(t *testing.T) {
	content := []byte("an object's bytes\x00\x01\x02 and more of them")
	entry := append(EntryHeader(sumOf(content)), content...)
	got, err := io.ReadAll(Verify("id", bytes.NewReader(entry)))
	if err != nil || !bytes.Equal(got, content) {
		t.Fatalf("a good entry reads %q, %v", got, err)
	}
	for i := range entry {
		for bit := range 8 {
			bad := bytes.Clone(entry)
			bad[i] ^= 1 << bit
			if _, err := io.ReadAll(Verify("id", bytes.NewReader(bad))); !IsCorrupt(err) {
				t.Fatalf("bit %d of byte %d flipped: err = %v, want a CorruptError", bit, i, err)
			}
		}
	}
	for n := range len(entry) {
		if _, err := io.ReadAll(Verify("id", bytes.NewReader(entry[:n]))); !IsCorrupt(err) {
			t.Fatalf("cut to %d bytes: err = %v, want a CorruptError", n, err)
		}
	}
}

// TestCopyToRemovesDamagedEntry: a restore of a damaged entry fails with a
// *CorruptError naming the entry's file, leaves the destination (and the
// spare's name) alone, removes the entry and counts it.
func TestCopyToRemovesDamagedEntry(t *testing.T) {
	dir := t.TempDir()
	o, err := OpenObjects(filepath.Join(dir, "objects"), 0)
	if err != nil {
		t.Fatal(err)
	}
	for i, damage := range []func(p string){
		func(p string) { // one bit of the content
			b, _ := os.ReadFile(p)
			b[len(b)-3] ^= 0x10
			os.WriteFile(p, b, 0o600)
		},
		func(p string) { os.Truncate(p, int64(EntryHeaderLen)+5) }, // half of it
		func(p string) { os.Truncate(p, 7) },                       // into the header
	} {
		id := "ab" + string(rune('0'+i))
		want := bytes.Repeat([]byte{byte(i)}, 32)
		if i == 0 {
			// Bigger than a copy buffer: streamed through Verify.
			want = bytes.Repeat([]byte{1}, 200<<10)
		}
		if _, err := o.PutBytes(id, want); err != nil {
			t.Fatal(err)
		}
		damage(o.Path(id))
		dst := filepath.Join(dir, "out.o")
		os.WriteFile(dst, []byte("previous"), 0o644)
		spare := filepath.Join(dir, "spare.o")
		os.WriteFile(spare, []byte("spare"), 0o644)
		_, err := o.CopyToReusing(id, dst, spare)
		var ce *CorruptError
		if !IsCorrupt(err) || !errors.As(err, &ce) || ce.Path != o.Path(id) {
			t.Fatalf("damage %d: err = %v, want a CorruptError for %s", i, err, o.Path(id))
		}
		if b, _ := os.ReadFile(dst); string(b) != "previous" {
			t.Fatalf("damage %d: dst holds %q after a failed restore", i, b)
		}
		if o.Has(id) {
			t.Fatalf("damage %d: the damaged entry is still in the store", i)
		}
		if got := o.Corrupt(); got != int64(i+1) {
			t.Fatalf("damage %d: Corrupt() = %d", i, got)
		}
		// The unit is compiled again and stored: the next restore is good.
		if _, err := o.PutBytes(id, want); err != nil {
			t.Fatal(err)
		}
		sum, err := o.CopyTo(id, dst)
		if b, _ := os.ReadFile(dst); err != nil || !bytes.Equal(b, want) || sum != sumOf(want) {
			t.Fatalf("damage %d: restore after a new put: %q, %v", i, b, err)
		}
	}
}

func sumOf(b []byte) Digest {
	var d Digest
	h := sha256.New()
	h.Write(b)
	h.Sum(d[:0])
	return d
}
