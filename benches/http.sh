#!/usr/bin/env bash
# The http_plaintext workload: rt's examples/http_hello.rs against the
# peers in benches/http/ (tokio, may, may_minihttp, std) and
# benches/go/http (Go), each with 1 worker pinned to CPU 0, loaded by
# `wrk -t1 -c64 -d5s` pinned to CPU 1. Writes a markdown table of
# requests/s and p99 latency to stdout and to $1 (default
# docs/http-latest.md).
#
#   benches/http.sh [out.md]
#
# Every server closes a connection idle for 10 s (IDLE_TIMEOUT in
# examples/http_proto.rs; may_minihttp excepted), so each pays for a timer
# per read that waits, as a production server does.
#
# Also reports the server's CPU time per request (from /proc/PID/stat):
# with wrk saturating its CPU, requests/s is largely the client's limit,
# and CPU per request is what tells the servers apart.
#
# Before measuring, `http_hello --check` verifies every peer's responses
# byte for byte (keep-alive, pipelining, split requests, Connection:
# close); may_minihttp is exempt: it sends its own headers. Installs wrk
# from Debian if missing (needs root or sudo).
#
# Environment:
#   HTTP_SERVERS   servers to run, space-separated (default: all of
#                  rt tokio may may_minihttp std go)
#   HTTP_DURATION  wrk duration (default 5s); HTTP_WARMUP (default 1s)
#   HTTP_CONNECTIONS  wrk connections (default 64)
#   SERVER_CPU, CLIENT_CPU  taskset CPUs (default 0 and 1)
set -uo pipefail
cd "$(dirname "$0")/.."
out="${1:-docs/http-latest.md}"
# shellcheck disable=SC2206 # a space-separated list
servers=(${HTTP_SERVERS:-rt tokio may may_minihttp std go})
duration="${HTTP_DURATION:-5s}"
warmup="${HTTP_WARMUP:-1s}"
connections="${HTTP_CONNECTIONS:-64}"
server_cpu="${SERVER_CPU:-0}"
client_cpu="${CLIENT_CPU:-1}"
GO=/usr/lib/go-1.23/bin/go

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
if ! command -v wrk >/dev/null; then
    echo "== installing wrk" >&2
    $sudo apt-get update -qq &&
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq wrk >&2 ||
        { echo "could not install wrk" >&2; exit 1; }
fi

target_dir=$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])') || target_dir=target
logs="$target_dir/http"
rm -rf "$logs"
mkdir -p "$logs"

echo "== building (release)" >&2
cargo build --release -p rt --example http_hello >&2 &&
    cargo build --release -p rt-benches --example http_tokio --example http_may \
        --example http_may_minihttp --example http_std >&2 ||
    { echo "cargo build failed" >&2; exit 1; }
ex="$target_dir/release/examples"
declare -A exe=(
    [rt]="$ex/http_hello" [tokio]="$ex/http_tokio" [may]="$ex/http_may"
    [may_minihttp]="$ex/http_may_minihttp" [std]="$ex/http_std" [go]="$logs/http-go"
)
if ! (cd benches/go/http && GOPROXY=off GOTOOLCHAIN=local "$GO" build -o "${exe[go]}" .) \
    >"$logs/go-build.log" 2>&1; then
    echo "go build failed, see $logs/go-build.log" >&2
fi

