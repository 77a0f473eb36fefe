#!/usr/bin/env bash
# Starts the peers of `mailreg verify`'s tests on free loopback ports: the test OAuth server
# (idp.mjs, on npm oauth2-mock-server) with its SMTP relay sink, and Dovecot (IMAP, POP3,
# submission; plain+STARTTLS and implicit TLS) validating tokens through the IdP's /introspect.
#
#   tests/peers/start.sh [DIR] [--owner-pid PID]
#
# Writes DIR/peers.env (KEY=VALUE: ports, URLs, CA file, PIDs) and prints DIR. With --owner-pid,
# a watchdog runs stop.sh once that process has exited (the test binary passes its own PID).
# Exit codes: 0 started, 2 a prerequisite is missing (message says which), 1 start failed.
# Ports can be pinned with PEER_<NAME>_PORT (IDP, SINK, IMAP, IMAPS, POP3, POP3S, SUBMISSION,
# SUBMISSIONS); a busy port is refused, never shared.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
DIR=""
OWNER=""
while [ $# -gt 0 ]; do
  case "$1" in
    --owner-pid) OWNER="$2"; shift 2 ;;
    *) DIR="$1"; shift ;;
  esac
done

missing() { echo "peers not available: $1; run tests/peers/install.sh" >&2; exit 2; }
DOVECOT="$(command -v dovecot || true)"
[ -z "$DOVECOT" ] && [ -x /usr/sbin/dovecot ] && DOVECOT=/usr/sbin/dovecot
[ -n "$DOVECOT" ] || missing "dovecot not installed"
command -v node >/dev/null || missing "node not installed"
command -v openssl >/dev/null || missing "openssl not installed"
[ -d "$HERE/node_modules/oauth2-mock-server" ] || missing "tests/peers/node_modules missing (npm ci)"
[ "$(id -u)" = 0 ] || missing "Dovecot's test instance must run as root (it drops to dovenull/nobody)"
id dovenull >/dev/null 2>&1 || missing "user dovenull missing (install the dovecot-core package)"

if [ -z "$DIR" ]; then DIR="$(mktemp -d /tmp/mailreg-peers.XXXXXX)"; fi
mkdir -p "$DIR"/run "$DIR"/state "$DIR"/home
chmod 0755 "$DIR"; chmod 1777 "$DIR"/home

