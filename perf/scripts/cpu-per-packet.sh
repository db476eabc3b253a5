#!/usr/bin/env bash
# Engine CPU per relayed SRTP->RTP packet at N sessions (random session order) versus the floor:
# a bare recvmmsg/sendmmsg echo of the same packet rate, both pinned to core 0, the load on
# core 1, in one run. Prints one line per measurement and a ratio per backend.
#
#   perf/scripts/cpu-per-packet.sh            # 10,000 sessions x 10 pps = 100,000 pps, 10 s
#   SESSIONS=1000 RATE=50 DUR=20 perf/scripts/cpu-per-packet.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
SESSIONS=${SESSIONS:-10000}
RATE=${RATE:-10}
DUR=${DUR:-10}
PPS=$((SESSIONS * RATE))
BIN=target/release
cargo build --release -q -p ferry -p ferry-perf
ulimit -n "$(ulimit -Hn)"

floor_log=$(mktemp)
taskset -c 0 "$BIN/ferry-perf" floor --listen 127.0.0.1:39999 --duration $((DUR + 2)) 2>"$floor_log" &
FLOOR=$!
sleep 0.5
floor_line=$(taskset -c 1 "$BIN/ferry-perf" flood --target 127.0.0.1:39999 --rate "$PPS" --duration "$DUR" --echo-pid "$FLOOR")
wait "$FLOOR"
echoed=$(awk '/^echoed/ {print $2}' "$floor_log")
# CPU over the flood window divided by what the echo itself handled (client-side loss aside).
floor_ns=$(echo "$floor_line" | awk -v e="$echoed" '{printf "%.0f", $6 / e}')
echo "floor (recvmmsg/sendmmsg echo, $PPS pps offered): $floor_line echoed $echoed => ${floor_ns} ns CPU per echoed packet"

for backend in uring mmsg; do
  sock=$(mktemp -u /tmp/ferry-bench-XXXX.sock)
  "$BIN/ferry" engine --socket "$sock" --shards 1 --backend "$backend" --ports 20000-59999 --media-v4 127.0.0.1 2>/dev/null &
  ENGINE=$!
  for _ in $(seq 50); do [ -S "$sock" ] && break; sleep 0.1; done
  json=$(taskset -c 1 "$BIN/ferry-perf" run --socket "$sock" --sessions "$SESSIONS" --rate "$RATE" --duration "$DUR" \
           --direction a2b --engine-pid "$ENGINE" --quiet --json -)
  kill "$ENGINE"; wait "$ENGINE" 2>/dev/null || true
  ns=$(echo "$json" | python3 -c 'import json,sys; r=json.load(sys.stdin); print(round(r["engine_cpu_ns_per_packet"])); a=r["a_to_b"]; print(a["sent"], a["received"], a["loss_pct"], a["latency_us"]["p50"], a["latency_us"]["p99"], a["latency_us"]["p999"], file=sys.stderr)')
  echo "engine $backend: ${ns} ns CPU per relayed packet; ratio to floor $(python3 -c "print(round($ns/$floor_ns, 2))")"
done
