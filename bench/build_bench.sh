#!/usr/bin/env bash
# bench/build_bench.sh [N...] — jmake beside ninja, make and make+ccache on the
# synthetic C projects of shared/bench/gen_project.py (default N = 100 1000).
#
# For each N it generates one copy of the project per tool (each tool owns its
# build/ directory and cache, so none can see another's work) and measures, in
# one run and interleaving the tools inside every repetition (so machine noise
# hits them alike; the order rotates each repetition and runs backwards every
# other one, so no tool always follows the same other tool), the median wall
# time of:
#
#   cold        full build with every cache empty (build/ removed; ccache: a
#               fresh CCACHE_DIR; jmake: `jmake restart --clean`, all untimed)
#   noop        nothing changed
#   touch_c     $TOUCH_C touched (mtime only, the content is the same)
#   edit_c      $EDIT_C's /* jm-edit */ salt changed (a new number every time)
#   edit_h      $EDIT_H (core.h, included by every unit) salt changed
#   clean_warm  build/ removed, cache warm: make+ccache after `rm -rf build`,
#               jmake `jmake build --clean` (keeps the object cache); ninja and
#               make have no cache, so there it would be `cold` again: not run
#
# Before each timed build, after its preparation, `sync` writes back what the
# earlier builds and the preparation left dirty, so that no build pays for
# another's writes. It matters most for cold builds: their preparation deletes
# thousands of files (ccache and jmake also empty a cache), and until the
# inode tables are written back, ext4 without a journal (this machine's disk)
# skips each recently deleted inode when it allocates a new one.
#
# jmake runs as `jmake build DIR` through its four daemons, started once (in a
# private JMAKE_HOME, on shifted ports) and kept warm. Each jmake run is checked
# against `--json` (units, compiled, cached) and ninja/make against the compile
# lines they print; a run that did other work than expected prints a WARNING.
#
# Environment (defaults in brackets):
#   R [5]          repetitions of noop, touch_c, edit_c and clean_warm
#   COLD_R [1]     repetitions of the scenarios that recompile every unit (cold,
#                  edit_h): at N=1000 one of them costs ~30-40 s per tool, so the
#                  default keeps a full run (N=100 and 1000) near 10 minutes
#   JOBS [nproc]   parallel compiles for every tool (ninja's own default would be
#                  nproc+2, which would not be a like-for-like comparison)
#   PORT_OFFSET [700]  shifts the daemons' ports (3001..3004 + offset)
#   OUT            also write the tables as markdown to this file
#   SHARED         a shared/ directory whose bench/gen_project.py to use [the copy in bench/]
#   JMAKE          a jmake binary to use [built from this tree into the work dir]
#   JMAKE_BASE     a second jmake binary (an older commit, say), measured as the
#                  fifth tool "jbase" in the same interleaved run, with its own
#                  state dir and ports (PORT_OFFSET+10), so a change's before and
#                  after meet the same machine noise; the table adds jmake/jbase
#   KEEP=1         keep the work directory (projects, logs) instead of removing it
#   SCENARIOS      the scenarios to run, space-separated [all six, in the order above]
#   TOOLS          the tools to run, space-separated [ninja make ccache jmake]
#   SKIP_AT_10000 [edit_h]  scenarios skipped at N >= 10000, where one of them
#                  recompiles every unit of every tool (~20 min each on 2 cores);
#                  set it empty to run them
#   FLOOR_R [50]   runs of each process-start floor command (below)
#
# Before the projects it measures the machine's process-start floor, the
# least any build tool can cost here: the median wall time of /bin/true, of
# a static Go hello-world (built in the work dir), of `ninja --version` and
# of `jmake --version` (the thin client, which answers without a daemon),
# each started FLOOR_R times from this shell as the builds are. A no-op
# near the floor has nothing left to save.
set -euo pipefail
export LC_ALL=C # EPOCHREALTIME must use '.' as its decimal point

