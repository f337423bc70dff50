// Package store persists the daemons' caches: Map, a key-value map backed by
// an append-only checksummed log, and Objects, a content-addressed store of
// files (compiled objects), each checked against its digest when read.
//
// Both are safe for several processes sharing one directory at once, as two
// instances of a daemon do during a rolling restart: the log is only ever
// appended to with one write(2) per record under O_APPEND, and rewritten by
// temp file + rename; objects are written to a temp file and renamed into place.
package store

// The log file format, in the manner of ninja's .ninja_deps:
//
//	header  "JMKLOG" + version byte + '\n'                     (8 bytes)
//	record  length  uint32 little-endian: size of payload
//	        crc     uint32 little-endian: CRC-32C of payload
//	        payload op byte (1 put, 2 delete, 3 clear)
//	                uvarint key length, key bytes, value bytes (rest)
//
// A later record for a key wins. On load, the file is read up to the first
// record that is short or fails its checksum (a kill -9 mid-append), and
// truncated there ("recovering"). A file whose header is not ours is set aside
// as <file>.corrupt-<unix time> and the map starts empty. When the log holds
// much more than the live entries, it is recompacted at load.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/jmake/jmake/internal/atomicfile"
)

const (
	logMagic   = "JMKLOG"
	logVersion = 1
	headerLen  = 8
	recHdrLen  = 8

	opPut    = 1
	opDelete = 2
	opClear  = 3

	// maxRecord bounds one record so a corrupt length cannot make the loader
	// allocate gigabytes; no cache value comes near it.
	maxRecord = 64 << 20
)

// castagnoli is made on first use, not at init: every jmake command links
// this package, and only the daemons need the table.
var castagnoli = sync.OnceValue(func() *crc32.Table { return crc32.MakeTable(crc32.Castagnoli) })

func logHeader() []byte {
	return []byte(logMagic + string(rune('0'+logVersion)) + "\n")
}

// LoadReport says what loading a Map found on disk.
type LoadReport struct {
	Entries   int           // live entries loaded
	Records   int           // records read
	Elapsed   time.Duration // time spent loading
	Recovered int64         // bytes of a damaged tail that were dropped
	SetAside  string        // where an unreadable file was moved, if it was
	Compacted bool          // whether the log was rewritten with live entries only
	Warning   error         // a problem the caller should log; the map works regardless
}

// encodeRecord renders one record, header included, into a single buffer so
// that it reaches the file in one write(2).
func encodeRecord(op byte, key string, value []byte) []byte {
	var kl [binary.MaxVarintLen64]byte
	n := binary.PutUvarint(kl[:], uint64(len(key)))
	payloadLen := 1 + n + len(key) + len(value)
	buf := make([]byte, recHdrLen+payloadLen)
	p := buf[recHdrLen:]
	p[0] = op
	copy(p[1:], kl[:n])
	copy(p[1+n:], key)
	copy(p[1+n+len(key):], value)
	binary.LittleEndian.PutUint32(buf[0:], uint32(payloadLen))
	binary.LittleEndian.PutUint32(buf[4:], crc32.Checksum(p, castagnoli()))
	return buf
}

// decodeLog applies the records of data (header excluded) to m and returns
// the length of the good prefix and the number of records read. It never
// panics on any input.
func decodeLog(data []byte, m map[string][]byte) (good int, records int) {
	off := 0
	for {
		if len(data)-off < recHdrLen {
			return off, records
		}
		n := int(binary.LittleEndian.Uint32(data[off:]))
		sum := binary.LittleEndian.Uint32(data[off+4:])
		if n < 1 || n > maxRecord || len(data)-off-recHdrLen < n {
			return off, records
		}
		p := data[off+recHdrLen : off+recHdrLen+n]
		if crc32.Checksum(p, castagnoli()) != sum {
			return off, records
		}
		op := p[0]
		kl, k := binary.Uvarint(p[1:])
		if k <= 0 || kl > uint64(len(p)-1-k) {
			return off, records
		}
		key := string(p[1+k : 1+k+int(kl)])
		switch op {
		case opPut:
			// The value aliases data, which the caller keeps alive for
			// the map's lifetime; no copy per entry keeps 100k-entry
			// loads fast.
			m[key] = p[1+k+int(kl):]
		case opDelete:
			delete(m, key)
		case opClear:
			clear(m)
		default:
			return off, records
		}
		off += recHdrLen + n
		records++
	}
}

// readLog loads path into m. A missing file is an empty map. A file that is
// not a jmake log is moved aside. A damaged tail is truncated away.
func readLog(path string, m map[string][]byte, rep *LoadReport) (size int64, err error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, setAside(path, rep, fmt.Errorf("read %s: %w", path, err))
	}
	if len(data) < headerLen || !bytes.Equal(data[:headerLen], logHeader()) {
		return 0, setAside(path, rep, fmt.Errorf("%s: not a jmake cache log (version %d)", path, logVersion))
	}
	good, records := decodeLog(data[headerLen:], m)
	rep.Records = records
	end := int64(headerLen + good)
	if end < int64(len(data)) {
		rep.Recovered = int64(len(data)) - end
		if err := os.Truncate(path, end); err != nil {
			return end, fmt.Errorf("recovering %s: truncate to %d bytes: %w", path, end, err)
		}
	}
	return end, nil
}

// setAside renames an unreadable log out of the way so the daemon can start
// empty, keeping the file for a person to look at. cause is returned wrapped
// as a warning the caller logs; loading goes on.
func setAside(path string, rep *LoadReport, cause error) error {
	dst := fmt.Sprintf("%s.corrupt-%d", path, time.Now().Unix())
	if err := os.Rename(path, dst); err != nil {
		return fmt.Errorf("%w; and setting it aside failed: %v", cause, err)
	}
	rep.SetAside = dst
	return &SetAsideError{Path: path, Dst: dst, Cause: cause}
}

// SetAsideError reports a cache file that could not be read and was moved to
// Dst. It is a warning: the cache starts empty and works.
type SetAsideError struct {
	Path, Dst string
	Cause     error
}

func (e *SetAsideError) Error() string {
	return fmt.Sprintf("%v; moved it to %s and starting empty", e.Cause, filepath.Base(e.Dst))
}

func (e *SetAsideError) Unwrap() error { return e.Cause }

// writeCompacted writes the live entries of m to a new log at path via a
// temp file and rename, so a reader never sees half a file.
func writeCompacted(path string, m map[string][]byte) (int64, error) {
	var buf bytes.Buffer
	buf.Write(logHeader())
	for k, v := range m {
		buf.Write(encodeRecord(opPut, k, v))
	}
	if err := atomicfile.Write(path, buf.Bytes(), 0o600); err != nil {
		return 0, err
	}
	return int64(buf.Len()), nil
}
