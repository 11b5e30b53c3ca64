#!/usr/bin/env bash
# The 2-worker workloads of BENCHMARKS.md — pipeline started apart and
# together, chan ping-pong placed by the runtime, hub, hub with client
# work — and two more (a worker pool, an MPMC channel), for rt and tokio
# (benches/two_workers.rs) in ROUNDS interleaved fresh processes each
# (default 9; tokio has no MPMC channel: no tokio pool or mpmc), and Go
# (`go test -bench -cpu 2` in benches/go, 3 runs). Prints a markdown table
# (median and worst of the fresh processes) and writes the chart
# docs/two-workers.svg.
#
#   benches/two_workers.sh [ROUNDS]
#
# BUSY=N runs N busy loops beside the benchmarks (a crowded host: more
# runnable threads than cores); the chart is then not written.
set -uo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-9}"
busy_loops="${BUSY:-0}"
[[ $busy_loops =~ ^[0-9]+$ ]] || { echo "BUSY must be a number" >&2; exit 1; }
GO=/usr/lib/go-1.23/bin/go

exe=$(cargo bench -p rt-benches --bench two_workers --no-run 2>&1 |
    sed -n 's/.*Executable .*(\(.*\))/\1/p' | tail -1)
[ -x "$exe" ] || { echo "could not build benches/two_workers.rs" >&2; exit 1; }
results=$(mktemp)
chart=docs/two-workers.svg
[ "$busy_loops" -eq 0 ] || chart=/dev/null
busy=()
cleanup() {
    [ ${#busy[@]} -eq 0 ] || kill "${busy[@]}" 2>/dev/null
    rm -f "$results"
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT
for _ in $(seq "$busy_loops"); do
    sh -c 'while :; do :; done' &
    busy+=($!)
done
for round in $(seq "$rounds"); do
    for mode in apart together fresh hub hub-work pool mpmc \
        tokio-apart tokio-together tokio-pingpong tokio-hub tokio-hub-work; do
        "$exe" "$mode" | tee -a "$results" >&2
    done
done
if [ -x "$GO" ]; then
    for _ in 1 2 3; do
        (cd benches/go && GOPROXY=off GOTOOLCHAIN=local "$GO" test -run xxx \
            -bench 'Pipeline4|ChanPingPong2|^BenchmarkHub|Pool|MPMC' -cpu 2 .) |
            grep '^Benchmark' | tee -a "$results" >&2
    done
fi
python3 - "$results" <<'PY' | tee /dev/stderr | python3 benches/svg_bars.py \
    "2 workers: rt, tokio, Go (median of fresh processes)" "ns per item / round trip / request" \
    "$chart"
import collections, re, statistics, sys
rows = collections.defaultdict(list)
names = {
    "pipeline-apart": ("pipeline, started apart", "rt"),
    "pipeline-together": ("pipeline, started together", "rt"),
    "fresh2w": ("chan ping-pong", "rt"),
    "hub": ("hub, 64 clients", "rt"),
    "hub-work": ("hub, 1.5 µs client work", "rt"),
    "pool": ("pool of 8, 1.5 µs per job", "rt"),
    "mpmc": ("MPMC, 4 × 4, no work", "rt"),
    "tokio-pipeline-apart": ("pipeline, started apart", "tokio"),
    "tokio-pipeline-together": ("pipeline, started together", "tokio"),
    "tokio-pingpong2w": ("chan ping-pong", "tokio"),
    "tokio-hub": ("hub, 64 clients", "tokio"),
    "tokio-hub-work": ("hub, 1.5 µs client work", "tokio"),
    "BenchmarkPipeline4Apart-2": ("pipeline, started apart", "Go"),
    "BenchmarkPipeline4Together-2": ("pipeline, started together", "Go"),
    "BenchmarkChanPingPong2-2": ("chan ping-pong", "Go"),
    "BenchmarkHub-2": ("hub, 64 clients", "Go"),
    "BenchmarkHubWork-2": ("hub, 1.5 µs client work", "Go"),
    "BenchmarkPool-2": ("pool of 8, 1.5 µs per job", "Go"),
    "BenchmarkMPMC-2": ("MPMC, 4 × 4, no work", "Go"),
}
for line in open(sys.argv[1]):
    f = line.split()
    if f[0].startswith("Benchmark"):
        rows[names[f[0]]].append(float(f[-2]))
    elif f[0] in names:
        rows[names[f[0]]].append(float(f[1]))
order = [n for n in names.values() if n in rows]
groups = sorted({g for g, _ in order}, key=[g for g, _ in order].index)
table = ["| workload | rt median / worst | tokio median / worst | Go median |", "|---|---|---|---|"]
for g in groups:
    cells = []
    for s in ("rt", "tokio", "Go"):
        v = rows.get((g, s))
        cells.append("–" if not v else f"{statistics.median(v):,.0f} / {max(v):,.0f}" if s != "Go" else f"{statistics.median(v):,.0f}")
        if v:
            print(f"{g}\t{s}\t{statistics.median(v)}\t{max(v) if s != 'Go' else ''}")
    table.append(f"| {g} | " + " | ".join(cells) + " |")
print("\n".join(table), file=sys.stderr)
PY
rm -f "$results"
