package supervisor

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jmake/jmake/internal/settings"
)

// minServiceStop is the least stop timeout a generated service file gets,
// even when asked for less: below it a daemon cannot flush its caches
// before the service manager SIGKILLs it, and the next start reloads less.
const minServiceStop = 5 * time.Second

// ServiceOptions are the real paths a service file names: no hard-coded
// home, the binary and state directory of the installation that wrote it.
type ServiceOptions struct {
	Exe         string // absolute path of jmake
	StateDir    string // $JMAKE_HOME
	Offset      int    // port offset
	User        bool   // a systemd user unit
	StopTimeout time.Duration
}

// SystemdUnit is a unit running `jmake supervise` with Type=notify: the
// supervisor sends READY=1 once all four daemons answer, WATCHDOG=1 every
// half WatchdogSec, RELOADING=1 on SIGHUP (ExecReload), STOPPING=1 on stop.
// KillMode=mixed lets the supervisor stop its daemons gracefully on SIGTERM
// while systemd still SIGKILLs the whole cgroup after TimeoutStopSec.
func SystemdUnit(o ServiceOptions) string {
	wanted := "multi-user.target"
	if o.User {
		wanted = "default.target"
	}
	stop := max(o.StopTimeout, minServiceStop)
	var b strings.Builder
	fmt.Fprintf(&b, `[Unit]
Description=jmake build daemons (discovery, setup, compilation, orchestrator)
Documentation=https://github.com/jmake/jmake/blob/main/docs/operations.md
After=network.target

[Service]
Type=notify
NotifyAccess=main
ExecStart=%s supervise --port-offset %d
ExecReload=/bin/kill -HUP $MAINPID
Environment=%s
Restart=on-failure
# A supervisor that crashed is back after 2 s; its daemons kept serving
# meanwhile (they are in their own sessions) and it adopts them.
RestartSec=2s
# The supervisor pings every 15 s; a supervisor stuck for 30 s is restarted.
WatchdogSec=30s
TimeoutStartSec=60s
# Every daemon drains its calls within drain_timeout; then SIGKILL.
TimeoutStopSec=%d
KillMode=mixed

[Install]
WantedBy=%s
`, systemdQuote(o.Exe), o.Offset, systemdQuote("JMAKE_HOME="+o.StateDir), int(stop.Seconds())+5, wanted)
	return b.String()
}

// systemdQuote quotes a word for a unit file when it needs it.
func systemdQuote(s string) string {
	if !strings.ContainsAny(s, " \t\"'\\$%;") {
		return s
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, `$`, `$$`, `%`, `%%`)
	return `"` + r.Replace(s) + `"`
}

// UnitPath is where --install writes the unit.
func UnitPath(user bool) (string, error) {
	if !user {
		return "/etc/systemd/system/jmake.service", nil
	}
	dir := os.Getenv("XDG_CONFIG_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", err
		}
		dir = filepath.Join(home, ".config")
	}
	return filepath.Join(dir, "systemd", "user", "jmake.service"), nil
}

// SupervisordConfig is one [program:jmake-<name>] per daemon, each running
// `jmake daemon <name>` in the foreground: supervisord is then the
// supervisor (do not also run `jmake supervise`).
func SupervisordConfig(o ServiceOptions) string {
	esc := func(s string) string { return strings.ReplaceAll(s, "%", "%%") }
	stop := max(o.StopTimeout, minServiceStop)
	var b strings.Builder
	fmt.Fprintf(&b, "; jmake daemons under supervisord: include this file from supervisord.conf.\n")
	fmt.Fprintf(&b, "; State dir %s, port offset %d.\n", esc(o.StateDir), o.Offset)
	for i, n := range settings.Names() {
		fmt.Fprintf(&b, `
[program:jmake-%s]
command=%s daemon %s --port-offset %d
environment=JMAKE_HOME="%s",PORT_OFFSET="%d"
priority=%d
autostart=true
autorestart=true
; RUNNING once up for a second; five failed starts in a row: FATAL.
startsecs=1
startretries=5
stopsignal=TERM
stopwaitsecs=%d
stopasgroup=true
killasgroup=true
redirect_stderr=true
stdout_logfile=%s
stdout_logfile_maxbytes=10MB
stdout_logfile_backups=1
`, n, supervisordWord(o.Exe), n, o.Offset, esc(o.StateDir), o.Offset, 100+i, int(stop.Seconds()),
			esc(filepath.Join(o.StateDir, "logs", n+".log")))
	}
	return b.String()
}

// supervisordWord quotes a command word for supervisord (shlex rules).
func supervisordWord(s string) string {
	s = strings.ReplaceAll(s, "%", "%%")
	if strings.ContainsAny(s, " \t\"'") {
		return strconv.Quote(s)
	}
	return s
}
