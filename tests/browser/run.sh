#!/usr/bin/env bash
# One real-browser scenario against the real ferry binary, in a private network namespace (only
# lo) and PID namespace (nothing outlives the run). Prints call.mjs's JSON line; exits with its
# status (or 1 if the call passed but sipp's scenario did not). With sipp, the line also has a
# "capture" object: what dumpcap saw arrive at sipp's media port 6000, decoded by tshark:
#   {"rtpToSipp": N, "payloadTypes": {"0": N, "101": M}, "pt101": M, "events": [5],
#    "eventEnds": K, "eventTimestamps": E}
# (pt101: RFC 4733 telephone-event packets with payload type 101, the one sipp's answer declares;
# events: their distinct event codes, 5 for the key "5"; eventEnds: packets with the E bit;
# eventTimestamps: distinct events by RTP timestamp).
#
#   FERRY_BIN=target/release/ferry tests/browser/run.sh [--sipp none|uas|uas-bye|uac] \
#       [--lib jssip|sipjs] [--dest USER] [--user USER] [--scenario FILE] [--sipp-duration MS] \
#       [--transport udp|tcp] [--config FILE] [--https] [--kill-signaling] [--query Q] \
#       [-- extra call.mjs args]
#
#   --sipp none     browser calls DEST (default echo), Ferry answers and reflects the media
#   --sipp uas      browser calls DEST (default sipp), Ferry bridges to sipp at 127.0.0.1:5070,
#                   which answers and echoes RTP; the browser hangs up
#   --sipp uas-bye  same, but sipp hangs up after 8 s (call.mjs --hangup remote)
#   --sipp uac      the browser REGISTERs as USER (default bob); sipp calls sip:USER@$FERRY_SIP,
#                   Ferry rings the browser, which answers; sipp hangs up after 8 s
#
#   --scenario FILE     another sipp scenario for uas/uas-bye (path from the repository root, or
#                       absolute); --sipp-duration MS is sipp's -d for uas-bye (default 8000)
#   --transport tcp     SIP toward the trunk over TCP: --trunk "sip:127.0.0.1:5070;transport=tcp"
#                       and sipp -t t1 (sipp then listens on TCP only)
#   --config FILE       ferry up --config FILE (run.sh's own flags still override the file)
#   --https             ferry up --https 127.0.0.1:$HTTPS_PORT; the page is loaded over https (the
#                       self-signed certificate accepted: call.mjs --ignore-cert-errors), so it
#                       uses wss://
#   --query Q           appended to the page's query (e.g. dtmf=info: keys as SIP INFO)
#   --kill-signaling    mid-call (call.mjs --mid-call), SIGKILL the `ferry signal` child of
#                       `ferry up` and wait until its replacement serves HTTP again; the JSON line
#                       gets "restart": {"oldPid", "newPid", "restartMs", "sessionsAfter"}
#
# With sipp, the JSON line also gets "sip": every SIP message on port 5070 as tshark decoded it
# from the capture, [{"proto": "udp"|"tcp", "toSipp": bool, "method" | "status", "cseq",
# "directions": ["sendonly"], "contentType", "authorization": bool}]; "sippReceived": the
# requests sipp's own message trace shows it received, [{"method", "cseq", "contentType",
# "body"}]; and
# "engineSessions": the engine's session count once sipp has exited (ferry stats), or null.
#
# Environment:
#   FERRY_BIN    the ferry binary (required)
#   FERRY_ARGS   extra arguments for `ferry up`, word-split, after the ones run.sh passes:
#                up --http 127.0.0.1:$HTTP_PORT --socket DIR/engine.sock --state-dir DIR/state
#                   --trunk sip:127.0.0.1:5070 --sip-listen $FERRY_SIP
#   HTTP_PORT    Ferry's HTTP/WebSocket port (default 8080)
#   HTTPS_PORT   Ferry's HTTPS/wss port with --https (default 8443)
#   FERRY_SIP    Ferry's trunk-side SIP address that sipp calls in uac mode (default 127.0.0.1:5060)
#   RUN_TIMEOUT  seconds for the whole run (default 120)
#   KEEP_LOGS=1  keep the log directory after a passing run too
#   RUST_LOG     ferry's log filter (default info)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
prog=run.sh
# shellcheck source=tests/browser/lib.sh
. "$here/lib.sh"

