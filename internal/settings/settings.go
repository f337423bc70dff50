// Package settings resolves jmake's state directory and reads its optional
// config.toml: the daemons' names and ports, persistence, workers, limits.
package settings

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"

	"github.com/jmake/jmake/internal/statedir"
)

// The four daemons, in the order they start and roll.
const (
	Discovery    = "discovery"
	Setup        = "setup"
	Compilation  = "compilation"
	Orchestrator = "orchestrator"
)

// Names returns the daemons in start order, a fresh slice the caller may change.
func Names() []string { return []string{Discovery, Setup, Compilation, Orchestrator} }

// basePorts are the original JMake's ports.
var basePorts = map[string]int{Discovery: 3001, Setup: 3002, Compilation: 3003, Orchestrator: 3004}

// IsDaemon reports whether name is one of the four daemons.
func IsDaemon(name string) bool { _, ok := basePorts[name]; return ok }

// Settings are jmake's tunables, from $JMAKE_HOME/config.toml over defaults.
type Settings struct {
	// BasePort is discovery's port; the others follow it (default 3001).
	BasePort int `toml:"base_port"`
	// Persist keeps caches on disk across restarts (default true).
	Persist bool `toml:"persist"`
	// Workers is how many compilers run at once (default: core count).
	Workers int `toml:"workers"`
	// LogLevel is debug, info, warn or error (default info).
	LogLevel string `toml:"log_level"`
	// DrainTimeout bounds how long a stopping daemon waits for calls in
	// flight (default 10s).
	DrainTimeout Duration `toml:"drain_timeout"`
	// CacheMaxSize bounds the object cache, e.g. "5GiB" (default 5 GiB).
	CacheMaxSize string `toml:"cache_max_size"`
	// MaxBody bounds a request body in bytes (default 4 MiB).
	MaxBody int64 `toml:"max_body"`
	// ToolDirs are searched for compilers and tools after PATH and
	// /usr/lib/llvm-*/bin.
	ToolDirs []string `toml:"tool_dirs"`
}

// Duration is a time.Duration written as "10s" in TOML.
type Duration struct{ time.Duration }

// UnmarshalText parses "1.5s", "200ms" and the like.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	d.Duration = v
	return nil
}

// MarshalText renders the duration as time.Duration.String does.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.Duration.String()), nil }

// Default returns the settings used when config.toml sets nothing.
func Default() Settings {
	return Settings{
		BasePort:     3001,
		Persist:      true,
		Workers:      runtime.NumCPU(),
		LogLevel:     "info",
		DrainTimeout: Duration{10 * time.Second},
		CacheMaxSize: "5GiB",
		MaxBody:      4 << 20,
	}
}

// StateDir is $JMAKE_HOME, else $XDG_STATE_HOME/jmake, else
// ~/.local/state/jmake.
func StateDir() (string, error) { return statedir.Dir() }

// EnsureStateDir creates dir (mode 0700) with its logs/ and cache/.
func EnsureStateDir(dir string) error {
	for _, d := range []string{dir, filepath.Join(dir, "logs"), filepath.Join(dir, "cache")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("state directory: %w", err)
		}
	}
	return os.Chmod(dir, 0o700)
}

// ConfigPath is where the optional settings file lives.
func ConfigPath(stateDir string) string { return filepath.Join(stateDir, "config.toml") }

// Load reads stateDir/config.toml over the defaults. A missing file gives
// the defaults; a bad one an error naming file:line:column, so a reload can
// keep the settings in force.
func Load(stateDir string) (Settings, error) {
	s := Default()
	path := ConfigPath(stateDir)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return s, err
	}
	dec := toml.NewDecoder(bytes.NewReader(data)).DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		var derr *toml.DecodeError
		if errors.As(err, &derr) {
			line, col := derr.Position()
			return Default(), fmt.Errorf("%s:%d:%d: %s", path, line, col, derr.Error())
		}
		var serr *toml.StrictMissingError
		if errors.As(err, &serr) && len(serr.Errors) > 0 {
			line, col := serr.Errors[0].Position()
			return Default(), fmt.Errorf("%s:%d:%d: unknown setting: %s", path, line, col, strings.Join(serr.Errors[0].Key(), "."))
		}
		return Default(), fmt.Errorf("%s: %w", path, err)
	}
	if err := s.validate(); err != nil {
		return Default(), fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

func (s Settings) validate() error {
	if s.BasePort < 1 || s.BasePort > 65535-3 {
		return fmt.Errorf("base_port %d out of range 1..65532", s.BasePort)
	}
	if s.Workers < 1 {
		return fmt.Errorf("workers %d: must be at least 1", s.Workers)
	}
	if _, err := ParseSize(s.CacheMaxSize); err != nil {
		return fmt.Errorf("cache_max_size: %w", err)
	}
	if _, err := ParseLevel(s.LogLevel); err != nil {
		return err
	}
	return nil
}

// PortOffset reads PORT_OFFSET from the environment (0 when unset).
func PortOffset() (int, error) {
	v := os.Getenv("PORT_OFFSET")
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("PORT_OFFSET=%q: not a number", v)
	}
	return n, nil
}

// Port is the port of daemon name with the given offset.
func (s Settings) Port(name string, offset int) int {
	return s.BasePort + (basePorts[name] - 3001) + offset
}

// ParseLevel maps a log level name to slog's.
func ParseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("log_level %q: want debug, info, warn or error", s)
	}
	return l, nil
}

// ParseSize reads "5GiB", "500MB", "1048576" into bytes.
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
		{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"B", 1}} {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || f < 0 {
		return 0, fmt.Errorf("size %q: want a number with an optional unit (KiB, MiB, GiB)", s)
	}
	return int64(f * float64(mult)), nil
}
