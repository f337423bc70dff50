package compile

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"slices"

	"github.com/jmake/jmake/internal/atomicfile"
)

// ccEntry is one entry of compile_commands.json (the JSON compilation
// database clangd and other tools read).
type ccEntry struct {
	Directory string   `json:"directory"`
	Arguments []string `json:"arguments"`
	File      string   `json:"file"`
	Output    string   `json:"output"`
}

// writeCompileCommands keeps <build>/compile_commands.json current: one
// entry per unit with the command that compiles it (without the depfile and
// temp-name arguments). It is rewritten only when its content changes; when
// the units, compilers and flags are those it was last written for and the
// file still has the stat it was left with, nothing is read or rendered.
func (b *build) writeCompileCommands() error {
	st := b.st
	settings := b.ccSettings()
	if settings == st.proj.ccSettings && slices.Equal(st.ccUnits, b.units) {
		if cst, err := statPath(b.ccPath); err == nil && cst == st.proj.ccStat {
			return nil
		}
	}
	entries := make([]ccEntry, len(b.units))
	for i, u := range b.units {
		tc := b.toolchainFor(u)
		obj := b.rel(b.objPath(u))
		args := make([]string, 0, len(tc.run)+5)
		args = append(args, tc.comp.path)
		args = append(args, tc.run...)
		args = append(args, "-c", u, "-o", obj)
		entries[i] = ccEntry{Directory: b.root, Arguments: args, File: u, Output: obj}
	}
	data, err := json.MarshalIndent(entries, "", "  ")
	if err != nil {
		return fmt.Errorf("compile_commands.json: %w", err)
	}
	data = append(data, '\n')
	if old, err := os.ReadFile(b.ccPath); err != nil || !bytes.Equal(old, data) {
		if err := b.mkdirFor(b.ccPath); err != nil {
			return err
		}
		if err := atomicfile.Write(b.ccPath, data, 0o644); err != nil {
			return err
		}
	}
	cst, err := statPath(b.ccPath)
	if err != nil {
		return err
	}
	st.proj.ccSettings, st.proj.ccStat = settings, cst
	st.ccUnits = slices.Clone(b.units)
	b.saveProject()
	return nil
}

// ccSettings hashes what compile_commands.json depends on besides the units.
func (b *build) ccSettings() Hash {
	k := newKeyHasher("compdb")
	k.str(b.root)
	k.str(b.objDir)
	for _, tc := range []*toolchain{b.c, b.cxx} {
		if tc == nil {
			k.str("")
			continue
		}
		k.str(tc.comp.path)
		k.strs(tc.run)
	}
	return k.sum()
}