R=${R:-5}
COLD_R=${COLD_R:-1}
JOBS=${JOBS:-$(nproc)}
export PORT_OFFSET=${PORT_OFFSET:-700}
OUT=${OUT:-}
KEEP=${KEEP:-0}
SIZES=("$@")
[ ${#SIZES[@]} -gt 0 ] || SIZES=(100 1000)

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(git -C "$HERE" rev-parse --show-toplevel)
# The repository keeps a copy of shared/bench/gen_project.py in bench/; SHARED
# points at another copy (the shared/ folder beside the repository, say).
if [ -n "${SHARED:-}" ]; then GEN=$SHARED/bench/gen_project.py; else GEN=$ROOT/bench/gen_project.py; fi

read -ra TOOLS <<<"${TOOLS:-ninja make ccache jmake}"
[ -z "${JMAKE_BASE:-}" ] || TOOLS+=(jbase)
read -ra SCENARIOS <<<"${SCENARIOS:-cold noop touch_c edit_c edit_h clean_warm}"
SKIP_AT_10000=${SKIP_AT_10000-edit_h}
FLOOR_R=${FLOOR_R:-50}
declare -A LABEL=(
	[cold]="cold full build"
	[noop]="no-op"
	[touch_c]="touch one .c (mtime only)"
	[edit_c]="edit one .c"
	[edit_h]="edit core.h (all units)"
	[clean_warm]="clean tree, warm cache"
)

die() { echo "build_bench: $*" >&2; exit 1; }
warn() { echo "WARNING: $*" >&2; WARNINGS+=("$*"); }
WARNINGS=()

WORK=$(mktemp -d /tmp/jmake-build-bench.XXXXXX)
export JMAKE_HOME=$WORK/home # private: never the user's daemons or caches
mkdir -m 700 "$JMAKE_HOME"
# jbase: the JMAKE_BASE binary, with a state dir and ports of its own. A
# function setting them for the one command, not `env VAR=... binary`: env
# would be one process more in every timed jbase build (0.7 ms here, a
# quarter of a no-op), and jbase is there to be compared with jmake.
jbase() { JMAKE_HOME=$WORK/home-base PORT_OFFSET=$((PORT_OFFSET + 10)) "$JMAKE_BASE" "$@"; }
[ -z "${JMAKE_BASE:-}" ] || mkdir -m 700 "$WORK/home-base"
# Every timed build's stdout and stderr go to files, on tmpfs when there is
# one: on this machine's ext4 disk, truncating and writing two small files
# costs a build about 0.3 ms, a tenth of a no-op, and it is the harness's
# cost, not the tool's (a terminal costs neither tool that).
if [ -d /dev/shm ] && [ -w /dev/shm ]; then LOGS=$(mktemp -d /dev/shm/jmake-bench-logs.XXXXXX); else LOGS=$WORK/logs; fi

cleanup() {
	# Stop only the daemons this script started (they live in our JMAKE_HOME).
	[ -x "${JMAKE:-}" ] && "$JMAKE" stop >/dev/null 2>&1 || true
	[ -z "${JMAKE_BASE:-}" ] || jbase stop >/dev/null 2>&1 || true
	if [ "$KEEP" = 1 ]; then
		[ "$LOGS" = "$WORK/logs" ] || mv "$LOGS" "$WORK/logs"
		echo "build_bench: work directory kept: $WORK" >&2
	else
		rm -rf "$WORK" "$LOGS"
	fi
}
trap cleanup EXIT

# --- preparation -------------------------------------------------------------

check_prereqs() {
	local t
	for t in python3 gcc ninja make ccache jq go; do
		command -v "$t" >/dev/null || die "$t is not installed"
	done
	[ -f "$GEN" ] || die "no generator at $GEN (set SHARED=)"
	local p
	for p in 3001 3002 3003 3004 3011 3012 3013 3014; do
		p=$((p + PORT_OFFSET))
		if [ -n "$(ss -Hltn "sport = :$p" 2>/dev/null)" ]; then
			die "port $p is in use: pick another PORT_OFFSET"
		fi
	done
}

build_jmake() {
	if [ -z "${JMAKE:-}" ]; then
		JMAKE=$WORK/jmake
		# Both programs, side by side: jmake hands all but a build to jmaked.
		(cd "$ROOT" && CGO_ENABLED=0 go build -o "$WORK/" ./cmd/jmake ./cmd/jmaked) || die "go build of cmd/jmake and cmd/jmaked failed"
	fi
	JMAKE=$(realpath "$JMAKE")
	[ -z "${JMAKE_BASE:-}" ] || JMAKE_BASE=$(realpath "$JMAKE_BASE")
}

machine() {
	local cpu
	cpu=$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1)
	echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores (${cpu:-unknown CPU}), $(free -g | awk '/^Mem:/{print $2}') GB," \
		"$(gcc --version | head -1), ninja $(ninja --version), $(make --version | head -1), $(ccache --version | head -1)," \
		"jmake $(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet HEAD 2>/dev/null || echo '+dirty')"
}

loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

# --- running one build -------------------------------------------------------

# The build command of each tool, run in its own copy of the project.
build_cmd() { # tool dir [extra jmake flags...]
	local tool=$1 dir=$2
	shift 2
	case $tool in
	ninja) ninja -C "$dir" -j "$JOBS" ;;
	make) make -C "$dir" -j "$JOBS" ;;
	ccache) CCACHE_DIR=$CCACHE_DIR_N make -C "$dir" -j "$JOBS" CC="ccache gcc" ;;
	jmake) "$JMAKE" build "$dir" -j "$JOBS" --json "$@" ;;
	jbase) jbase build "$dir" -j "$JOBS" --json "$@" ;;
	esac
}

