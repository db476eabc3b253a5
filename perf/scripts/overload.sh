#!/usr/bin/env bash
# Overload (engine issue point 4): goodput of one shard at twice the rate it sustains.
#
# One shard pinned to core 0; `ferry-perf blast` pinned to core 1 offers pre-built SRTP packets
# (no crypto at send time) with sendmmsg to SESSIONS browser-side ports, the SIP side into a
# socket nobody reads; goodput is the engine's own tx_packets over the window. On loopback the
# sender pays the kernel's delivery into the engine's sockets, so one core of blaster cannot
# offer twice what a whole core of shard relays; the shard therefore shares core 0 with a busy
# loop (HOG=1) at niceness NICE (5: about a quarter of the core by CFS weights), which lowers its
# peak below half of what the blaster offers. Per backend and run:
#   1. step the offered rate up (RATES, total pps) until tx stops following (tx < 0.95 offered);
#      the peak is the highest tx/s seen,
#   2. offer 2 x peak for DUR seconds: goodput / peak, drops by reason, kernel drops at the
#      engine's sockets, StatsQuery round trips during the window and a List right after,
#   3. recovery: peak / 2 for 3 s right after; expect tx = sent, no drops.
#
#   perf/scripts/overload.sh                       # both backends, 2 runs each
#   BACKENDS=uring RUNS=1 SESSIONS=100 DUR=8 perf/scripts/overload.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
SESSIONS=${SESSIONS:-100}
BACKENDS=${BACKENDS:-mmsg uring}
RATES=${RATES:-20000 30000 40000 50000 60000 70000 80000 100000}
DUR=${DUR:-8}
STEP_DUR=${STEP_DUR:-3}
NICE=${NICE:-5}
HOG=${HOG:-1}
RUNS=${RUNS:-2}
OUT=${OUT:-/tmp/ferry-overload}
BIN=target/release
cargo build --release -q -p ferry --bin ferry
cargo build --release -q -p ferry-perf
ulimit -n "$(ulimit -Hn)"
mkdir -p "$OUT"
uptime
HOGPID=
if [ "$HOG" = 1 ]; then
  taskset -c 0 sh -c 'while :; do :; done' &
  HOGPID=$!
fi
ENGINE=
cleanup() {
  [ -n "$ENGINE" ] && kill "$ENGINE" 2>/dev/null || true
  [ -n "$HOGPID" ] && kill "$HOGPID" 2>/dev/null || true
}
trap cleanup EXIT
summary() { # json file, label, [peak]
  python3 - "$@" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1])); label = sys.argv[2]
peak = float(sys.argv[3]) if len(sys.argv) > 3 else None
drops = " ".join(f"{k}={v}" for k, v in r["engine"].items() if k.startswith("drop_")) or "none"
p = r["probe"]
s = (f"{label}: offered {r['offered_pps']:.0f} rx {r['rx_pps']:.0f} tx {r['tx_pps']:.0f} pps"
     f" (tx/offered {r['tx_over_offered']:.3f}")
if peak:
    s += f", tx/peak {r['tx_pps'] / peak:.3f}"
s += (f"), shard {r['shard_cores'] or 0:.2f} cores, kernel drops at engine {r['kernel_drops_engine']}"
      f", engine drops: {drops}, after window {r['tx_after_window']}"
      f", StatsQuery rtt p50/max {p['p50_us'] / 1000:.1f}/{p['max_us'] / 1000:.1f} ms ({p['failed']} failed)"
      f", List {r['list_rtt_us'] / 1000:.1f} ms")
print(s, flush=True)
EOF
}
field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }
blast() { # out.json rate duration
  timeout $(( ${3%.*} + 60 )) taskset -c 1 "$BIN/ferry-perf" blast --socket "$sock" --sessions "$SESSIONS" \
    --rate "$2" --duration "$3" --engine-pid "$ENGINE" --json "$1"
}
for backend in $BACKENDS; do
  for run in $(seq "$RUNS"); do
    sock=$(mktemp -u /tmp/ferry-overload-XXXX.sock)
    nice -n "$NICE" taskset -c 0 "$BIN/ferry" engine --socket "$sock" --shards 1 --backend "$backend" \
      --ports 20000-59999 --media-v4 127.0.0.1 2>"$OUT/engine-$backend-$run.log" &
    ENGINE=$!
    for _ in $(seq 50); do [ -S "$sock" ] && break; sleep 0.1; done
    echo "== $backend run $run ($(date +%T), $(uptime | sed 's/.*load/load/'))"
    peak=0
    for r in $RATES; do
      f="$OUT/$backend-$run-step-$r.json"
      blast "$f" "$r" "$STEP_DUR"
      summary "$f" "  step $r"
      tx=$(field "$f" tx_pps)
      peak=$(python3 -c "print(max($peak, $tx))")
      python3 -c "import sys; sys.exit(0 if $(field "$f" tx_over_offered) >= 0.95 else 1)" || break
    done
    echo "  peak $peak pps"
    f="$OUT/$backend-$run-2x.json"
    blast "$f" "$(python3 -c "print(int(2 * $peak))")" "$DUR"
    summary "$f" "  2x peak" "$peak"
    f="$OUT/$backend-$run-recover.json"
    blast "$f" "$(python3 -c "print(int($peak / 2))")" 3
    summary "$f" "  recovery at peak/2"
    kill "$ENGINE"
    wait "$ENGINE" 2>/dev/null || true
    ENGINE=
  done
done
uptime
