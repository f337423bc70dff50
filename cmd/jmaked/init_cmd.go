package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/jmake/jmake/internal/server"
)

func initCmd(g *globals) *cobra.Command {
	var typ, lang string
	cmd := &cobra.Command{
		Use:   "init [dir]",
		Short: "Make dir a project: a new one (src/, include/, hello sources, jmake.toml), or jmake.toml alone where sources exist",
		Long: `Make dir (default .) a jmake project.

In a directory without C or C++ sources, init lays out a new project:
src/, include/<name>/, a small library, jmake.toml and .gitignore; with
--type binary, a program (src/main.c, or src/main.cpp with --lang cpp).

In a directory that already has sources, init writes jmake.toml only and
never a template source: a library of the sources that do not define
main(), a program for each one that does (a test under tests/), else a
shared library; the include directories the #includes need. --type makes
it one output of every source instead.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := "."
			if len(args) == 1 {
				dir = args[0]
			}
			kind, err := initType(typ, lang)
			if err != nil {
				return err
			}
			done, err := server.InitProject(dir, kind, cmd.Flags().Changed("type") || cmd.Flags().Changed("lang"))
			if err != nil {
				return &projectError{err}
			}
			out := cmd.OutOrStdout()
			if done.Existing {
				what := "a shared library"
				switch {
				case done.Targets && len(done.Mains) > 0:
					what = "a library, and a program or test for each main() in " + strings.Join(done.Mains, ", ")
				case done.Targets:
					what = "a library and its tests"
				case done.Program:
					what = "a program"
					if len(done.Mains) > 0 {
						what += " (main() in " + strings.Join(done.Mains, ", ") + ")"
					}
				}
				n := fmt.Sprintf("%d C/C++ sources", done.Sources)
				if done.Sources == 1 {
					n = "1 C/C++ source"
				}
				fmt.Fprintf(out, "found %s in %s: wrote jmake.toml only (no template sources), building %s\n", n, dir, what)
				if done.Program && !done.Targets && len(done.Mains) > 1 {
					fmt.Fprintf(cmd.ErrOrStderr(), "jmake: warning: %d sources define main(); the program is linked from every source: list all but one under [compile] exclude\n", len(done.Mains))
				}
			}
			for _, f := range done.Files {
				fmt.Fprintln(out, "created", f)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&typ, "type", "c", "project type: c (a C library), cpp (a C++ library) or binary (a program)")
	cmd.Flags().StringVar(&lang, "lang", "", "language of a --type binary program: c (default) or cpp")
	return cmd
}

// initType is the setup project type of --type and --lang.
func initType(typ, lang string) (string, error) {
	switch {
	case lang != "" && lang != "c" && lang != "cpp":
		return "", &usageError{fmt.Errorf("--lang %q: want c or cpp", lang)}
	case typ == "binary" && lang == "cpp":
		return "cpp-binary", nil
	case typ == "c" && lang == "cpp", typ == "cpp" && lang == "c":
		return "", &usageError{fmt.Errorf("--type %s with --lang %s: pick one language", typ, lang)}
	case typ == "c", typ == "cpp", typ == "binary", typ == "cpp-binary":
		return typ, nil
	}
	return "", &usageError{fmt.Errorf("--type %q: want c, cpp or binary", typ)}
}
