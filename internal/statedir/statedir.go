// Package statedir names the files of jmake's state directory that a
// client needs before it can talk to the daemons: the directory itself,
// the auth token and the daemons' unix sockets. It imports only the
// standard library's file functions, so the small `jmake` client can
// use it.
package statedir

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Dir is the state directory: $JMAKE_HOME, else $XDG_STATE_HOME/jmake,
// else ~/.local/state/jmake.
func Dir() (string, error) {
	if d := os.Getenv("JMAKE_HOME"); d != "" {
		return filepath.Abs(d)
	}
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "jmake"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("state directory: set JMAKE_HOME: %w", err)
	}
	return filepath.Join(home, ".local", "state", "jmake"), nil
}

// TokenPath is where the daemons' shared bearer token lives.
func TokenPath(dir string) string { return filepath.Join(dir, "token") }

// SocketPath is the unix socket daemon name listens on besides its TCP
// port. The state directory is 0700, so only its owner can reach it; the
// token is still required on it.
func SocketPath(dir, name string) string { return filepath.Join(dir, name+".sock") }

// ReadToken reads the token without creating one.
func ReadToken(dir string) (string, error) {
	b, err := os.ReadFile(TokenPath(dir))
	if err != nil {
		return "", fmt.Errorf("read token: %w (start the daemons with `jmake start`)", err)
	}
	return strings.TrimSpace(string(b)), nil
}
