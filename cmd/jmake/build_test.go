package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadToken(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "token")
	token := strings.Repeat("0123456789abcdef", 4)
	if err := os.WriteFile(path, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := readToken(path); err != nil || got != token {
		t.Fatalf("readToken = %q, %v; want %q", got, err, token)
	}
	if _, err := readToken(filepath.Join(dir, "missing")); err == nil {
		t.Fatal("readToken of a missing file: no error")
	}
	// A file that cannot be a token is refused, not cut to a wrong one.
	if err := os.WriteFile(path, []byte(strings.Repeat("a", 256)), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := readToken(path); err == nil {
		t.Fatalf("readToken of 256 bytes = %q, want an error", got)
	}
}
