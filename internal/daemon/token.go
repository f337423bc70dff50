package daemon

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/jmake/jmake/internal/statedir"
)

// TokenPath is where the daemons' shared bearer token lives.
func TokenPath(stateDir string) string { return statedir.TokenPath(stateDir) }

// LoadOrCreateToken returns the token in stateDir, creating it (mode 0600,
// 32 random bytes in hex) at first start. Creation uses O_EXCL so two
// daemons starting at once agree on one token.
func LoadOrCreateToken(stateDir string) (string, error) {
	path := TokenPath(stateDir)
	for range 3 {
		if b, err := os.ReadFile(path); err == nil {
			if tok := strings.TrimSpace(string(b)); tok != "" {
				return tok, nil
			}
			// An empty file is another process between create and write.
		} else if !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("read token %s: %w", path, err)
		}
		raw := make([]byte, 32)
		rand.Read(raw)
		tok := hex.EncodeToString(raw)
		tmp := fmt.Sprintf("%s.tmp-%d", path, os.Getpid())
		if err := os.WriteFile(tmp, []byte(tok+"\n"), 0o600); err != nil {
			return "", fmt.Errorf("create token %s: %w", path, err)
		}
		// Link fails if another process created the token first; then
		// the loop reads theirs.
		err := os.Link(tmp, path)
		os.Remove(tmp)
		if err == nil {
			return tok, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return "", fmt.Errorf("create token %s: %w", path, err)
		}
	}
	return "", fmt.Errorf("token %s: could not read or create it", path)
}

// ReadToken reads the token without creating one.
func ReadToken(stateDir string) (string, error) { return statedir.ReadToken(stateDir) }
