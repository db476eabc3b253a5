# shellcheck shell=bash
# What run.sh and run-callpage.sh share, sourced by both: the re-exec into private network and
# PID namespaces, the run's log directory and its cleanup, and waiting for ferry, dumpcap and
# sipp. The script sets `prog` (its name, for messages) and `here` (this directory) first; the
# functions use the globals tmp, status, ferry_pid, sipp_pid, dumpcap_pid and run_label.

die() { echo "$prog: $*" >&2; exit 2; }

# need HINT TOOL...: die unless every TOOL is on PATH (HINT says where they come from).
need() {
  local hint="$1" t
  shift
  for t in "$@"; do command -v "$t" >/dev/null || die "missing $t ($hint)"; done
}

# The fake-microphone file, written once and renamed into place: runs started side by side must
# not read each other's half-written file (call.mjs would write it in place).
make_tone() {
  local tone="$here/tone.wav"
  if [ ! -s "$tone" ] || [ "$(stat -c %s "$tone")" -le 1000000 ]; then
    need "writes tone.wav" python3
    python3 "$here/make-tone.py" "$tone.$$.tmp" 1230 30 && mv -f "$tone.$$.tmp" "$tone" ||
      { rm -f "$tone.$$.tmp"; die "make-tone.py failed"; }
  fi
}

# enter_namespaces SECONDS ARGS...: runs the calling script again with ARGS inside fresh network
# and PID namespaces. --kill-child and the PID namespace: if anything hangs or we are killed,
# every process of the run dies with it; timeout (RUN_TIMEOUT, else SECONDS) bounds the whole run.
enter_namespaces() {
  local seconds="$1"
  shift
  export FERRY_IN_NETNS=1
  exec timeout -k 5 "${RUN_TIMEOUT:-$seconds}" \
    unshare --net --pid --fork --kill-child --mount-proc -- bash "$0" "$@"
}

# start_run NAME: the run's log directory ($tmp, under TMPDIR) and the cleanup at exit.
start_run() {
  tmp="$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")"
  ferry_pid="" sipp_pid="" dumpcap_pid="" status=2
  trap cleanup EXIT
  trap 'exit 2' INT TERM
}

# Stops what the run started; on failure prints the tail of every log, else removes them
# (KEEP_LOGS=1 keeps them).
cleanup() {
  set +e
  # ferry and sipp run in their own process groups (setsid), so children go too.
  # (run.sh's uac launcher is a plain subshell that execs sipp: no group of its own, hence the
  # fallback.)
  local p f
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
    echo "$prog: FAILED${run_label:+ ($run_label)}; logs in $tmp" >&2
  elif [ -n "${KEEP_LOGS:-}" ]; then
    echo "$prog: logs in $tmp" >&2
  else
    rm -rf "$tmp"
  fi
}

# start_ferry ARGS...: `$FERRY_BIN ARGS` in its own process group, logging to $tmp/ferry.log.
start_ferry() {
  RUST_LOG="${RUST_LOG:-info}" setsid "$FERRY_BIN" "$@" >"$tmp/ferry.log" 2>&1 </dev/null &
  ferry_pid=$!
}

# wait_ferry URL TRIES: until URL answers (every 0.2 s, TRIES times; a self-signed certificate is
# accepted); exits 2 if ferry dies or URL never answers.
wait_ferry() {
  local url="$1" tries="$2" i
  for i in $(seq 1 "$tries"); do
    kill -0 "$ferry_pid" 2>/dev/null || die "ferry exited during startup"
    curl -fsSk -m 1 -o /dev/null "$url" 2>/dev/null && return 0
    [ "$i" = "$tries" ] && die "ferry's $url did not answer in $((tries / 5)) s"
    sleep 0.2
  done
}

# start_dumpcap FILTER: captures FILTER on lo into $tmp/sipp-media.pcapng, once it is capturing.
start_dumpcap() {
  local i
  setsid dumpcap -q -i lo -f "$1" -w "$tmp/sipp-media.pcapng" >"$tmp/dumpcap.log" 2>&1 </dev/null &
  dumpcap_pid=$!
  for i in $(seq 1 50); do
    kill -0 "$dumpcap_pid" 2>/dev/null || die "dumpcap exited during startup"
    [ -s "$tmp/sipp-media.pcapng" ] && break
    [ "$i" = 50 ] && die "dumpcap did not start capturing in 5 s"
    sleep 0.1
  done
}

# Stops dumpcap (SIGINT: it finishes the file).
stop_dumpcap() {
  kill -INT "$dumpcap_pid" 2>/dev/null || true
  for _ in $(seq 1 30); do kill -0 "$dumpcap_pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$dumpcap_pid" 2>/dev/null || true
  wait "$dumpcap_pid" 2>/dev/null || true
  dumpcap_pid=""
}

# sipp's own verdict once the call is over: exit 0 means its whole scenario ran. Waits up to 10 s
# for it to exit; sets sipp_status (its exit status, or "running") and fails a passing run (status
# 1) otherwise.
sipp_verdict() {
  for _ in $(seq 1 50); do kill -0 "$sipp_pid" 2>/dev/null || break; sleep 0.2; done
  if kill -0 "$sipp_pid" 2>/dev/null; then
    sipp_status=running
    echo "$prog: sipp still running after the call" >&2
  else
    sipp_status=0
    wait "$sipp_pid" || sipp_status=$?
    sipp_pid=""
    [ "$sipp_status" = 0 ] || echo "$prog: sipp scenario failed (exit $sipp_status)" >&2
  fi
  if [ "$sipp_status" != 0 ] && [ "$status" = 0 ]; then status=1; fi
}