# Poll until something accepts on the port (or give up after ~10 s).
wait_port() {
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

port=18080
for name in "${servers[@]}"; do
    port=$((port + 1)) # a fresh port each: no TIME_WAIT from the last one
    log="$logs/$name"
    echo "== $name" >&2
    if [ ! -x "${exe[$name]:-}" ]; then
        echo "not built" >"$log.error"
        continue
    fi
    GOMAXPROCS=1 taskset -c "$server_cpu" "${exe[$name]}" --addr "127.0.0.1:$port" --workers 1 \
        >"$log.server" 2>&1 &
    pid=$!
    if ! wait_port "$port"; then
        echo "did not accept on port $port (see $log.server)" >"$log.error"
    elif [ "$name" != may_minihttp ] &&
        ! timeout 60 taskset -c "$client_cpu" "${exe[rt]}" --check "127.0.0.1:$port" >"$log.check" 2>&1; then
        echo "failed the protocol check (see $log.check)" >"$log.error"
    else
        taskset -c "$client_cpu" wrk -t1 -c"$connections" -d"$warmup" "http://127.0.0.1:$port/" >/dev/null 2>&1
        # The server's CPU time (user + system, all threads) during the run.
        ticks_before=$(awk '{print $14 + $15}' "/proc/$pid/stat")
        # wrk's own CPU use: near 100% means the client set the pace.
        TIMEFORMAT='%U %S %R'
        { time taskset -c "$client_cpu" wrk -t1 -c"$connections" -d"$duration" --latency \
            "http://127.0.0.1:$port/" >"$log.wrk" 2>&1; } 2>"$log.wrktime"
        echo $(($(awk '{print $14 + $15}' "/proc/$pid/stat") - ticks_before)) \
            "$(getconf CLK_TCK)" >"$log.cpu"
        grep -E 'Requests/sec|  99%|errors' "$log.wrk" >&2
    fi
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
done

python3 - "$logs" "$out" "$duration" "$connections" "${servers[@]}" <<'PY'
import os, re, subprocess, sys, time

logs, out, duration, connections, *servers = sys.argv[1:]
lock = open("Cargo.lock").read() if os.path.exists("Cargo.lock") else ""


def locked(name):
    m = re.search(r'name = "%s"\nversion = "([^"]+)"' % re.escape(name), lock)
    return m.group(1) if m else "?"


titles = {
    "rt": "rt (`examples/http_hello.rs`)",
    "tokio": "tokio, current-thread (`benches/http/tokio.rs`)",
    "may": "may (`benches/http/may.rs`)",
    "may_minihttp": f"may_minihttp {locked('may_minihttp')} (`benches/http/may_minihttp.rs`)",
    "std": "std, thread per connection (`benches/http/std.rs`)",
    "go": "Go `net`, GOMAXPROCS=1 (`benches/go/http`)",
}
notes = []
if "may_minihttp" in servers:
    notes.append("may_minihttp writes its own headers (`Server`, `Date`, `200 Ok`, 40 bytes more "
                 "per response) and ignores `Connection: close`, so it is not protocol-checked; "
                 "it counts as a may peer all the same.")
    titles["may_minihttp"] += " [1]"
units = {"us": 1, "ms": 1e3, "s": 1e6}


def result(name):
    """(requests/s, p99 in µs, server CPU µs per request, wrk's CPU share,
    note) from the logs, or (None, None, None, None, why)."""
    path = os.path.join(logs, name)
    if os.path.exists(path + ".error"):
        return None, None, None, None, open(path + ".error").read().strip()
    text = open(path + ".wrk", errors="replace").read() if os.path.exists(path + ".wrk") else ""
    rps = re.search(r"Requests/sec:\s*([\d.]+)", text)
    p99 = re.search(r"^\s*99%\s+([\d.]+)(us|ms|s)\b", text, re.M)
    requests = re.search(r"(\d+) requests in", text)
    if not rps or not p99 or not requests:
        return None, None, None, None, f"no result from wrk (see {path}.wrk)"
    try:
        ticks, hz = map(int, open(path + ".cpu").read().split())
        cpu = ticks / hz * 1e6 / int(requests.group(1))
    except (OSError, ValueError, ZeroDivisionError):
        cpu = None
    try:
        user, system, real = map(float, open(path + ".wrktime").read().split())
        client = (user + system) / real
    except (OSError, ValueError, ZeroDivisionError):
        client = None
    errors = re.search(r"Socket errors:.*|Non-2xx.*", text)
    p99_us = float(p99.group(1)) * units[p99.group(2)]
    return float(rps.group(1)), p99_us, cpu, client, errors and errors.group(0)


def latency(us):
    return f"{us:,.0f} µs" if us < 1000 else f"{us / 1000:,.2f} ms"


def run(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, shell=True).stdout.strip()
    except OSError:
        return ""


results = {s: result(s) for s in servers}
rt = results.get("rt", (None,))[0]
rows = [
    "| server | requests/s | p99 latency | rt / this (requests/s) "
    "| server CPU per request | wrk's CPU use |",
    "|---|---|---|---|---|---|",
]
for s in servers:
    rps, p99, cpu, client, why = results[s]
    if rps is None:
        notes.append(why)
        cells = [f"n/a [{len(notes)}]"] + ["n/a"] * 4
    else:
        ratio = f"{rt / rps:.2f}" if rt and s != "rt" else "—"
        cells = [f"{rps:,.0f}", latency(p99), ratio, f"{cpu:.2f} µs" if cpu else "n/a",
                 f"{client:.0%}" if client else "n/a"]
        if why:
            notes.append(why)
            cells[0] += f" [{len(notes)}]"
    rows.append(f"| {titles.get(s, s)} | " + " | ".join(cells) + " |")
peers = {s: r[0] for s, r in results.items() if s != "rt" and r[0]}
summary = []
if rt and peers:
    best = max(peers, key=peers.get)
    summary = [
        "",
        f"**rt / best peer: {rt / peers[best]:.2f}** ({best}, {peers[best]:,.0f} requests/s); "
        "the bar is ≥ 1.1 × the best of tokio, may and Go.",
    ]
    costs = {s: r[2] for s, r in results.items() if s != "rt" and r[2]}
    if results["rt"][2] and costs:
        cheapest = min(costs, key=costs.get)
        summary += [
            "",
            f"Server CPU per request, rt / cheapest peer: {results['rt'][2] / costs[cheapest]:.2f} "
            f"({cheapest}); lower is better. Go's idle Ps spin before sleeping, which counts "
            "as CPU here.",
        ]

cpu = run("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2").strip()
header = [
    f"# http_plaintext — {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
    "",
    f"Written by `benches/http.sh`. Each server: 1 worker pinned to CPU 0; "
    f"`wrk -t1 -c{connections} -d{duration} --latency` pinned to CPU 1 after a 1 s warm-up; "
    f"higher requests/s is better; CPU per request is the server's user + system time "
    f"during the run over the requests wrk completed. rt `{run('git rev-parse --short HEAD')}`"
    f"{' (dirty tree)' if run('git status --porcelain -- rt benches examples') else ''}; "
    f"{run('nproc')} CPUs ({cpu}); {run('rustc -V')}; "
    f"{run('/usr/lib/go-1.23/bin/go version') or 'Go n/a'}; tokio {locked('tokio')}, "
    f"may {locked('may')}; {run('wrk -v 2>&1 | head -1').split(' [')[0] or 'wrk'}.",
    "",
]
footer = [""] + [f"- [{i + 1}] {n}" for i, n in enumerate(notes)]
text = "\n".join(header + rows + summary + footer) + "\n"
os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
open(out, "w").write(text)
print(text)
PY
