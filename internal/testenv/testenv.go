// Package testenv gives tests real jmake processes: the binary built once
// per test package, a private state directory, ports shifted to a free
// range, and every daemon stopped by its PID when the test ends, also when
// it fails.
package testenv

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jmake/jmake/internal/daemon"
	"github.com/jmake/jmake/internal/lifecycle"
	"github.com/jmake/jmake/internal/pidfile"
	"github.com/jmake/jmake/internal/settings"
)

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// Binary builds both programs, cmd/jmake (the small client) and
// cmd/jmaked (the full one), once per test process into one directory,
// as an installation keeps them, and returns the client's path; jmaked
// is FullBinary.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "jmake-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binDir = dir
		_, file, _, _ := runtime.Caller(0)
		root := filepath.Join(filepath.Dir(file), "..", "..")
		cmd := exec.Command("go", "build", "-o", dir+string(filepath.Separator), "./cmd/jmake", "./cmd/jmaked")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/jmake ./cmd/jmaked: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(binDir, "jmake")
}

// FullBinary is the path of jmaked, built beside Binary.
func FullBinary(t testing.TB) string {
	return filepath.Join(filepath.Dir(Binary(t)), "jmaked")
}

// Env is one test's jmake installation: a state dir and a port offset.
type Env struct {
	T        testing.TB
	Bin      string // the jmake a user types (the small client)
	Full     string // jmaked, beside Bin: what runs the daemons
	StateDir string
	Offset   int
	extra    []string // environment variables every command gets, after the test's
}

// New makes an Env whose four ports are free, and stops every daemon it
// started when the test ends.
func New(t testing.TB) *Env {
	t.Helper()
	e := &Env{T: t, Bin: Binary(t), Full: FullBinary(t), StateDir: t.TempDir(), Offset: FreeOffset(t)}
	t.Cleanup(func() {
		if t.Failed() {
			e.logTails()
		}
		e.KillAll()
	})
	return e
}

// logTails prints the end of each log in the state dir, so that a test
// failing on CI says what the daemons and the supervisor saw.
func (e *Env) logTails() {
	paths, _ := filepath.Glob(filepath.Join(e.StateDir, "logs", "*.log"))
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil || len(b) == 0 {
			continue
		}
		lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
		e.T.Logf("%s (last %d lines):\n%s", p, min(len(lines), 30), strings.Join(lines[max(0, len(lines)-30):], "\n"))
	}
}

// FreeOffset finds a port offset whose four ports are free on 127.0.0.1.
// The ports are drawn below the kernel's ephemeral range: a port from that
// range (what listening on :0 gives) can be taken a moment later as the
// local port of any outgoing connection, such as another test's kept-alive
// client, and a daemon would then fail to bind it for as long as that
// connection lives (seen in CI: supervisord restarting a daemon for 30 s).
func FreeOffset(t testing.TB) int {
	t.Helper()
	low := ephemeralLow()
	for range 200 {
		base := 10000 + rand.IntN(low-10000-4)
		ok := true
		for p := base; p < base+4; p++ {
			l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
			if err != nil {
				ok = false
				break
			}
			l.Close()
		}
		if ok {
			return base - 3001
		}
	}
	t.Fatal("no four free ports in a row")
	return 0
}

// ephemeralLow is the first port of the kernel's ephemeral range (32768
// when it cannot be read).
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 32768
	}
	n, err := strconv.Atoi(f[0])
	if err != nil || n < 12000 {
		return 32768
	}
	return n
}

// Lifecycle is the lifecycle.Env of this test installation.
func (e *Env) Lifecycle() lifecycle.Env {
	s, err := settings.Load(e.StateDir)
	if err != nil {
		e.T.Fatal(err)
	}
	return lifecycle.Env{StateDir: e.StateDir, Offset: e.Offset, Settings: s, Exe: e.Full}
}

// ClientOnly is this installation as seen through a copy of the small
// client alone in a directory of its own, with no jmaked beside it or on
// PATH: a command it would hand to jmaked fails (exit 3, "cannot find
// jmaked"), so whatever succeeds went through the daemons' unix socket.
func (e *Env) ClientOnly() *Env {
	e.T.Helper()
	b, err := os.ReadFile(e.Bin)
	if err != nil {
		e.T.Fatal(err)
	}
	alone := filepath.Join(e.T.TempDir(), "jmake")
	if err := os.WriteFile(alone, b, 0o755); err != nil {
		e.T.Fatal(err)
	}
	var dirs []string
	for _, d := range filepath.SplitList(os.Getenv("PATH")) {
		if _, err := os.Stat(filepath.Join(d, "jmaked")); err != nil {
			dirs = append(dirs, d)
		}
	}
	c := *e
	c.Bin = alone
	c.extra = append(slices.Clip(e.extra), "PATH="+strings.Join(dirs, string(filepath.ListSeparator)))
	return &c
}

// Port is daemon name's port.
func (e *Env) Port(name string) int { return 3001 + e.Offset + indexOf(name) }

// HoldPort listens on daemon name's port, as a program that is not one of
// ours might, until the test ends or the caller closes the listener.
func (e *Env) HoldPort(name string) net.Listener {
	e.T.Helper()
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", e.Port(name)))
	if err != nil {
		e.T.Fatalf("holding %s's port %d: %v", name, e.Port(name), err)
	}
	e.T.Cleanup(func() { ln.Close() })
	return ln
}

func indexOf(name string) int {
	for i, n := range settings.Names() {
		if n == name {
			return i
		}
	}
	return 0
}