# timed TOOL DIR SCENARIO [flags]: run one build, timing it with bash's
# EPOCHREALTIME (no process is forked for the clock, so a 3 ms no-op is not
# blurred by the timer), then check the work it did. Sets T_US.
timed() {
	local tool=$1 dir=$2 scen=$3
	shift 3
	LOG=$LOGS/n$N.$scen.$tool
	local t0 t1 rc=0
	t0=$EPOCHREALTIME
	build_cmd "$tool" "$dir" "$@" >"$LOG.out" 2>"$LOG.err" || rc=$?
	t1=$EPOCHREALTIME
	T_US=$((${t1/./} - ${t0/./}))
	if [ $rc -ne 0 ]; then
		warn "N=$N $scen: $tool failed (exit $rc); stderr tail:"
		tail -5 "$LOG.err" >&2
		FAILED[$scen,$tool]=1
	fi
	check_work "$tool" "$dir" "$scen"
}

# How many compiles the scenario should run: jmake hashes content, so a
# touch (same content) compiles nothing, and a clean tree with a warm cache
# takes every object from the cache; ninja and make go by mtime.
expected() { # tool scenario -> "compiled cached" (jmake) or "compiles" (others)
	local tool=$1 scen=$2
	if [ "$tool" = jmake ] || [ "$tool" = jbase ]; then
		case $scen in
		cold | edit_h) echo "$UNITS 0" ;;
		noop | touch_c) echo "0 0" ;;
		edit_c) echo "1 0" ;;
		clean_warm) echo "0 $UNITS" ;;
		esac
	else
		case $scen in
		cold | edit_h | clean_warm) echo "$UNITS" ;;
		noop) echo 0 ;;
		touch_c | edit_c) echo 1 ;;
		esac
	fi
}

check_work() { # tool dir scenario
	local tool=$1 dir=$2 scen=$3 want got
	want=$(expected "$tool" "$scen")
	case $tool in
	jmake | jbase)
		# --json prints the orchestrator's reply as the last line of stdout.
		local line
		line=$(tail -n 1 "$LOG.out")
		if ! got=$(jq -er '"\(.compiled) \(.cached)"' <<<"$line" 2>/dev/null); then
			warn "N=$N $scen: jmake printed no JSON result (see $LOG.out)"
			return
		fi
		local units
		units=$(jq -r '.units' <<<"$line")
		[ "$tool" = jbase ] || JWORK[$scen]="$got"
		[ "$units" = "$UNITS" ] || warn "N=$N $scen: $tool saw $units units, the project has $UNITS"
		if [ "$got" != "$want" ]; then
			warn "N=$N $scen: $tool compiled/cached = ${got/ //}, expected ${want/ //}"
		fi
		;;
	ninja) got=$(grep -c '\] CC ' "$LOG.out" || true) ;;&
	make | ccache) got=$(grep -c -- ' -c ' "$LOG.out" || true) ;;&
	ninja | make | ccache)
		[ "$got" = "$want" ] || warn "N=$N $scen: $tool ran $got compiles, expected $want"
		;;
	esac
}

