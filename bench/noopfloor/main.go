// Command noopfloor measures what the orchestrator adds to a no-op build
// beyond the least a second process can: it times `jmake build DIR`
// against the running daemons, and against stand-ins for the orchestrator
// that answer the same call on a unix socket with the reply the real one
// gave, each doing a little more of the real one's work:
//
//   - bare: read the request, write the reply, close;
//   - json: also check and decode the request and encode the reply with
//     encoding/json, as the daemons do;
//   - http: bare, served by net/http;
//   - http+json: both.
//
// ninja's no-op of the same project runs in the same rounds. The commands
// run in turn, n rounds, each after a pause of gap: a machine that idled
// wakes a process more slowly than one kept busy, and a build follows an
// idle spell more often than another build.
//
//	go run ./bench/noopfloor -dir DIR -ninja NDIR [-n 100] [-gap 40ms]
//
// DIR was built through the daemons of $JMAKE_HOME (PORT_OFFSET), and NDIR
// (a copy with build.ninja) by ninja, so that both builds are no-ops. The
// client is ./jmake, or -jmake.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/jmake/jmake/internal/buildapi"
	"github.com/jmake/jmake/internal/statedir"
)

// The stand-ins, in the order they run.
var modes = []string{"bare", "json", "http", "http+json"}

func main() {
	serve := flag.String("serve", "", "internal: serve the stand-in of this mode")
	sock := flag.String("sock", "", "internal: the stand-in's socket")
	reply := flag.String("reply", "", "internal: the file holding the reply line")
	dir := flag.String("dir", "", "a project built through the daemons")
	ninjaDir := flag.String("ninja", "", "the same project, built by ninja")
	client := flag.String("jmake", "./jmake", "the jmake client")
	n := flag.Int("n", 100, "rounds")
	gap := flag.Duration("gap", 40*time.Millisecond, "pause before each run")
	flag.Parse()
	var err error
	if *serve != "" {
		err = standIn(*serve, *sock, *reply)
	} else {
		err = run(*client, *dir, *ninjaDir, *n, *gap)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "noopfloor:", err)
		os.Exit(1)
	}
}

// run starts the stand-ins, times the rounds and prints the medians.
func run(client, dir, ninjaDir string, n int, gap time.Duration) error {
	if dir == "" || ninjaDir == "" {
		return errors.New("-dir and -ninja are required")
	}
	client, err := filepath.Abs(client)
	if err != nil {
		return err
	}
	// The real orchestrator's reply for dir, as the stand-ins' answer.
	out, err := exec.Command(client, "build", "--json", dir).Output()
	if err != nil {
		return fmt.Errorf("%s build --json %s: %w (build it through the daemons first)", client, dir, err)
	}
	line := lastLine(out)
	var res buildapi.BuildResult
	if err := json.Unmarshal(line, &res); err != nil || res.Compiled+res.Cached != 0 {
		return fmt.Errorf("%s: not a no-op reply: %s", dir, line)
	}
	work, err := os.MkdirTemp("", "noopfloor-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	replyFile := filepath.Join(work, "reply")
	if err := os.WriteFile(replyFile, line, 0o600); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	type command struct {
		name string
		cmd  []string
		env  []string
	}
	cmds := []command{{name: "jmake (daemons)", cmd: []string{client, "build", dir}}}
	for _, mode := range modes {
		home := filepath.Join(work, mode)
		if err := os.Mkdir(home, 0o700); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(home, "token"), []byte("noopfloor\n"), 0o600); err != nil {
			return err
		}
		sock := statedir.SocketPath(home, "orchestrator")
		srv := exec.Command(self, "-serve", mode, "-sock", sock, "-reply", replyFile)
		srv.Stderr = os.Stderr
		if err := srv.Start(); err != nil {
			return err
		}
		defer func() { srv.Process.Kill(); srv.Wait() }()
		if err := waitFor(sock); err != nil {
			return fmt.Errorf("stand-in %s: %w", mode, err)
		}
		cmds = append(cmds, command{name: "jmake (stand-in: " + mode + ")", cmd: []string{client, "build", dir},
			env: []string{"JMAKE_HOME=" + home}})
	}
	cmds = append(cmds, command{name: "ninja", cmd: []string{"ninja", "-C", ninjaDir}})

	times := make([][]float64, len(cmds))
	for range n {
		for i, c := range cmds {
			time.Sleep(gap)
			cmd := exec.Command(c.cmd[0], c.cmd[1:]...)
			cmd.Env = append(os.Environ(), c.env...)
			start := time.Now()
			if out, err := cmd.CombinedOutput(); err != nil {
				return fmt.Errorf("%s: %w: %s", c.name, err, out)
			}
			times[i] = append(times[i], float64(time.Since(start).Microseconds())/1000)
		}
	}
	ninja := median(times[len(times)-1])
	fmt.Printf("%d rounds, %v before each run; medians\n\n| command | ms | /ninja |\n|---|---:|---:|\n", n, gap)
	for i, c := range cmds {
		m := median(times[i])
		fmt.Printf("| %s | %.2f | %.2fx |\n", c.name, m, m/ninja)
	}
	return nil
}

// standIn answers every call on sock with the reply in replyFile, doing
// what mode says of the real orchestrator's work.
func standIn(mode, sock, replyFile string) error {
	line, err := os.ReadFile(replyFile)
	if err != nil {
		return err
	}
	l, err := net.Listen("unix", sock)
	if err != nil {
		return err
	}
	withJSON := mode == "json" || mode == "http+json"
	var res buildapi.BuildResult
	if err := json.Unmarshal(line, &res); err != nil {
		return err
	}
	// What the daemons do with JSON for a call: check the body, decode
	// the request, encode the reply.
	answer := func(req []byte) []byte {
		if !withJSON {
			return line
		}
		var br buildapi.BuildRequest
		if json.Valid(req) {
			json.Unmarshal(req, &br)
		}
		out, _ := json.Marshal(struct {
			Success bool `json:"success"`
			*buildapi.BuildResult
		}{true, &res})
		return append(out, '\n')
	}
	if mode == "http" || mode == "http+json" {
		return http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			out := answer(body)
			w.Header().Set("Content-Type", "application/x-ndjson")
			w.Header().Set("Content-Length", strconv.Itoa(len(out)))
			w.Write(out)
		}))
	}
	for {
		c, err := l.Accept()
		if err != nil {
			return err
		}
		go func() {
			defer c.Close()
			buf := make([]byte, 64<<10)
			n, _ := c.Read(buf) // the client sends its request in one write
			_, body, _ := bytes.Cut(buf[:n], []byte("\r\n\r\n"))
			out := answer(body)
			c.Write(append([]byte("HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\nContent-Length: "+
				strconv.Itoa(len(out))+"\r\nConnection: close\r\n\r\n"), out...))
		}()
	}
}

func waitFor(sock string) error {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(5 * time.Millisecond)
	}
	return fmt.Errorf("%s: not listening after 10 s", sock)
}

func lastLine(b []byte) []byte {
	lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
	return append(lines[len(lines)-1], '\n')
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}