// Environ is the environment jmake runs with in this test.
func (e *Env) Environ() []string {
	return append(append(os.Environ(), "JMAKE_HOME="+e.StateDir, "PORT_OFFSET="+strconv.Itoa(e.Offset)), e.extra...)
}

// Result is a finished jmake command.
type Result struct {
	Stdout, Stderr string
	Code           int
}

// Run runs jmake with args (bounded by a minute) and returns its output and
// exit code.
func (e *Env) Run(args ...string) Result {
	return e.RunIn("", args...)
}

// RunIn runs jmake in dir.
func (e *Env) RunIn(dir string, args ...string) Result {
	e.T.Helper()
	return e.RunWith(dir, nil, args...)
}

// RunWith runs jmake in dir with extra environment variables, which win
// over the test's (PATH, CFLAGS, NO_COLOR).
func (e *Env) RunWith(dir string, extra []string, args ...string) Result {
	e.T.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, e.Bin, args...)
	cmd.Env = append(e.Environ(), extra...)
	cmd.Dir = dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		e.T.Fatalf("jmake %s: %v", strings.Join(args, " "), err)
	}
	return Result{out.String(), errb.String(), code}
}

// Background is a jmake command that Start left running.
type Background struct {
	cmd    *exec.Cmd
	stderr bytes.Buffer
}

// Start starts jmake with args in the background, its stderr kept; when
// the test ends the process is killed by its PID if it still runs.
func (e *Env) Start(tb testing.TB, args ...string) *Background {
	tb.Helper()
	b := &Background{cmd: exec.Command(e.Bin, args...)}
	b.cmd.Env = e.Environ()
	b.cmd.Stderr = &b.stderr
	if err := b.cmd.Start(); err != nil {
		tb.Fatalf("jmake %s: %v", strings.Join(args, " "), err)
	}
	tb.Cleanup(func() {
		b.cmd.Process.Kill()
		b.cmd.Wait() // reaps it; an error when Interrupt already did
	})
	return b
}

// Interrupt sends SIGINT, as Ctrl-C does, waits for the command to end and
// returns its exit code (-1 when a signal ended it) and its stderr.
func (b *Background) Interrupt() (int, string) {
	b.cmd.Process.Signal(syscall.SIGINT)
	b.cmd.Wait()
	return b.cmd.ProcessState.ExitCode(), b.stderr.String()
}

// MustRun runs jmake and fails the test unless it exits 0.
func (e *Env) MustRun(args ...string) Result {
	e.T.Helper()
	r := e.Run(args...)
	if r.Code != 0 {
		e.T.Fatalf("jmake %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.Code, r.Stdout, r.Stderr)
	}
	return r
}

// PID is the PID recorded for daemon name, or 0.
func (e *Env) PID(name string) int {
	info, err := pidfile.Read(pidfile.Path(e.StateDir, name))
	if err != nil {
		return 0
	}
	return info.PID
}

// Token is the daemons' bearer token.
func (e *Env) Token() string {
	tok, err := daemon.ReadToken(e.StateDir)
	if err != nil {
		e.T.Fatal(err)
	}
	return tok
}

// KillAll SIGKILLs the supervisor and every daemon whose PID file verifies
// as ours: the cleanup of a test that may have failed halfway.
func (e *Env) KillAll() {
	// The supervisor first, or it would restart the daemons killed below.
	if info, err := pidfile.Read(pidfile.Path(e.StateDir, lifecycle.SupervisorName)); err == nil && lifecycle.IsSupervisor(info) {
		syscall.Kill(info.PID, syscall.SIGKILL)
		for deadline := time.Now().Add(5 * time.Second); Alive(info.PID) && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
	}
	for _, n := range settings.Names() {
		info, err := pidfile.Read(pidfile.Path(e.StateDir, n))
		if err != nil {
			continue
		}
		if ok, _ := pidfile.Verify(info, n); ok {
			syscall.Kill(info.PID, syscall.SIGKILL)
		}
	}
	e.killStragglers()
}

// killStragglers SIGKILLs every other process started with this test's
// JMAKE_HOME and waits until each is gone. A daemon the supervisor was
// starting when the test failed has no PID file yet; left alone it
// outlived the test and kept writing to the state dir as it was removed.
func (e *Env) killStragglers() {
	mark := []byte("JMAKE_HOME=" + e.StateDir + "\x00")
	deadline := time.Now().Add(5 * time.Second)
	for {
		var left []int
		procs, _ := filepath.Glob("/proc/[0-9]*/environ")
		for _, p := range procs {
			pid, err := strconv.Atoi(filepath.Base(filepath.Dir(p)))
			if err != nil || pid == os.Getpid() {
				continue
			}
			env, err := os.ReadFile(p)
			if err != nil || !bytes.Contains(env, mark) || !Alive(pid) {
				continue
			}
			syscall.Kill(pid, syscall.SIGKILL)
			left = append(left, pid)
		}
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			e.T.Errorf("processes of %s still alive after SIGKILL: %v", e.StateDir, left)
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Alive reports whether pid names a live, non-zombie process.
func Alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i < 0 || i+2 >= len(b) || b[i+2] != 'Z'
}

// WaitFor polls cond every 5 ms until it holds or timeout passes.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// CacheEntries is the number of entries in all of daemon name's caches, as
// its /v1/stats reports them.
func (e *Env) CacheEntries(name string) int {
	e.T.Helper()
	st, err := e.Lifecycle().Client(name).Stats(context.Background())
	if err != nil {
		e.T.Fatal(err)
	}
	n := 0
	for _, c := range st.Caches {
		n += c.Entries
	}
	return n
}
