package compile

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"os/exec"
	"strings"
	"time"

	"github.com/jmake/jmake/internal/toolenv"
)

// keyVersion salts every key this package makes. Change it whenever what goes
// into a key, or how objects are produced, changes, so that old cache entries
// become unreachable instead of wrong. Version 2: entries carry the digest
// of their content (store.Verify), and nothing written before can be
// checked, so none of it is read; a first build after the upgrade compiles
// everything, which also replaces any object that an unchecked entry put
// into a build directory.
const keyVersion = "jmake-compile-2"

// Hash is a SHA-256 digest: of a file's content, of a command, of a key.
type Hash [sha256.Size]byte

// String is the digest in lowercase hex.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// IsZero reports whether h is the zero digest, which stands for "none yet"
// (no previous link, a file that could not be read).
func (h Hash) IsZero() bool { return h == Hash{} }

// ActionID names one compile action: the hash of everything that can change
// its object (compiler identity, arguments, the source's content and the
// content of every header it read). Objects are stored under it.
type ActionID Hash

// String is the action id in lowercase hex, as used in the object store.
func (a ActionID) String() string { return hex.EncodeToString(a[:]) }

// keyHasher writes length-prefixed fields into a SHA-256, so that no two
// different field lists hash the same ("ab","c" vs "a","bc"). Fields are
// gathered in buf and written in blocks: a link's key has two fields per
// unit, and a write per field cost more than the hashing.
type keyHasher struct {
	h   hash.Hash
	buf []byte
}

// keyBlock is how much keyHasher gathers before writing to the hash.
const keyBlock = 8 << 10

func newKeyHasher(kind string) *keyHasher {
	k := &keyHasher{h: sha256.New(), buf: make([]byte, 0, 512)}
	k.str(keyVersion)
	k.str(kind)
	return k
}

// flushIf writes the gathered fields to the hash once they fill a block.
func (k *keyHasher) flushIf() {
	if len(k.buf) >= keyBlock {
		k.h.Write(k.buf)
		k.buf = k.buf[:0]
	}
}

func (k *keyHasher) str(s string) {
	k.buf = binary.AppendUvarint(k.buf, uint64(len(s)))
	k.buf = append(k.buf, s...)
	k.flushIf()
}

func (k *keyHasher) strs(ss []string) {
	k.int(int64(len(ss)))
	for _, s := range ss {
		k.str(s)
	}
}

func (k *keyHasher) int(v int64) {
	k.buf = binary.AppendVarint(k.buf, v)
	k.flushIf()
}

func (k *keyHasher) hash(h Hash) {
	k.buf = append(k.buf, h[:]...)
	k.flushIf()
}

func (k *keyHasher) sum() Hash {
	k.h.Write(k.buf)
	k.buf = k.buf[:0]
	var out Hash
	k.h.Sum(out[:0])
	return out
}

// directKey is the key of ccache's direct mode: it names the compile of one
// source content with one command, before the headers are known. Manifests
// maps it to the header lists seen with it.
func directKey(tc *toolchain, unit string, src Hash) Hash {
	k := newKeyHasher("direct")
	k.hash(tc.comp.id)
	k.strs(tc.flags)
	tc.hashVars(k)
	k.str("-c")
	k.str(unit)
	k.hash(src)
	return k.sum()
}

// actionID completes a direct key with the content of every header the
// compile read, in the order the compiler reported them.
func actionID(direct Hash, deps []depEntry) ActionID {
	k := newKeyHasher("action")
	k.hash(direct)
	k.int(int64(len(deps)))
	for _, d := range deps {
		k.str(d.path)
		k.hash(d.hash)
	}
	return ActionID(k.sum())
}

// depEntry is one header of a compile: its path as the compiler reported it
// (relative to the project root, or absolute) and its content hash.
type depEntry struct {
	path string
	hash Hash
}

// compiler is a resolved tool with its identity.
type compiler struct {
	name string // as configured or found: "gcc", "/opt/bin/clang"
	path string // resolved by exec.LookPath
	id   Hash   // path, --version output and -dumpmachine output
	desc string // first line of --version, for logs
	// gccLike: its --version says GCC or Clang, which take GCC's driver
	// options (-pipe, -fdiagnostics-color).
	gccLike bool
}

// toolIdentity is a memoized identity, valid while the binary keeps its stat.
type toolIdentity struct {
	st      fileStat
	id      Hash
	desc    string
	gccLike bool
}

