#!/usr/bin/env bash
# bench/daemon_bench.sh — the daemons' own costs, each beside its target:
#
#   start       `jmake start` until all four answer /healthz (it returns only
#               then), median of STARTS runs, each after an untimed stop
#   stop        `jmake stop` of four idle daemons, median of STARTS runs
#   healthz     GET /healthz, 16 clients for DURATION (bench/load): req/s, p50, p99
#   stats       GET /v1/stats (authenticated), the same way
#   cache load  opening a store.Map of 100,000 entries (BenchmarkMapLoad100k)
#
# The daemons run in a private JMAKE_HOME on shifted ports, and are stopped on
# exit. The load generator runs on the same machine as the daemon it loads,
# so on a 2-core machine they share the CPU: the figure is a floor.
#
# Environment: STARTS [10], DURATION [5s], CLIENTS [16], PORT_OFFSET [700],
# DAEMON [orchestrator] (the one loaded), OUT (also write the table as
# markdown to this file), JMAKE (a binary to use instead of building one).
set -euo pipefail
export LC_ALL=C # EPOCHREALTIME must use '.' as its decimal point

STARTS=${STARTS:-10}
DURATION=${DURATION:-5s}
CLIENTS=${CLIENTS:-16}
export PORT_OFFSET=${PORT_OFFSET:-700}
DAEMON=${DAEMON:-orchestrator}
OUT=${OUT:-}

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(git -C "$HERE" rev-parse --show-toplevel)

die() { echo "daemon_bench: $*" >&2; exit 1; }

WORK=$(mktemp -d /tmp/jmake-daemon-bench.XXXXXX)
export JMAKE_HOME=$WORK/home
mkdir -m 700 "$JMAKE_HOME"
cleanup() {
	[ -x "${JMAKE:-}" ] && "$JMAKE" stop >/dev/null 2>&1 || true
	rm -rf "$WORK"
}
trap cleanup EXIT

declare -A BASE_PORT=([discovery]=3001 [setup]=3002 [compilation]=3003 [orchestrator]=3004)
[ -n "${BASE_PORT[$DAEMON]:-}" ] || die "unknown DAEMON=$DAEMON"
PORT=$((BASE_PORT[$DAEMON] + PORT_OFFSET))

for p in 3001 3002 3003 3004; do
	p=$((p + PORT_OFFSET))
	[ -z "$(ss -Hltn "sport = :$p" 2>/dev/null)" ] || die "port $p is in use: pick another PORT_OFFSET"
done

(
	cd "$ROOT"
	# Both programs, side by side: jmake hands all but a build to jmaked.
	[ -n "${JMAKE:-}" ] || CGO_ENABLED=0 go build -o "$WORK/" ./cmd/jmake ./cmd/jmaked
	go build -o "$WORK/load" ./bench/load
) || die "go build failed"
JMAKE=$(realpath "${JMAKE:-$WORK/jmake}")

# timed CMD...: run it, time it with EPOCHREALTIME (no clock process), set T_US.
timed() {
	local t0 t1
	t0=$EPOCHREALTIME
	"$@" >"$WORK/last.out" 2>&1 || { cat "$WORK/last.out" >&2; die "$* failed"; }
	t1=$EPOCHREALTIME
	T_US=$((${t1/./} - ${t0/./}))
}

median() {
	local sorted n
	mapfile -t sorted < <(printf '%s\n' "$@" | sort -n)
	n=${#sorted[@]}
	if ((n % 2)); then echo "${sorted[n / 2]}"; else echo $(((sorted[n / 2 - 1] + sorted[n / 2]) / 2)); fi
}

us_ms() { awk -v u="$1" 'BEGIN { printf "%.1f", u / 1000 }'; }

ROWS=()
row() { ROWS+=("| $1 | $2 | $3 | $4 |"); } # what measured target ok

verdict() { # value op target -> "yes"/"NO"
	awk -v v="$1" -v t="$3" -v op="$2" 'BEGIN { ok = (op == "le") ? v <= t : v >= t; print ok ? "yes" : "NO" }'
}

bench_lifecycle() {
	# One untimed round first: makes the token and state directory, and brings
	# the binary into the page cache, which is what later starts see.
	"$JMAKE" start >/dev/null
	"$JMAKE" stop >/dev/null
	local starts=() stops=() i
	for ((i = 0; i < STARTS; i++)); do
		timed "$JMAKE" start
		starts+=("$T_US")
		# `start` must not return before every daemon answers: check it did.
		"$JMAKE" status >/dev/null || die "jmake start returned before all four were running"
		timed "$JMAKE" stop
		stops+=("$T_US")
		"$JMAKE" status >/dev/null 2>&1 && die "jmake stop returned with daemons still running"
	done
	local s t
	s=$(median "${starts[@]}")
	t=$(median "${stops[@]}")
	row "\`jmake start\` to all four ready (median of $STARTS)" "$(us_ms "$s") ms" "≤ 300 ms" "$(verdict "$s" le 300000)"
	row "\`jmake stop\` of four idle daemons (median of $STARTS)" "$(us_ms "$t") ms" "≤ 200 ms" "$(verdict "$t" le 200000)"
}

bench_http() {
	"$JMAKE" start >/dev/null
	local path j rps p50 p99 fail
	for path in /healthz /v1/stats; do
		j=$("$WORK/load" -json -url "http://127.0.0.1:$PORT$path" -c "$CLIENTS" -d "$DURATION") || true
		[ -n "$j" ] || die "load generator failed on $path"
		read -r rps p50 p99 fail < <(jq -r '"\(.rps) \(.p50_ms) \(.p99_ms) \(.failures)"' <<<"$j")
		local target="—" ok="—"
		if [ "$path" = /healthz ]; then target="≥ 10,000 req/s"; ok=$(verdict "$rps" ge 10000); fi
		[ "$fail" = 0 ] || ok="NO ($fail failures)"
		row "\`GET $path\` on $DAEMON, $CLIENTS clients, $DURATION" \
			"$(printf '%.0f req/s, p50 %.3f ms, p99 %.3f ms' "$rps" "$p50" "$p99")" "$target" "$ok"
	done
	"$JMAKE" stop >/dev/null
}

bench_cache_load() {
	local out ns
	out=$(cd "$ROOT" && go test -run XXX -bench BenchmarkMapLoad100k ./internal/store/) ||
		{ echo "$out" >&2; die "BenchmarkMapLoad100k failed"; }
	ns=$(awk '/^BenchmarkMapLoad100k/ { for (i = 1; i < NF; i++) if ($(i + 1) == "ns/op") print $i }' <<<"$out")
	[ -n "$ns" ] || die "no ns/op in: $out"
	row "load a cache of 100,000 entries (BenchmarkMapLoad100k)" "$(awk -v n="$ns" 'BEGIN { printf "%.1f ms", n / 1e6 }')" \
		"≤ 200 ms" "$(verdict "$ns" le 200000000)"
}

main() {
	bench_lifecycle
	bench_http
	bench_cache_load
	{
		echo "## Daemon benchmark"
		echo
		echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at the end."
		echo
		echo "| what | measured | target | met |"
		echo "|---|---|---|---|"
		printf '%s\n' "${ROWS[@]}"
		echo
	} | tee "$WORK/table.md"
	[ -z "$OUT" ] || cp "$WORK/table.md" "$OUT"
}

main
