package proc

import (
	"os/exec"
	"testing"
	"time"
)

// Wait returns for children that exit before it looks (true) and after
// (sleep), with their exit status, and never hangs on one that is gone.
func TestWait(t *testing.T) {
	done := make(chan error, 1)
	go func() {
		for range 100 {
			cmd := exec.Command("true")
			if err := cmd.Start(); err != nil {
				done <- err
				return
			}
			time.Sleep(time.Millisecond) // exited and a zombie before Wait
			if err := Wait(cmd); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Wait did not return for a child that had exited")
	}

	start := time.Now()
	if err := Run(exec.Command("sleep", "0.2")); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Fatalf("Run returned after %v, before sleep 0.2 ended", d)
	}
	err := Run(exec.Command("sh", "-c", "exit 3"))
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 {
		t.Fatalf("exit 3: %v", err)
	}
}
