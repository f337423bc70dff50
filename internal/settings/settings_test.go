package settings

import (
	"slices"
	"testing"
)

// TestNamesIsACopy checks that a caller changing the daemon list it got
// cannot change the start order every other caller sees.
func TestNamesIsACopy(t *testing.T) {
	want := []string{Discovery, Setup, Compilation, Orchestrator}
	got := Names()
	got[0] = "changed"
	if again := Names(); !slices.Equal(again, want) {
		t.Fatalf("Names() after a caller changed its copy = %v, want %v", again, want)
	}
}
