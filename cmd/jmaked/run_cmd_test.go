package main

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/jmake/jmake/internal/testenv"
)

// The first argument is the project only when it is one (or nothing else
// can be): a target named like a directory of the project stays a name.
func TestProjectArgs(t *testing.T) {
	proj := testenv.Tree(t, map[string]string{"jmake.toml": "", "app/main.c": "", "other/jmake.toml": ""})
	t.Chdir(proj)
	for _, tc := range []struct {
		args  []string
		dir   string
		names []string
		err   string
	}{
		{nil, proj, nil, ""},
		{[]string{"app"}, proj, []string{"app"}, ""},
		{[]string{"other", "x"}, filepath.Join(proj, "other"), []string{"x"}, ""},
		{[]string{".", "app"}, proj, []string{"app"}, ""},
		{[]string{"./app"}, filepath.Join(proj, "app"), nil, ""},
	} {
		dir, names, err := projectArgs(tc.args)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: err %v, want %q", tc.args, err, tc.err)
			}
			continue
		}
		if err != nil || dir != tc.dir || !slices.Equal(names, tc.names) {
			t.Errorf("%q: %q %q %v, want %q %q", tc.args, dir, names, err, tc.dir, tc.names)
		}
	}
}
