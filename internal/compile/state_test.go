package compile

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestNoopHashesNothing checks the fast path: a no-op build reads no file,
// a touched file is read once (not recompiled) and its new stat is kept.
func TestNoopHashesNothing(t *testing.T) {
	root, te, _ := builtProject(t, 6, true)
	hashed := func() int64 { return te.e.CacheStats().FilesHashed }

	n := hashed()
	te.mustBuild(t, root, nil)
	if d := hashed() - n; d != 0 {
		t.Fatalf("no-op build hashed %d files", d)
	}

	// Touch (mtime only, to a time old enough not to be racy).
	src := filepath.Join(root, "include/demo/core.h")
	old := time.Now().Add(-30 * time.Minute)
	if err := os.Chtimes(src, old, old); err != nil {
		t.Fatal(err)
	}
	n = hashed()
	o := te.mustBuild(t, root, nil)
	if o.res.Compiled+o.res.Cached != 0 || o.linked {
		t.Fatalf("touch: compiled %d cached %d linked %v", o.res.Compiled, o.res.Cached, o.linked)
	}
	if d := hashed() - n; d != 1 {
		t.Fatalf("touch: hashed %d files, want 1", d)
	}
	n = hashed()
	te.mustBuild(t, root, nil)
	if d := hashed() - n; d != 0 {
		t.Fatalf("after touch: hashed %d files, want 0 (stat refreshed)", d)
	}
}

// TestRestart checks that build state and file hashes survive a restart of
// the engine (its maps reopened from disk): the first build after it is a
// no-op that reads no file.
func TestRestart(t *testing.T) {
	root := t.TempDir()
	genProject(t, root, 6)
	backdate(t, root)
	cache := t.TempDir()
	te := openEnv(t, cache, 0)
	te.mustBuild(t, root, nil)
	te.close()

	te2 := openEnv(t, cache, 0)
	o := te2.mustBuild(t, root, nil)
	if o.res.Compiled+o.res.Cached != 0 || o.linked {
		t.Fatalf("after restart: compiled %d cached %d linked %v explain %q", o.res.Compiled, o.res.Cached, o.linked, o.res.Explain)
	}
	if n := te2.e.CacheStats().FilesHashed; n != 0 {
		t.Fatalf("after restart: hashed %d files, want 0", n)
	}
	if n := te2.e.Counters().ToolsIdentified; n != 0 {
		t.Fatalf("after restart: ran %d tools for their identity, want 0 (memoized)", n)
	}
	// An edit after the restart is still seen.
	replaceInFile(t, filepath.Join(root, "src/mod_0001.c"), "_salt = 0u;", "_salt = 1u;")
	o = te2.mustBuild(t, root, nil)
	if o.res.Compiled != 1 || !o.linked {
		t.Fatalf("edit after restart: compiled %d linked %v", o.res.Compiled, o.linked)
	}
}

// TestStateRecordsRoundTrip checks the unit and project record encodings
// and that malformed records are rejected, not trusted.
func TestStateRecordsRoundTrip(t *testing.T) {
	s := newProjectState("/p")
	u := &unitRec{
		compiler: Hash{1}, cmd: Hash{2}, action: ActionID{3},
		obj: fileStat{size: 10, mtime: -5, ino: 99},
		src: depRef{file: s.internLocked("src/a.c"), hash: Hash{4}},
	}
	u.addDep(s.internLocked("include/a.h"), Hash{5})
	u.addDep(s.internLocked("/usr/include/stdio.h"), Hash{6})
	enc := s.encodeUnitLocked(u)
	s2 := newProjectState("/p")
	got, ok := s2.decodeUnit("src/a.c", enc)
	if !ok {
		t.Fatal("decode failed")
	}
	if got.compiler != u.compiler || got.cmd != u.cmd || got.action != u.action || got.obj != u.obj ||
		got.src.hash != u.src.hash || len(got.depFiles) != 2 || s2.files[got.depFiles[1]].path != "/usr/include/stdio.h" ||
		got.depHashes[0] != u.depHashes[0] || got.synced {
		t.Fatalf("round trip: %+v", got)
	}
	for i := range enc {
		if _, ok := s2.decodeUnit("src/a.c", enc[:i]); ok {
			t.Fatalf("truncated record (%d of %d bytes) accepted", i, len(enc))
		}
	}
	p := projectRec{linkKey: Hash{7}, linkOut: fileStat{1, 2, 3}, ccStat: fileStat{4, 5, 6}}
	if got, ok := decodeProject(p.encode()); !ok || got != p {
		t.Fatalf("project record round trip: %+v %v", got, ok)
	}
	st, racy, h, ok := decodeMemo(encodeMemo(fileStat{1, 2, 3}, true, Hash{9}))
	if !ok || st != (fileStat{1, 2, 3}) || !racy || h != (Hash{9}) {
		t.Fatal("memo round trip")
	}
	cands := []candidate{{action: ActionID{1}, deps: []depEntry{{"a.h", Hash{2}}}, output: "a.c:1:5: warning: x\n"}, {action: ActionID{3}}}
	if got := decodeManifest(encodeManifest(cands)); len(got) != 2 || got[0].deps[0].path != "a.h" || got[0].output != cands[0].output || got[1].action != (ActionID{3}) {
		t.Fatalf("manifest round trip: %+v", got)
	}
	// A version 1 manifest (no compiler output) from an older jmake.
	v1 := []byte{1, 1}
	v1 = append(v1, make([]byte, 32)...)
	v1 = append(v1, 1, 3, 'a', '.', 'h')
	v1 = append(v1, make([]byte, 32)...)
	if got := decodeManifest(v1); len(got) != 1 || got[0].deps[0].path != "a.h" || got[0].output != "" {
		t.Fatalf("version 1 manifest: %+v", got)
	}
}

// TestClearCaches empties every cache: the next build compiles everything.
func TestClearCaches(t *testing.T) {
	requireTools(t, "gcc")
	root, te, _ := builtFiles(t, map[string]string{
		"jmake.toml": "[project]\nname = \"cl\"\n",
		"src/a.c":    "int a(void) { return 1; }\n",
	})
	if err := te.e.ClearCaches(); err != nil {
		t.Fatal(err)
	}
	if st := te.e.CacheStats(); st.Entries != 0 || st.Builds.Entries != 0 || st.Manifests.Entries != 0 || st.Compiles != 0 {
		t.Fatalf("after ClearCaches: %+v", st)
	}
	o := te.mustBuild(t, root, nil)
	if o.res.Compiled != 1 || !o.linked {
		t.Fatalf("after ClearCaches: compiled %d linked %v", o.res.Compiled, o.linked)
	}
}
