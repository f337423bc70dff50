// Command jmake is the small client a user types: it runs `jmake build`
// through the orchestrator's unix socket and prints it as the full program
// does, and hands every other command, and a build it cannot run (the
// daemons are down, --watch, --no-daemon, a flag it does not know), to
// jmaked by exec, with the same arguments, so that behaviour and exit
// statuses are jmaked's. It links neither net/http nor the daemons, so it
// starts about as fast as a static hello-world.
package main

import (
	"fmt"
	"os"

	"github.com/jmake/jmake/internal/render"
	"github.com/jmake/jmake/internal/version"
)

func main() {
	args := os.Args[1:]
	if len(args) == 1 && (args[0] == "--version" || args[0] == "-v") {
		// As cobra prints it in jmaked.
		fmt.Printf("jmake version %s\n", version.Version)
		return
	}
	if f, ok := parseBuild(args); ok {
		os.Exit(runBuild(f))
	}
	execFull()
}

// execFull replaces this process with jmaked, given the same arguments and
// environment; it returns only to exit when jmaked cannot be run.
func execFull() {
	path, err := findFull()
	if err == nil {
		err = execve(path, os.Args, os.Environ())
		err = fmt.Errorf("run %s: %w", path, err)
	}
	render.FinalError(os.Stderr, err, render.ExitDaemons, false)
	os.Exit(render.ExitDaemons)
}