# ---- outside: check tools, then re-run this script inside fresh namespaces ----
if [ -z "${FERRY_IN_NETNS:-}" ]; then
  [ "$(id -u)" = 0 ] || die "needs root (unshare -n)"
  need "util-linux, iproute2, nodejs, curl, coreutils" unshare ip node curl timeout setsid
  [ -n "${FERRY_BIN:-}" ] || die "set FERRY_BIN to the ferry binary"
  FERRY_BIN="$(realpath "$FERRY_BIN")"
  [ -x "$FERRY_BIN" ] || die "FERRY_BIN=$FERRY_BIN is not executable"
  [ -d "$here/node_modules/playwright-core" ] || die "run: npm ci --prefix tests/browser"
  make_tone
  export FERRY_BIN
  enter_namespaces 120 "$@"
fi

# ---- inside the namespaces ----
sipp_mode=none lib=jssip dest="" user=bob scenario="" sipp_duration=8000 transport=udp config=""
https=0 kill_signaling=0 query=""
while [ $# -gt 0 ]; do
  case "$1" in
    --sipp) sipp_mode="$2"; shift 2 ;;
    --lib) lib="$2"; shift 2 ;;
    --dest) dest="$2"; shift 2 ;;
    --user) user="$2"; shift 2 ;;
    --scenario) scenario="$2"; shift 2 ;;
    --sipp-duration) sipp_duration="$2"; shift 2 ;;
    --transport) transport="$2"; shift 2 ;;
    --config) config="$2"; shift 2 ;;
    --https) https=1; shift ;;
    --kill-signaling) kill_signaling=1; shift ;;
    --query) query="$2"; shift 2 ;;
    --) shift; break ;;
    *) die "unknown argument $1 (call.mjs arguments go after --)" ;;
  esac