// resolveTool finds name on PATH and returns its identity, running it with
// --version (and -dumpmachine for a compiler) only when the binary's size,
// mtime or inode changed since last time. PATH is searched on every build
// (a few stats), so a compiler installed earlier on PATH is picked up as a
// fresh process would.
func (e *Engine) resolveTool(ctx context.Context, env toolenv.Env, name string, isCompiler bool) (compiler, error) {
	path, err := env.LookPath(name)
	if err != nil {
		return compiler{}, fmt.Errorf("compile: find %w", err)
	}
	return e.toolAt(ctx, env, name, path, isCompiler)
}

// toolAt returns the identity of the tool name found at path.
// It runs with env's PATH, as a wrapper script may look its compiler up.
func (e *Engine) toolAt(ctx context.Context, env toolenv.Env, name, path string, isCompiler bool) (compiler, error) {
	st, err := statPath(path)
	if err != nil {
		return compiler{}, fmt.Errorf("compile: stat %s: %w", path, err)
	}
	memoKey := path
	if isCompiler {
		memoKey = "cc\x00" + path
	}
	e.mu.Lock()
	ti, ok := e.tools[memoKey]
	e.mu.Unlock()
	if !ok {
		// After a restart the identity is in the Files memo, so the
		// first build does not run the compiler either.
		if v, found := e.files.Peek(toolMemoPrefix + memoKey); found {
			ti, ok = decodeToolIdentity(v)
		}
	}
	if !ok || ti.st != st {
		id, version, err := identify(ctx, path, isCompiler, env.Environ())
		if err != nil {
			return compiler{}, err
		}
		e.toolsIdentified.Add(1)
		desc, _, _ := strings.Cut(version, "\n")
		ti = toolIdentity{st: st, id: id, desc: desc, gccLike: isGCCLike(version)}
		if err := e.files.Put(toolMemoPrefix+memoKey, ti.encode()); err != nil {
			e.log.Warn("tool identity not saved", "tool", path, "err", err)
		}
		e.log.Debug("tool identified", "name", name, "path", path, "version", desc)
	}
	e.mu.Lock()
	e.tools[memoKey] = ti
	e.mu.Unlock()
	return compiler{name: name, path: path, id: ti.id, desc: ti.desc, gccLike: ti.gccLike}, nil
}

// toolMemoPrefix starts the Files memo keys of tool identities; file keys
// are absolute paths, so they cannot collide.
const toolMemoPrefix = "\x00tool\x00"

// toolIdentityVersion 2 added gccLike; a version 1 memo is a miss, and the
// tool is identified again.
const toolIdentityVersion = 2

func (ti toolIdentity) encode() []byte {
	b := []byte{toolIdentityVersion}
	b = appendStat(b, ti.st)
	b = append(b, ti.id[:]...)
	b = appendString(b, ti.desc)
	if ti.gccLike {
		return append(b, 1)
	}
	return append(b, 0)
}

func decodeToolIdentity(b []byte) (toolIdentity, bool) {
	r := reader{b: b}
	if r.byte() != toolIdentityVersion {
		return toolIdentity{}, false
	}
	ti := toolIdentity{st: r.stat(), id: r.hash(), desc: r.string(), gccLike: r.byte() == 1}
	return ti, r.done()
}

// identifyTimeout bounds `cc --version`: a compiler answers in milliseconds;
// one that hangs (a wrapper waiting on a lock, a broken NFS mount) must not
// hang every build.
const identifyTimeout = 30 * time.Second

// identify runs path --version (and -dumpmachine for a compiler) and hashes
// their output with the path; it returns the hash and what --version
// printed.
func identify(ctx context.Context, path string, isCompiler bool, environ []string) (Hash, string, error) {
	ctx, cancel := context.WithTimeout(ctx, identifyTimeout)
	defer cancel()
	k := newKeyHasher("tool")
	k.str(path)
	cmd := exec.CommandContext(ctx, path, "--version")
	cmd.Env = environ
	out, err := cmd.CombinedOutput()
	if err != nil && isCompiler {
		return Hash{}, "", fmt.Errorf("compile: %s --version: %w: %s", path, err, bytes.TrimSpace(out))
	}
	k.str(string(out))
	if isCompiler {
		cmd := exec.CommandContext(ctx, path, "-dumpmachine")
		cmd.Env = environ
		m, err := cmd.Output()
		if err != nil {
			return Hash{}, "", fmt.Errorf("compile: %s -dumpmachine: %w", path, err)
		}
		k.str(string(m))
	}
	return k.sum(), string(out), nil
}
