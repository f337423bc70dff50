package store

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestMapPersistsAcrossOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c", "tools.log")
	m, rep := OpenMap("tools", path)
	if rep.Warning != nil {
		t.Fatal(rep.Warning)
	}
	for i := range 100 {
		if err := m.Put(fmt.Sprint("k", i), []byte(fmt.Sprint("v", i))); err != nil {
			t.Fatal(err)
		}
	}
	m.Delete("k3")
	m.Put("k4", []byte("new"))
	m.Close()

	m2, rep := OpenMap("tools", path)
	defer m2.Close()
	if rep.Warning != nil || rep.Entries != 99 {
		t.Fatalf("reload: entries=%d warning=%v, want 99 and none", rep.Entries, rep.Warning)
	}
	if _, ok := m2.Peek("k3"); ok {
		t.Error("deleted key k3 came back")
	}
	if v, _ := m2.Peek("k4"); string(v) != "new" {
		t.Errorf("k4 = %q, want the later value %q", v, "new")
	}
	if st := m2.Stats(); st.Entries != 99 || st.Bytes == 0 {
		t.Errorf("stats = %+v", st)
	}
}

func TestMapClearPersists(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.log")
	m, _ := OpenMap("m", path)
	m.Put("a", []byte("1"))
	m.Clear()
	m.Put("b", []byte("2"))
	m.Close()
	m2, rep := OpenMap("m", path)
	defer m2.Close()
	if rep.Entries != 1 {
		t.Fatalf("entries = %d, want 1 (clear must persist)", rep.Entries)
	}
}

func TestMapDamage(t *testing.T) {
	for _, tc := range []struct {
		name      string
		damage    func(t *testing.T, path string)
		entries   int
		setAside  bool
		recovered bool
	}{
		{"garbage file", func(t *testing.T, p string) { os.WriteFile(p, []byte("this is not a cache\x00\xff"), 0o600) }, 0, true, false},
		{"other version", func(t *testing.T, p string) {
			b, _ := os.ReadFile(p)
			b[6] = '9'
			os.WriteFile(p, b, 0o600)
		}, 0, true, false},
		{"torn tail", func(t *testing.T, p string) {
			b, _ := os.ReadFile(p)
			os.WriteFile(p, b[:len(b)-3], 0o600)
		}, 9, false, true},
		{"flipped byte in last record", func(t *testing.T, p string) {
			b, _ := os.ReadFile(p)
			b[len(b)-1] ^= 0xff
			os.WriteFile(p, b, 0o600)
		}, 9, false, true},
		{"empty file", func(t *testing.T, p string) { os.WriteFile(p, nil, 0o600) }, 0, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "m.log")
			m, _ := OpenMap("m", path)
			for i := range 10 {
				m.Put(strconv.Itoa(i), []byte("value"))
			}
			m.Close()
			tc.damage(t, path)

			m2, rep := OpenMap("m", path)
			defer m2.Close()
			if rep.Entries != tc.entries {
				t.Errorf("entries = %d, want %d", rep.Entries, tc.entries)
			}
			var sa *SetAsideError
			if got := errors.As(rep.Warning, &sa); got != tc.setAside {
				t.Errorf("set aside = %v (warning %v), want %v", got, rep.Warning, tc.setAside)
			}
			if tc.setAside {
				if _, err := os.Stat(rep.SetAside); err != nil {
					t.Errorf("set-aside file: %v", err)
				}
			}
			if (rep.Recovered > 0) != tc.recovered {
				t.Errorf("recovered %d bytes, want recovery=%v", rep.Recovered, tc.recovered)
			}
			// The map works after any damage, and what it writes loads back.
			if err := m2.Put("after", []byte("x")); err != nil {
				t.Fatal(err)
			}
			m2.Close()
			m3, rep := OpenMap("m", path)
			defer m3.Close()
			if rep.Warning != nil || rep.Entries != tc.entries+1 {
				t.Errorf("after repair: entries=%d warning=%v, want %d and none", rep.Entries, rep.Warning, tc.entries+1)
			}
		})
	}
}

