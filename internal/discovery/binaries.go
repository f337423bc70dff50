package discovery

import (
	"bytes"
	"debug/elf"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/jmake/jmake/internal/change"
	"github.com/jmake/jmake/internal/project"
)

// Kinds of Binary.
const (
	KindExecutable    = "executable"
	KindSharedLibrary = "shared_library"
	KindStaticLibrary = "static_library"
	KindObject        = "object"
)

// Binary is a build product found in a project.
type Binary struct {
	Path    string `json:"path"` // relative to the root, with slashes
	Kind    string `json:"kind"` // one of the Kind constants
	Size    int64  `json:"size"`
	Machine string `json:"machine,omitempty"` // ELF only: "x86_64", "aarch64"
}

// binaryMemo remembers a file's classification ("" kind: not a binary)
// with the identity it had, so an unchanged file is not opened again.
type binaryMemo struct {
	ID         change.ID
	ObservedNS int64
	Kind       string
	Machine    string
}

// Magic numbers at the start of the files DetectBinaries recognizes.
var (
	elfMagic     = []byte("\x7fELF")
	arMagic      = []byte("!<arch>\n")
	thinArMagic  = []byte("!<thin>\n") // GNU thin archive: members by reference
	maxMagicSize = len(arMagic)
)

// DetectBinaries finds the executables, shared and static libraries and
// object files under root by their content, not their names: ELF files by
// type (a position-independent executable is ET_DYN like a shared library;
// what tells them apart is a program interpreter, or the DF_1_PIE flag of
// a static PIE) and ar archives by their magic string. Hidden directories
// and .git are skipped; the build directory is not. Sorted by path.
func (d *Discovery) DetectBinaries(root string) ([]Binary, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("discovery: detect binaries in %s: %w", root, err)
	}
	if fi, err := os.Stat(abs); err != nil {
		return nil, fmt.Errorf("discovery: detect binaries: %w", err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("discovery: detect binaries in %s: not a directory", abs)
	}
	out := []Binary{} // JSON [] rather than null when there are none
	seen := make(map[string]bool)
	err = filepath.WalkDir(abs, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			if p == abs {
				return err
			}
			d.log.Debug("discovery: detect binaries: skipped", "path", p, "err", err)
			return nil
		}
		name := e.Name()
		if e.IsDir() {
			if p != abs && strings.HasPrefix(name, ".") {
				return filepath.SkipDir
			}
			return nil
		}
		if !e.Type().IsRegular() || project.IsSource(name) || project.IsHeader(name) {
			return nil
		}
		seen[p] = true
		kind, machine, size := d.classify(p)
		if kind != "" {
			rel, _ := filepath.Rel(abs, p)
			out = append(out, Binary{Path: filepath.ToSlash(rel), Kind: kind, Size: size, Machine: machine})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("discovery: detect binaries: %w", err)
	}
	d.binMu.Lock()
	prefix := abs + string(filepath.Separator)
	for p := range d.binMemo {
		if strings.HasPrefix(p, prefix) && !seen[p] {
			delete(d.binMemo, p)
		}
	}
	d.binMu.Unlock()
	slices.SortFunc(out, func(a, b Binary) int { return strings.Compare(a.Path, b.Path) })
	return out, nil
}

// classify returns the kind of binary the file at p is ("" if none), its
// machine and size, from the memo when the file is unchanged.
func (d *Discovery) classify(p string) (kind, machine string, size int64) {
	observed := time.Now().UnixNano()
	id, _, err := change.Stat(p)
	if err != nil {
		return "", "", 0
	}
	d.binMu.Lock()
	m, ok := d.binMemo[p]
	d.binMu.Unlock()
	if ok && m.ID == id && !change.Racy(id.MtimeNS, m.ObservedNS) {
		d.binStats.hit(true)
		return m.Kind, m.Machine, id.Size
	}
	d.binStats.hit(false)
	kind, machine, err = classifyFile(p)
	if err != nil {
		d.log.Debug("discovery: detect binaries: unreadable", "path", p, "err", err)
		return "", "", 0
	}
	d.binMu.Lock()
	d.binMemo[p] = binaryMemo{ID: id, ObservedNS: observed, Kind: kind, Machine: machine}
	d.binMu.Unlock()
	return kind, machine, id.Size
}

// classifyFile reads the file's magic number and, for ELF, its header.
func classifyFile(p string) (kind, machine string, err error) {
	f, err := os.Open(p)
	if err != nil {
		return "", "", err
	}
	defer f.Close()
	magic := make([]byte, maxMagicSize)
	n, err := io.ReadFull(f, magic)
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return "", "", err
	}
	magic = magic[:n]
	switch {
	case bytes.Equal(magic, arMagic), bytes.Equal(magic, thinArMagic):
		return KindStaticLibrary, "", nil
	case !bytes.HasPrefix(magic, elfMagic):
		return "", "", nil
	}
	ef, err := elf.NewFile(f)
	if err != nil {
		return "", "", nil // ELF magic but not a valid ELF file: not a build product
	}
	machine = strings.ToLower(strings.TrimPrefix(ef.Machine.String(), "EM_"))
	switch ef.Type {
	case elf.ET_REL:
		return KindObject, machine, nil
	case elf.ET_EXEC:
		return KindExecutable, machine, nil
	case elf.ET_DYN:
		if isPIE(ef) {
			return KindExecutable, machine, nil
		}
		return KindSharedLibrary, machine, nil
	}
	return "", "", nil // core dumps and the like
}

// isPIE tells a position-independent executable from a shared library:
// a dynamically linked PIE asks for a program interpreter; a static PIE
// (-static-pie) has none but carries DF_1_PIE.
func isPIE(ef *elf.File) bool {
	for _, p := range ef.Progs {
		if p.Type == elf.PT_INTERP {
			return true
		}
	}
	flags, err := ef.DynValue(elf.DT_FLAGS_1)
	if err != nil {
		return false
	}
	for _, v := range flags {
		if v&uint64(elf.DF_1_PIE) != 0 {
			return true
		}
	}
	return false
}
