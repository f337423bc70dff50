package compile

// Response files.
//
// Linux's execve refuses a command line past two limits: one argument may
// not exceed MAX_ARG_STRLEN (32 pages, 128 KiB), and all arguments and the
// environment together may not exceed ARG_MAX, a quarter of the stack
// limit (2 MiB under the usual 8 MiB stack) but never less than 32 pages
// (128 KiB) whatever the stack limit. A link of 10,000 objects passes about
// 500 KiB of paths, and the driver passes them on to collect2 and the
// linker with its own arguments and the same environment. So a command
// whose arguments and environment would exceed rspThreshold is given its
// arguments in a response file (`tool @file`), which gcc, clang, collect2,
// GNU ld, gold, lld, mold and ar all read, and the drivers forward as
// response files of their own.
//
// The response file only carries the arguments: what a link's key covers
// (link.go's linkSettings and linkKey) is computed from the arguments
// themselves, never from the file, so linking through one changes no key.

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/jmake/jmake/internal/atomicfile"
)

// rspThreshold is the size of argv and environment (bytes with their NULs
// and pointers, as execve counts them) above which arguments go through a
// response file: 96 KiB, the 128 KiB Linux guarantees as ARG_MAX whatever
// the stack limit, less 32 KiB for what a driver adds on its way to the
// linker (crt files, -L directories, plugin options: 2-4 KiB from gcc 12
// here) with room to spare.
const rspThreshold = 96 << 10

// argvSize is what args and env take of the execve limit.
func argvSize(args, env []string) int {
	const ptr = 8 // each string's pointer in the argv/envp arrays
	n := 0
	for _, s := range args {
		n += len(s) + 1 + ptr
	}
	for _, s := range env {
		n += len(s) + 1 + ptr
	}
	return n
}

// rspContent is args as a GNU response file: one argument a line, with a
// backslash before each blank, quote and backslash (libiberty's buildargv,
// which gcc, binutils and lld's GNU tokenizer follow).
func rspContent(args []string) []byte {
	var sb strings.Builder
	for _, a := range args {
		if a == "" {
			sb.WriteString(`""`)
		}
		for _, r := range a {
			switch r {
			case ' ', '\t', '\n', '\r', '\f', '\v', '\'', '"', '\\':
				sb.WriteByte('\\')
			}
			sb.WriteRune(r)
		}
		sb.WriteByte('\n')
	}
	return []byte(sb.String())
}

// withRspFile returns the arguments to run tool with: args themselves when
// they fit the command line, else "@file", file being a response file in
// the build directory named after dst, written atomically. cleanup removes
// the file; the caller runs it once the tool has exited, so that the build
// directory holds no response file between builds (a killed daemon may
// leave one; the next link of dst replaces it).
func (b *build) withRspFile(dst string, args []string) (out []string, cleanup func(), err error) {
	env := b.environ
	if env == nil {
		env = os.Environ()
	}
	if argvSize(args, env) <= rspThreshold {
		return args, func() {}, nil
	}
	rsp := filepath.Join(b.buildDir, "rsp", filepath.Base(dst)+".rsp")
	if err := b.mkdirFor(rsp); err != nil {
		return nil, nil, fmt.Errorf("response file %s: %w", rsp, err)
	}
	if err := atomicfile.Write(rsp, rspContent(args), 0o644); err != nil {
		return nil, nil, fmt.Errorf("response file: %w", err)
	}
	b.e.rspFiles.Add(1)
	return []string{"@" + b.rel(rsp)}, func() { os.Remove(rsp) }, nil
}
