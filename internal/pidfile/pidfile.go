// Package pidfile reads and writes a daemon's PID file and tells whether the
// process it names is still that daemon.
//
// A PID file is trusted only if the PID still belongs to our daemon: PIDs are
// reused, so a live PID proves nothing. The file records the process's start
// time (field 22 of /proc/<pid>/stat, in clock ticks since boot), and Verify
// compares it, and the command line, with what /proc says now.
//
// Format, one item a line; the first line alone is a valid file, so
// `kill $(head -1 .daemon_pids.discovery)` works:
//
//	<pid>
//	name=<daemon>
//	port=<port>
//	start=<start ticks>
package pidfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/jmake/jmake/internal/atomicfile"
	"github.com/jmake/jmake/internal/proc"
)

// Info is what a PID file says.
type Info struct {
	PID   int
	Name  string
	Port  int
	Start uint64 // process start time in clock ticks since boot; 0 if unknown
}

// Proc is the process info names.
func (info Info) Proc() proc.ID { return proc.ID{PID: info.PID, Start: info.Start} }

// Path is the PID file of daemon name in stateDir (the original's naming).
func Path(stateDir, name string) string {
	return filepath.Join(stateDir, ".daemon_pids."+name)
}

// Write records the calling process as daemon name on port, atomically.
func Write(path, name string, port int) error {
	pid := os.Getpid()
	start, err := proc.StartTicks(pid)
	if err != nil {
		return err
	}
	text := fmt.Sprintf("%d\nname=%s\nport=%d\nstart=%d\n", pid, name, port, start)
	return atomicfile.Write(path, []byte(text), 0o600)
}

// Parse reads a PID file's text.
func Parse(data []byte) (Info, error) {
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(lines[0]))
	if err != nil || pid <= 0 {
		return Info{}, fmt.Errorf("first line %q is not a PID", firstN(lines[0], 40))
	}
	info := Info{PID: pid}
	for _, l := range lines[1:] {
		k, v, ok := strings.Cut(strings.TrimSpace(l), "=")
		if !ok {
			continue
		}
		switch k {
		case "name":
			info.Name = v
		case "port":
			info.Port, _ = strconv.Atoi(v)
		case "start":
			info.Start, _ = strconv.ParseUint(v, 10, 64)
		}
	}
	return info, nil
}

func firstN(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// Read parses the PID file at path.
func Read(path string) (Info, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Info{}, err
	}
	info, err := Parse(data)
	if err != nil {
		return Info{}, fmt.Errorf("PID file %s: %w", path, err)
	}
	return info, nil
}

// RemoveIfOurs deletes the PID file at path only if it names this process,
// so an old instance stopping after a new one took over leaves the new one's
// file alone.
func RemoveIfOurs(path string) error {
	info, err := Read(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	}
	if info.PID != os.Getpid() {
		return nil
	}
	return os.Remove(path)
}

// Verify reports whether info still names a live process that is daemon
// name: the process exists, its start time matches the recorded one (when
// recorded), and its command line is `... daemon <name> ...`. The reason
// says why not, for a person.
func Verify(info Info, name string) (ok bool, reason string) {
	start, err := proc.StartTicks(info.PID)
	if err != nil {
		return false, fmt.Sprintf("process %d is gone", info.PID)
	}
	if info.Start != 0 && start != info.Start {
		return false, fmt.Sprintf("PID %d was reused by another process", info.PID)
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", info.PID))
	if err != nil {
		return false, fmt.Sprintf("process %d is gone", info.PID)
	}
	if !IsDaemonCmdline(cmdline, name) {
		args := strings.ReplaceAll(strings.TrimRight(string(cmdline), "\x00"), "\x00", " ")
		return false, fmt.Sprintf("PID %d is not the %s daemon (it runs %q)", info.PID, name, firstN(args, 60))
	}
	return true, ""
}

// IsDaemonCmdline reports whether a NUL-separated /proc cmdline runs
// `jmake daemon <name>`.
func IsDaemonCmdline(cmdline []byte, name string) bool {
	args := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
	for i := 1; i+1 < len(args); i++ {
		if args[i] == "daemon" && args[i+1] == name {
			return true
		}
	}
	return false
}
