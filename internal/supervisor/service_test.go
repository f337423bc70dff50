package supervisor_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jmake/jmake/internal/settings"
	"github.com/jmake/jmake/internal/supervisor"
	"github.com/jmake/jmake/internal/testenv"
)

func TestSystemdUnitVerifies(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed: cannot verify the unit")
	}
	e := testenv.New(t)
	// jmake hands `service` to jmaked, which names itself: the unit runs jmaked.
	r := e.MustRun("service", "systemd")
	for _, want := range []string{"Type=notify", "ExecStart=" + e.Full + " supervise", "ExecReload=/bin/kill -HUP $MAINPID",
		"Restart=on-failure", "RestartSec=", "WatchdogSec=", "Environment=JMAKE_HOME=" + e.StateDir} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("unit lacks %q:\n%s", want, r.Stdout)
		}
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "jmake.service")
	if err := os.WriteFile(path, []byte(r.Stdout), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", path).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s\n%s", err, out, r.Stdout)
	}
	// Paths with spaces are quoted.
	unit := supervisor.SystemdUnit(supervisor.ServiceOptions{Exe: e.Bin, StateDir: filepath.Join(dir, "state dir")})
	os.WriteFile(path, []byte(unit), 0o644)
	if out, err := exec.Command(analyze, "verify", path).CombinedOutput(); err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Fatalf("systemd-analyze verify (state dir with a space): %v\n%s\n%s", err, out, unit)
	}
}

// The supervisord config, run by the real supervisord: four RUNNING, and a
// daemon killed with -9 comes back; `jmake status` agrees.
func TestSupervisordConfig(t *testing.T) {
	bin, err := exec.LookPath("supervisord")
	if err != nil {
		t.Skip("supervisord is not installed (Debian package supervisor)")
	}
	e := testenv.New(t)
	dir := t.TempDir()
	progs := e.MustRun("service", "supervisor").Stdout
	os.WriteFile(filepath.Join(dir, "jmake.conf"), []byte(progs), 0o644)
	conf := fmt.Sprintf(`[unix_http_server]
file=%[1]s/supervisor.sock

[supervisord]
nodaemon=true
user=root
logfile=%[1]s/supervisord.log
pidfile=%[1]s/supervisord.pid
childlogdir=%[1]s

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://%[1]s/supervisor.sock

[include]
files = %[1]s/jmake.conf
`, dir)
	if os.Getuid() != 0 {
		conf = strings.Replace(conf, "user=root\n", "", 1)
	}
	confPath := filepath.Join(dir, "supervisord.conf")
	os.WriteFile(confPath, []byte(conf), 0o644)
	cmd := exec.Command(bin, "-c", confPath)
	cmd.Env = e.Environ()
	out := &syncBuf{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(dir, "supervisord.log"))
			t.Logf("supervisord output:\n%s\n%s", out.String(), log)
		}
	})
	type st struct {
		Daemons []struct {
			Name, State string
			PID         int
		}
	}
	status := func() map[string]int {
		r := e.Run("status", "--json")
		var s st
		json.Unmarshal([]byte(r.Stdout), &s)
		m := map[string]int{}
		for _, d := range s.Daemons {
			if d.State == "running" && healthyPID(e, d.Name) == d.PID {
				m[d.Name] = d.PID
			}
		}
		return m
	}
	// supervisord says RUNNING after startsecs (1 s) up.
	ctlRunning := func() bool {
		out, _ := exec.Command("supervisorctl", "-c", confPath, "status").CombinedOutput()
		return strings.Count(string(out), "RUNNING") == 4
	}
	var pids map[string]int
	testenv.WaitFor(t, 30*time.Second, "four RUNNING under supervisord", func() bool {
		pids = status()
		return len(pids) == 4 && ctlRunning()
	})
	old := pids["compilation"]
	syscall.Kill(old, syscall.SIGKILL)
	testenv.WaitFor(t, 15*time.Second, "supervisord to restart compilation", func() bool {
		pids = status()
		return len(pids) == 4 && pids["compilation"] != old && ctlRunning()
	})
	for _, n := range settings.Names() {
		if r := e.Run("health", n); r.Code != 0 {
			t.Errorf("health %s: %s", n, r.Stdout)
		}
	}
}
