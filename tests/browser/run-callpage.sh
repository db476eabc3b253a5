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
# What it shares with run.sh (namespaces, cleanup, starting and waiting for ferry, dumpcap and
# sipp) is in lib.sh.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
prog=run-callpage.sh
# shellcheck source=tests/browser/lib.sh
. "$here/lib.sh"

# ---- outside: check tools, then re-run this script inside fresh namespaces ----
if [ -z "${FERRY_IN_NETNS:-}" ]; then
  [ "$(id -u)" = 0 ] || die "needs root (unshare -n)"
  need "util-linux, iproute2, nodejs, coreutils, python3" unshare ip node timeout setsid python3
  [ -d "$here/node_modules/playwright-core" ] || die "run: npm ci --prefix tests/browser"
  if [ -n "${FERRY_BIN:-}" ]; then
    FERRY_BIN="$(realpath "$FERRY_BIN")"
    export FERRY_BIN
  fi
  make_tone
  enter_namespaces 150 "$@"
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
need "apt-get install curl sip-tester tshark" curl sipp dumpcap tshark
start_run ferry-callpage

# ---- ferry: one service, "sales", dialled on the trunk (sipp) as 2000 ----
cat >"$tmp/ferry.toml" <<EOF
[trunk]
uri = "sip:127.0.0.1:5070"

[services]
sales = { target = "2000", label = "Sales" }
EOF
start_ferry up --config "$tmp/ferry.toml" --http 127.0.0.1:8080 --https 127.0.0.1:8443 \
  --socket "$tmp/engine.sock" --state-dir "$tmp/state" --sip-listen 127.0.0.1:5060
wait_ferry https://127.0.0.1:8443/call 100

# ---- capture at sipp's media port, then sipp: one call, answered, RTP echoed, BYE answered ----
start_dumpcap "udp port 6000"
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

# sipp's verdict: its whole scenario ran (INVITE, 200, ACK, BYE, 200).
sipp_verdict
stop_dumpcap
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
