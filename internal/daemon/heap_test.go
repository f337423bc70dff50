package daemon

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/jmake/jmake/internal/settings"
)

// TestHeapProfile: heap_profile writes a pprof heap profile into the state
// dir's debug/ and reports the heap's size.
func TestHeapProfile(t *testing.T) {
	dir := t.TempDir()
	d, err := New(Options{Name: "setup", Token: "t", StateDir: dir, Settings: settings.Default(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	fn := d.handlers["heap_profile"]
	if fn == nil {
		t.Fatal("no heap_profile function")
	}
	v, err := fn(context.Background(), &Request{Function: "heap_profile"})
	if err != nil {
		t.Fatal(err)
	}
	hp := v.(HeapProfile)
	if want := filepath.Join(dir, "debug", "setup.heap.pprof"); hp.Path != want || hp.HeapSys == 0 {
		t.Fatalf("got %+v, want the profile at %s", hp, want)
	}
	if st, err := os.Stat(hp.Path); err != nil || st.Size() == 0 || st.Mode().Perm() != 0o600 {
		t.Fatalf("profile: %v %v", st, err)
	}
}
