#!/usr/bin/env bash
# Stops the peers start.sh started, by the PIDs in DIR/peers.env (never by name), then removes
# DIR unless KEEP_PEERS_DIR=1.   tests/peers/stop.sh DIR
set -uo pipefail
DIR="${1:?usage: stop.sh DIR}"
[ -f "$DIR/peers.env" ] || { echo "no peers.env in $DIR" >&2; exit 1; }
# shellcheck disable=SC1091
. "$DIR/peers.env"
gone() { ! kill -0 "$1" 2>/dev/null || [ "$(ps -o stat= -p "$1" | cut -c1)" = Z ]; }
for pid in "$DOVECOT_PID" "$IDP_PID"; do kill -TERM "$pid" 2>/dev/null || true; done
for _ in $(seq 50); do
  gone "$DOVECOT_PID" && gone "$IDP_PID" && break
  sleep 0.1
done
for pid in "$DOVECOT_PID" "$IDP_PID"; do gone "$pid" || kill -KILL "$pid" 2>/dev/null || true; done
[ "${KEEP_PEERS_DIR:-}" = 1 ] || rm -rf "$DIR"
