package project

import (
	"fmt"
	"os"
	"path/filepath"
)

// Clean removes the build directory of the project in dir (its
// outputs only; the object cache stays) and returns what it removed.
func Clean(dir string) (string, error) {
	cfg, err := Load(dir)
	if err != nil {
		return "", err
	}
	root := cfg.RootDir(dir)
	build := filepath.Join(root, cfg.Paths.Build)
	if rel, err := filepath.Rel(root, build); err != nil || rel == "." || rel == ".." || filepath.IsAbs(rel) || len(rel) > 1 && rel[:2] == ".." {
		return "", fmt.Errorf("%s: refusing to remove build dir %q: it is not inside the project", filepath.Join(dir, FileName), cfg.Paths.Build)
	}
	if err := os.RemoveAll(build); err != nil {
		return "", err
	}
	return build, nil
}
