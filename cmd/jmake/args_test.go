package main

import (
	"reflect"
	"testing"
)

// parseBuild runs itself exactly the build command lines jmaked would
// accept with the same meaning, and hands every other one to jmaked.
func TestParseBuild(t *testing.T) {
	for _, tc := range []struct {
		args []string
		ok   bool
		want buildFlags
	}{
		{[]string{"build"}, true, buildFlags{}},
		{[]string{"build", "dir"}, true, buildFlags{args: []string{"dir"}}},
		{[]string{"build", "--clean", "--quick", "--explain", "--strict", "--json", "d"}, true,
			buildFlags{args: []string{"d"}, clean: true, quick: true, explain: true, strict: true, asJSON: true}},
		{[]string{"build", "-j", "3", "d"}, true, buildFlags{args: []string{"d"}, jobs: 3}},
		{[]string{"build", "-j3"}, true, buildFlags{jobs: 3}},
		{[]string{"build", "-j=3"}, true, buildFlags{jobs: 3}},
		{[]string{"build", "--jobs=3"}, true, buildFlags{jobs: 3}},
		{[]string{"build", "--clean=false", "--json=true"}, true, buildFlags{asJSON: true}},
		{[]string{"--port-offset", "7", "build", "d"}, true, buildFlags{args: []string{"d"}}},
		{[]string{"build", "--port-offset=7"}, true, buildFlags{}},
		{[]string{"build", "--watch=false"}, true, buildFlags{}},
		// jmaked's: another command, modes the client does not run, help,
		// what jmaked reports as a usage error.
		{[]string{}, false, buildFlags{}},
		{[]string{"status"}, false, buildFlags{}},
		{[]string{"build", "--watch"}, false, buildFlags{}},
		{[]string{"build", "--no-daemon"}, false, buildFlags{}},
		{[]string{"build", "-h"}, false, buildFlags{}},
		{[]string{"build", "--help"}, false, buildFlags{}},
		{[]string{"build", "--frobnicate"}, false, buildFlags{}},
		{[]string{"build", "a", "b"}, true, buildFlags{args: []string{"a", "b"}}},
		{[]string{"build", "--tests", "--profile", "debug", "app"}, true, buildFlags{args: []string{"app"}, tests: true, profile: "debug"}},
		{[]string{"build", "--profile=release"}, true, buildFlags{profile: "release"}},
		{[]string{"build", "--sanitize", "address"}, false, buildFlags{}},
		{[]string{"build", "--profile"}, false, buildFlags{}},
		{[]string{"build", "-j"}, false, buildFlags{}},
		{[]string{"build", "-j", "x"}, false, buildFlags{}},
		{[]string{"build", "--clean=maybe"}, false, buildFlags{}},
		{[]string{"build", "--", "d"}, false, buildFlags{}},
		{[]string{"--port-offset", "x", "build"}, false, buildFlags{}},
		{[]string{"-j", "2", "build"}, false, buildFlags{}},
		{[]string{"--json", "build"}, false, buildFlags{}},
	} {
		f, ok := parseBuild(tc.args)
		if ok != tc.ok || (ok && !reflect.DeepEqual(f, tc.want)) {
			t.Errorf("parseBuild(%q) = %+v, %v; want %+v, %v", tc.args, f, ok, tc.want, tc.ok)
		}
	}
	t.Setenv("PORT_OFFSET", "x")
	if _, ok := parseBuild([]string{"build"}); ok {
		t.Errorf("PORT_OFFSET=x: the client ran the build; jmaked warns about it")
	}
}
