package buildapi

import (
	"encoding/json"
	"testing"
)

// TestCountsFlatOnTheWire checks that the counts a result embeds stand
// among its own fields, in their place, as clients read them.
func TestCountsFlatOnTheWire(t *testing.T) {
	c := Counts{Units: 3, Compiled: 2, Cached: 1, UpToDate: 0, Linked: true}
	for _, tc := range []struct {
		v    any
		want string
	}{
		{BuildResult{Path: "/p", Output: "/p/build/a", Counts: c, ElapsedSeconds: 1.5},
			`{"path":"/p","output":"/p/build/a","units":3,"compiled":2,"cached":1,"up_to_date":0,"linked":true,"elapsed_seconds":1.5,"stages":null}`},
		{TargetOutcome{Name: "a", Kind: "shared", Counts: c, Error: "e"},
			`{"name":"a","kind":"shared","units":3,"compiled":2,"cached":1,"up_to_date":0,"linked":true,"error":"e"}`},
	} {
		b, err := json.Marshal(tc.v)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != tc.want {
			t.Errorf("%T on the wire:\n got %s\nwant %s", tc.v, b, tc.want)
		}
	}
	var sum Counts
	sum.Add(c)
	sum.Add(Counts{Units: 1, UpToDate: 1})
	if want := (Counts{Units: 4, Compiled: 2, Cached: 1, UpToDate: 1, Linked: true}); sum != want {
		t.Errorf("sum %+v, want %+v", sum, want)
	}
}