# --- preparing each scenario (never timed) ----------------------------------

# Empty every cache of one tool before a cold build.
make_cold() { # tool dir
	local tool=$1 dir=$2
	rm -rf "$dir/build" # ninja keeps .ninja_log/.ninja_deps in build/ too
	case $tool in
	ccache) rm -rf "$CCACHE_DIR_N" && mkdir -p "$CCACHE_DIR_N" ;;
	jmake) "$JMAKE" restart --clean >"$LOGS/restart.out" 2>&1 || die "jmake restart --clean failed" ;;
	jbase) jbase restart --clean >"$LOGS/restart.out" 2>&1 || die "jbase restart --clean failed" ;;
	esac
}

# Change the number before `u; /* jm-edit */` in a file; every call uses a new
# number so that no cache (ccache, jmake's object cache) can score a hit.
# shellcheck source=salt.sh
. "$HERE/salt.sh"

# Run one repetition of SCENARIO for every tool, the order rotated by REP so
# that no tool always runs first (right after another tool's heavy build), and
# reversed on odd repetitions so that no tool always follows the same one.
one_rep() { # scenario rep
	local scen=$1 rep=$2 i j tool dir n=${#TOOLS[@]}
	# One salt per repetition, the same for every tool: each has its own cache.
	local salt_c="" salt_h=""
	for ((i = 0; i < n; i++)); do
		j=$(((i + rep) % n))
		((rep % 2 == 0)) || j=$((n - 1 - j))
		tool=${TOOLS[j]}
		dir=$WORK/n$N/$tool
		local flags=()
		case $scen in
		cold) make_cold "$tool" "$dir" ;;
		touch_c) touch "$dir/$TOUCH_C" ;;
		edit_c)
			if [ -z "$salt_c" ]; then bump_salt "$dir/$EDIT_C"; salt_c=$SALT; else
				set_salt "$dir/$EDIT_C" "$salt_c"
			fi
			;;
		edit_h)
			if [ -z "$salt_h" ]; then bump_salt "$dir/$EDIT_H"; salt_h=$SALT; else
				set_salt "$dir/$EDIT_H" "$salt_h"
			fi
			;;
		clean_warm)
			case $tool in
			ninja | make) continue ;; # no cache: it would be the cold build again
			ccache) rm -rf "$dir/build" ;;
			jmake | jbase) flags=(--clean) ;; # removes build outputs itself, keeps the object cache
			esac
			;;
		esac
		sync # untimed: see the top of this file
		timed "$tool" "$dir" "$scen" "${flags[@]}"
		TIMES[$scen,$tool]+="$T_US "
	done
}

# --- results -----------------------------------------------------------------

median() { # microsecond values... -> median
	local sorted n
	mapfile -t sorted < <(printf '%s\n' "$@" | sort -n)
	n=${#sorted[@]}
	if ((n % 2)); then echo "${sorted[n / 2]}"; else echo $(((sorted[n / 2 - 1] + sorted[n / 2]) / 2)); fi
}

fmt_ms() { # microseconds -> "12.3" (below 100 ms) or "1234"
	local us=$1
	if ((us < 100000)); then printf '%d.%d' $((us / 1000)) $((us % 1000 / 100)); else printf '%d' $(((us + 500) / 1000)); fi
}

ratio() { # a b -> a/b as "0.42x"
	awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else printf "-" }'
}

