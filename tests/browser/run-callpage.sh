#!/usr/bin/env bash
# The click-to-call page (signaling/assets/call.html) in headless Chromium, in private network and
# PID namespaces (only lo; nothing outlives the run). Prints callpage.mjs's JSON line; exits with
# its status (or 1 if the page passed but sipp's scenario did not).
#
#   tests/browser/run-callpage.sh --selftest [--shots DIR]
#       no Ferry: callpage.mjs serves the assets and stubs Ferry's /api/* and SIP itself
#   FERRY_BIN=target/debug/ferry tests/browser/run-callpage.sh --ferry [--shots DIR]
#       `ferry up` with a config whose service "sales" goes to sipp (127.0.0.1:5070, answers and
#       echoes RTP); the page is loaded over https (Ferry's self-signed certificate, wss). The JSON
#       line also gets "capture": {"rtpToSipp": N, "pt101": M, "events": [5]}: what reached sipp's
#       media port 6000 (dumpcap, decoded by tshark), so the keypad's RFC 4733 events are seen
#       arriving at the far end, not just sent.
#
#   --shots DIR   where the screenshots go (default tests/browser/shots/callpage, git-ignored)
#   Arguments after -- go to callpage.mjs.
#
# Environment: FERRY_BIN (--ferry), RUN_TIMEOUT seconds (default 150), KEEP_LOGS=1, RUST_LOG.
# Ports inside the namespace: HTTP 8080, HTTPS 8443, Ferry's trunk side 5060, sipp 5070/6000.
# (Modelled on run.sh, which other tests own; this one only adds what the call page needs.)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"

die() { echo "run-callpage.sh: $*" >&2; exit 2; }

# ---- outside: check tools, then re-run this script inside fresh namespaces ----
if [ -z "${FERRY_IN_NETNS:-}" ]; then
  [ "$(id -u)" = 0 ] || die "needs root (unshare -n)"
  for t in unshare ip node timeout setsid python3; do
    command -v "$t" >/dev/null || die "missing $t (util-linux, iproute2, nodejs, coreutils, python3)"
  done
  [ -d "$here/node_modules/playwright-core" ] || die "run: npm ci --prefix tests/browser"
  if [ -n "${FERRY_BIN:-}" ]; then
    FERRY_BIN="$(realpath "$FERRY_BIN")"
    export FERRY_BIN
  fi
  # The fake-microphone file, written once and renamed into place (runs side by side).
  tone="$here/tone.wav"
  if [ ! -s "$tone" ] || [ "$(stat -c %s "$tone")" -le 1000000 ]; then
    python3 "$here/make-tone.py" "$tone.$$.tmp" 1230 30 && mv -f "$tone.$$.tmp" "$tone" ||
      { rm -f "$tone.$$.tmp"; die "make-tone.py failed"; }
  fi
  export FERRY_IN_NETNS=1
  exec timeout -k 5 "${RUN_TIMEOUT:-150}" \
    unshare --net --pid --fork --kill-child --mount-proc -- bash "$0" "$@"
fi

# ---- inside the namespaces ----
mode="" shots="$here/shots/callpage"
while [ $# -gt 0 ]; do
  case "$1" in
    --selftest) mode=selftest; shift ;;
    --ferry) mode=ferry; shift ;;
    --shots) shots="$2"; shift 2 ;;
    --) shift; break ;;
    *) die "unknown argument $1 (callpage.mjs arguments go after --)" ;;
  esac
done
[ -n "$mode" ] || die "--selftest or --ferry"
mkdir -p "$shots"
shots="$(realpath "$shots")"
ip link set lo up

if [ "$mode" = selftest ]; then
  exec node "$here/callpage.mjs" --selftest --shots "$shots" "$@"
fi

[ -n "${FERRY_BIN:-}" ] && [ -x "$FERRY_BIN" ] || die "set FERRY_BIN to the ferry binary"
for t in curl sipp dumpcap tshark; do
  command -v "$t" >/dev/null || die "missing $t (apt-get install curl sip-tester tshark)"
done
tmp="$(mktemp -d "${TMPDIR:-/tmp}/ferry-callpage.XXXXXX")"
ferry_pid="" sipp_pid="" dumpcap_pid="" status=2

