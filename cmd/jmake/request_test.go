package main

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/jmake/jmake/internal/buildapi"
)

// The hand-written encoding is json.Marshal's, byte for byte: for an
// empty request, a full one, and strings that need every kind of escape.
func TestEncodeRequest(t *testing.T) {
	var full buildapi.BuildRequest
	fillValue(reflect.ValueOf(&full).Elem(), "x")
	odd := "q\"b\\s/<a>&\n\r\t\b\f\x01\x1f\x7f é \u2028\u2029 \xff\xfe 😀"
	cases := []buildapi.BuildRequest{
		{},
		{Path: "/p"},
		full,
		{Path: odd, Jobs: -3, Select: buildapi.Select{Targets: []string{odd, ""}, Profile: odd}},
	}
	var withEnv buildapi.BuildRequest
	fillValue(reflect.ValueOf(&withEnv.Env).Elem(), odd)
	withEnv.Env.CC = ""
	cases = append(cases, withEnv)
	for _, req := range cases {
		want, err := json.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		if got := encodeRequest(req); !bytes.Equal(got, want) {
			t.Errorf("encodeRequest differs from json.Marshal\n got %s\nwant %s", got, want)
		}
	}
}

func FuzzEncodeString(f *testing.F) {
	for _, s := range []string{"", "a", "\x00", "\xed\xa0\x80", "<&>", "\u2028"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		req := buildapi.BuildRequest{Path: s, Select: buildapi.Select{Profile: s}}
		want, _ := json.Marshal(req)
		if got := encodeRequest(req); !bytes.Equal(got, want) {
			t.Fatalf("%q: got %s, want %s", s, got, want)
		}
	})
}
