package compile

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/jmake/jmake/internal/atomicfile"
)

// MergeCompileCommands writes dst, a compile_commands.json holding the
// entries of every file in parts (each target's own), so that editors
// and clang tools find one database for the whole project. dst is left
// alone when its content would not change. A part that cannot be read
// or decoded is an error naming it.
func MergeCompileCommands(dst string, parts []string) error {
	if newerThanAll(dst, parts) {
		return nil
	}
	var all []json.RawMessage
	for _, p := range parts {
		data, err := os.ReadFile(p)
		if err != nil {
			return fmt.Errorf("compile_commands.json: %w", err)
		}
		var entries []json.RawMessage
		if err := json.Unmarshal(data, &entries); err != nil {
			return fmt.Errorf("compile_commands.json: %s: %w", p, err)
		}
		all = append(all, entries...)
	}
	var b bytes.Buffer
	b.WriteString("[\n")
	for i, e := range all {
		b.WriteString("  ")
		if err := json.Compact(&b, e); err != nil {
			return fmt.Errorf("compile_commands.json: %w", err)
		}
		if i < len(all)-1 {
			b.WriteString(",")
		}
		b.WriteString("\n")
	}
	b.WriteString("]\n")
	if old, err := os.ReadFile(dst); err == nil && bytes.Equal(old, b.Bytes()) {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("compile_commands.json: %w", err)
	}
	return atomicfile.Write(dst, b.Bytes(), 0o644)
}

// newerThanAll reports whether dst exists and was written after every
// part was: then it holds them all already, and a no-op build reads
// nothing.
func newerThanAll(dst string, parts []string) bool {
	d, err := os.Stat(dst)
	if err != nil {
		return false
	}
	for _, p := range parts {
		if st, err := os.Stat(p); err != nil || !st.ModTime().Before(d.ModTime()) {
			return false
		}
	}
	return true
}
