package compile

import (
	"encoding/binary"
	"strings"
)

// Build state of one project, kept decoded in memory between builds (the
// engine is long-lived) and written through to the Builds map so that a
// restarted daemon starts warm. The persisted form, one Builds entry per
// unit plus one per project:
//
//	key   <root> NUL <unit>        value  unit record (encodeUnit)
//	key   <root> NUL               value  project record (encodeProject)
//
// A unit record holds what its object was built from: compiler identity,
// command hash, action id, the source's and each header's content hash, and
// the object's stat. Stats of inputs are not in it: they live in the
// project's file table in memory and in the Files memo on disk, so touching a
// header rewrites one memo entry, not every unit that includes it.

// fileRec is one distinct input file of a project.
type fileRec struct {
	path  string // as the compiler reported it: relative to the root, or absolute
	abs   string
	cabs  []byte // abs NUL-terminated, for statCPath
	st    fileStat
	hash  Hash
	known bool // st and hash are valid
	racy  bool // hash was taken too soon after the mtime to trust st alone
}

// depRef is an input of a unit: an index into the file table and the content
// hash the unit's object was built from.
type depRef struct {
	file int32
	hash Hash
}

// unknownHash stands for the content of an input that could not be
// verified; it matches no file's hash (a missing file's is the zero Hash),
// so the unit is compiled again.
var unknownHash = Hash{0: 0xff, 31: 0xff}

// unitRec is the state of one translation unit after its last successful
// compile or cache restore. Its headers are kept as two parallel slices so
// that the no-op check, which only needs the file indices, reads 4 bytes
// per header rather than 36.
type unitRec struct {
	src       depRef
	depFiles  []int32 // the headers, as indices into the file table
	depHashes []Hash  // their content hashes the object was built from
	// synced is set when, at the end of the last build, every hash above
	// equalled the file table's hash of that file, so that a build in
	// which none of the files changed can skip comparing hashes.
	synced   bool
	compiler Hash
	cmd      Hash
	action   ActionID
	obj      fileStat
	objAbs   string // where the object is, for the objDir it was made in
	cobj     []byte // objAbs NUL-terminated, for statCPath
}

// addDep appends a header.
func (u *unitRec) addDep(file int32, h Hash) {
	u.depFiles = append(u.depFiles, file)
	u.depHashes = append(u.depHashes, h)
}

// setObj sets where the unit's object is.
func (u *unitRec) setObj(abs string) {
	u.objAbs, u.cobj = abs, cString(abs)
}

// projectState is the build state of one project root.
type projectState struct {
	root  string
	files []fileRec
	index map[string]int32
	units map[string]*unitRec

	objDir string // the object directory unitRec.objAbs were computed for

	proj projectRec

	// lastUnits is the sorted unit list proj.linkKey was computed for, and
	// linkStale is set when a unit's record changed since: when neither
	// the list nor any record changed, a no-op build reuses the key
	// instead of hashing every unit's action id.
	lastUnits []string
	linkStale bool
	// ccUnits is the unit list compile_commands.json was last written for.
	ccUnits []string
	// depsGen counts the changes to which files the records say the
	// units read and where their objects go: a record naming other files
	// or another object directory (saveUnit), a unit removed, a new
	// object directory, compact renumbering the table. What is derived
	// from all the records remembers the count it was made at and is made
	// again once it moved: an edit of a source leaves it as it was.
	depsGen uint64
	// unitDirs are the directories of dirsUnits' sources, headers (in)
	// and objects (out) as recordDirs last found them, at depsGen dirsGen.
	unitDirs  struct{ in, out map[string]bool }
	dirsUnits []string
	dirsGen   uint64
	// reads is which files the units read (readIndex), or nil.
	reads *readIndex
	// groups are the link groups' objects as this daemon last made them,
	// by path (nil until it first links the project from groups), and
	// groupsOff the partial-link settings that failed here (group.go).
	groups    map[string]groupRec
	groupsOff Hash
	// tmpSwept is set once this daemon removed dead processes' temp files
	// from the build directory (build.sweepTmp).
	tmpSwept bool

	curBuf     []curFile // reused by each build's view
	changedBuf []bool    // likewise
	checks     []unitCheck
}

// projectRec is the persisted per-project record: what was last linked and
// last written to compile_commands.json.
type projectRec struct {
	linkSettings Hash     // linker, command, output and options
	linkKey      Hash     // linkSettings plus every unit's action id
	linkOut      fileStat // the output as the link left it
	ccSettings   Hash     // compilers and flags of compile_commands.json
	ccStat       fileStat // compile_commands.json as written
}