# The table of one N, as markdown (readable as it is on a terminal).
table() {
	local scen tool cell
	echo "### N=$N ($UNITS units), medians of R=$R (cold and edit core.h: COLD_R=$COLD_R), -j$JOBS"
	echo
	# A column per tool run, in TOOLS' order.
	local -A head=([ninja]="ninja ms" [make]="make ms" [ccache]="make+ccache ms" [jmake]="jmake ms" [jbase]="jbase ms")
	local header="| scenario " rule="|---"
	for tool in "${TOOLS[@]}"; do
		header+="| ${head[$tool]} "
		rule+="|---:"
	done
	header+="| jmake/ninja | jmake/make+ccache | jmake compiled/cached (last run) |"
	rule+="|---:|---:|---:|"
	if [ -n "${JMAKE_BASE:-}" ]; then
		header+=" jmake/jbase |"
		rule+="---:|"
	fi
	echo "$header"
	echo "$rule"
	for scen in "${SCENARIOS[@]}"; do
		declare -A med=()
		local row="| ${LABEL[$scen]} "
		for tool in "${TOOLS[@]}"; do
			cell="—"
			if [ -n "${TIMES[$scen,$tool]:-}" ]; then
				# shellcheck disable=SC2086 # the list is space-separated on purpose
				med[$tool]=$(median ${TIMES[$scen,$tool]})
				cell=$(fmt_ms "${med[$tool]}")
				[ -z "${FAILED[$scen,$tool]:-}" ] || cell="$cell (failed)"
			fi
			row+="| $cell "
		done
		local rn="—" rc="—"
		[ -z "${med[ninja]:-}" ] || [ -z "${med[jmake]:-}" ] || rn=$(ratio "${med[jmake]}" "${med[ninja]}")
		[ -z "${med[ccache]:-}" ] || [ -z "${med[jmake]:-}" ] || rc=$(ratio "${med[jmake]}" "${med[ccache]}")
		local w=${JWORK[$scen]:-} rb=""
		if [ -n "${JMAKE_BASE:-}" ]; then
			rb="—"
			[ -z "${med[jbase]:-}" ] || [ -z "${med[jmake]:-}" ] || rb=$(ratio "${med[jmake]}" "${med[jbase]}")
			rb=" $rb |"
		fi
		echo "$row| $rn | $rc | ${w/ //} |$rb"
		unset med
	done
	echo
}

# --- the process-start floor ---------------------------------------------------

# floor: the median wall time of starting each floor command FLOOR_R times,
# interleaved (one of each per round) as the builds are, as a markdown table.
floor() {
	local hello=$WORK/hello
	mkdir -p "$WORK/hello-src"
	printf 'package main\n\nimport "os"\n\nfunc main() { os.Stdout.WriteString("hello\\n") }\n' >"$WORK/hello-src/main.go"
	(cd "$WORK/hello-src" && cat >go.mod <<<"module hello" && CGO_ENABLED=0 go build -o "$hello" .) || die "go build of the hello-world failed"
	local -a names=("/bin/true" "static Go hello-world" "ninja --version" "jmake --version (thin client)")
	local -a cmds=("/bin/true" "$hello" "ninja --version" "$JMAKE --version")
	local -A ft=()
	local r i t0 t1
	for ((r = 0; r < FLOOR_R; r++)); do
		for i in "${!cmds[@]}"; do
			t0=$EPOCHREALTIME
			${cmds[i]} >/dev/null 2>&1 || die "floor command failed: ${cmds[i]}"
			t1=$EPOCHREALTIME
			ft[$i]+="$((${t1/./} - ${t0/./})) "
		done
	done
	echo "### Process-start floor, medians of $FLOOR_R runs"
	echo
	echo "| command | ms |"
	echo "|---|---:|"
	for i in "${!cmds[@]}"; do
		# shellcheck disable=SC2086 # the list is space-separated on purpose
		echo "| ${names[i]} | $(fmt_ms "$(median ${ft[$i]})") |"
	done
	echo
}

