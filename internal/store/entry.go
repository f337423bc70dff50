package store

// An object store entry is the object's bytes behind a header naming
// their SHA-256:
//
//	magic    "JMKOBJ1\n"                  (8 bytes)
//	digest   SHA-256 of the content       (32 bytes)
//	content  the object, verbatim
//
// Every read goes through Verify, which hashes the content as it streams
// and answers a *CorruptError instead of io.EOF when the content is not
// what the header names: a bit flipped on disk, a file cut short, a header
// that is not ours. The caller throws away what it read, and the entry is
// a miss. Verify knows nothing of files, so a store that keeps entries
// elsewhere (over HTTP, in Redis) checks them with the same code.

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
)

const entryMagic = "JMKOBJ1\n"

// EntryHeaderLen is the size of an entry's header.
const EntryHeaderLen = len(entryMagic) + sha256.Size

// Digest is the SHA-256 of an object's content.
type Digest [sha256.Size]byte

// String is the digest in lowercase hex.
func (d Digest) String() string { return hex.EncodeToString(d[:]) }

// EntryHeader is the header of an entry whose content hashes to sum.
func EntryHeader(sum Digest) []byte {
	b := make([]byte, 0, EntryHeaderLen)
	b = append(b, entryMagic...)
	return append(b, sum[:]...)
}

// CorruptError reports an entry whose content is not what its header
// names. Path is the file it was read from, when it was a file.
type CorruptError struct {
	ID     string
	Path   string
	Reason string
}

func (e *CorruptError) Error() string {
	where := e.ID
	if e.Path != "" {
		where = e.Path
	}
	return fmt.Sprintf("object cache entry %s is damaged: %s", where, e.Reason)
}

// IsCorrupt reports whether err is, or wraps, a *CorruptError.
func IsCorrupt(err error) bool {
	var ce *CorruptError
	return errors.As(err, &ce)
}

// EntryReader reads the content of an entry and checks it; see Verify.
type EntryReader struct {
	id  string
	r   io.Reader
	h   hash.Hash
	hdr []byte // the header, once read
	sum Digest
	n   int64
	err error // sticky: the first error, or io.EOF after a good entry
}

// VerifyBytes checks a whole entry held in memory and returns its content
// (a part of entry) and digest, or a *CorruptError.
func VerifyBytes(id string, entry []byte) ([]byte, Digest, error) {
	if len(entry) < EntryHeaderLen {
		return nil, Digest{}, &CorruptError{ID: id, Reason: fmt.Sprintf("%d bytes, shorter than a header", len(entry))}
	}
	if err := checkMagic(id, entry); err != nil {
		return nil, Digest{}, err
	}
	content := entry[EntryHeaderLen:]
	sum := Digest(sha256.Sum256(content))
	if err := checkSum(id, entry, sum, len(content)); err != nil {
		return nil, Digest{}, err
	}
	return content, sum, nil
}

// checkMagic checks the start of an entry's header.
func checkMagic(id string, hdr []byte) error {
	if !bytes.Equal(hdr[:len(entryMagic)], []byte(entryMagic)) {
		return &CorruptError{ID: id, Reason: fmt.Sprintf("no %q header", entryMagic[:len(entryMagic)-1])}
	}
	return nil
}

// checkSum compares the digest of an entry's n bytes of content with the
// one its header names.
func checkSum(id string, hdr []byte, sum Digest, n int) error {
	if want := Digest(hdr[len(entryMagic):EntryHeaderLen]); sum != want {
		return &CorruptError{ID: id, Reason: fmt.Sprintf("content of %d bytes hashes to %.12s…, its header says %.12s…", n, sum, want)}
	}
	return nil
}

// Verify returns a reader of the content of the entry id read from r. It
// returns io.EOF only once all of the content was read and hashes to the
// header's digest; otherwise a *CorruptError (or r's own error). Whatever
// was read before an error must be thrown away.
func Verify(id string, r io.Reader) *EntryReader {
	return &EntryReader{id: id, r: r, h: sha256.New()}
}

// Read implements io.Reader.
func (v *EntryReader) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	if v.hdr == nil {
		hdr := make([]byte, EntryHeaderLen)
		if n, err := io.ReadFull(v.r, hdr); err != nil {
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				err = &CorruptError{ID: v.id, Reason: fmt.Sprintf("%d bytes, shorter than a header", n)}
			}
			v.err = err
			return 0, err
		}
		if v.err = checkMagic(v.id, hdr); v.err != nil {
			return 0, v.err
		}
		v.hdr = hdr
	}
	n, err := v.r.Read(p)
	v.h.Write(p[:n])
	v.n += int64(n)
	if err == io.EOF {
		v.h.Sum(v.sum[:0])
		if cerr := checkSum(v.id, v.hdr, v.sum, int(v.n)); cerr != nil {
			err = cerr
		}
	}
	if err != nil {
		v.err = err
	}
	return n, err
}

// Sum is the content's digest, valid once Read returned io.EOF.
func (v *EntryReader) Sum() Digest { return v.sum }

// Len is the number of content bytes read so far.
func (v *EntryReader) Len() int64 { return v.n }
