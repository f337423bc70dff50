package pidfile

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/jmake/jmake/internal/proc"
)

func TestWriteReadVerify(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".daemon_pids.setup")
	if err := Write(path, "setup", 3002); err != nil {
		t.Fatal(err)
	}
	info, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.PID != os.Getpid() || info.Name != "setup" || info.Port != 3002 || info.Start == 0 {
		t.Fatalf("read back %+v", info)
	}
	// The test binary is not `jmake daemon setup`.
	if ok, reason := Verify(info, "setup"); ok || reason == "" {
		t.Fatalf("Verify of the test process = %v %q, want not ours", ok, reason)
	}
	if err := RemoveIfOurs(path); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatal("RemoveIfOurs left our own PID file")
	}
}

func TestVerifyRejectsReusedAndForeign(t *testing.T) {
	sleep := exec.Command("sleep", "60")
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sleep.Process.Kill(); sleep.Wait() })
	pid := sleep.Process.Pid
	start, err := proc.StartTicks(pid)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		info Info
	}{
		{"foreign process, bare PID", Info{PID: pid}},
		{"foreign process, right start", Info{PID: pid, Start: start}},
		{"reused PID", Info{PID: pid, Start: start + 1}},
		{"dead PID", Info{PID: 1 << 30}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if ok, reason := Verify(tc.info, "discovery"); ok || reason == "" {
				t.Fatalf("Verify = %v %q, want rejected with a reason", ok, reason)
			}
		})
	}
}

func TestRemoveIfOursKeepsOthers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pid")
	os.WriteFile(path, []byte(strconv.Itoa(os.Getpid()+1)+"\n"), 0o600)
	if err := RemoveIfOurs(path); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatal("removed a PID file naming another process")
	}
}

func TestIsDaemonCmdline(t *testing.T) {
	for _, tc := range []struct {
		cmd  string
		want bool
	}{
		{"/usr/bin/jmake\x00daemon\x00setup\x00", true},
		{"/usr/bin/jmake\x00daemon\x00setup\x00--port-offset\x0010\x00", true},
		{"/usr/bin/jmake\x00daemon\x00discovery\x00", false},
		{"sleep\x00daemon\x00", false},
		{"setup\x00", false},
	} {
		if got := IsDaemonCmdline([]byte(tc.cmd), "setup"); got != tc.want {
			t.Errorf("IsDaemonCmdline(%q) = %v", tc.cmd, got)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("123\nname=setup\nport=3002\nstart=99\n"))
	f.Add([]byte("42"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, data []byte) {
		info, err := Parse(data)
		if err == nil && info.PID <= 0 {
			t.Fatalf("accepted PID %d", info.PID)
		}
	})
}
