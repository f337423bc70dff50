package proc

import (
	"context"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// startSleep starts `sleep 60` in its own process group, killed by PID
// when the test ends.
func startSleep(t *testing.T) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("sleep", "60")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd
}

// TestIdentity: an ID names its process while it runs, not a process with
// another start time, and not a zombie; KillGroup ends the group it leads.
func TestIdentity(t *testing.T) {
	cmd := startSleep(t)
	id, err := Of(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	if !Exists(id.PID) || !Alive(id) || !Alive(ID{PID: id.PID}) {
		t.Fatalf("running sleep %+v: Exists=%v Alive=%v", id, Exists(id.PID), Alive(id))
	}
	reused := ID{PID: id.PID, Start: id.Start + 1}
	if Alive(reused) {
		t.Error("an ID with another start time counts as alive")
	}
	KillGroup(reused)
	if !Alive(id) {
		t.Fatal("KillGroup of a reused PID signalled the process")
	}
	KillGroup(id)
	// Not reaped yet: a zombie, which is gone for Alive.
	if !WaitGone(context.Background(), id, 10*time.Second) {
		t.Fatalf("pid %d alive 10s after KillGroup", id.PID)
	}
	if !Exists(id.PID) {
		t.Error("the unreaped zombie should still exist in /proc")
	}
	cmd.Wait()
	if Exists(id.PID) {
		t.Errorf("pid %d exists after it was reaped", id.PID)
	}
}

// TestDying: a running process is not dying; one that was killed is, as a
// zombie (it has exited) and once reaped (it is gone).
func TestDying(t *testing.T) {
	cmd := startSleep(t)
	id, err := Of(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	if Dying(id) {
		t.Fatal("a running sleep counts as dying")
	}
	KillGroup(id)
	if !WaitGone(context.Background(), id, 10*time.Second) {
		t.Fatalf("pid %d alive 10s after KillGroup", id.PID)
	}
	if !Dying(id) {
		t.Error("a killed, unreaped process does not count as dying")
	}
	cmd.Wait()
	if !Dying(id) {
		t.Error("a reaped process does not count as dying")
	}
}
