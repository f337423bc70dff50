// Package setup is the setup daemon's domain logic, usable without HTTP:
// creating a project skeleton, writing a jmake.toml from what discovery
// found, validating it, reading and updating one section while keeping the
// rest of the file byte for byte, and a cache of parsed configs keyed by
// content.
//
// The methods that read or write a configuration take a path that is
// either a project directory (holding jmake.toml) or the file itself.
package setup

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sync"

	"github.com/jmake/jmake/internal/project"
)

// Options configures a Setup. The zero value is ready to use.
type Options struct {
	// LookTool finds a compiler named in [compile] for ValidateConfig; nil
	// uses exec.LookPath.
	LookTool func(name string) (string, bool)

	// MaxConfigs bounds how many parsed configs the cache holds; the least
	// recently used goes first. 0 means DefaultMaxConfigs.
	MaxConfigs int
}

// DefaultMaxConfigs is the cache bound when Options.MaxConfigs is 0. A
// parsed config is a few kilobytes, and a daemon serves a handful of
// projects, each with a few versions of its file over a session: 256 keeps
// all of them for a fraction of a megabyte.
const DefaultMaxConfigs = 256

// Setup holds the setup daemon's state: its options and the config cache.
// Make one with New; it is safe for concurrent use.
type Setup struct {
	lookTool   func(name string) (string, bool)
	maxConfigs int

	// fileMu serializes the read-modify-write of configuration files
	// (CreateStructure, GenerateConfig, UpdateConfig) within this process,
	// so two updates of one file cannot lose each other's change. It is
	// never held together with cache.mu.
	fileMu sync.Mutex

	cache configCache
}

// New returns a Setup configured by opts.
func New(opts Options) *Setup {
	s := &Setup{lookTool: opts.LookTool, maxConfigs: opts.MaxConfigs}
	if s.lookTool == nil {
		s.lookTool = func(name string) (string, bool) {
			p, err := exec.LookPath(name)
			return p, err == nil
		}
	}
	if s.maxConfigs <= 0 {
		s.maxConfigs = DefaultMaxConfigs
	}
	s.cache.init()
	return s
}

// configFile resolves path, a project directory or a configuration file, to
// the file and the directory that holds it. A path that does not exist is
// a file when it ends in ".toml" and a directory otherwise.
func configFile(path string) (file, dir string, err error) {
	if path == "" {
		return "", "", errors.New("setup: empty path")
	}
	fi, err := os.Stat(path)
	switch {
	case err == nil && fi.IsDir():
		return filepath.Join(path, project.FileName), path, nil
	case err == nil || filepath.Ext(path) == ".toml":
		return path, filepath.Dir(path), nil
	default:
		return filepath.Join(path, project.FileName), path, nil
	}
}

// writeAtomic writes data to file through a temporary file in the same
// directory, so a reader sees the old content or the new, never a part.
// With replace, the temporary file is renamed over file; without, it is
// linked to file, which fails if file exists (the check and the write are
// one step, so a file created meanwhile is not clobbered).
func writeAtomic(file string, data []byte, perm fs.FileMode, replace bool) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(file), "."+filepath.Base(file)+".tmp*")
	if err != nil {
		return fmt.Errorf("setup: write %s: %w", file, err)
	}
	name := tmp.Name()
	defer func() {
		if rerr := os.Remove(name); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) && err == nil {
			err = fmt.Errorf("setup: remove temporary file %s: %w", name, rerr)
		}
	}()
	_, werr := tmp.Write(data)
	if werr == nil {
		werr = tmp.Sync()
	}
	if werr == nil {
		werr = tmp.Chmod(perm)
	}
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return fmt.Errorf("setup: write %s: %w", file, werr)
	}
	if replace {
		if err := os.Rename(name, file); err != nil {
			return fmt.Errorf("setup: write %s: %w", file, err)
		}
		return nil
	}
	lerr := os.Link(name, file)
	if errors.Is(lerr, fs.ErrExist) {
		return fmt.Errorf("setup: %s already exists: %w", file, fs.ErrExist)
	}
	if lerr != nil {
		// Some file systems (FUSE, SMB mounts) refuse hard links: create
		// the file exclusively instead.
		return writeExclusive(file, data, perm)
	}
	return nil
}

// writeExclusive creates file, failing if it exists, and writes data.
func writeExclusive(file string, data []byte, perm fs.FileMode) error {
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("setup: %s already exists: %w", file, fs.ErrExist)
	}
	if err != nil {
		return fmt.Errorf("setup: write %s: %w", file, err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("setup: write %s: %w", file, err)
	}
	return nil
}

// exists reports whether p exists (as anything).
func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}
