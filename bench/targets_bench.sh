#!/usr/bin/env bash
# bench/targets_bench.sh [N] — two targets, jmake beside ninja: the project of
# `gen_project.py -n N --targets` (default N = 1000), a shared library of N+2
# units and a program (app/main.c) that links it. Both tools build both
# outputs; ninja relinks the program whenever the library is relinked (its
# implicit dependency), as jmake does.
#
# Scenarios, each timed R times, the two tools interleaved in every
# repetition (the order alternating), medians in milliseconds:
#   noop     nothing changed
#   edit_c   $EDIT_C's /* jm-edit */ salt changed: one unit, the library
#            and the program relinked
#   edit_h   core.h's salt changed: every unit of both targets
#
# Environment: R [5] (edit_h: COLD_R [1]), JOBS [nproc], PORT_OFFSET [760],
# JMAKE [a jmake built from this tree], KEEP=1 keeps the work directory.
set -euo pipefail
export LC_ALL=C # EPOCHREALTIME must use '.' as its decimal point

N=${1:-1000}
R=${R:-5}
COLD_R=${COLD_R:-1}
JOBS=${JOBS:-$(nproc)}
export PORT_OFFSET=${PORT_OFFSET:-760}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(git -C "$HERE" rev-parse --show-toplevel)
WORK=$(mktemp -d /tmp/jmake-targets-bench.XXXXXX)
export JMAKE_HOME=$WORK/home

die() { echo "targets_bench: $*" >&2; exit 1; }
cleanup() {
	[ -x "${JMAKE:-}" ] && "$JMAKE" stop >/dev/null 2>&1 || true
	if [ "${KEEP:-0}" = 1 ]; then echo "kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

command -v ninja >/dev/null || die "ninja not found"
if [ -z "${JMAKE:-}" ]; then
	JMAKE=$WORK/jmake
	# Both programs, side by side: jmake hands all but a build to jmaked.
	(cd "$ROOT" && CGO_ENABLED=0 go build -o "$WORK/" ./cmd/jmake ./cmd/jmaked)
fi

for tool in ninja jmake; do
	python3 "$HERE/gen_project.py" -n "$N" --targets "$WORK/p-$tool" >/dev/null
done
# shellcheck disable=SC1091
. "$WORK/p-ninja/bench.env"

run() { # tool
	case $1 in
	ninja) ninja -C "$WORK/p-ninja" -j "$JOBS" >/dev/null ;;
	jmake) "$JMAKE" build -j "$JOBS" "$WORK/p-jmake" >/dev/null ;;
	esac
}

# shellcheck source=salt.sh
. "$HERE/salt.sh"

declare -A TIMES
timed() { # scenario tool
	sync
	local t0 t1
	t0=$EPOCHREALTIME
	run "$2"
	t1=$EPOCHREALTIME
	TIMES[$1,$2]+=" $(( (${t1/./} - ${t0/./}) ))"
}

for tool in ninja jmake; do run "$tool"; run "$tool"; done # cold, then settle

for scen in noop edit_c edit_h; do
	reps=$R
	[ "$scen" = edit_h ] && reps=$COLD_R
	for ((i = 0; i < reps; i++)); do
		order=(ninja jmake)
		((i % 2)) && order=(jmake ninja)
		for tool in "${order[@]}"; do
			case $scen in
			edit_c) bump_salt "$WORK/p-$tool/$EDIT_C" ;;
			edit_h) bump_salt "$WORK/p-$tool/$EDIT_H" ;;
			esac
			timed "$scen" "$tool"
		done
	done
done

median() {
	printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2)}'
}
echo "### two targets (library + program), N=$N, medians of R=$R (edit core.h: $COLD_R), -j$JOBS"
echo
echo "| scenario | ninja (ms) | jmake (ms) |"
echo "|---|---:|---:|"
for scen in noop edit_c edit_h; do
	# shellcheck disable=SC2086
	n=$(median ${TIMES[$scen,ninja]})
	# shellcheck disable=SC2086
	j=$(median ${TIMES[$scen,jmake]})
	printf '| %s | %.1f | %.1f |\n' "$scen" "$(echo "$n / 1000" | bc -l)" "$(echo "$j / 1000" | bc -l)"
done
