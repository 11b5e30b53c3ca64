#!/usr/bin/env bash
# Run rt's spawn_join, yield and chan_pingpong benchmarks side by side with
# the peers (may, tokio, std, Go) and write a markdown table of ns per unit
# and ratios to $1 (default docs/benchmarks-latest.md).
#
# The workloads that need fresh processes or a client have scripts of
# their own: benches/two_workers.sh (pipeline, ping-pong, hub on 2 workers;
# writes docs/two-workers.svg), benches/echo_light.sh (latency at light
# load), benches/http.sh (http_plaintext) and benches/blocking_crates.sh
# (redis and ureq with the `hook` feature, against rt::net and tokio).
#
#   benches/peers.sh [out.md]
#
# Each criterion function runs as its own process under a timeout, so a peer
# that panics, hangs or is missing shows as "n/a" with the reason instead of
# taking the whole run down. Installs Go 1.23 from bookworm-backports if
# missing (needs root or sudo).
#
# Environment:
#   PEERS_TIMEOUT  seconds per criterion function (default 300)
#   GO_BENCHTIME   go test -benchtime (default 5x)
#   GO_COUNT       go test -count; the median is reported (default 3)
#   CRITERION_ARGS extra criterion arguments (default --noplot; set it to
#                  "" for the HTML plots under target/criterion/)
#   PEERS_ESTIMATE criterion estimate to report: mean (default), median or
#                  slope (linear sampling only); median resists noise spikes
set -uo pipefail
cd "$(dirname "$0")/.."
out="${1:-docs/benchmarks-latest.md}"
timeout_s="${PEERS_TIMEOUT:-300}"
go_benchtime="${GO_BENCHTIME:-5x}"
go_count="${GO_COUNT:-3}"
criterion_args="${CRITERION_ARGS---noplot}"
estimate="${PEERS_ESTIMATE:-mean}"
GO=/usr/lib/go-1.23/bin/go

# The table, one row each: criterion group;Go benchmark;title;unit. Peers
# without a function in a group show the reason given in the python part.
rows=(
    "spawn_join_200k;SpawnJoin;spawn_join, 200k alive (2 workers);ns/task"
    "spawn_join_batch_1k;SpawnJoinBatch1000;spawn_join, batches of 1k (2 workers);ns/task"
    "yield;Yield;yield (1 worker);ns/yield"
    "chan_pingpong_1w;ChanPingPong1;chan_pingpong (1 worker);ns/roundtrip"
    "chan_pingpong_2w;ChanPingPong2;chan_pingpong (2 workers);ns/roundtrip"
)
# Criterion functions to run: group/function.
functions=(
    spawn_join:spawn_join_200k/rt
    spawn_join:spawn_join_200k/tokio
    spawn_join:spawn_join_batch_1k/rt
    spawn_join:spawn_join_batch_1k/may
    spawn_join:spawn_join_batch_1k/tokio
    spawn_join:spawn_join_batch_1k/std
    yield:yield/rt
    yield:yield/may
    yield:yield/tokio
    chan_pingpong:chan_pingpong_1w/rt
    chan_pingpong:chan_pingpong_1w/may
    chan_pingpong:chan_pingpong_1w/tokio
    chan_pingpong:chan_pingpong_2w/rt
    chan_pingpong:chan_pingpong_2w/may
    chan_pingpong:chan_pingpong_2w/tokio
)

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
if [ ! -x "$GO" ]; then
    echo "== installing golang-1.23-go from bookworm-backports" >&2
    if ! grep -rqs bookworm-backports /etc/apt/sources.list /etc/apt/sources.list.d; then
        echo "deb http://deb.debian.org/debian bookworm-backports main" |
            $sudo tee /etc/apt/sources.list.d/bookworm-backports.list >/dev/null
    fi
    $sudo apt-get update -qq &&
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq -t bookworm-backports golang-1.23-go >&2
fi

target_dir=$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])') || target_dir=target
logs="$target_dir/peers"
rm -rf "$logs"
mkdir -p "$logs"
export CRITERION_HOME="$target_dir/criterion"

