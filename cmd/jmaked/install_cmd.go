package main

import (
	"cmp"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/jmake/jmake/internal/orchestrator"
	"github.com/jmake/jmake/internal/project"
)

func installCmd(g *globals) *cobra.Command {
	var sel orchestrator.Select
	var noDaemon bool
	var prefix string
	cmd := &cobra.Command{
		Use:   "install [dir] --prefix P",
		Short: "Build, then install libraries to P/lib, programs to P/bin, public headers to P/include and P/lib/pkgconfig/<name>.pc (under $DESTDIR)",
		Args:  cobra.MaximumNArgs(1),
		RunE: onProject(func(cmd *cobra.Command, dir string, _ []string) error {
			if prefix == "" || !filepath.IsAbs(prefix) {
				return fmt.Errorf("install: --prefix must be an absolute directory (got %q)", prefix)
			}
			cfg, err := project.Load(dir)
			if err != nil {
				return err
			}
			res, err := buildQuiet(cmd.Context(), g, orchestrator.BuildRequest{Path: dir, Select: sel}, noDaemon, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			in := installer{dest: os.Getenv("DESTDIR"), prefix: filepath.Clean(prefix), w: cmd.OutOrStdout()}
			return in.install(cfg, cfg.RootDir(dir), res.Targets)
		}),
	}
	profileFlags(cmd, &sel)
	cmd.Flags().BoolVar(&noDaemon, "no-daemon", false, "build in-process, without the daemons")
	cmd.Flags().StringVar(&prefix, "prefix", "", "installation prefix, e.g. /usr/local (required)")
	return cmd
}

// installer copies a project's outputs under dest+prefix.
type installer struct {
	dest, prefix string
	w            io.Writer
}

// at is where a path under the prefix is written: under $DESTDIR.
func (in installer) at(parts ...string) string {
	return filepath.Join(append([]string{in.dest, in.prefix}, parts...)...)
}

func (in installer) install(cfg *project.Config, root string, targets []orchestrator.TargetOutcome) error {
	var libs []string
	for _, t := range targets {
		switch t.Kind {
		case project.KindShared, project.KindStatic:
			mode := os.FileMode(0o755)
			if t.Kind == project.KindStatic {
				mode = 0o644
			}
			if err := in.copyFile(t.Output, in.at("lib", filepath.Base(t.Output)), mode); err != nil {
				return err
			}
			for _, l := range t.Symlinks {
				if err := in.symlink(filepath.Base(t.Output), in.at("lib", l)); err != nil {
					return err
				}
			}
			libs = append(libs, t.Name)
		case project.KindProgram:
			if err := in.copyFile(t.Output, in.at("bin", filepath.Base(t.Output)), 0o755); err != nil {
				return err
			}
		}
	}
	if err := in.headers(cfg, root); err != nil {
		return err
	}
	if len(libs) == 0 {
		return nil
	}
	return in.pkgConfigFile(cfg, libs)
}

// headers copies the public headers: each [install] headers entry that is
// a directory with its tree, each glob's matches keeping their path below
// the glob's first wildcard-free directories.
func (in installer) headers(cfg *project.Config, root string) error {
	entries := cfg.Install.Headers
	if len(entries) == 0 {
		if st, err := os.Stat(filepath.Join(root, "include")); err == nil && st.IsDir() {
			entries = []string{"include"}
		}
	}
	for _, e := range entries {
		src := filepath.Join(root, filepath.FromSlash(e))
		if st, err := os.Stat(src); err == nil && st.IsDir() {
			err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				rel, _ := filepath.Rel(src, p)
				return in.copyFile(p, in.at("include", rel), 0o644)
			})
			if err != nil {
				return fmt.Errorf("install: headers %s: %w", e, err)
			}
			continue
		}
		base := globBase(e)
		err := filepath.WalkDir(filepath.Join(root, base), func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			if ok, _ := project.MatchGlob(e, filepath.ToSlash(rel)); !ok {
				return nil
			}
			below, _ := filepath.Rel(filepath.Join(root, base), p)
			return in.copyFile(p, in.at("include", below), 0o644)
		})
		if err != nil {
			return fmt.Errorf("install: headers %s: %w", e, err)
		}
	}
	return nil
}

// globBase is the leading directories of a glob without wildcards.
func globBase(g string) string {
	var keep []string
	parts := strings.Split(filepath.ToSlash(g), "/")
	for _, p := range parts[:len(parts)-1] {
		if strings.ContainsAny(p, "*?[") {
			break
		}
		keep = append(keep, p)
	}
	return filepath.Join(append([]string{"."}, keep...)...)
}

// pkgConfigFile writes lib/pkgconfig/<name>.pc, so that other builds find
// the installed libraries with pkg-config.
func (in installer) pkgConfigFile(cfg *project.Config, libs []string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "prefix=%s\nexec_prefix=${prefix}\nlibdir=${prefix}/lib\nincludedir=${prefix}/include\n\n", in.prefix)
	fmt.Fprintf(&b, "Name: %s\nDescription: %s, built by jmake\nVersion: %s\n", cfg.Project.Name, cfg.Project.Name, cmp.Or(cfg.Project.Version, "0"))
	b.WriteString("Libs: -L${libdir}")
	for _, l := range libs {
		b.WriteString(" -l" + l)
	}
	b.WriteString("\nCflags: -I${includedir}\n")
	if pkgs := libraryPkgs(cfg); len(pkgs) > 0 {
		// What the libraries link through pkg-config, for static links
		// and for pkg-config to check.
		fmt.Fprintf(&b, "Requires.private: %s\n", strings.Join(pkgs, ", "))
	}
	dst := in.at("lib", "pkgconfig", cfg.Project.Name+".pc")
	return in.writeFile(dst, []byte(b.String()), 0o644)
}

// libraryPkgs are the pkg-config packages the project's libraries use.
func libraryPkgs(cfg *project.Config) []string {
	pkgs := slices.Clone(cfg.Compile.Pkg)
	for _, l := range cfg.Library {
		pkgs = append(pkgs, l.Pkg...)
	}
	slices.Sort(pkgs)
	return slices.Compact(pkgs)
}

// copyFile copies src to dst through a temp file and a rename, so that a
// program running from dst never sees it half written.
func (in installer) copyFile(src, dst string, mode os.FileMode) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return fmt.Errorf("install: %w", err)
	}
	return in.writeFile(dst, data, mode)
}

func (in installer) writeFile(dst string, data []byte, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("install: %w", err)
	}
	tmp := fmt.Sprintf("%s.%d.tmp", dst, os.Getpid())
	if err := os.WriteFile(tmp, data, mode); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("install: %w", err)
	}
	if err := os.Chmod(tmp, mode); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("install: %w", err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("install: %w", err)
	}
	fmt.Fprintln(in.w, "installed", dst)
	return nil
}

func (in installer) symlink(target, dst string) error {
	tmp := fmt.Sprintf("%s.%d.tmp", dst, os.Getpid())
	os.Remove(tmp)
	if err := os.Symlink(target, tmp); err != nil {
		return fmt.Errorf("install: %w", err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("install: %w", err)
	}
	fmt.Fprintln(in.w, "installed", dst, "->", target)
	return nil
}
