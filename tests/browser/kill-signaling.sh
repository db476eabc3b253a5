#!/usr/bin/env bash
# Kills `ferry up`'s signaling child mid-call (run.sh --kill-signaling runs this through call.mjs
# --mid-call, inside run.sh's namespaces) and waits for `ferry up` to start a new one that serves
# HTTP again. Prints one JSON line: {"oldPid", "newPid", "restartMs", "sessionsAfter"} (the
# engine's session count once the new process is up: the call's session must still be there).
#
#   kill-signaling.sh UP_PID HTTP_PORT ENGINE_SOCKET OUT_JSON      (FERRY_BIN: the ferry binary)
set -euo pipefail
up="$1" port="$2" sock="$3" out="$4"

# The child of UP_PID whose command line is `ferry signal ...`.
signal_pid() {
  local st pid
  for st in /proc/[0-9]*/status; do
    pid="${st#/proc/}"; pid="${pid%/status}"
    grep -qx "PPid:[[:space:]]*$up" "$st" 2>/dev/null || continue
    [ "$(tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | sed -n 2p)" = signal ] && echo "$pid"
  done
  return 0
}

old="$(signal_pid)"
[ -n "$old" ] || { echo "kill-signaling.sh: no 'ferry signal' child of $up" >&2; exit 1; }
t0="$(date +%s%3N)"
kill -KILL "$old"
new=""
for _ in $(seq 1 150); do
  new="$(signal_pid)"
  if [ -n "$new" ] && [ "$new" != "$old" ] &&
     curl -fsS -m 1 -o /dev/null "http://127.0.0.1:$port/" 2>/dev/null; then
    break
  fi
  new=""
  sleep 0.1
done
[ -n "$new" ] || { echo "kill-signaling.sh: no new signaling process serving HTTP in 15 s" >&2; exit 1; }
ms=$(( $(date +%s%3N) - t0 ))
sessions="$("$FERRY_BIN" stats --socket "$sock" | awk '$1 == "sessions" { print $2 }')"
printf '{"oldPid":%s,"newPid":%s,"restartMs":%s,"sessionsAfter":%s}\n' "$old" "$new" "$ms" "${sessions:-null}" | tee "$out"
