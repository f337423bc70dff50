package project

import (
	"strconv"
	"strings"
)

// checkTargets reports what is wrong with a file's targets: a name
// declared twice, two targets writing one file, an unknown or cyclic
// link, a program without sources, a sources glob that matches nothing,
// a target left with no sources.
func (v *validator) checkTargets(c *Config, root string, files []string) {
	ts, err := c.Targets(v.dir, Profile{})
	if err != nil {
		line, msg := splitLine(v.file, err)
		v.add(SeverityError, line, min(line, 1), "%s", msg)
		return
	}
	var units []string
	for _, f := range files {
		if IsSource(f) {
			units = append(units, f)
		}
	}
	for _, t := range ts {
		bad := false
		for _, g := range t.Config.Compile.Sources {
			if msg := globProblem(root, g, units); msg != "" {
				v.add(SeverityError, t.Line, min(t.Line, 1), "target %q: sources glob %q %s", t.Name, g, msg)
				bad = true
			}
		}
		if !bad && len(t.Config.SelectSources(root, files)) == 0 {
			v.add(SeverityError, t.Line, min(t.Line, 1), "target %q has no C or C++ sources to build", t.Name)
		}
	}
}

// splitLine takes "file:line: " off an error of Targets.
func splitLine(file string, err error) (int, string) {
	msg := err.Error()
	rest, ok := strings.CutPrefix(msg, file+":")
	if !ok {
		return 0, strings.TrimPrefix(msg, file+": ")
	}
	num, tail, ok := strings.Cut(rest, ": ")
	if n, perr := strconv.Atoi(num); ok && perr == nil {
		return n, tail
	}
	return 0, msg
}