NAMES=(IDP SINK IMAP IMAPS POP3 POP3S SUBMISSION SUBMISSIONS)
# Free ports from the kernel, or the pinned ones; either way each must be bindable now.
PICKED=$(node -e '
const net = require("net");
const want = process.argv.slice(1).map(Number);
(async () => {
  const out = [];
  const held = [];
  for (const p of want) {
    const s = net.createServer();
    const ok = await new Promise((r) => { s.once("error", () => r(false)); s.listen(p, "127.0.0.1", () => r(true)); });
    if (!ok) { console.error(`port ${p} on 127.0.0.1 is busy`); process.exit(1); }
    held.push(s); out.push(s.address().port);
  }
  held.forEach((s) => s.close());
  console.log(out.join(" "));
})();' $(for n in "${NAMES[@]}"; do v="PEER_${n}_PORT"; echo "${!v:-0}"; done)) || { echo "refusing to start: a port is busy" >&2; exit 1; }
read -r IDP_PORT SINK_PORT IMAP_PORT IMAPS_PORT POP3_PORT POP3S_PORT SUBMISSION_PORT SUBMISSIONS_PORT <<<"$PICKED"
IDP_URL="http://127.0.0.1:$IDP_PORT"

# A throwaway CA and a server certificate for 127.0.0.1/localhost signed by it (rustls does not
# accept a self-signed CA certificate as the server's own certificate).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -subj "/CN=mailreg verify test CA" -keyout "$DIR/ca-key.pem" -out "$DIR/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=localhost" \
  -keyout "$DIR/key.pem" -out "$DIR/server.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >"$DIR/ext.cnf"
openssl x509 -req -in "$DIR/server.csr" -CA "$DIR/ca.pem" -CAkey "$DIR/ca-key.pem" -CAcreateserial \
  -days 2 -extfile "$DIR/ext.cnf" -out "$DIR/cert.pem" 2>/dev/null
chmod 0644 "$DIR/key.pem"

subst() {
  sed -e "s#@DIR@#$DIR#g" -e "s#@INSTANCE@#$(basename "$DIR")#g" -e "s#@IDP_URL@#$IDP_URL#g" \
    -e "s#@SINK_PORT@#$SINK_PORT#g" -e "s#@IMAP_PORT@#$IMAP_PORT#g" -e "s#@IMAPS_PORT@#$IMAPS_PORT#g" \
    -e "s#@POP3_PORT@#$POP3_PORT#g" -e "s#@POP3S_PORT@#$POP3S_PORT#g" \
    -e "s#@SUBMISSION_PORT@#$SUBMISSION_PORT#g" -e "s#@SUBMISSIONS_PORT@#$SUBMISSIONS_PORT#g" "$1"
}
subst "$HERE/dovecot.conf.in" >"$DIR/dovecot.conf"
subst "$HERE/oauth2.conf.ext.in" >"$DIR/oauth2.conf.ext"

CLIENT_ID="mailreg-verify-test-client"
CLIENT_SECRET="test-secret-$(openssl rand -hex 8)"
# App-only clients (client credentials): one with Exchange's mail roles, for APP_MAILBOX only
# (idp.mjs says why one mailbox), and one without any role (admin consent not granted).
APP_CLIENT_ID="mailreg-verify-test-app"
APP_CLIENT_SECRET="test-app-secret-$(openssl rand -hex 8)"
APP_MAILBOX="helpdesk@example.test"
NOROLES_CLIENT_ID="mailreg-verify-test-app-noconsent"
NOROLES_CLIENT_SECRET="test-app-secret-$(openssl rand -hex 8)"

# Background processes get no handle on our stdout/stderr: a caller reading our output to EOF
# (the test harness) must not wait for them.
node "$HERE/idp.mjs" --port "$IDP_PORT" --smtp-sink-port "$SINK_PORT" \
  --client "$CLIENT_ID:$CLIENT_SECRET" \
  --app-client "$APP_CLIENT_ID:$APP_CLIENT_SECRET:$APP_MAILBOX:IMAP.AccessAsApp,POP.AccessAsApp,SMTP.SendAsApp" \
  --app-client "$NOROLES_CLIENT_ID:$NOROLES_CLIENT_SECRET:$APP_MAILBOX:" </dev/null >"$DIR/idp.log" 2>&1 &
IDP_PID=$!
"$DOVECOT" -F -c "$DIR/dovecot.conf" </dev/null >"$DIR/dovecot.out" 2>&1 &
DOVECOT_PID=$!

cat >"$DIR/peers.env" <<ENV
DIR=$DIR
IDP_URL=$IDP_URL
IDP_PID=$IDP_PID
DOVECOT_PID=$DOVECOT_PID
SINK_PORT=$SINK_PORT
IMAP_PORT=$IMAP_PORT
IMAPS_PORT=$IMAPS_PORT
POP3_PORT=$POP3_PORT
POP3S_PORT=$POP3S_PORT
SUBMISSION_PORT=$SUBMISSION_PORT
SUBMISSIONS_PORT=$SUBMISSIONS_PORT
CA_FILE=$DIR/ca.pem
CLIENT_ID=$CLIENT_ID
CLIENT_SECRET=$CLIENT_SECRET
APP_CLIENT_ID=$APP_CLIENT_ID
APP_CLIENT_SECRET=$APP_CLIENT_SECRET
APP_MAILBOX=$APP_MAILBOX
NOROLES_CLIENT_ID=$NOROLES_CLIENT_ID
NOROLES_CLIENT_SECRET=$NOROLES_CLIENT_SECRET
ENV

alive() { kill -0 "$1" 2>/dev/null && [ "$(ps -o stat= -p "$1" | cut -c1)" != Z ]; }
fail() {
  echo "peers failed to start: $1" >&2
  tail -n 20 "$DIR/dovecot.out" "$DIR/dovecot.log" "$DIR/idp.log" >&2 2>/dev/null || true
  "$HERE/stop.sh" "$DIR" >/dev/null 2>&1 || true
  exit 1
}
# Wait (up to 15 s) until every port accepts connections.
node -e '
const net = require("net");
const ports = process.argv.slice(1).map(Number);
const deadline = Date.now() + 15000;
const tryOne = (p) => new Promise((r) => { const s = net.connect(p, "127.0.0.1"); s.once("connect", () => { s.destroy(); r(true); }); s.once("error", () => r(false)); });
(async () => {
  for (const p of ports) {
    while (!(await tryOne(p))) {
      if (Date.now() > deadline) { console.error(`port ${p} never opened`); process.exit(1); }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
})();' "$IDP_PORT" "$SINK_PORT" "$IMAP_PORT" "$IMAPS_PORT" "$POP3_PORT" "$POP3S_PORT" "$SUBMISSION_PORT" "$SUBMISSIONS_PORT" \
  || fail "a port did not open"
sleep 0.2
alive "$IDP_PID" || fail "the IdP exited"
alive "$DOVECOT_PID" || fail "dovecot exited"

if [ -n "$OWNER" ]; then
  nohup bash -c "while kill -0 $OWNER 2>/dev/null; do sleep 1; done; '$HERE/stop.sh' '$DIR'" \
    </dev/null >/dev/null 2>&1 &
fi
echo "$DIR"
