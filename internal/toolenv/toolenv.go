// Package toolenv is the part of a shell's environment that picks and
// configures C and C++ tools, as make, CMake and Meson read it: PATH, CC,
// CXX, CPPFLAGS, CFLAGS, CXXFLAGS and LDFLAGS; the variables GCC and Clang
// read themselves (CPATH, C_INCLUDE_PATH, CPLUS_INCLUDE_PATH,
// LIBRARY_PATH, SOURCE_DATE_EPOCH); and where pkg-config looks for
// packages (PKG_CONFIG_PATH, PKG_CONFIG_LIBDIR, PKG_CONFIG_SYSROOT_DIR).
// `jmake build` sends the caller's with every build, so that the daemons,
// started from another shell, pick the tools this one would, and `jmake
// build --no-daemon` and a daemon build run the same commands.
//
// It is applied as CMake applies it at configure time: a compiler named in
// jmake.toml wins over CC and CXX, and the environment's flags come before
// jmake.toml's, so that a flag set in both takes jmake.toml's value.
package toolenv

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Env is a caller's tool environment. The zero value is the daemon's own
// PATH and no CC, CXX or flags.
type Env struct {
	Path     string `json:"path,omitempty"`
	CC       string `json:"cc,omitempty"`
	CXX      string `json:"cxx,omitempty"`
	CPPFlags string `json:"cppflags,omitempty"`
	CFlags   string `json:"cflags,omitempty"`
	CXXFlags string `json:"cxxflags,omitempty"`
	LDFlags  string `json:"ldflags,omitempty"`
	// pkg-config's search path and sysroot: a package installed under a
	// prefix of the caller's is found as the caller's pkg-config finds it.
	PkgConfigPath    string `json:"pkg_config_path,omitempty"`
	PkgConfigLibdir  string `json:"pkg_config_libdir,omitempty"`
	PkgConfigSysroot string `json:"pkg_config_sysroot_dir,omitempty"`
	// Variables the compiler driver reads: more include and library
	// directories, and the date __DATE__ and __TIME__ expand to. They
	// change objects and links, so they are in the keys (ToolVars).
	CPath            string `json:"cpath,omitempty"`
	CIncludePath     string `json:"c_include_path,omitempty"`
	CPlusIncludePath string `json:"cplus_include_path,omitempty"`
	LibraryPath      string `json:"library_path,omitempty"`
	SourceDateEpoch  string `json:"source_date_epoch,omitempty"`
}

// FromOS is this process's tool environment.
func FromOS() Env {
	return Env{
		Path: os.Getenv("PATH"), CC: os.Getenv("CC"), CXX: os.Getenv("CXX"),
		CPPFlags: os.Getenv("CPPFLAGS"), CFlags: os.Getenv("CFLAGS"),
		CXXFlags: os.Getenv("CXXFLAGS"), LDFlags: os.Getenv("LDFLAGS"),
		PkgConfigPath: os.Getenv("PKG_CONFIG_PATH"), PkgConfigLibdir: os.Getenv("PKG_CONFIG_LIBDIR"),
		PkgConfigSysroot: os.Getenv("PKG_CONFIG_SYSROOT_DIR"),
		CPath:            os.Getenv("CPATH"), CIncludePath: os.Getenv("C_INCLUDE_PATH"),
		CPlusIncludePath: os.Getenv("CPLUS_INCLUDE_PATH"), LibraryPath: os.Getenv("LIBRARY_PATH"),
		SourceDateEpoch: os.Getenv("SOURCE_DATE_EPOCH"),
	}
}

// passed are the variables besides PATH that Env carries to the tools it
// runs, by name: pkg-config's, then the compiler driver's.
func (e Env) passed() [8][2]string {
	return [8][2]string{
		{"PKG_CONFIG_PATH", e.PkgConfigPath},
		{"PKG_CONFIG_LIBDIR", e.PkgConfigLibdir},
		{"PKG_CONFIG_SYSROOT_DIR", e.PkgConfigSysroot},
		{"CPATH", e.CPath},
		{"C_INCLUDE_PATH", e.CIncludePath},
		{"CPLUS_INCLUDE_PATH", e.CPlusIncludePath},
		{"LIBRARY_PATH", e.LibraryPath},
		{"SOURCE_DATE_EPOCH", e.SourceDateEpoch},
	}
}

