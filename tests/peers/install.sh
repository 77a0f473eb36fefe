#!/usr/bin/env bash
# Installs the peers of `mailreg verify`'s tests: Dovecot (apt, Debian/Ubuntu) and the pinned npm
# packages (npm ci into tests/peers/node_modules). Idempotent. Needs root for apt.
#   tests/peers/install.sh && cargo test --test verify
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
if ! command -v dovecot >/dev/null 2>&1 && [ ! -x /usr/sbin/dovecot ] || ! command -v node >/dev/null 2>&1 \
   || ! command -v openssl >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  # policy-rc.d or not, the system Dovecot is not needed: the tests run their own instance.
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    dovecot-imapd dovecot-pop3d dovecot-submissiond openssl ca-certificates \
    $(command -v node >/dev/null 2>&1 || echo nodejs npm)
fi
cd "$HERE" && npm ci --no-audit --no-fund --loglevel=error