func newProjectState(root string) *projectState {
	return &projectState{
		root:  root,
		index: make(map[string]int32),
		units: make(map[string]*unitRec),
	}
}

// internLocked returns the index of path in the file table, adding it.
// The caller holds the view's mu when a build is running concurrently.
func (s *projectState) internLocked(path string) int32 {
	if i, ok := s.index[path]; ok {
		return i
	}
	i := int32(len(s.files))
	// A path from a depfile is a slice of the whole file's bytes, which
	// the table would keep alive: 17 MB of depfiles at N=10,000.
	path = strings.Clone(path)
	abs := absPath(s.root, path)
	s.files = append(s.files, fileRec{path: path, abs: abs, cabs: cString(abs)})
	s.index[path] = i
	return i
}

// readIndex is what the records say the units read, for the work every
// edit's build does over all of them: which files of the table some unit
// reads (its source or a header), and which unit each object path is.
// Marking the files took 0.3 ms at N=1000, and a build that stats only
// what the watch listed (resolveListed) and compact both need it.
type readIndex struct {
	gen     uint64             // depsGen when made
	read    []bool             // by file table index
	n       int                // files read
	byAbs   map[string][]int32 // file table indexes by absolute path
	objUnit map[string]string  // unit by object path
}

// readIndex returns the index of s's records, made again if depsGen moved
// or the table grew since.
func (s *projectState) readIndex() *readIndex {
	if r := s.reads; r != nil && r.gen == s.depsGen && len(r.read) == len(s.files) {
		return r
	}
	r := &readIndex{gen: s.depsGen, read: make([]bool, len(s.files)),
		byAbs: make(map[string][]int32, len(s.files)), objUnit: make(map[string]string, len(s.units))}
	for u, rec := range s.units {
		r.n += rec.markReads(r.read)
		r.objUnit[rec.objAbs] = u
	}
	for i := range s.files {
		abs := s.files[i].abs
		r.byAbs[abs] = append(r.byAbs[abs], int32(i))
	}
	s.reads = r
	return r
}

// markReads sets read[f] for each file the record says its unit reads (its
// source and headers) and returns how many were not set before.
func (r *unitRec) markReads(read []bool) int {
	n := markRead(read, r.src.file)
	for _, f := range r.depFiles {
		n += markRead(read, f)
	}
	return n
}

func markRead(read []bool, f int32) int {
	if int(f) < len(read) && !read[f] {
		read[f] = true
		return 1
	}
	return 0
}

// compact rebuilds the file table with only the files some unit refers to,
// when at least half of it is dead (units removed, headers no longer
// included), so that no-op builds do not keep stat'ing files nobody needs.
func (s *projectState) compact() {
	ri := s.readIndex()
	live, n := ri.read, ri.n
	if len(s.files)-n < 256 || n*2 > len(s.files) {
		return
	}
	remap := make([]int32, len(s.files))
	files := make([]fileRec, 0, n)
	index := make(map[string]int32, n)
	for i, f := range s.files {
		if live[i] {
			remap[i] = int32(len(files))
			index[f.path] = int32(len(files))
			files = append(files, f)
		}
	}
	for _, u := range s.units {
		u.src.file = remap[u.src.file]
		for j, f := range u.depFiles {
			u.depFiles[j] = remap[f]
		}
	}
	s.files, s.index, s.curBuf, s.changedBuf = files, index, nil, nil
	s.depsGen++ // the table's indexes changed
}

const (
	unitRecVersion    = 1
	projectRecVersion = 1
)

// unitKey is the Builds key of a unit of root.
func unitKey(root, unit string) string { return root + "\x00" + unit }

// projectKey is the Builds key of root's project record.
func projectKey(root string) string { return root + "\x00" }