done
case "$sipp_mode" in none|uas|uas-bye|uac) ;; *) die "--sipp none|uas|uas-bye|uac" ;; esac
case "$transport" in udp|tcp) ;; *) die "--transport udp|tcp" ;; esac
if [ -n "$scenario" ]; then
  case "$scenario" in /*) ;; *) scenario="$root/$scenario" ;; esac
  [ -f "$scenario" ] || die "no sipp scenario $scenario"
fi
if [ -n "$config" ]; then
  config="$(realpath "$config")"
  [ -f "$config" ] || die "no config file $config"
fi
[ -n "$dest" ] || { [ "$sipp_mode" = none ] && dest=echo || dest=sipp; }
if [ "$sipp_mode" != none ]; then
  need "apt-get install sip-tester tshark python3" sipp dumpcap tshark python3
fi
http_port="${HTTP_PORT:-8080}"
https_port="${HTTPS_PORT:-8443}"
ferry_sip="${FERRY_SIP:-127.0.0.1:5060}"

ip link set lo up
run_label="$sipp_mode, $lib"
start_run ferry-browser

# ---- ferry ----
# The flags `ferry up` has today; anything else (or an override: clap takes the last) comes in
# FERRY_ARGS. Socket and state live in the run's directory, so runs never share them.
trunk_uri=sip:127.0.0.1:5070
[ "$transport" = tcp ] && trunk_uri="sip:127.0.0.1:5070;transport=tcp"
ferry_argv=(up --http "127.0.0.1:$http_port" --socket "$tmp/engine.sock" --state-dir "$tmp/state"
            --trunk "$trunk_uri" --sip-listen "$ferry_sip")
[ -n "$config" ] && ferry_argv+=(--config "$config")
[ "$https" = 1 ] && ferry_argv+=(--https "127.0.0.1:$https_port")
# shellcheck disable=SC2086  # FERRY_ARGS is deliberately word-split
start_ferry "${ferry_argv[@]}" ${FERRY_ARGS:-}
wait_ferry "http://127.0.0.1:$http_port/" 100
[ "$https" = 1 ] && wait_ferry "https://127.0.0.1:$https_port/" 50

# ---- the capture at sipp's media port (what Ferry sends to and gets from the trunk side) and of
# SIP to and from sipp's port 5070, UDP or TCP ----
if [ "$sipp_mode" != none ]; then
  start_dumpcap "udp port 6000 or port 5070"
fi

# ---- sipp ----
# -mp 6000 -rtp_echo: sipp reflects the RTP it gets, so the browser hears its own tone.
sipp_common=(-i 127.0.0.1 -p 5070 -mp 6000 -rtp_echo -m 1 -nostdin -timeout 60 -timeout_error
             -trace_msg -message_file "$tmp/sipp-messages.log" -trace_err -error_file "$tmp/sipp-errors.log")
[ "$transport" = tcp ] && sipp_common+=(-t t1)
start_sipp() {
  setsid sipp "$@" "${sipp_common[@]}" >"$tmp/sipp.log" 2>&1 </dev/null &
  sipp_pid=$!
}
case "$sipp_mode" in
  uas) start_sipp -sf "${scenario:-$root/tests/fixtures/sipp-uas-echo-g711.xml}" ;;
  uas-bye) start_sipp -sf "${scenario:-$here/sipp-uas-echo-bye.xml}" -d "$sipp_duration" ;;
esac
if [ -n "$sipp_pid" ]; then
  sleep 0.3
  kill -0 "$sipp_pid" 2>/dev/null || { echo "run.sh: sipp exited during startup" >&2; exit 2; }
fi

# ---- the browser ----
url="http://127.0.0.1:$http_port/?lib=$lib&dest=$dest"
[ "$https" = 1 ] && url="https://127.0.0.1:$https_port/?lib=$lib&dest=$dest"
[ -n "$query" ] && url="$url&$query"
args=(--url "$url" --expect-tone 1230 --dtmf 5 --duration 6 --screenshot "$tmp/screen.png")
[ "$https" = 1 ] && args+=(--ignore-cert-errors)
[ "$kill_signaling" = 1 ] &&
  args+=(--mid-call "bash '$here/kill-signaling.sh' $ferry_pid $http_port '$tmp/engine.sock' '$tmp/restart.json'")
case "$sipp_mode" in
  none|uas) args+=(--hangup browser) ;;
  uas-bye) args+=(--hangup remote) ;;
  uac) args+=(--hangup remote --register "$user" --ready-file "$tmp/registered") ;;
esac

if [ "$sipp_mode" = uac ]; then
  # Place sipp's call once the page says it is registered.
  (
    for _ in $(seq 1 150); do [ -e "$tmp/registered" ] && break; sleep 0.2; done
    [ -e "$tmp/registered" ] || exit 0
    exec sipp "$ferry_sip" -sf "$here/sipp-uac-g711.xml" -s "$user" -d 8000 "${sipp_common[@]}"
  ) >"$tmp/sipp.log" 2>&1 </dev/null &
  sipp_pid=$!
fi

set +e
node "$here/call.mjs" "${args[@]}" "$@" >"$tmp/result.json" 2> >(tee "$tmp/browser.log" >&2)
status=$?
set -e

# sipp's own verdict: exit 0 means its whole scenario ran (answer, ACK, BYE, 200).
[ -n "$sipp_pid" ] && sipp_verdict

# The engine's sessions once the call is over (sipp exits after its BYE or the 200 to ours): a
# freed call leaves 0. Asked a few times: the last BYE may still be on its way.
engine_sessions=null
if [ "$sipp_mode" != none ]; then
  for _ in $(seq 1 25); do
    n="$("$FERRY_BIN" stats --socket "$tmp/engine.sock" 2>>"$tmp/stats.log" | awk '$1 == "sessions" { print $2 }')"
    [ -n "$n" ] && engine_sessions="$n"
    [ "$n" = 0 ] && break
    sleep 0.2
  done
fi

# The capture: stop dumpcap (SIGINT: it finishes the file), decode what reached port 6000.
if [ -n "$dumpcap_pid" ]; then
  stop_dumpcap
  set +e
  timeout 30 tshark -n -r "$tmp/sipp-media.pcapng" -d udp.port==6000,rtp \
    -Y "udp.dstport == 6000 && rtp.version == 2" -T fields -E separator=, \
    -e rtp.p_type -e rtpevent.event_id -e rtpevent.end_of_event -e rtp.timestamp \
    >"$tmp/sipp-media.csv" 2>"$tmp/tshark.log"
  tshark_status=$?
  # SIP on port 5070 (sipp), either transport; one line per message, fields separated by \x1f.
  timeout 30 tshark -n -r "$tmp/sipp-media.pcapng" -d tcp.port==5070,sip -d udp.port==5070,sip \
    -Y "sip" -T fields -E separator=$'\x1f' -E occurrence=a -E aggregator=$'\x1e' \
    -e ip.proto -e udp.dstport -e tcp.dstport -e sip.Method -e sip.Status-Code -e sip.CSeq \
    -e sdp.media_attr -e sip.Content-Type -e sip.Authorization \
    >"$tmp/sipp-sip.tsv" 2>>"$tmp/tshark.log" || tshark_status=$?
  set -e
  if [ "$tshark_status" != 0 ]; then
    echo "run.sh: tshark could not read the capture (exit $tshark_status)" >&2
    [ "$status" = 0 ] && status=2
  fi
  python3 - "$tmp/result.json" "$tmp/sipp-media.csv" "$tmp/sipp-sip.tsv" "$engine_sessions" "$tmp/restart.json" \
    "$tmp/sipp-messages.log" <<'PY' || { cat "$tmp/result.json"; [ "$status" = 0 ] && status=2; }
import json, os, sys
result = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
sip = []
for line in open(sys.argv[3], encoding="utf-8", errors="replace"):
    f = line.rstrip("\n").split("\x1f")
    f += [""] * (9 - len(f))
    proto, udst, tdst, method, code, cseq, attrs, ctype, authz = f[:9]
    m = {"proto": {"6": "tcp", "17": "udp"}.get(proto, proto), "toSipp": "5070" in (udst, tdst), "cseq": cseq}
    if method:
        m["method"] = method
    if code:
        m["status"] = int(code.split("\x1e")[0])
    m["directions"] = [a for a in attrs.split("\x1e") if a in ("sendonly", "recvonly", "sendrecv", "inactive")]
    if ctype:
        m["contentType"] = ctype
    m["authorization"] = bool(authz)
    sip.append(m)
result["sip"] = sip
# What sipp itself says it received (its -trace_msg log): method, CSeq, Content-Type and body.
got, block = [], None
for line in open(sys.argv[6], encoding="utf-8", errors="replace") if os.path.exists(sys.argv[6]) else []:
    line = line.rstrip("\r\n")
    if line.startswith("-----------------------------------------------"):
        block = None
    elif " message received " in line:
        block = {"lines": []}
        got.append(block)
    elif block is not None:
        block["lines"].append(line)
received = []
for b in got:
    lines = b["lines"]
    while lines and not lines[0].strip():
        lines.pop(0)
    if not lines or lines[0].startswith("SIP/2.0"):
        continue
    head, body, in_body = {}, [], False
    for l in lines[1:]:
        if in_body:
            body.append(l)
        elif not l.strip():
            in_body = True
        elif ":" in l:
            k, v = l.split(":", 1)
            head.setdefault(k.strip().lower(), v.strip())
    received.append({"method": lines[0].split(" ")[0], "cseq": head.get("cseq", ""),
                     "contentType": head.get("content-type", head.get("c", "")),
                     "body": "\n".join(body).strip()})
result["sippReceived"] = received
result["engineSessions"] = None if sys.argv[4] == "null" else int(sys.argv[4])
if os.path.exists(sys.argv[5]):
    result["restart"] = json.load(open(sys.argv[5]))
pts, events, ends, stamps, n = {}, set(), 0, set(), 0
for line in open(sys.argv[2]):
    f = line.strip().split(",")
    if not f[0]:
        continue
    n += 1
    pts[f[0]] = pts.get(f[0], 0) + 1
    if f[0] == "101":
        if len(f) > 1 and f[1]:
            events.add(int(f[1]))
        if len(f) > 2 and f[2] in ("1", "True"):
            ends += 1
        if len(f) > 3 and f[3]:
            stamps.add(f[3])
result["capture"] = {"rtpToSipp": n, "payloadTypes": pts, "pt101": pts.get("101", 0),
                     "events": sorted(events), "eventEnds": ends, "eventTimestamps": len(stamps)}
print(json.dumps(result, separators=(",", ":")))
PY
else
  cat "$tmp/result.json"
fi
exit "$status"
