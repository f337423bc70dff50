package main

import (
	"os"
	"strconv"
	"strings"
)

// buildFlags is a `jmake build` command line this client runs itself.
type buildFlags struct {
	args                                         []string // [dir] [target...], split by buildapi.ProjectArgs
	clean, quick, asJSON, explain, strict, tests bool
	jobs                                         int
	profile                                      string
}

// parseBuild reads a `jmake build` command line as jmaked's flags would
// (the global --port-offset before or after the command). It says no to
// anything it does not run itself, so that jmaked runs it: another command,
// --watch, --no-daemon, --sanitize (a list with pflag's CSV rules), help,
// a malformed or unknown flag (jmaked then prints the usage error).
func parseBuild(args []string) (buildFlags, bool) {
	var f buildFlags
	if v := os.Getenv("PORT_OFFSET"); v != "" {
		// jmaked warns about a bad PORT_OFFSET.
		if _, err := strconv.Atoi(v); err != nil {
			return f, false
		}
	}
	command := false
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") || a == "-" {
			if !command && a != "build" {
				return f, false
			}
			if command {
				f.args = append(f.args, a)
			}
			command = true
			continue
		}
		name, value, hasValue := strings.Cut(a, "=")
		if !hasValue && (name == "--port-offset" || name == "--jobs" || name == "-j" || name == "--profile") {
			// The value is the next argument.
			if i+1 >= len(args) {
				return f, false
			}
			i++
			value = args[i]
		}
		if !command && name != "--port-offset" {
			return f, false
		}
		if strings.HasPrefix(a, "-j") && !strings.HasPrefix(a, "-j=") && a != "-j" {
			name, value = "-j", a[2:]
		}
		if !f.set(name, value, hasValue) {
			return f, false
		}
	}
	return f, command
}

// set applies flag name (with value, which for a bool flag counts only
// when hasValue); false for a flag the client leaves to jmaked.
func (f *buildFlags) set(name, value string, hasValue bool) bool {
	switch name {
	case "--port-offset", "--jobs", "-j":
		// The socket is found through the state dir, whatever the
		// ports; the offset only has to be a number.
		n, err := strconv.Atoi(value)
		if err != nil {
			return false
		}
		if name != "--port-offset" {
			f.jobs = n
		}
		return true
	case "--profile":
		f.profile = value
		return true
	}
	b := true
	if hasValue {
		var err error
		if b, err = strconv.ParseBool(value); err != nil {
			return false
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
	case "--tests":
		f.tests = b
	case "--watch", "--no-daemon":
		return !b
	default:
		return false
	}
	return true
}
