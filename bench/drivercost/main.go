// Command drivercost times what GCC's driver costs a compile when a Go
// process runs it, as the compilation daemon does: the units of a
// generated project compiled one after another as `gcc -pipe -c`, and as
// the compiler proper piped into the assembler, the two commands the
// driver prints for the same compile with -###, which is how the daemon
// runs a compile once that is proven to make the same object
// (internal/compile/directcc.go). The two ways alternate round by round.
//
//	go run ./bench/drivercost [-units 50] [-rounds 8] [-cc gcc]
//
// It prints the median over the rounds of each way's time per unit (wall,
// and CPU of the children), and fails unless both ways made the same
// object of the last unit.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

func main() {
	units := flag.Int("units", 50, "units compiled per round and way")
	rounds := flag.Int("rounds", 8, "rounds")
	cc := flag.String("cc", "gcc", "the compiler driver")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("drivercost: ")

	work, err := os.MkdirTemp("", "jmake-drivercost-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(work)
	gen := filepath.Join(filepath.Dir(os.Args[0]), "gen_project.py")
	if _, err := os.Stat(gen); err != nil {
		gen = "bench/gen_project.py" // go run from the repository's root
	}
	proj := filepath.Join(work, "p")
	if out, err := exec.Command("python3", gen, proj, "-n", fmt.Sprint(*units)).CombinedOutput(); err != nil {
		log.Fatalf("%s: %v\n%s", gen, err, out)
	}
	flags := []string{"-O2", "-fPIC", "-Iinclude", "-pipe"}
	src := func(i int) string { return fmt.Sprintf("src/mod_%04d.c", i) }
	driverObj, directObj, dep := filepath.Join(work, "driver.o"), filepath.Join(work, "direct.o"), filepath.Join(work, "o.d")

	// The driver's two commands for a unit writing directObj; the source
	// is the only word that differs from unit to unit.
	probe := exec.Command(*cc, append(flags, "-MD", "-MF", dep, "-c", src(0), "-o", directObj, "-###")...)
	probe.Dir = proj
	out, err := probe.CombinedOutput()
	if err != nil {
		log.Fatalf("%s -###: %v\n%s", *cc, err, out)
	}
	var cmds [][]string
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, " ") {
			cmds = append(cmds, words(line))
		}
	}
	if len(cmds) != 2 || cmds[0][len(cmds[0])-1] != "|" {
		log.Fatalf("%s -### is not a compiler piped into an assembler:\n%s", *cc, out)
	}
	cc1, as := cmds[0][:len(cmds[0])-1], cmds[1]

	run := func(cmd *exec.Cmd) {
		cmd.Dir, cmd.Stderr = proj, os.Stderr
		if err := cmd.Run(); err != nil {
			log.Fatalf("%s: %v", cmd.Args[0], err)
		}
	}
	driver := func(i int) {
		run(exec.Command(*cc, append(flags, "-MD", "-MF", dep, "-c", src(i), "-o", driverObj)...))
	}
	direct := func(i int) {
		args := slices.Clone(cc1[1:])
		for j, a := range args {
			if a == src(0) {
				args[j] = src(i)
			}
		}
		c, a := exec.Command(cc1[0], args...), exec.Command(as[0], as[1:]...)
		r, w, err := os.Pipe()
		if err != nil {
			log.Fatal(err)
		}
		c.Dir, c.Stdout, c.Stderr = proj, w, os.Stderr
		a.Dir, a.Stdin, a.Stderr = proj, r, os.Stderr
		if err := c.Start(); err != nil {
			log.Fatal(err)
		}
		if err := a.Start(); err != nil {
			log.Fatal(err)
		}
		w.Close()
		r.Close()
		if err := c.Wait(); err != nil {
			log.Fatalf("%s: %v", cc1[0], err)
		}
		if err := a.Wait(); err != nil {
			log.Fatalf("%s: %v", as[0], err)
		}
	}

	var wall, cpu [2][]float64
	for range *rounds {
		for way, compile := range []func(int){driver, direct} {
			c0, t0 := childCPU(), time.Now()
			for i := range *units {
				compile(i)
			}
			wall[way] = append(wall[way], msPerUnit(time.Since(t0), *units))
			cpu[way] = append(cpu[way], msPerUnit(childCPU()-c0, *units))
		}
	}
	a, err1 := os.ReadFile(driverObj)
	b, err2 := os.ReadFile(directObj)
	if err1 != nil || err2 != nil || !bytes.Equal(a, b) {
		log.Fatalf("the two ways made different objects of %s (%v, %v)", src(*units-1), err1, err2)
	}
	fmt.Printf("per unit, medians of %d rounds of %d units (the same object both ways):\n", *rounds, *units)
	fmt.Printf("  %s -pipe -c   wall %.2f ms, CPU %.2f ms\n", *cc, median(wall[0]), median(cpu[0]))
	fmt.Printf("  cc1 | as        wall %.2f ms, CPU %.2f ms (%.2fx, %.2fx)\n", median(wall[1]), median(cpu[1]),
		median(wall[1])/median(wall[0]), median(cpu[1])/median(cpu[0]))
}

// words splits a command line as -### prints it: words separated by
// spaces, some in double quotes (none here holds a quote or a space).
func words(line string) []string {
	f := strings.Fields(line)
	for i, w := range f {
		f[i] = strings.Trim(w, `"`)
	}
	return f
}

// childCPU is the user and system time of the children waited for.
func childCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru); err != nil {
		log.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func msPerUnit(d time.Duration, units int) float64 {
	return float64(d.Microseconds()) / 1000 / float64(units)
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}
