#!/usr/bin/env bash
# Run rt's benchmarks side by side with its peers (tokio, may, std, Go) and
# write a table of ns per unit and ratios to $1 (default
# docs/benchmarks-latest.md). Installs Go from bookworm-backports if missing.
#
#   benches/peers.sh [out.md]
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-docs/benchmarks-latest.md}"
GO=/usr/lib/go-1.23/bin/go

if [ ! -x "$GO" ]; then
    if ! grep -rqs bookworm-backports /etc/apt/sources.list /etc/apt/sources.list.d; then
        echo "deb http://deb.debian.org/debian bookworm-backports main" \
            > /etc/apt/sources.list.d/backports.list
    fi
    apt-get update -qq && apt-get install -y -qq -t bookworm-backports golang-1.23-go
fi

cargo bench -p rt-benches --bench spawn_join --bench yield -- --noplot

go_out=$(mktemp)
(cd benches/go && GOPROXY=off GOTOOLCHAIN=local GOFLAGS=-mod=mod \
    "$GO" test -bench . -benchtime 5x -count 3) | tee "$go_out" || true

python3 - "$go_out" "$out" <<'PY'
import json, os, re, statistics, sys
go_out, out = sys.argv[1], sys.argv[2]

def criterion(group, peer):
    """Mean ns per element of one criterion function, or None."""
    d = f"target/criterion/{group}/{peer}/new"
    try:
        mean = json.load(open(f"{d}/estimates.json"))["mean"]["point_estimate"]
        elems = json.load(open(f"{d}/benchmark.json"))["throughput"]["Elements"]
        return mean / elems
    except (OSError, KeyError, TypeError):
        return None

go = {}
for line in open(go_out):
    m = re.match(r"Benchmark(\w+)-\d+\s+\d+\s+\d+ ns/op\s+([\d.]+) ns/(task|yield)", line)
    if m:
        go.setdefault(m.group(1), []).append(float(m.group(2)))
go = {k: statistics.median(v) for k, v in go.items()}

rows = [
    ("spawn_join 200k alive (2 workers)", "spawn_join_200k", "SpawnJoin", "ns/task"),
    ("spawn_join batches of 1k (2 workers)", "spawn_join_batch_1k", "SpawnJoinBatch1000", "ns/task"),
    ("yield (1 worker)", "yield", "Yield", "ns/yield"),
]
peers = ["rt", "tokio", "may", "std"]
fmt = lambda v: "n/a" if v is None else f"{v:,.1f}"
lines = ["| workload | unit | " + " | ".join(peers) + " | Go | rt / Go | rt / best peer |",
         "|---|---|" + "---|" * (len(peers) + 3)]
for title, group, goname, unit in rows:
    vals = {p: criterion(group, p) for p in peers}
    g = go.get(goname)
    others = [v for p, v in vals.items() if p != "rt" and v is not None] + ([g] if g else [])
    rt = vals["rt"]
    ratio_go = f"{rt / g:.2f}" if rt and g else "n/a"
    ratio_best = f"{rt / min(others):.2f}" if rt and others else "n/a"
    lines.append(f"| {title} | {unit} | " + " | ".join(fmt(vals[p]) for p in peers)
                 + f" | {fmt(g)} | {ratio_go} | {ratio_best} |")
table = "\n".join(lines) + "\n"
os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
open(out, "w").write(table)
print(table)
PY
