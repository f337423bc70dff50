package setup

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/jmake/jmake/internal/project"
)

// Project types CreateStructure makes.
const (
	CProject      = "c_project"      // a C shared library, a hello program and a test
	CXXProject    = "cpp_project"    // a C++ shared library, a hello program and a test
	BinaryProject = "binary_project" // a C program
	// CXXBinaryProject is a C++ program.
	CXXBinaryProject = "cpp_binary_project"
)

// projectTypes maps every accepted spelling to its project type.
var projectTypes = map[string]string{
	CProject: CProject, "c": CProject,
	CXXProject: CXXProject, "cpp": CXXProject,
	BinaryProject: BinaryProject, "binary": BinaryProject,
	CXXBinaryProject: CXXBinaryProject, "cpp-binary": CXXBinaryProject,
}

// Created is what CreateStructure made.
type Created struct {
	Root    string   `json:"root"`    // the project directory
	Type    string   `json:"type"`    // CProject, CXXProject, BinaryProject or CXXBinaryProject
	Dirs    []string `json:"dirs"`    // directories created, relative to Root, slash-separated
	Files   []string `json:"files"`   // files created, relative to Root, slash-separated
	Skipped []string `json:"skipped"` // files that existed and were left as they were
}

// CreateStructure lays out a new project of type typ (CProject, CXXProject,
// BinaryProject, CXXBinaryProject, or "c", "cpp", "binary", "cpp-binary")
// in the directory path, creating it if needed: src/, include/<name>/, a
// small library (one function and its header); for a library project, a
// hello program in app/ that links it and a test in tests/ (three targets
// in one jmake.toml); for a binary, src/main.c or src/main.cpp built with
// the library's source into one program; a jmake.toml that Validate
// accepts; and a .gitignore for build/. It refuses to run where a
// jmake.toml exists. Other files that exist are left alone and listed as
// skipped. The project is named after the directory.
func (s *Setup) CreateStructure(path, typ string) (Created, error) {
	kind, ok := projectTypes[strings.ToLower(typ)]
	if !ok {
		return Created{}, fmt.Errorf("setup: unknown project type %q (want c, cpp, binary or cpp-binary)", typ)
	}
	if path == "" {
		return Created{}, errors.New("setup: create structure: empty path")
	}
	root, err := filepath.Abs(path)
	if err != nil {
		return Created{}, fmt.Errorf("setup: create structure in %s: %w", path, err)
	}
	name := filepath.Base(root)
	if name == string(filepath.Separator) || name == "." {
		return Created{}, fmt.Errorf("setup: create structure: %s cannot name a project", root)
	}
	s.fileMu.Lock()
	defer s.fileMu.Unlock()

	cfgFile := filepath.Join(root, project.FileName)
	if exists(cfgFile) {
		return Created{}, fmt.Errorf("setup: %s already exists; not overwriting it", cfgFile)
	}
	if fi, err := os.Stat(root); err == nil && !fi.IsDir() {
		return Created{}, fmt.Errorf("setup: create structure: %s is not a directory", root)
	}
	if src := FirstSource(root); src != "" {
		return Created{}, fmt.Errorf("setup: create structure: %s already has sources (%s): not writing template sources beside them; generate_config writes a jmake.toml for them", root, src)
	}

	out := Created{Root: root, Type: kind, Dirs: []string{}, Files: []string{}, Skipped: []string{}}
	file := fileName(name)
	dirs := []string{".", "src", "include", "include/" + file}
	if kind == CProject || kind == CXXProject {
		dirs = append(dirs, "app", "tests")
	}
	for _, d := range dirs {
		p := filepath.Join(root, filepath.FromSlash(d))
		if exists(p) {
			continue
		}
		if err := os.MkdirAll(p, 0o755); err != nil {
			return out, fmt.Errorf("setup: create structure: %w", err)
		}
		if d != "." {
			out.Dirs = append(out.Dirs, d)
		}
	}
	// jmake.toml goes last: it is what marks the directory as a project,
	// so a failure half way leaves no config pointing at missing files.
	files := append(templates(kind, name), tmplFile{project.FileName, configTemplate(kind, name)})
	for _, f := range files {
		p := filepath.Join(root, filepath.FromSlash(f.rel))
		err := writeAtomic(p, []byte(f.text), 0o644, false)
		switch {
		case err == nil:
			out.Files = append(out.Files, f.rel)
		case errors.Is(err, fs.ErrExist) && f.rel != project.FileName:
			out.Skipped = append(out.Skipped, f.rel)
		default:
			return out, err
		}
	}
	return out, nil
}

