package supervisor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/jmake/jmake/internal/lifecycle"
	"github.com/jmake/jmake/internal/settings"
	"github.com/jmake/jmake/internal/wire"
)

// The control channel is HTTP on the unix socket $JMAKE_HOME/supervisor.sock
// (mode 0600 in a 0700 directory: only the owner reaches it, the same
// protection as the token file, and no port to collide with):
//
//	GET  /v1/status                 supervisor.json's content
//	POST /v1/{action}/{name}        action: start, stop, reset, restart, rolling, reload;
//	                                stop takes ?timeout=15s (then SIGKILL of the group)
//	POST /v1/reload                 reload every running daemon (as SIGHUP)
//
// Replies are {"success":true} or {"success":false,"error":"..."}.
var actions = map[string]cmdKind{"start": cmdStart, "stop": cmdStop, "reset": cmdReset,
	"restart": cmdRestart, "rolling": cmdRolling, "reload": cmdReload}

func (s *Supervisor) serveControl(ln net.Listener) *http.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) {
		wire.WriteJSON(w, http.StatusOK, s.snapshot())
	})
	mux.HandleFunc("POST /v1/reload", func(w http.ResponseWriter, r *http.Request) {
		replyErr(w, s.ReloadAll(r.Context()))
	})
	mux.HandleFunc("POST /v1/{action}/{name}", func(w http.ResponseWriter, r *http.Request) {
		kind, ok := actions[r.PathValue("action")]
		name := r.PathValue("name")
		if !ok || !settings.IsDaemon(name) {
			wire.WriteError(w, http.StatusNotFound, fmt.Sprintf("no action %s of daemon %q", r.PathValue("action"), name))
			return
		}
		timeout, _ := time.ParseDuration(r.URL.Query().Get("timeout"))
		replyErr(w, s.keepers[name].doTimeout(r.Context(), kind, timeout))
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return srv
}

func replyErr(w http.ResponseWriter, err error) {
	if err != nil {
		wire.WriteError(w, http.StatusInternalServerError, err.Error())
		return
	}
	wire.WriteJSON(w, http.StatusOK, map[string]any{"success": true})
}

// Control is a client of a running supervisor's control socket.
type Control struct {
	http *http.Client
}

// Dial returns a client of the supervisor of env, or nil when none runs.
func Dial(env lifecycle.Env) *Control {
	if env.InspectSupervisor().PID == 0 {
		return nil
	}
	return DialSocket(env.SupervisorSocket())
}

// DialSocket returns a client of the control socket at path.
func DialSocket(sock string) *Control {
	return &Control{http: &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		},
	}}}
}

// Do asks the supervisor to start, stop, reset, restart, roll or reload
// daemon name ("" with reload: all of them).
func (c *Control) Do(ctx context.Context, action, name string) error {
	return c.DoTimeout(ctx, action, name, 0)
}

// DoTimeout is Do with a stop timeout.
func (c *Control) DoTimeout(ctx context.Context, action, name string, timeout time.Duration) error {
	path := "/v1/" + action
	if name != "" {
		path += "/" + name
	}
	if timeout > 0 {
		path += "?timeout=" + timeout.String()
	}
	req, _ := http.NewRequestWithContext(ctx, "POST", "http://supervisor"+path, nil)
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("supervisor: %s %s: %w", action, name, err)
	}
	defer resp.Body.Close()
	var r struct {
		Success bool   `json:"success"`
		Error   string `json:"error"`
	}
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &r); err != nil {
		return fmt.Errorf("supervisor: %s %s: bad reply %q", action, name, strings.TrimSpace(string(b)))
	}
	if !r.Success {
		return errors.New(r.Error)
	}
	return nil
}

// Status returns the supervisor's view of the daemons.
func (c *Control) Status(ctx context.Context) (lifecycle.SupervisorState, error) {
	var st lifecycle.SupervisorState
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://supervisor/v1/status", nil)
	resp, err := c.http.Do(req)
	if err != nil {
		return st, fmt.Errorf("supervisor: status: %w", err)
	}
	defer resp.Body.Close()
	err = json.NewDecoder(resp.Body).Decode(&st)
	return st, err
}

// WaitSettled polls the supervisor until each of names is running (nil),
// FATAL, or failed its latest start (an error with the reason), or timeout
// passes.
func (c *Control) WaitSettled(ctx context.Context, names []string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		st, err := c.Status(ctx)
		if err != nil {
			return err
		}
		var errs []error
		pending := false
		for _, d := range st.Daemons {
			if !contains(names, d.Name) {
				continue
			}
			switch d.State {
			case "running":
			case "fatal":
				errs = append(errs, fmt.Errorf("%s: %s", d.Name, d.Reason))
			case "backoff":
				errs = append(errs, fmt.Errorf("%s: %s (the supervisor keeps retrying)", d.Name, d.Reason))
			default:
				pending = true
			}
		}
		if !pending {
			return errors.Join(errs...)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("daemons not up after %s: %+v", timeout, st.Daemons)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}
