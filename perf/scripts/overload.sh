#!/usr/bin/env bash
# Overload: goodput of one shard as the offered SRTP->RTP rate rises past what it sustains.
# One shard on core 0, sharing it with a busy loop (HOG=1, the default) so that the load tool
# on core 1 can offer about twice what the shard then sustains; RATES are packets/s per
# session (0 = as fast as the tool sends). Prints one line per rate (what the tool offered and
# got back, and what the engine relayed by its own counters) and the engine's counters.
#
#   perf/scripts/overload.sh                                 # 1,000 sessions, mmsg
#   BACKEND=uring SESSIONS=1000 RATES="20 40 80 0" perf/scripts/overload.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
SESSIONS=${SESSIONS:-1000}
RATES=${RATES:-20 40 80 0}
HOG=${HOG:-1}
DUR=${DUR:-6}
BIN=target/release
cargo build --release -q -p ferry -p ferry-perf
ulimit -n "$(ulimit -Hn)"
sock=$(mktemp -u /tmp/ferry-overload-XXXX.sock)
"$BIN/ferry" engine --socket "$sock" --shards 1 --backend "${BACKEND:-mmsg}" --ports 20000-59999 \
  --media-v4 127.0.0.1 2>/dev/null &
ENGINE=$!
for _ in $(seq 50); do [ -S "$sock" ] && break; sleep 0.1; done
HOGPID=
if [ "$HOG" = 1 ]; then
  taskset -c 0 sh -c 'while :; do :; done' &
  HOGPID=$!
fi
tx() { "$BIN/ferry" stats --socket "$sock" 2>/dev/null | awk '$1 == "tx_packets" {print $NF}'; }
for r in $RATES; do
  before=$(tx)
  taskset -c 1 "$BIN/ferry-perf" run --socket "$sock" --sessions "$SESSIONS" --rate "$r" --duration "$DUR" \
    --direction a2b --engine-pid "$ENGINE" --quiet --json - 2>/dev/null | python3 -c '
import json, sys
r = json.load(sys.stdin); a = r["a_to_b"]; s = r["seconds"]
print("rate/session %s: offered %.0f pps, delivered %.0f pps, loss %.2f%%, latency p50 %.0f us p99 %.0f us, engine CPU %s ns/pkt"
      % (sys.argv[1], a["sent"] / s, a["received"] / s, a["loss_pct"], a["latency_us"]["p50"],
         a["latency_us"]["p99"], round(r["engine_cpu_ns_per_packet"] or 0)))' "$r"
  # What the engine itself relayed (the tool's receiver shares core 1 with its sender and can
  # lose packets the engine did send): the shard's tx_packets over the run, per second.
  echo "  engine relayed $(( ($(tx) - before) / DUR )) pps (tx_packets over the ${DUR} s window and the drain)"
done
"$BIN/ferry" stats --socket "$sock" 2>/dev/null | grep -iE "drop|rx_packets|tx_packets" || true
[ -n "$HOGPID" ] && kill "$HOGPID"
kill "$ENGINE"
wait "$ENGINE" 2>/dev/null || true
