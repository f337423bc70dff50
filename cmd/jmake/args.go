package main

import (
	"os"
	"strconv"
	"strings"
)

// buildFlags is a `jmake build` command line this client runs itself.
type buildFlags struct {
	dir                                   string
	clean, quick, asJSON, explain, strict bool
	jobs                                  int
}

// parseBuild reads a `jmake build` command line as jmaked's flags would
// (the global --port-offset before or after the command). It says no to
// anything it does not run itself, so that jmaked runs it: another command,
// --watch, --no-daemon, help, a malformed or unknown flag (jmaked then
// prints the usage error), more than one directory.
func parseBuild(args []string) (buildFlags, bool) {
	f := buildFlags{dir: "."}
	if v := os.Getenv("PORT_OFFSET"); v != "" {
		// jmaked warns about a bad PORT_OFFSET.
		if _, err := strconv.Atoi(v); err != nil {
			return f, false
		}
	}
	command, dirs := false, 0
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") || a == "-" {
			if !command {
				if a != "build" {
					return f, false
				}
				command = true
				continue
			}
			if dirs++; dirs > 1 {
				return f, false
			}
			f.dir = a
			continue
		}
		name, value, hasValue := strings.Cut(a, "=")
		switch name {
		case "--port-offset", "--jobs", "-j":
			// The socket is found through the state dir, whatever the
			// ports; the offset only has to be a number.
			if !hasValue {
				if i+1 >= len(args) {
					return f, false
				}
				i++
				value = args[i]
			}
			n, err := strconv.Atoi(value)
			if err != nil || (name != "--port-offset" && !command) {
				return f, false
			}
			if name != "--port-offset" {
				f.jobs = n
			}
			continue
		}
		if !command {
			return f, false
		}
		if strings.HasPrefix(a, "-j") && !strings.HasPrefix(a, "-j=") {
			n, err := strconv.Atoi(a[2:])
			if err != nil {
				return f, false
			}
			f.jobs = n
			continue
		}
		b := true
		if hasValue {
			var err error
			if b, err = strconv.ParseBool(value); err != nil {
				return f, false
			}
		}
		switch name {
		case "--clean":
			f.clean = b
		case "--quick":
			f.quick = b
		case "--json":
			f.asJSON = b
		case "--explain":
			f.explain = b
		case "--strict":
			f.strict = b
		case "--watch", "--no-daemon":
			if b {
				return f, false
			}
		default:
			return f, false
		}
	}
	return f, command
}
