package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"

	"github.com/jmake/jmake/internal/buildapi"
	"github.com/jmake/jmake/internal/interrupt"
	"github.com/jmake/jmake/internal/render"
	"github.com/jmake/jmake/internal/statedir"
	"github.com/jmake/jmake/internal/toolenv"
)

// errDaemonDown is a reply saying that a daemon the orchestrator needs
// does not answer, or that the orchestrator is stopping and the call
// should be sent again (503): jmaked starts the daemons and builds again.
var errDaemonDown = errors.New("a daemon is down")

// errStreamCut is a reply stream that ended before its reply line: the
// orchestrator was killed or replaced during the build. jmaked sends the
// call again, waiting for the orchestrator to be back (see
// internal/client's resending); the units done are not built twice.
var errStreamCut = errors.New("the orchestrator ended the call without a reply")

// runBuild builds through the orchestrator's unix socket and returns the
// exit status. Whatever keeps it from getting a build's reply before any
// output (no token, no socket, no orchestrator behind it, a refused call)
// hands the command to jmaked, which reaches the daemons over TCP and
// starts them when none run; a build call may be repeated without harm.
func runBuild(f buildFlags) int {
	dir, targets, err := buildapi.ProjectArgs(f.args)
	if err != nil {
		execFull()
	}
	state, err := statedir.Dir()
	if err != nil {
		execFull()
	}
	token, err := readToken(statedir.TokenPath(state))
	if err != nil {
		execFull()
	}
	req := buildapi.BuildRequest{Path: dir, ForceCompile: f.clean, Quick: f.quick, Jobs: f.jobs, Explain: f.explain,
		Color: !f.asJSON && render.NewPalette(os.Stderr).On, Env: toolenv.FromOS(), Strict: f.strict,
		Select: buildapi.Select{Targets: targets, Tests: f.tests, Profile: f.profile}}
	msg := request(token, "build_project", encodeRequest(req), true)
	sock := statedir.SocketPath(state, "orchestrator")
	conn, err := dialUnix(sock)
	if err != nil {
		execFull()
	}

	// An interrupt hangs up, which ends the call (the orchestrator cancels
	// a build whose caller went away), as cancelling the request does in
	// jmaked. Catching signals costs a goroutine and a thread, a sixth of
	// a no-op build, so it starts only once the reply keeps the client
	// waiting (see unixConn.onWait): a build answered sooner has nothing
	// to stop, and a Ctrl-C before then ends the client as it would any
	// program, which hangs up all the same.
	var sigs *interrupt.Catcher
	conn.onWait(catchAfter, func() { sigs = interrupt.Catch(conn.Hangup) })
	c, err := post(conn, msg)
	if err == nil && c.status != 200 {
		err = fmt.Errorf("HTTP %d", c.status)
	}
	if err != nil {
		conn.Close()
		sigs.Stop()
		if sigs.Interrupted() {
			render.FinalError(os.Stderr, nil, render.ExitInterrupted, false)
			return render.ExitInterrupted
		}
		execFull()
	}
	status := render.NewStatusLine(os.Stderr, f.asJSON)
	res, raw, err := readStream(c, status)
	conn.Close()
	sigs.Stop()
	status.Finish()
	if (errors.Is(err, errDaemonDown) || errors.Is(err, errStreamCut)) && !sigs.Interrupted() {
		execFull()
	}
	if err != nil && res == nil {
		err = fmt.Errorf("orchestrator at %s: build_project: %w", sock, err)
	}
	if res != nil {
		err = render.Report(res, raw, err, f.asJSON, status, os.Stdout, os.Stderr)
	}
	code := render.ExitOK
	var bf *render.BuildFailed
	switch {
	case sigs.Interrupted():
		code = render.ExitInterrupted
	case errors.As(err, &bf):
		code = bf.ExitCode()
	case err != nil:
		code = render.ExitFailed
	}
	render.FinalError(os.Stderr, err, code, false)
	return code
}

// readStream passes each progress event of the reply to status and
// returns the final reply, decoded and raw, with its error: a reply with
// "success": false is an error carrying its message.
func readStream(c *call, status *render.StatusLine) (*buildapi.BuildResult, []byte, error) {
	for {
		line, err := c.body.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 {
			r, derr := decodeReply(line)
			if derr != nil {
				derr = json.Unmarshal(line, &r)
			}
			if derr == nil && r.Success != nil {
				if r.Code == 503 {
					return nil, nil, errDaemonDown
				}
				res := &r.BuildResult
				if !*r.Success || (r.Code != 0 && r.Code != 200) {
					return res, line, errors.New(r.Error)
				}
				return res, line, nil
			}
			var ev buildapi.Event
			if json.Unmarshal(line, &ev) == nil {
				status.Event(ev)
			}
		}
		if err != nil {
			return nil, nil, fmt.Errorf("%w (%v)", errStreamCut, err)
		}
	}
}

// readToken reads the daemons' token (64 hex digits and a newline) with
// plain system calls: os.ReadFile would first set up the runtime's network
// poller (an epoll instance, an eventfd, a thread woken to poll them) for
// a file it cannot poll, which costs a no-op build about 0.1 ms here. A
// file too long to be a token is an error, as a missing one is: jmaked,
// which the caller hands the command to, then says what is wrong.
func readToken(path string) (string, error) {
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return "", err
	}
	defer syscall.Close(fd)
	var buf [256]byte
	n := 0
	for {
		m, err := syscall.Read(fd, buf[n:])
		switch {
		case err == syscall.EINTR:
			continue
		case err != nil:
			return "", err
		case m == 0:
			return strings.TrimSpace(string(buf[:n])), nil
		}
		if n += m; n == len(buf) {
			return "", fmt.Errorf("%s: longer than a token", path)
		}
	}
}