func TestMapCompactsAtLoad(t *testing.T) {
	// A log as a process that never compacted would leave it (an older
	// jmake, or one killed before its log reached the threshold twice).
	path := filepath.Join(t.TempDir(), "m.log")
	data := logHeader()
	for i := range 5000 {
		data = append(data, encodeRecord(opPut, strconv.Itoa(i%10), []byte("v"+strconv.Itoa(i)))...)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	before, _ := os.Stat(path)
	m2, rep := OpenMap("m", path)
	defer m2.Close()
	after, _ := os.Stat(path)
	if !rep.Compacted || after.Size() >= before.Size() || rep.Entries != 10 {
		t.Fatalf("compacted=%v size %d -> %d entries=%d", rep.Compacted, before.Size(), after.Size(), rep.Entries)
	}
	if v, _ := m2.Peek("9"); string(v) != "v4999" {
		t.Errorf("9 = %q after compaction, want v4999", v)
	}
}

// TestMapCompactsWhileOpen: a map that keeps rewriting a few keys keeps its
// log near the size of its live data while it stays open, and what was put
// before and after each rewrite is all there at the next load.
func TestMapCompactsWhileOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.log")
	m, _ := OpenMap("m", path)
	value := strings.Repeat("x", 100)
	for i := range 20000 {
		if err := m.Put(strconv.Itoa(i%10), []byte(value+strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	m.Put("last", []byte("after the rewrites"))
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	// 20,000 records of ~120 bytes would be 2.4 MB; compaction keeps the
	// log below 3,000 records.
	if st.Size() > 3000*150 {
		t.Fatalf("log is %d bytes after 20000 puts on 10 keys", st.Size())
	}
	if err := m.Err(); err != nil {
		t.Fatal(err)
	}
	m.Close()
	m2, rep := OpenMap("m", path)
	defer m2.Close()
	if rep.Warning != nil || rep.Entries != 11 {
		t.Fatalf("reload: %+v", rep)
	}
	if v, _ := m2.Peek("9"); string(v) != value+"19999" {
		t.Errorf("9 = %q", v)
	}
	if v, _ := m2.Peek("last"); string(v) != "after the rewrites" {
		t.Errorf("last = %q", v)
	}
}

// TestMapRemovesStaleRewriteTemps: a rewrite's temp file left by a killed
// process goes at the next load; a fresh one (another instance's rewrite
// in progress) stays.
func TestMapRemovesStaleRewriteTemps(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.log")
	stale, fresh := filepath.Join(dir, ".m.log.tmp-111"), filepath.Join(dir, ".m.log.tmp-222")
	for _, p := range []string{stale, fresh} {
		if err := os.WriteFile(p, []byte("half a log"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(stale, old, old); err != nil {
		t.Fatal(err)
	}
	m, _ := OpenMap("m", path)
	defer m.Close()
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale temp file kept: %v", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("fresh temp file removed: %v", err)
	}
}

// Two processes appending to one log at once (as two instances of a daemon
// during a rolling restart) leave a log whose every record is whole.
func TestMapTwoWriters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.log")
	a, _ := OpenMap("m", path)
	b, _ := OpenMap("m", path)
	done := make(chan struct{})
	go func() {
		for i := range 2000 {
			a.Put("a"+strconv.Itoa(i), make([]byte, 100))
		}
		close(done)
	}()
	for i := range 2000 {
		b.Put("b"+strconv.Itoa(i), make([]byte, 100))
	}
	<-done
	a.Close()
	b.Close()
	m, rep := OpenMap("m", path)
	defer m.Close()
	if rep.Warning != nil || rep.Recovered != 0 || rep.Entries != 4000 {
		t.Fatalf("entries=%d recovered=%d warning=%v, want 4000 whole records", rep.Entries, rep.Recovered, rep.Warning)
	}
}

// A process killed with SIGKILL in the middle of a burst of writes leaves a
// log that loads consistently: every record either whole or dropped.
func TestMapKillDuringWrites(t *testing.T) {
	if os.Getenv("JMAKE_STORE_WRITER") != "" {
		m, _ := OpenMap("m", os.Getenv("JMAKE_STORE_WRITER"))
		os.Stdout.WriteString("ready\n")
		for i := 0; ; i++ {
			m.Put("k"+strconv.Itoa(i%5000), []byte(strconv.Itoa(i)))
		}
	}
	path := filepath.Join(t.TempDir(), "m.log")
	for round := range 3 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestMapKillDuringWrites$")
		cmd.Env = append(os.Environ(), "JMAKE_STORE_WRITER="+path)
		out, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 6)
		if _, err := out.Read(buf); err != nil {
			cmd.Process.Kill()
			t.Fatal(err)
		}
		// Let it write for a while, then kill it mid-burst.
		deadline := time.Now().Add(2 * time.Second)
		for time.Now().Before(deadline) {
			if fi, err := os.Stat(path); err == nil && fi.Size() > int64(100_000*(round+1)) {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		cmd.Process.Kill()
		cmd.Wait()

		m, rep := OpenMap("m", path)
		if rep.SetAside != "" {
			t.Fatalf("round %d: log set aside after kill -9: %v", round, rep.Warning)
		}
		if rep.Entries == 0 {
			t.Fatalf("round %d: nothing loaded", round)
		}
		m.Range(func(k string, v []byte) bool {
			if _, err := strconv.Atoi(string(v)); err != nil {
				t.Fatalf("round %d: key %s has torn value %q", round, k, v)
			}
			return true
		})
		m.Close()
	}
}

func BenchmarkMapLoad100k(b *testing.B) {
	path := filepath.Join(b.TempDir(), "m.log")
	m, _ := OpenMap("m", path)
	val := make([]byte, 64)
	for i := range 100_000 {
		m.Put(fmt.Sprintf("/some/project/src/file_%06d.c", i), val)
	}
	m.Close()
	b.ResetTimer()
	for b.Loop() {
		m, rep := OpenMap("m", path)
		if rep.Entries != 100_000 {
			b.Fatalf("entries = %d", rep.Entries)
		}
		m.Close()
	}
}
