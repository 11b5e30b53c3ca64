#!/usr/bin/env bash
# echo_light (BENCHMARKS.md): rt, tokio and Go echo servers on 2 workers,
# 8 client connections each sending a 64-byte message every millisecond.
# Runs the servers interleaved, each in a fresh process, ROUNDS times
# (default 9), and prints one line per run and the median p50/p99 and the
# worst p99 of each server.
#
#   benches/echo_light.sh [ROUNDS] [SECONDS]
#
# ECHO_SERVERS picks the servers (default "rt tokio go"); ECHO_RT=path runs
# another build of the rt server beside this one (as server "rt-other").
set -uo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-9}"
seconds="${2:-3}"
# shellcheck disable=SC2206 # a space-separated list
servers=(${ECHO_SERVERS:-rt tokio go})
GO=/usr/lib/go-1.23/bin/go

exe=$(cargo bench -p rt-benches --bench echo_light --no-run 2>&1 |
    sed -n 's/.*Executable .*(\(.*\))/\1/p' | tail -1)
[ -x "$exe" ] || { echo "could not build benches/echo_light.rs" >&2; exit 1; }
go_exe=$(mktemp)
if ! (cd benches/go/echo && GOPROXY=off GOTOOLCHAIN=local $GO build -o "$go_exe" .); then
    echo "could not build benches/go/echo (is golang-1.23-go installed?): skipping Go" >&2
    # shellcheck disable=SC2206 # a space-separated list
    servers=(${servers[@]/go/})
fi
if [ -n "${ECHO_RT:-}" ]; then servers+=(rt-other); fi

results=$(mktemp)
port=7300
for round in $(seq "$rounds"); do
    for server in "${servers[@]}"; do
        port=$((port + 1))
        case $server in
        rt | tokio) "$exe" "$server" "$port" & ;;
        rt-other) "$ECHO_RT" rt "$port" & ;;
        go) "$go_exe" -port "$port" -workers 2 & ;;
        esac
        pid=$!
        sleep 0.3
        line=$("$exe" client "$port" "$seconds")
        kill "$pid"
        wait "$pid" 2>/dev/null
        echo "round $round $server $line" | tee -a "$results"
    done
done
echo
python3 - "$results" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    f = line.split()
    runs.setdefault(f[2], []).append((float(f[6]), float(f[10])))
print("| server | runs | p50 median (µs) | p99 median (µs) | p99 worst (µs) |")
print("|---|---|---|---|---|")
for server, r in runs.items():
    p50 = statistics.median(x for x, _ in r)
    p99 = [y for _, y in r]
    print(f"| {server} | {len(r)} | {p50:.1f} | {statistics.median(p99):.1f} | {max(p99):.1f} |")
PY
rm -f "$results" "$go_exe"
