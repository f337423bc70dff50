//go:build !linux

package proc

import "os/exec"

// Wait waits for cmd, started, to exit, and reaps it (exec.Cmd.Wait).
func Wait(cmd *exec.Cmd) error { return cmd.Wait() }
