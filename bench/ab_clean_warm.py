#!/usr/bin/env python3
"""Compare two jmake binaries on one scenario: a clean tree with a warm object
cache (`jmake build --clean`, every object restored from the cache).

    python3 bench/ab_clean_warm.py OLD_JMAKE NEW_JMAKE WORKDIR [RUNS]

Each binary gets its own generated project (bench/gen_project.py -n 1000),
its own JMAKE_HOME and port offset under WORKDIR, and one cold build to fill
its cache (reused when WORKDIR is kept). Both sides' daemons are restarted
and warmed with a few clean builds, so that neither runs with the larger heap
of a daemon that served more builds (daemons started just before measuring,
against ones that had served builds for 40 minutes, came out 15-23% slower
here). Then
RUNS (default 41) clean builds of each, interleaved, the order alternating from round to round so that
neither always follows the other. Prints the medians of the wall time of the
`jmake build --clean` command and of the time jmake reports, and the mean CPU
time of the compilation daemon per build. The daemons are left running
(`JMAKE_HOME=WORKDIR/home-old jmake stop` ends them).
"""
import os
import re
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    old, new, work = (os.path.abspath(a) for a in sys.argv[1:4])
    runs = int(sys.argv[4]) if len(sys.argv) > 4 else 41
    sides = {
        "old": (old, os.path.join(work, "home-old"), "720", os.path.join(work, "old")),
        "new": (new, os.path.join(work, "home-new"), "730", os.path.join(work, "new")),
    }
    for binary, home, off, proj in sides.values():
        if not os.path.isdir(proj):
            subprocess.run([sys.executable, os.path.join(HERE, "gen_project.py"), "-n", "1000", proj],
                           check=True, stdout=subprocess.DEVNULL)
        env = dict(os.environ, JMAKE_HOME=home, PORT_OFFSET=off)
        subprocess.run([binary, "stop"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        subprocess.run([binary, "build", proj], env=env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def build(side):
        binary, home, off, proj = sides[side]
        env = dict(os.environ, JMAKE_HOME=home, PORT_OFFSET=off)
        pid = int(re.search(rb"\d+", open(os.path.join(home, ".daemon_pids.compilation"), "rb").read()).group())
        cpu0 = cpu(pid)
        t = time.perf_counter()
        r = subprocess.run([binary, "build", "--clean", proj], env=env, capture_output=True, text=True)
        wall = time.perf_counter() - t
        if r.returncode != 0 or " 0 compiled" not in r.stdout:
            sys.exit(f"{side}: exit {r.returncode}, not all from the cache:\n{r.stdout}{r.stderr}")
        reported = float(re.search(r"([0-9.]+) s$", r.stdout.strip()).group(1))
        return wall, reported, cpu(pid) - cpu0

    for _ in range(5):  # warm both sides alike
        for side in sides:
            build(side)
    res = {side: ([], [], []) for side in sides}
    for i in range(runs):
        for side in (["old", "new"] if i % 2 == 0 else ["new", "old"]):
            for series, v in zip(res[side], build(side)):
                series.append(v)
    ms = lambda v: statistics.median(v) * 1000
    for side, (wall, reported, cpus) in res.items():
        print(f"{side}: wall median {ms(wall):.1f} ms (min {min(wall) * 1000:.1f}), reported median "
              f"{ms(reported):.1f} ms, compilation daemon CPU mean {statistics.mean(cpus) * 1000:.1f} ms, n={len(wall)}")
    print(f"new/old: wall median {ms(res['new'][0]) / ms(res['old'][0]):.3f}, "
          f"reported median {ms(res['new'][1]) / ms(res['old'][1]):.3f}")


def cpu(pid):
    """User + system CPU seconds of pid (/proc/<pid>/stat counts in 1/100 s)."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100.0


if __name__ == "__main__":
    main()