cleanup() {
  set +e
  for p in $dumpcap_pid $sipp_pid $ferry_pid; do kill -TERM -- "-$p" 2>/dev/null || kill -TERM "$p" 2>/dev/null; done
  for p in $dumpcap_pid $sipp_pid $ferry_pid; do
    for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
    kill -KILL -- "-$p" 2>/dev/null || kill -KILL "$p" 2>/dev/null
  done
  wait 2>/dev/null
  if [ "$status" != 0 ]; then
    for f in "$tmp"/*.log; do
      [ -s "$f" ] || continue
      echo "---- $(basename "$f") (last 150 lines) ----" >&2
      tail -n 150 "$f" >&2
    done
    echo "run-callpage.sh: FAILED; logs in $tmp" >&2
  elif [ -n "${KEEP_LOGS:-}" ]; then
    echo "run-callpage.sh: logs in $tmp" >&2
  else
    rm -rf "$tmp"
  fi
}
trap cleanup EXIT
trap 'exit 2' INT TERM

# ---- ferry: one service, "sales", dialled on the trunk (sipp) as 2000 ----
cat >"$tmp/ferry.toml" <<EOF
[trunk]
uri = "sip:127.0.0.1:5070"

[services]
sales = { target = "2000", label = "Sales" }
EOF
RUST_LOG="${RUST_LOG:-info}" setsid "$FERRY_BIN" up --config "$tmp/ferry.toml" \
  --http 127.0.0.1:8080 --https 127.0.0.1:8443 --socket "$tmp/engine.sock" \
  --state-dir "$tmp/state" --sip-listen 127.0.0.1:5060 >"$tmp/ferry.log" 2>&1 </dev/null &
ferry_pid=$!
for i in $(seq 1 100); do
  kill -0 "$ferry_pid" 2>/dev/null || { echo "run-callpage.sh: ferry exited during startup" >&2; exit 2; }
  curl -fsSk -m 1 -o /dev/null "https://127.0.0.1:8443/call" 2>/dev/null && break
  [ "$i" = 100 ] && { echo "run-callpage.sh: ferry's /call did not answer over https in 20 s" >&2; exit 2; }
  sleep 0.2
done

# ---- capture at sipp's media port, then sipp: one call, answered, RTP echoed, BYE answered ----
setsid dumpcap -q -i lo -f "udp port 6000" -w "$tmp/sipp-media.pcapng" >"$tmp/dumpcap.log" 2>&1 </dev/null &
dumpcap_pid=$!
for i in $(seq 1 50); do
  [ -s "$tmp/sipp-media.pcapng" ] && break
  [ "$i" = 50 ] && { echo "run-callpage.sh: dumpcap did not start capturing in 5 s" >&2; exit 2; }
  sleep 0.1
done
setsid sipp -sf "$root/tests/fixtures/sipp-uas-echo-g711.xml" -i 127.0.0.1 -p 5070 -mp 6000 -rtp_echo \
  -m 1 -nostdin -timeout 90 -timeout_error -trace_err -error_file "$tmp/sipp-errors.log" \
  >"$tmp/sipp.log" 2>&1 </dev/null &
sipp_pid=$!
sleep 0.3
kill -0 "$sipp_pid" 2>/dev/null || { echo "run-callpage.sh: sipp exited during startup" >&2; exit 2; }

# ---- the page ----
set +e
node "$here/callpage.mjs" --base https://127.0.0.1:8443 --ignore-cert-errors --dest sales \
  --shots "$shots" "$@" >"$tmp/result.json" 2> >(tee "$tmp/browser.log" >&2)
status=$?
set -e

# sipp's verdict: exit 0 means its whole scenario ran (INVITE, 200, ACK, BYE, 200).
for _ in $(seq 1 50); do kill -0 "$sipp_pid" 2>/dev/null || break; sleep 0.2; done
sipp_status=0
if kill -0 "$sipp_pid" 2>/dev/null; then sipp_status=running; else wait "$sipp_pid" || sipp_status=$?; fi
sipp_pid=""
if [ "$sipp_status" != 0 ]; then
  echo "run-callpage.sh: sipp scenario did not pass ($sipp_status)" >&2
  [ "$status" = 0 ] && status=1
fi

kill -INT "$dumpcap_pid" 2>/dev/null || true
for _ in $(seq 1 30); do kill -0 "$dumpcap_pid" 2>/dev/null || break; sleep 0.1; done
wait "$dumpcap_pid" 2>/dev/null || true
dumpcap_pid=""
timeout 30 tshark -n -r "$tmp/sipp-media.pcapng" -d udp.port==6000,rtp \
  -Y "udp.dstport == 6000 && rtp.version == 2" -T fields -E separator=, \
  -e rtp.p_type -e rtpevent.event_id >"$tmp/sipp-media.csv" 2>"$tmp/tshark.log" ||
  { echo "run-callpage.sh: tshark could not read the capture" >&2; [ "$status" = 0 ] && status=2; }

python3 - "$tmp/result.json" "$tmp/sipp-media.csv" "$sipp_status" <<'PY' || { cat "$tmp/result.json"; [ "$status" = 0 ] && status=2; }
import json, sys
lines = [l for l in open(sys.argv[1]).read().splitlines() if l.startswith("{")]
result = json.loads(lines[-1])
n, pt101, events = 0, 0, set()
for line in open(sys.argv[2]):
    f = line.strip().split(",")
    if not f[0]:
        continue
    n += 1
    if f[0] == "101":
        pt101 += 1
        if len(f) > 1 and f[1]:
            events.add(int(f[1]))
result["capture"] = {"rtpToSipp": n, "pt101": pt101, "events": sorted(events)}
result["sippStatus"] = sys.argv[3]
print(json.dumps(result, separators=(",", ":")))
PY
exit "$status"