func appendStat(b []byte, st fileStat) []byte {
	b = binary.AppendVarint(b, st.size)
	b = binary.AppendVarint(b, st.mtime)
	return binary.AppendUvarint(b, st.ino)
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// encodeUnit renders u for Builds; paths come from the file table.
func (s *projectState) encodeUnitLocked(u *unitRec) []byte {
	b := make([]byte, 0, 4*32+32+len(u.depFiles)*(32+40))
	b = append(b, unitRecVersion)
	b = append(b, u.compiler[:]...)
	b = append(b, u.cmd[:]...)
	b = append(b, u.action[:]...)
	b = append(b, u.src.hash[:]...)
	b = appendStat(b, u.obj)
	b = binary.AppendUvarint(b, uint64(len(u.depFiles)))
	for i, f := range u.depFiles {
		b = appendString(b, s.files[f].path)
		b = append(b, u.depHashes[i][:]...)
	}
	return b
}

// decodeUnit parses a unit record, interning its paths; ok is false for a
// malformed record, which the caller treats as "no previous build".
func (s *projectState) decodeUnit(unit string, b []byte) (*unitRec, bool) {
	r := reader{b: b}
	if r.byte() != unitRecVersion {
		return nil, false
	}
	u := &unitRec{}
	u.compiler = r.hash()
	u.cmd = r.hash()
	u.action = ActionID(r.hash())
	u.src.hash = r.hash()
	u.obj = r.stat()
	n := r.uvarint()
	if !r.ok() || n > uint64(len(b)) {
		return nil, false
	}
	u.depFiles = make([]int32, 0, n)
	u.depHashes = make([]Hash, 0, n)
	for range n {
		p := r.string()
		h := r.hash()
		if !r.ok() {
			return nil, false
		}
		u.addDep(s.internLocked(p), h)
	}
	if !r.done() {
		return nil, false
	}
	u.src.file = s.internLocked(unit)
	return u, true
}

func (p *projectRec) encode() []byte {
	b := make([]byte, 0, 1+4*32+2*3*binary.MaxVarintLen64)
	b = append(b, projectRecVersion)
	b = append(b, p.linkSettings[:]...)
	b = append(b, p.linkKey[:]...)
	b = appendStat(b, p.linkOut)
	b = append(b, p.ccSettings[:]...)
	b = appendStat(b, p.ccStat)
	return b
}

func decodeProject(b []byte) (projectRec, bool) {
	var p projectRec
	r := reader{b: b}
	if r.byte() != projectRecVersion {
		return p, false
	}
	p.linkSettings = r.hash()
	p.linkKey = r.hash()
	p.linkOut = r.stat()
	p.ccSettings = r.hash()
	p.ccStat = r.stat()
	return p, r.ok() && r.done()
}

// loadState rebuilds the state under key, of an output of root, from the
// Builds map (after a restart).
func (e *Engine) loadState(key, root string) *projectState {
	s := newProjectState(root)
	prefix := key + "\x00"
	type kv struct {
		unit string
		val  []byte
	}
	var recs []kv
	e.builds.Range(func(k string, v []byte) bool {
		if rest, ok := strings.CutPrefix(k, prefix); ok {
			recs = append(recs, kv{rest, v})
		}
		return true
	})
	bad := 0
	for _, r := range recs {
		if r.unit == "" {
			if p, ok := decodeProject(r.val); ok {
				s.proj = p
			} else {
				bad++
			}
			continue
		}
		if u, ok := s.decodeUnit(r.unit, r.val); ok {
			s.units[r.unit] = u
		} else {
			bad++
		}
	}
	if len(recs) > 0 {
		e.log.Debug("build state loaded", "root", root, "units", len(s.units), "files", len(s.files), "unreadable", bad)
	}
	return s
}

// reader decodes the binary records above; any error sticks and makes ok
// false, so decoders check once at the end. It never panics.
type reader struct {
	b   []byte
	bad bool
}

func (r *reader) ok() bool   { return !r.bad }
func (r *reader) done() bool { return !r.bad && len(r.b) == 0 }

func (r *reader) byte() byte {
	if len(r.b) < 1 {
		r.bad = true
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) hash() Hash {
	var h Hash
	if len(r.b) < len(h) {
		r.bad = true
		return h
	}
	copy(h[:], r.b)
	r.b = r.b[len(h):]
	return h
}

func (r *reader) varint() int64 { return readVarint(r, binary.Varint) }

func (r *reader) uvarint() uint64 { return readVarint(r, binary.Uvarint) }

// readVarint decodes one varint from r with decode (binary.Varint or
// binary.Uvarint), marking r bad when it is cut short or overflows.
func readVarint[T int64 | uint64](r *reader, decode func([]byte) (T, int)) T {
	v, n := decode(r.b)
	if n <= 0 {
		r.bad = true
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) string() string {
	n := r.uvarint()
	if r.bad || n > uint64(len(r.b)) {
		r.bad = true
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

func (r *reader) stat() fileStat {
	return fileStat{size: r.varint(), mtime: r.varint(), ino: r.uvarint()}
}
