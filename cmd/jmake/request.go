package main

import (
	"strconv"
	"unicode/utf8"

	"github.com/jmake/jmake/internal/buildapi"
	"github.com/jmake/jmake/internal/toolenv"
)

// encodeRequest is json.Marshal(req), written out: on the first call
// encoding/json builds its encoder for the type by reflection, which
// costs the client more than the rest of a no-op build's request.
// TestEncodeRequest keeps the two byte for byte equal, every field
// included.
func encodeRequest(req buildapi.BuildRequest) []byte {
	b := make([]byte, 0, 512)
	b = append(b, `{"path":`...)
	b = appendString(b, req.Path)
	b = appendBool(b, "force_discovery", req.ForceDiscovery)
	b = appendBool(b, "force_compile", req.ForceCompile)
	b = appendBool(b, "quick", req.Quick)
	if req.Jobs != 0 {
		b = append(b, `,"jobs":`...)
		b = strconv.AppendInt(b, int64(req.Jobs), 10)
	}
	b = appendBool(b, "explain", req.Explain)
	b = appendBool(b, "color", req.Color)
	b = appendBool(b, "strict", req.Strict)
	if e := req.Env; e != (toolenv.Env{}) {
		b = append(b, `,"env":{`...)
		first := true
		for _, kv := range [...]struct{ k, v string }{
			{"path", e.Path}, {"cc", e.CC}, {"cxx", e.CXX}, {"cppflags", e.CPPFlags},
			{"cflags", e.CFlags}, {"cxxflags", e.CXXFlags}, {"ldflags", e.LDFlags},
			{"pkg_config_path", e.PkgConfigPath}, {"pkg_config_libdir", e.PkgConfigLibdir},
			{"pkg_config_sysroot_dir", e.PkgConfigSysroot}, {"cpath", e.CPath},
			{"c_include_path", e.CIncludePath}, {"cplus_include_path", e.CPlusIncludePath},
			{"library_path", e.LibraryPath}, {"source_date_epoch", e.SourceDateEpoch},
		} {
			if kv.v == "" {
				continue
			}
			if !first {
				b = append(b, ',')
			}
			first = false
			b = appendString(b, kv.k)
			b = append(b, ':')
			b = appendString(b, kv.v)
		}
		b = append(b, '}')
	}
	b = appendStrings(b, "targets", req.Targets)
	b = appendBool(b, "tests", req.Tests)
	if req.Profile != "" {
		b = append(b, `,"profile":`...)
		b = appendString(b, req.Profile)
	}
	b = appendStrings(b, "sanitize", req.Sanitize)
	return append(b, '}')
}

// appendBool appends ,"key":true when v is (omitempty).
func appendBool(b []byte, key string, v bool) []byte {
	if !v {
		return b
	}
	b = append(b, ',', '"')
	b = append(b, key...)
	return append(b, `":true`...)
}

// appendStrings appends ,"key":[...] when list is not empty (omitempty).
func appendStrings(b []byte, key string, list []string) []byte {
	if len(list) == 0 {
		return b
	}
	b = append(b, ',', '"')
	b = append(b, key...)
	b = append(b, `":[`...)
	for i, s := range list {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, s)
	}
	return append(b, ']')
}

// appendString appends s as encoding/json writes a string: HTML-safe
// escapes for <, > and &, \u escapes for control characters, U+2028 and
// U+2029, and U+FFFD for each invalid UTF-8 byte.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c == '\b':
				b = append(b, '\\', 'b')
			case c == '\f':
				b = append(b, '\\', 'f')
			case c < 0x20 || c == '<' || c == '>' || c == '&':
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
