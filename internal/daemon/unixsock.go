package daemon

import (
	"fmt"
	"net"
	"os"
	"syscall"
)

// unixSocket is a daemon's listener on a unix socket in the state dir,
// which the small `jmake` client reaches without TCP. Unix sockets have no
// SO_REUSEPORT, so a new instance never shares the old one's: it binds a
// temporary name and renames it over the path, atomically, and from then
// on new connections reach it. The old instance keeps accepting what was
// queued on its own socket until it closes, and on exit removes the path
// only while the path is still its own socket (same device and inode): it
// must not remove its successor's.
type unixSocket struct {
	path     string
	ln       *net.UnixListener
	dev, ino uint64
}

// listenUnix binds path as described on unixSocket; the socket file is
// made 0600 before it gets its name (the state dir is 0700 anyway).
func listenUnix(path string) (*unixSocket, error) {
	tmp := fmt.Sprintf("%s.tmp-%d", path, os.Getpid())
	os.Remove(tmp) // left by a process of ours that had our PID and died
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: tmp, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("listen on unix socket %s: %w", tmp, err)
	}
	// The file is removed by name below, only while it is ours.
	ln.SetUnlinkOnClose(false)
	var st syscall.Stat_t
	err = os.Chmod(tmp, 0o600)
	if err == nil {
		err = syscall.Stat(tmp, &st)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		ln.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("unix socket %s: %w", path, err)
	}
	return &unixSocket{path: path, ln: ln, dev: uint64(st.Dev), ino: st.Ino}, nil
}

// ours reports whether the path still names this socket.
func (u *unixSocket) ours() bool {
	var st syscall.Stat_t
	return syscall.Stat(u.path, &st) == nil && uint64(st.Dev) == u.dev && st.Ino == u.ino
}

// unlink removes the path if it is still this socket, so that clients no
// longer connect to a daemon that is stopping (they find it gone and fall
// back, or start the daemons). A successor's socket stays: checking the
// inode and then removing by name could remove a successor that renamed
// itself into place in between, so the path is first renamed aside, then
// checked, and a successor's socket is linked back (link fails, leaving
// the newest, if yet another instance took the name meanwhile). A client
// connecting in that instant finds no socket and uses the TCP port.
func (u *unixSocket) unlink() error {
	if !u.ours() {
		return nil
	}
	aside := fmt.Sprintf("%s.old-%d", u.path, os.Getpid())
	if err := os.Rename(u.path, aside); err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		return fmt.Errorf("remove unix socket %s: %w", u.path, err)
	}
	var st syscall.Stat_t
	if syscall.Stat(aside, &st) == nil && (uint64(st.Dev) != u.dev || st.Ino != u.ino) {
		os.Link(aside, u.path)
	}
	if err := os.Remove(aside); err != nil {
		return fmt.Errorf("remove unix socket %s: %w", aside, err)
	}
	return nil
}