// pkgConfigVars is how many of passed are pkg-config's.
const pkgConfigVars = 3

// PkgConfigKey tells apart the environments in which pkg-config may
// answer differently: another PATH (another pkg-config) or search path.
func (e Env) PkgConfigKey() string {
	key, vars := e.Path, e.passed()
	for _, kv := range vars[:pkgConfigVars] {
		key += "\x00" + kv[1]
	}
	return key
}

// ToolVars are the compiler driver's variables the caller set, as NAME=value:
// the part of the environment a compile's or a link's key must hold.
func (e Env) ToolVars() []string {
	var out []string
	vars := e.passed()
	for _, kv := range vars[pkgConfigVars:] {
		if kv[1] != "" {
			out = append(out, kv[0]+"="+kv[1])
		}
	}
	return out
}

// Compiler is CC (cxx false) or CXX split into words: the compiler, then
// options that go before every other flag ("ccache gcc" is not split out:
// its first word is the compiler run). Nil when unset.
func (e Env) Compiler(cxx bool) []string {
	if cxx {
		return Fields(e.CXX)
	}
	return Fields(e.CC)
}

// CompileFlags are CPPFLAGS then CFLAGS (cxx false) or CXXFLAGS.
func (e Env) CompileFlags(cxx bool) []string {
	lang := e.CFlags
	if cxx {
		lang = e.CXXFlags
	}
	return append(Fields(e.CPPFlags), Fields(lang)...)
}

// LinkFlags are LDFLAGS.
func (e Env) LinkFlags() []string { return Fields(e.LDFlags) }

// Environ is the environment to run tools with: this process's, with the
// caller's PATH and the other variables Env carries (one the caller has
// not set is not set, whatever this process has: a daemon started from a
// shell with CPATH does not compile every later build with it); nil
// (inherit this process's) when the caller sent none.
func (e Env) Environ() []string {
	if e.Path == "" {
		return nil
	}
	vars := e.passed()
	env := os.Environ()
	out := make([]string, 0, len(env)+1+len(vars))
outer:
	for _, kv := range env {
		if strings.HasPrefix(kv, "PATH=") {
			continue
		}
		for _, v := range vars {
			if strings.HasPrefix(kv, v[0]+"=") {
				continue outer
			}
		}
		out = append(out, kv)
	}
	out = append(out, "PATH="+e.Path)
	for _, v := range vars {
		if v[1] != "" {
			out = append(out, v[0]+"="+v[1])
		}
	}
	return out
}

// LookPath finds the executable name as a shell with the caller's PATH
// would (this process's PATH when the caller sent none). A name with a
// slash is taken as it is. Relative PATH entries are skipped, as
// os/exec's LookPath refuses them.
func (e Env) LookPath(name string) (string, error) {
	if strings.ContainsRune(name, '/') {
		if err := executable(name); err != nil {
			return "", fmt.Errorf("%s: %w", name, err)
		}
		return name, nil
	}
	path := e.Path
	if path == "" {
		path = os.Getenv("PATH")
	}
	for _, dir := range filepath.SplitList(path) {
		if !filepath.IsAbs(dir) {
			continue
		}
		p := filepath.Join(dir, name)
		if executable(p) == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: not found on PATH", name)
}

// executable reports why p is not an executable file, or nil.
func executable(p string) error {
	st, err := os.Stat(p)
	if err != nil {
		return err
	}
	if st.IsDir() || st.Mode()&0o111 == 0 {
		return fs.ErrPermission
	}
	return nil
}

// Fields splits a flags variable into words as a POSIX shell would for
// the forms flags take: blanks separate words, single and double quotes
// group, and a backslash outside single quotes takes the next character
// as it is. An unclosed quote ends at the end of the text.
func Fields(s string) []string {
	var (
		out   []string
		cur   strings.Builder
		in    bool // a word has started (an empty "" is a word)
		quote rune
		esc   bool
	)
	for _, r := range s {
		switch {
		case esc:
			cur.WriteRune(r)
			esc = false
		case quote == '\'':
			if r == '\'' {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '\\':
			esc, in = true, true
		case quote == '"':
			if r == '"' {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, in = r, true
		case r == ' ' || r == '\t' || r == '\n':
			if in {
				out = append(out, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteRune(r)
			in = true
		}
	}
	if in {
		out = append(out, cur.String())
	}
	return out
}