// tmplFile is one file of a new project.
type tmplFile struct {
	rel  string // slash path relative to the root
	text string
}

// templates returns the source files of a new project. The greeting uses
// the file-safe name, which needs no escaping in a C string or comment.
func templates(kind, name string) []tmplFile {
	file, ident := fileName(name), identifier(name)
	guard := strings.ToUpper(ident) + "_H"
	var out []tmplFile
	cxx := kind == CXXProject || kind == CXXBinaryProject
	if cxx {
		ns := ident
		if cxxKeywords[ns] {
			ns += "_"
		}
		out = append(out,
			tmplFile{"include/" + file + "/" + file + ".hpp", fmt.Sprintf(cxxHeader, ns, file)},
			tmplFile{"src/" + file + ".cpp", fmt.Sprintf(cxxSource, file, ns)},
		)
	} else {
		out = append(out,
			tmplFile{"include/" + file + "/" + file + ".h", fmt.Sprintf(cHeader, guard, ident, file)},
			tmplFile{"src/" + file + ".c", fmt.Sprintf(cSource, file, ident)},
		)
	}
	ns := ident
	if cxxKeywords[ns] {
		ns += "_"
	}
	switch kind {
	case CProject:
		out = append(out,
			tmplFile{"app/hello.c", fmt.Sprintf(cMain, file, ident)},
			tmplFile{"tests/test_" + file + ".c", fmt.Sprintf(cTest, file, ident)})
	case CXXProject:
		out = append(out,
			tmplFile{"app/hello.cpp", fmt.Sprintf(cxxMain, file, ns)},
			tmplFile{"tests/test_" + file + ".cpp", fmt.Sprintf(cxxTest, file, ns)})
	case BinaryProject:
		out = append(out, tmplFile{"src/main.c", fmt.Sprintf(cMain, file, ident)})
	case CXXBinaryProject:
		out = append(out, tmplFile{"src/main.cpp", fmt.Sprintf(cxxMain, file, ns)})
	}
	return append(out, tmplFile{".gitignore", "build/\n"})
}

// cxxKeywords are the C++ keywords a directory name could spell; a
// namespace cannot be one.
var cxxKeywords = func() map[string]bool {
	m := map[string]bool{}
	for _, k := range strings.Fields(`alignas alignof and and_eq asm auto bitand bitor bool break case catch
		char char8_t char16_t char32_t class compl concept const consteval constexpr constinit const_cast
		continue co_await co_return co_yield decltype default delete do double dynamic_cast else enum
		explicit export extern false float for friend goto if inline int long mutable namespace new
		noexcept not not_eq nullptr operator or or_eq private protected public register
		reinterpret_cast requires return short signed sizeof static static_assert static_cast struct
		switch template this thread_local throw true try typedef typeid typename union unsigned using
		virtual void volatile wchar_t while xor xor_eq std`) {
		m[k] = true
	}
	return m
}()

// configTemplate returns the jmake.toml of a new project.
func configTemplate(kind, name string) string {
	q, err := project.FormatString(name)
	if err != nil {
		q = `"` + identifier(name) + `"`
	}
	std, ext := `c_std = "c11"`, "c"
	if kind == CXXProject || kind == CXXBinaryProject {
		std, ext = `cxx_std = "c++17"`, "cpp"
	}
	if kind == CProject || kind == CXXProject {
		return fmt.Sprintf(targetsConfigText, q, std, ext, helloProgram(name))
	}
	return fmt.Sprintf(configText, q, std, project.Executable)
}

// helloProgram is the name of a library project's program: "hello",
// unless the library (named after the project) is called that already.
func helloProgram(name string) string {
	if name == "hello" {
		return "hello-app"
	}
	return "hello"
}

