#!/usr/bin/env bash
# Call setups per second through Ferry (WebSocket + SIP + ICE + DTLS + SRTP echo) to a sipp UAS,
# and, in the same run against the same UAS, sipp's own UAC straight at it as the baseline.
# Everything runs in a fresh network namespace (loopback only) and is torn down at the end.
#
#   perf/scripts/call-setups.sh                # 3000 calls (300 below concurrency 10) at 1 10 50 100 200
#   CALLS=2000 CONC="20 100" HOLD=0 perf/scripts/call-setups.sh
#   BIN=/some/target/release NO_BUILD=1 perf/scripts/call-setups.sh
#
# Env: CALLS, CONC (list), HOLD (ms), EXTRA (more ferry-perf flags, e.g. --no-media),
#      ECHO=1 also measures Ferry's built-in echo (no trunk leg), PERF=1 records a profile of
#      the signaling and engine processes during the last concurrency, OUT (result directory).
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${BIN:-target/release}
CALLS=${CALLS:-3000}
CONC=${CONC:-"1 10 50 100 200"}
HOLD=${HOLD:-0}
EXTRA=${EXTRA:-}
if [ -z "${FERRY_IN_NETNS:-}" ]; then
  [ -n "${NO_BUILD:-}" ] || cargo build --release -q -p ferry --bin ferry -p ferry-perf
  OUT=${OUT:-$(mktemp -d /tmp/ferry-calls-XXXX)}
  export OUT BIN CALLS CONC HOLD EXTRA
  # A private network namespace: nothing listens on, or leaves, the machine's interfaces.
  exec unshare -n -- env FERRY_IN_NETNS=1 bash "$0" "$@"
fi

ip link set lo up
ulimit -n "$(ulimit -Hn)"
mkdir -p "$OUT"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

# The UAS: answers every INVITE with G.711 and echoes RTP on its one media port (6000). With
# -rtp_echo every call shares that port, so the UAS scales to any number of calls.
start_uas() {
  local log
  log=$(sipp -sf tests/fixtures/sipp-uas-echo-g711.xml -i 127.0.0.1 -p 5070 -mp 6000 -rtp_echo \
        -nostdin -bg -max_socket 65000 -buff_size 4194304 2>&1 || true)
  UAS=$(echo "$log" | sed -n 's/.*PID=\[\([0-9]*\)\].*/\1/p')
  [ -n "$UAS" ] || { echo "sipp UAS did not start: $log" >&2; exit 1; }
  PIDS+=("$UAS")
}
start_uas

"$BIN/ferry" up --http 127.0.0.1:8080 --socket "$OUT/engine.sock" --state-dir "$OUT/state" \
  --trunk sip:127.0.0.1:5070 --sip-listen 127.0.0.1:5060 --shards 1 --no-pin \
  >"$OUT/ferry.log" 2>&1 &
PIDS+=("$!")
for _ in $(seq 100); do curl -sf http://127.0.0.1:8080/healthz >/dev/null && break; sleep 0.1; done
curl -sf http://127.0.0.1:8080/healthz >/dev/null || { echo "ferry did not come up" >&2; cat "$OUT/ferry.log" >&2; exit 1; }
sleep 0.5
ENGINE=$(pgrep -f "ferry engine --socket $OUT/engine.sock" | head -1)
SIGNAL=$(pgrep -f "ferry signal .*$OUT/engine.sock" | head -1)
[ -n "$ENGINE" ] && [ -n "$SIGNAL" ] || { echo "ferry engine/signal not found" >&2; exit 1; }

# Baseline: sipp's built-in UAC against the same UAS, closed loop at the same concurrency.
# 4 MiB socket buffers: with the default, a burst of 100 INVITEs overflows and the lost calls
# wait out Timer B (32 s).
sipp_baseline() {
  local c=$1 t0 t1 rc
  t0=$(date +%s.%N)
  rc=0
  sipp -sn uac 127.0.0.1:5070 -i 127.0.0.1 -p 5080 -m "$(calls_for "$c")" -l "$c" -r 100000 -rp 1000 \
       -nostdin -timeout 120s -buff_size 4194304 -trace_stat -stf "$OUT/sipp-uac-$c.csv" >/dev/null 2>&1 || rc=$?
  t1=$(date +%s.%N)
  python3 - "$OUT/sipp-uac-$c.csv" "$t0" "$t1" "$rc" "$c" <<'EOF'
import csv, sys
path, t0, t1, rc, c = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4], sys.argv[5]
rows = list(csv.reader(open(path), delimiter=';'))
head, last = rows[0], rows[-1]
ok = int(last[head.index('SuccessfulCall(C)')])
bad = int(last[head.index('FailedCall(C)')])
print(f"sipp uac -> uas  concurrency {c}: {ok} ok {bad} failed in {t1 - t0:.2f} s: {ok / (t1 - t0):.1f} calls/s (exit {rc})")
EOF
}

# Below concurrency 10 a run is latency-bound: 300 calls are enough and keep it short.
calls_for() { if [ "$1" -lt 10 ] && [ "$CALLS" -gt 300 ]; then echo 300; else echo "$CALLS"; fi; }

ferry_calls() {
  local dest=$1 c=$2 tag=$3
  # shellcheck disable=SC2086
  "$BIN/ferry-perf" calls --ws ws://127.0.0.1:8080/sip --dest "$dest" --calls "$(calls_for "$c")" \
    --concurrency "$c" --hold-ms "$HOLD" --pids "$ENGINE,$SIGNAL,$UAS" --json "$OUT/$tag-$c.json" $EXTRA >"$OUT/$tag-$c.txt"
  python3 - "$OUT/$tag-$c.json" "$tag" "$c" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1])); l = r["latency_ms"].get("3_dtls_setup", {})
cpu = r["cpu_ms_per_setup"]
print(f"ferry {sys.argv[2]:<5} concurrency {sys.argv[3]}: {r['setups']} ok {r['failed']} failed "
      f"{dict(r['failures'])} in {r['window_s']:.2f} s: {r['setups_per_s']:.1f} setups/s, "
      f"setup p50 {l.get('p50', 0):.1f} ms p99 {l.get('p99', 0):.1f} ms, CPU ms/setup "
      f"signal {cpu.get('signal', 0):.2f} engine {cpu.get('engine', 0):.2f} "
      f"sipp {cpu.get('sipp', 0):.2f} tool {cpu.get('ferry-perf', 0):.2f}")
EOF
}

echo "results in $OUT"
last=${CONC##* }
for c in $CONC; do
  sipp_baseline "$c"
  if [ -n "${PERF:-}" ] && [ "$c" = "$last" ]; then
    perf record -F 999 --call-graph dwarf,16384 -p "$SIGNAL,$ENGINE" -o "$OUT/signal.perf.data" >/dev/null 2>&1 &
    PERFREC=$!
    ferry_calls sipp "$c" trunk
    kill -INT "$PERFREC"; wait "$PERFREC" 2>/dev/null || true
  else
    ferry_calls sipp "$c" trunk
  fi
  [ -z "${ECHO:-}" ] || ferry_calls echo "$c" echo
done
