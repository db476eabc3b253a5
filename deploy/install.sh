#!/usr/bin/env bash
# Installs Ferry on a systemd host: the binary, the two units, sysctl settings and, if none
# exists yet, the example configuration. Run as root from a checkout after
# `cargo build --release`. Re-running upgrades the binary and units and keeps the config.
#
#   deploy/install.sh [--prefix /usr/local] [--no-start]
set -euo pipefail
cd "$(dirname "$0")/.."

prefix=/usr/local start=1
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) prefix="$2"; shift 2 ;;
    --no-start) start=0; shift ;;
    *) echo "install.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "install.sh: run as root" >&2; exit 2; }
bin=target/release/ferry
[ -x "$bin" ] || { echo "install.sh: build first: cargo build --release" >&2; exit 2; }

install -D -m 0755 "$bin" "$prefix/bin/ferry"
install -d -m 0755 /etc/ferry
if [ ! -e /etc/ferry/ferry.toml ]; then
  install -m 0640 deploy/ferry.toml /etc/ferry/ferry.toml
  echo "install.sh: wrote /etc/ferry/ferry.toml (edit [trunk] and [services] for your PBX)"
fi
# A bad configuration stops here, with the file, key and reason, before any unit restarts.
"$prefix/bin/ferry" check --config /etc/ferry/ferry.toml
for unit in ferry-engine.service ferry-signal.service; do
  sed "s|/usr/local/bin/ferry|$prefix/bin/ferry|" "deploy/$unit" > "/etc/systemd/system/$unit"
done
install -m 0644 deploy/90-ferry.conf /etc/sysctl.d/90-ferry.conf
sysctl --system >/dev/null
systemctl daemon-reload
if [ "$start" = 1 ]; then
  systemctl enable --now ferry-engine.service ferry-signal.service
  systemctl --no-pager status ferry-engine.service ferry-signal.service | head -20
fi
