package render

import (
	"regexp"
	"testing"
)

// sgrRE is the definition StripSGR implements by hand.
var sgrRE = regexp.MustCompile("\x1b\\[[0-9;]*[mK]")

func TestStripSGR(t *testing.T) {
	for _, s := range []string{
		"", "plain", "\x1b[01;31m\x1b[Kerror:\x1b[m\x1b[K x", "\x1b[", "\x1b[1", "\x1b[1;2x", "a\x1b[mb\x1b[Kc",
		"\x1b\x1b[0m", "[0m", "\x1b[;;m\x1b[12",
	} {
		if got, want := StripSGR(s), sgrRE.ReplaceAllString(s, ""); got != want {
			t.Errorf("StripSGR(%q) = %q, want %q", s, got, want)
		}
	}
}

func FuzzStripSGR(f *testing.F) {
	f.Add("\x1b[01;31m\x1b[Kerror:\x1b[m\x1b[K x")
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := StripSGR(s), sgrRE.ReplaceAllString(s, ""); got != want {
			t.Errorf("StripSGR(%q) = %q, want %q", s, got, want)
		}
	})
}