# Build once; run the executables directly so a timeout kills the benchmark
# itself, not just cargo.
echo "== building benches" >&2
declare -A exe=()
if cargo bench -p rt-benches --bench spawn_join --bench yield --bench chan_pingpong --no-run \
    --message-format=json >"$logs/build.json" 2>"$logs/build.log"; then
    while read -r name path; do
        exe[$name]=$path
    done < <(python3 -c '
import json, sys
for line in open(sys.argv[1]):
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and "bench" in m["target"]["kind"]:
        print(m["target"]["name"], m["executable"])' "$logs/build.json")
else
    echo "build failed, see $logs/build.log" >&2
fi

for entry in "${functions[@]}"; do
    bench=${entry%%:*}
    id=${entry#*:}
    log="$logs/${id//\//__}.log"
    rm -rf "${CRITERION_HOME:?}/$id"
    if [ -z "${exe[$bench]:-}" ]; then
        echo "bench $bench did not build (see $logs/build.log)" >"$log"
        echo 1 >"$log.rc"
        continue
    fi
    echo "== $id" >&2
    # shellcheck disable=SC2086 # criterion_args is a word list
    timeout -k 10 "$timeout_s" "${exe[$bench]}" --bench $criterion_args --exact "$id" >"$log" 2>&1
    echo $? >"$log.rc"
    grep 'time:' "$log" >&2 || echo "   failed, see $log" >&2
done

echo "== go test -bench (benchtime $go_benchtime, count $go_count)" >&2
go_filter="^Benchmark($(printf '%s\n' "${rows[@]}" | cut -d';' -f2 | paste -sd'|'))\$"
if [ -x "$GO" ]; then
    (cd benches/go && GOPROXY=off GOTOOLCHAIN=local GOFLAGS=-mod=mod \
        "$GO" test -run '^$' -bench "$go_filter" -benchtime "$go_benchtime" -count "$go_count") \
        >"$logs/go.log" 2>&1
    echo $? >"$logs/go.log.rc"
else
    echo "$GO not found (golang-1.23-go install failed)" >"$logs/go.log"
    echo 1 >"$logs/go.log.rc"
fi
grep -E '^Benchmark' "$logs/go.log" >&2 || true

python3 - "$logs" "$CRITERION_HOME" "$out" "$timeout_s" "$estimate" "${rows[@]}" <<'PY'
import json, os, re, statistics, subprocess, sys, time

logs, crit, out, timeout_s, estimate, *rows = sys.argv[1:]
peers = ["rt", "may", "tokio", "std"]
# Peers left out of a group on purpose, and why.
skipped = {
    ("spawn_join_200k", "may"): "not run: may maps every coroutine stack separately and "
    "fails with ENOMEM at ~65,000 live coroutines under the default vm.max_map_count (65530), "
    "then hangs",
    ("spawn_join_200k", "std"): "not run: 200,000 OS threads at once is not a sensible workload",
    ("yield", "std"): "not run: no std counterpart of a green-thread yield",
    ("chan_pingpong_1w", "std"): "not run: OS threads have no worker count",
    ("chan_pingpong_2w", "std"): "not run by this script: ~10-60 us per round trip (futex "
    "wake-ups between two OS threads), i.e. 5-30 s per 500,000-round-trip run, and criterion's "
    "10 samples exceed PEERS_TIMEOUT; run it by hand with --exact chan_pingpong_2w/std",
}
notes = []


def na(reason):
    """An "n/a" cell with a numbered footnote; equal reasons share one."""
    if reason not in notes:
        notes.append(reason)
    return f"n/a [{notes.index(reason) + 1}]"


def failure(log):
    """Why a run produced no estimate, from its log and exit code."""
    rc = int(open(log + ".rc").read().strip() or 1)
    text = open(log, errors="replace").read()
    if rc in (124, 137):
        return f"timed out after {timeout_s} s"
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if "panicked at" in line:
            msg = lines[i + 1].strip() if i + 1 < len(lines) else ""
            return f"panicked: {(msg or line.strip())[:200]}"
    last = next((l.strip() for l in reversed(lines) if l.strip()), "")
    if rc:
        return f"exit code {rc}" + (f": {last[:200]}" if last else "")
    return "no result in the log"


def criterion(group, peer):
    """(ns per element, None) or (None, reason)."""
    if (group, peer) in skipped:
        return None, skipped[(group, peer)]
    d = os.path.join(crit, group, peer, "new")
    if os.path.exists(f"{d}/estimates.json") and estimate == "slope":
        if json.load(open(f"{d}/estimates.json")).get("slope") is None:
            return None, "no slope estimate (flat sampling): use mean or median"
    try:
        ns = json.load(open(f"{d}/estimates.json"))[estimate]["point_estimate"]
        elems = json.load(open(f"{d}/benchmark.json"))["throughput"]["Elements"]
        return ns / elems, None
    except (OSError, KeyError, TypeError, ValueError):
        log = os.path.join(logs, f"{group}__{peer}.log")
        if not os.path.exists(log):
            return None, "no benchmark function for this peer"
        return None, failure(log)


# Go: "BenchmarkName-2  5  72691905 ns/op  363.5 ns/task"; median over -count.
go = {}
go_log = os.path.join(logs, "go.log")
for line in open(go_log, errors="replace"):
    m = re.match(r"Benchmark(\S+?)(?:-\d+)?\s+\d+\s+(.*)", line)
    if m:
        for value, unit in re.findall(r"([\d.]+) (\S+)", m.group(2)):
            go.setdefault((m.group(1), unit), []).append(float(value))


def go_value(name, unit):
    if (name, unit) in go:
        return statistics.median(go[(name, unit)]), None
    return None, "go test: " + failure(go_log)


def cell(v):
    return f"{v:,.1f}"


def run(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, shell=True).stdout.strip()
    except OSError:
        return ""


lines = [
    "| workload | unit | " + " | ".join(peers) + " | Go | rt / Go | rt / best peer |",
    "|---|---|" + "---|" * (len(peers) + 3),
]
for row in rows:
    group, goname, title, unit = row.split(";")
    vals, cells = {}, []
    for p in peers:
        v, why = criterion(group, p)
        vals[p] = v
        cells.append(cell(v) if v is not None else na(why))
    g, why = go_value(goname, unit)
    cells.append(cell(g) if g is not None else na(why))
    rt = vals["rt"]
    others = {p: v for p, v in vals.items() if p != "rt" and v is not None}
    if g is not None:
        others["Go"] = g
    ratio_go = f"{rt / g:.2f}" if rt and g else "n/a"
    if rt and others:
        best = min(others, key=others.get)
        ratio_best = f"{rt / others[best]:.2f} ({best})"
    else:
        ratio_best = "n/a"
    lines.append(f"| {title} | {unit} | " + " | ".join(cells)
                 + f" | {ratio_go} | {ratio_best} |")

lock = open("Cargo.lock").read() if os.path.exists("Cargo.lock") else ""
def locked(name):
    m = re.search(r'name = "%s"\nversion = "([^"]+)"' % re.escape(name), lock)
    return m.group(1) if m else "?"

cpu = run("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2").strip()
header = [
    f"# Peer benchmarks — {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
    "",
    f"Written by `benches/peers.sh`. Lower is better. rt `{run('git rev-parse --short HEAD')}`"
    f"{' (dirty tree)' if run('git status --porcelain -- rt benches') else ''}; "
    f"{run('nproc')} CPUs ({cpu}); {run('rustc -V')}; {run('/usr/lib/go-1.23/bin/go version') or 'Go n/a'}; "
    f"tokio {locked('tokio')}, may {locked('may')}, criterion {locked('criterion')}.",
    f"Criterion: {estimate} time per iteration / elements per iteration; "
    "Go: median of the `-count` runs.",
    "",
]
footer = ([""] + [f"- [{i + 1}] {r}" for i, r in enumerate(notes)]) if notes else []
text = "\n".join(header + lines + footer) + "\n"
os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
open(out, "w").write(text)
print(text)
PY