// fileName makes a project name safe as a file name: characters other than
// letters, digits, '.', '_', '+' and '-' become '_'.
func fileName(name string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x80 && (isAlnum(byte(r)) || strings.ContainsRune("._+-", r)) {
			return r
		}
		return '_'
	}, name)
}

// identifier makes a project name a C identifier: lower case, other
// characters become '_', and a leading digit gets a '_' before it.
func identifier(name string) string {
	id := strings.Map(func(r rune) rune {
		if r < 0x80 && isAlnum(byte(r)) {
			return r
		}
		return '_'
	}, strings.ToLower(name))
	if id == "" || (id[0] >= '0' && id[0] <= '9') {
		id = "_" + id
	}
	return id
}

func isAlnum(c byte) bool {
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

const configText = `# jmake.toml: how jmake builds this project (see docs/jmake-toml.md).
[project]
name = %s
version = "0.1.0"

[paths]
source = "src"
build = "build"

[compile]
%s
flags = ["-Wall", "-Wextra"]
include_dirs = ["include"]

[binary]
library_type = "%s"

[target]
opt_level = "2"
`

// targetsConfigText is a library project's jmake.toml: the library, a
// program that links it, and the tests/ convention (each tests/*.c or
// *.cpp a test program linked against the library). It takes the quoted
// name, the standard's line, the source extension and the program's name.
const targetsConfigText = `# jmake.toml: how jmake builds this project (see docs/jmake-toml.md).
[project]
name = %[1]s
version = "0.1.0"

# Defaults every target inherits.
[compile]
%[2]s
flags = ["-Wall", "-Wextra"]
include_dirs = ["include"]

[target]
opt_level = "2"

[[library]]
name = %[1]s
sources = ["src/*.%[3]s"]

[[program]]
name = "%[4]s"
sources = ["app/hello.%[3]s"]
links = [%[1]s]

[install]
headers = ["include"]
`

// The templates take, by index: cHeader (guard, identifier, file name);
// cSource, cMain and cTest (file name, identifier); cxxHeader (namespace,
// file name); cxxSource, cxxMain and cxxTest (file name, namespace).

const cHeader = `#ifndef %[1]s
#define %[1]s

/* %[2]s_hello returns a greeting from %[3]s. */
const char *%[2]s_hello(void);

#endif /* %[1]s */
`

const cSource = `#include "%[1]s/%[1]s.h"

const char *%[2]s_hello(void)
{
	return "Hello from %[1]s!";
}
`

const cMain = `#include <stdio.h>

#include "%[1]s/%[1]s.h"

int main(void)
{
	puts(%[2]s_hello());
	return 0;
}
`

const cTest = `#include <stdio.h>
#include <string.h>

#include "%[1]s/%[1]s.h"

int main(void)
{
	const char *got = %[2]s_hello();
	if (strcmp(got, "Hello from %[1]s!") != 0) {
		printf("hello: got \"%%s\"\n", got);
		return 1;
	}
	return 0;
}
`

const cxxHeader = `#pragma once

#include <string>

namespace %[1]s {

// hello returns a greeting from %[2]s.
std::string hello();

} // namespace %[1]s
`

const cxxSource = `#include "%[1]s/%[1]s.hpp"

namespace %[2]s {

std::string hello() { return "Hello from %[1]s!"; }

} // namespace %[2]s
`

const cxxMain = `#include <iostream>

#include "%[1]s/%[1]s.hpp"

int main()
{
	std::cout << %[2]s::hello() << '\n';
	return 0;
}
`

const cxxTest = `#include <iostream>

#include "%[1]s/%[1]s.hpp"

int main()
{
	const std::string got = %[2]s::hello();
	if (got != "Hello from %[1]s!") {
		std::cout << "hello: got \"" << got << "\"\n";
		return 1;
	}
	return 0;
}
`

// FirstSource returns a C or C++ source under root (relative), or "" when
// there is none. Hidden directories and build/ are not looked into.
func FirstSource(root string) string {
	found := ""
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() && p != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "build") {
			return filepath.SkipDir
		}
		if !d.IsDir() && project.IsSource(p) {
			found, _ = filepath.Rel(root, p)
			return filepath.SkipAll
		}
		return nil
	})
	return found
}
