package testenv

import (
	"os/exec"
	"testing"
)

// KillAll also ends processes that carry the test's JMAKE_HOME but have no
// PID file, such as a daemon the supervisor was still starting when the
// test failed.
func TestKillAllKillsStragglers(t *testing.T) {
	e := New(t)
	cmd := exec.Command("sleep", "60")
	cmd.Env = e.Environ()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	e.KillAll()
	if Alive(cmd.Process.Pid) {
		cmd.Process.Kill()
		t.Fatalf("pid %d (JMAKE_HOME=%s, no PID file) alive after KillAll", cmd.Process.Pid, e.StateDir)
	}
	if err := <-exited; err == nil {
		t.Fatal("sleep exited 0: it was not killed")
	}
}
