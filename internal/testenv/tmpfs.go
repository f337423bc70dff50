package testenv

import (
	"bytes"
	"os/exec"
	"strconv"
	"testing"
)

// MountTmpfs mounts a tmpfs of size bytes on a new temp directory and
// unmounts it when the test ends. Cleanups run last registered first, so
// the daemons of an Env made after this call are killed before the
// unmount. It skips the test where mounting is not permitted (not root).
func MountTmpfs(t testing.TB, size int) string {
	t.Helper()
	dir := t.TempDir()
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+strconv.Itoa(size), "tmpfs", dir).CombinedOutput()
	if err != nil {
		t.Skipf("mount -t tmpfs on %s is not permitted here (needs root): %v: %s", dir, err, bytes.TrimSpace(out))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, bytes.TrimSpace(out))
		}
	})
	return dir
}
