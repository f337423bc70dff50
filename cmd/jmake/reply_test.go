package main

import (
	"encoding/json"
	"reflect"
	"testing"
)

// fillValue sets every field reachable from v to a non-zero value made
// from s: strings, numbers, booleans, slices of two elements, pointers. A
// field added to the request or the reply without its line in
// encodeRequest or decodeReply then shows up as a difference from
// encoding/json.
func fillValue(v reflect.Value, s string) {
	switch v.Kind() {
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fillValue(v.Elem(), s)
	case reflect.Struct:
		for i := range v.NumField() {
			fillValue(v.Field(i), s+v.Type().Field(i).Name)
		}
	case reflect.String:
		v.SetString(s)
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int:
		v.SetInt(int64(len(s)))
	case reflect.Float64:
		v.SetFloat(float64(len(s)) / 7)
	case reflect.Slice:
		sl := reflect.MakeSlice(v.Type(), 2, 2)
		fillValue(sl.Index(0), s+"0")
		fillValue(sl.Index(1), s+"1\n\"\\\u00e9\U0001F600<>&")
		v.Set(sl)
	default:
		panic("fillValue: a field of kind " + v.Kind().String())
	}
}

// checkLikeJSON fails unless decodeReply, when it accepts line, gives
// json.Unmarshal's result; accepted says whether it did.
func checkLikeJSON(t *testing.T, line []byte) (accepted bool) {
	t.Helper()
	got, err := decodeReply(line)
	if err != nil {
		return false
	}
	var want reply
	if jerr := json.Unmarshal(line, &want); jerr != nil {
		t.Fatalf("decodeReply took %q, which encoding/json refuses: %v", line, jerr)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%q:\ndecodeReply  %+v\nencoding/json %+v", line, got, want)
	}
	return true
}

// Every field of a reply, nested ones included, decodes as encoding/json
// decodes it, and so do the lines the orchestrator writes; what decodeReply
// does not read plainly it leaves to encoding/json.
func TestDecodeReply(t *testing.T) {
	var full reply
	fillValue(reflect.ValueOf(&full).Elem(), "x")
	line, err := json.Marshal(full)
	if err != nil {
		t.Fatal(err)
	}
	if !checkLikeJSON(t, line) {
		t.Fatalf("decodeReply refused a reply with every field: %s", line)
	}
	plain := []string{
		`{"success":true,"path":"/p","output":"/p/build/libdemo.so","units":202,"compiled":0,"cached":0,"up_to_date":202,"linked":false,"elapsed_seconds":0.000052233,"stages":[{"name":"discovery","seconds":0,"cached":true}],"targets":[{"name":"demo","kind":"shared","output":"/p/build/libdemo.so","units":202,"compiled":0,"cached":0,"up_to_date":202,"linked":true,"linker":"gold"}]}`,
		`{"success":false,"error":"compile: x","code":422,"path":"/p","units":1,"stages":[],"failure":{"kind":"build","message":"src/a.c did not compile"},"diagnostics":"a.c:1: error\u001b[0m \ud83d\ude00 \ud800x"}`,
		` { "success" : true , "warnings" : null , "explain" : [ ] , "failure" : null , "unknown" : {"a":[1,2.5e3,-0,"s",null,true]} } `,
		`{"kind":"compile","unit":"src/a.c","done":1,"total":3}`,
	}
	for _, l := range plain {
		if !checkLikeJSON(t, []byte(l)) {
			t.Errorf("decodeReply refused %s", l)
		}
	}
	unusual := []string{
		`{"Path":"/p"}`, `{"path":"/a","path":"/b"}`, `{"units":1.0}`, `{"units":+1}`, `{"units":01}`,
		`{"path":null}`, `{"stages":null}`, "{\"path\":\"\xff\"}", `{"path":"a`, `{"path":"a"} x`, `[]`, `null`,
		`{"elapsed_seconds":.5}`, `{"x":tru}`,
	}
	for _, l := range unusual {
		if checkLikeJSON(t, []byte(l)) {
			t.Errorf("decodeReply read %s itself; it is for encoding/json", l)
		}
	}
}

func FuzzDecodeReply(f *testing.F) {
	var full reply
	fillValue(reflect.ValueOf(&full).Elem(), "x")
	line, _ := json.Marshal(full)
	f.Add(line)
	f.Add([]byte(`{"success":true,"stages":[{"name":"a"}],"failure":null,"x":[{"y":"\ud800\udc00"}]}`))
	f.Fuzz(func(t *testing.T, line []byte) { checkLikeJSON(t, line) })
}
