package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// fullName is the full program's file name.
const fullName = "jmaked"

// findFull finds jmaked: next to this executable first (an installation
// keeps the two together, and a jmaked elsewhere on PATH may be another
// version), then on PATH.
func findFull() (string, error) {
	var tried []string
	if self, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(self), fullName)
		if isExecutable(p) {
			return p, nil
		}
		tried = append(tried, p)
	}
	for _, dir := range filepath.SplitList(os.Getenv("PATH")) {
		if dir == "" {
			dir = "."
		}
		if p := filepath.Join(dir, fullName); isExecutable(p) {
			return filepath.Abs(p)
		}
	}
	tried = append(tried, "PATH="+os.Getenv("PATH"))
	return "", fmt.Errorf("cannot find %s, which runs the daemons and every command but a build through them: not in %q nor on %s; build it with `go build -o . ./cmd/...` and keep it next to jmake", fullName, tried[0], tried[len(tried)-1])
}

// isExecutable reports a regular file with an execute bit.
func isExecutable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular() && st.Mode().Perm()&0o111 != 0
}

// execve replaces this process with path; it returns only on failure.
func execve(path string, argv, env []string) error {
	err := syscall.Exec(path, argv, env)
	if errors.Is(err, syscall.EINTR) {
		err = syscall.Exec(path, argv, env)
	}
	return err
}
