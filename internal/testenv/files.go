package testenv

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// WriteFiles writes files (a slash-separated path below dir -> its content)
// under dir, creating the directories on the way; a path ending in "/" is
// made an empty directory.
func WriteFiles(tb testing.TB, dir string, files map[string]string) {
	tb.Helper()
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if strings.HasSuffix(name, "/") {
			if err := os.MkdirAll(p, 0o755); err != nil {
				tb.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
}

// Tree writes files as WriteFiles does into a new temp directory, removed
// when the test ends, and returns its path.
func Tree(tb testing.TB, files map[string]string) string {
	tb.Helper()
	dir := tb.TempDir()
	WriteFiles(tb, dir, files)
	return dir
}

// Files lists what is below root but directories, as slash-separated
// paths relative to root, in lexical order.
func Files(tb testing.TB, root string) []string {
	tb.Helper()
	var files []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(root, p)
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return files
}

// SaveByRename writes body to path as sed -i and most editors save a file:
// into a temp file beside it, renamed over it. Unlike a write in place,
// this creates and renames an entry in path's directory, moving the
// directory's mtime.
func SaveByRename(tb testing.TB, path, body string) {
	tb.Helper()
	tmp := filepath.Join(filepath.Dir(path), ".jmake-test-save")
	if err := os.WriteFile(tmp, []byte(body), 0o644); err != nil {
		tb.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		tb.Fatal(err)
	}
}