# daemon_rss: the resident memory of the four daemons (VmRSS, from their PID
# files in our JMAKE_HOME), as a sentence for the table.
daemon_rss() {
	local name pid kb total=0 parts=()
	for name in discovery setup compilation orchestrator; do
		pid=$(head -1 "$JMAKE_HOME/.daemon_pids.$name" 2>/dev/null) || continue
		kb=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null) || continue
		[ -n "$kb" ] || continue
		parts+=("$name $((kb / 1024))")
		total=$((total + kb))
	done
	local joined
	joined=$(printf '%s, ' "${parts[@]}")
	echo "jmake's daemons after the build and the no-ops at N=$N, resident (VmRSS, MB): ${joined%, }; together $((total / 1024))."
}

# --- one project size ----------------------------------------------------------

bench_size() {
	N=$1
	local base=$WORK/n$N tool rep scen
	mkdir -p "$base"
	CCACHE_DIR_N=$base/ccache-dir
	python3 "$GEN" "$base/proto" -n "$N" >/dev/null
	# shellcheck disable=SC1091 # generated: NAME UNITS LIB TOUCH_C EDIT_C EDIT_H
	source "$base/proto/bench.env"
	UNITS=$(find "$base/proto/src" -name '*.c' | wc -l) # N + support.c + groups.c
	for tool in "${TOOLS[@]}"; do cp -a "$base/proto" "$base/$tool"; done

	declare -gA TIMES=() FAILED=() JWORK=()
	echo "== N=$N: $UNITS units, ${#TOOLS[@]} copies in $base" >&2
	for scen in "${SCENARIOS[@]}"; do
		if ((N >= 10000)) && [[ " $SKIP_AT_10000 " == *" $scen "* ]]; then
			echo "   $scen skipped at N=$N (SKIP_AT_10000)" >&2
			continue
		fi
		local reps=$R
		case $scen in cold | edit_h) reps=$COLD_R ;; esac
		if [ "$scen" = noop ]; then
			# One untimed no-op first: measure the steady state, not the
			# first look at a tree that a cold build just wrote.
			for tool in "${TOOLS[@]}"; do build_cmd "$tool" "$base/$tool" >/dev/null 2>&1 || true; done
		fi
		echo "   $scen x$reps" >&2
		for ((rep = 0; rep < reps; rep++)); do one_rep "$scen" "$rep"; done
		# After a build and the no-ops: what the daemons hold for it.
		[ "$scen" != noop ] || [[ " ${TOOLS[*]} " != *" jmake "* ]] || RSS_LINE=$(daemon_rss)
	done
	{
		table
		[ -z "${RSS_LINE:-}" ] || { echo "$RSS_LINE"; echo; }
	} | tee -a "$WORK/tables.md"
	RSS_LINE=
	[ "$KEEP" = 1 ] || rm -rf "$base" # the next size needs the disk and page cache more
}

main() {
	check_prereqs
	build_jmake
	mkdir -p "$LOGS"
	"$JMAKE" start >"$LOGS/start.out" 2>&1 || { cat "$LOGS/start.out" >&2; die "jmake start failed"; }
	if [ -n "${JMAKE_BASE:-}" ]; then
		jbase start >"$LOGS/start-base.out" 2>&1 ||
			{ cat "$LOGS/start-base.out" >&2; die "jbase start failed"; }
	fi
	local m
	m=$(machine)
	{
		echo "## Build benchmark"
		echo
		echo "Measured $m; load average $(loadavg) at the start."
		echo
	} | tee "$WORK/tables.md"
	floor | tee -a "$WORK/tables.md"
	local n
	for n in "${SIZES[@]}"; do bench_size "$n"; done
	# Other work on the machine shows up as noise: say how busy it was.
	echo "Load average at the end: $(loadavg)." | tee -a "$WORK/tables.md"
	echo | tee -a "$WORK/tables.md"
	if [ ${#WARNINGS[@]} -gt 0 ]; then
		{
			echo "Warnings:"
			echo
			printf -- '- %s\n' "${WARNINGS[@]}"
			echo
		} | tee -a "$WORK/tables.md"
	fi
	[ -z "$OUT" ] || cp "$WORK/tables.md" "$OUT"
}

main
