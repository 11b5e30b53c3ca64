#!/usr/bin/env bash
# blocking_crates (BENCHMARKS.md): 200 coroutines × 100 requests on 2
# workers with the unmodified sync redis client and ureq — called directly
# with the `hook` feature ("hook"), inside rt::blocking, and a
# hand-written rt::net client — plus tokio with the async redis client;
# on loopback and through a delay proxy (1 ms round trip). Each run is a
# fresh process, interleaved, ROUNDS times (default 5). The same direct
# calls without the feature ("nohook": they block the workers) run in
# the first round only (at 1 ms they take ~20 s). Prints every run and a
# table: median total time, ratio to the rt::net client, worst heartbeat
# stall.
#
#   benches/blocking_crates.sh [ROUNDS]
#
# Needs redis-server (installed from Debian if missing, needs root or sudo).
set -uo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-5}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
if ! command -v redis-server >/dev/null; then
    $sudo apt-get update -qq &&
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq redis-server >&2 ||
        { echo "could not install redis-server" >&2; exit 1; }
fi
target=$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
cargo build --release -p rt --features hook --example blocking_crates --example http_hello >&2 &&
    cargo build --release -p rt-benches --example blocking_tokio >&2 &&
    CARGO_TARGET_DIR="$target/nohook" cargo build --release -p rt --example blocking_crates >&2 ||
    { echo "cargo build failed" >&2; exit 1; }
ex=$target/release/examples
nohook=$target/nohook/release/examples/blocking_crates

pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null; }
trap cleanup EXIT
redis-server --bind 127.0.0.1 --port 16379 --save "" --appendonly no --maxclients 4096 >/dev/null &
pids+=($!)
"$ex/http_hello" --addr 127.0.0.1:18099 --workers 1 >/dev/null &
pids+=($!)
"$ex/blocking_crates" proxy 127.0.0.1:17379 127.0.0.1:16379 1 &
pids+=($!)
"$ex/blocking_crates" proxy 127.0.0.1:17099 127.0.0.1:18099 1 &
pids+=($!)
sleep 1

declare -A addr=([redis-0]=127.0.0.1:16379 [redis-1]=127.0.0.1:17379
    [http-0]=127.0.0.1:18099 [http-1]=127.0.0.1:17099)
results=$(mktemp)
for round in $(seq "$rounds"); do
    for delay in 0 1; do
        for client in redis http; do
            a=${addr[$client-$delay]}
            for way in hook blocking rtnet tokio nohook; do
                case $way in
                tokio)
                    [ "$client" = redis ] || continue
                    line=$("$ex/blocking_tokio" "$a") ;;
                nohook)
                    [ "$round" = 1 ] || continue
                    line=$("$nohook" run "$client" direct "$a" | sed 's/ direct / nohook /') ;;
                hook)
                    line=$("$ex/blocking_crates" run "$client" direct "$a" | sed 's/ direct / hook /') ;;
                *)
                    line=$("$ex/blocking_crates" run "$client" "$way" "$a") ;;
                esac
                echo "round $round delay ${delay}ms: $line" >&2
                echo "$delay $line" >>"$results"
            done
        done
    done
done

python3 - "$results" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    delay, client, way, total, stall = line.split()
    runs.setdefault((delay, client, way), []).append((float(total), float(stall)))
print("| round trip | client | way | total ms (median) | / rt::net | worst stall ms |")
print("|---|---|---|---|---|---|")
for (delay, client, way), r in sorted(runs.items(), key=lambda kv: (kv[0][0], kv[0][1], ["rtnet", "hook", "blocking", "tokio", "nohook"].index(kv[0][2]))):
    med = statistics.median(t for t, _ in r)
    base = statistics.median(t for t, _ in runs[(delay, client, "rtnet")])
    rtt = "loopback" if delay == "0" else f"+{delay} ms"
    print(f"| {rtt} | {client} | {way} | {med:.0f} | {med / base:.2f} | {max(s for _, s in r):.1f} |")
PY
