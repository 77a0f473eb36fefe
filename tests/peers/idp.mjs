// OAuth 2.0 authorization server for `mailreg verify`'s peer tests, built on npm
// `oauth2-mock-server` (its key store and JWT signing), with what the stock package lacks and
// Dovecot needs (reference/mail-peers.md §2):
//   * the user of a token is the account that signs in (`login_hint`), in `sub`, `email`,
//     `preferred_username` and `upn`, so Dovecot's `username_attribute = email` matches a mailbox;
//   * single-use codes bound to client_id + redirect_uri, PKCE S256 enforced, RFC 6749 error JSON,
//     confidential clients checked (client_secret_post);
//   * refresh tokens that must have been issued, rotate on use, and can be revoked (RFC 7009);
//   * a real RFC 7662 /introspect (signature, expiry, revocation) for Dovecot's oauth2 passdb;
//   * the RFC 8628 device flow (`/devicecode`, approved through `GET /device?user_code=&login_as=`);
//   * the client-credentials grant of app-only access (RFC 6749 §4.4) for the clients registered
//     with --app-client, shaped like Entra's app tokens (`roles`, `idtyp: app`, a `.default`
//     scope required), see `appToken` below;
//   * a minimal SMTP sink on --smtp-sink-port, the relay Dovecot submission needs.
// Routes match on the path's end, so Microsoft-shaped (`/common/oauth2/v2.0/authorize`) and
// Google-shaped (`/o/oauth2/v2/auth`, `/token`) endpoint URLs both work.
//
// The browser side of the sign-in has no login page: /authorize approves at once, as the account
// in `login_hint`. Test-only query parameters on /authorize play the person at the browser:
//   mock_login_as=U   sign in as another account than the hint
//   mock_deny=1       the person declines consent (redirect with error=access_denied)
//   mock_token=garbage  issue a malformed access token
//   mock_expired=1    issue an access token whose `exp` is already past (a skewed clock)
//
// Usage: node idp.mjs --port P --smtp-sink-port S --client ID:SECRET [--client ...]
//          [--app-client ID:SECRET:MAILBOX:ROLE,ROLE... ...]
import http from 'node:http';
import net from 'node:net';
import crypto from 'node:crypto';
import { OAuth2Issuer } from 'oauth2-mock-server';
import { jwtVerify, importJWK } from 'jose';

const args = process.argv.slice(2);
const opt = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const port = Number(opt('--port'));
const sinkPort = Number(opt('--smtp-sink-port') || 0);
const clients = new Map();
const apps = new Map(); // client_id -> {mailbox, roles}: the app-only clients
args.forEach((a, i) => {
  if (a === '--client') {
    const [id, secret] = args[i + 1].split(':');
    clients.set(id, secret);
  }
  if (a === '--app-client') {
    const [id, secret, mailbox, roles] = args[i + 1].split(':');
    clients.set(id, secret);
    apps.set(id, { mailbox, roles: roles ? roles.split(',') : [] });
  }
});
// The app roles that let an app-only token into a mailbox (Exchange's application permissions).
const MAIL_ROLES = ['IMAP.AccessAsApp', 'POP.AccessAsApp', 'SMTP.SendAsApp'];

const base = `http://127.0.0.1:${port}`;
const issuer = new OAuth2Issuer();
issuer.url = base;
await issuer.keys.generate('RS256');
const publicKey = await importJWK(issuer.keys.toJSON(false)[0], 'RS256');

const codes = new Map(); // code -> grant
const refreshTokens = new Map(); // token -> grant
const devices = new Map(); // device_code -> {grant, user_code, approved, polls}
const revoked = new Set(); // jti of revoked access tokens

const rnd = (n = 32) => crypto.randomBytes(n).toString('base64url');

async function issue(grant, extra = {}) {
  const jti = rnd(12);
  const access = grant.mock?.token === 'garbage'
    ? `garbage-${rnd(16)}`
    : await issuer.buildToken({
        expiresIn: grant.mock?.expired ? -120 : 3600,
        scopesOrTransform: (_header, p) => {
          Object.assign(p, {
            sub: grant.user, email: grant.user, preferred_username: grant.user, upn: grant.user,
            scope: grant.scope, aud: grant.client_id, client_id: grant.client_id, jti,
          });
        },
      });
  const body = { access_token: access, token_type: 'Bearer', expires_in: 3600, scope: grant.scope, ...extra };
  if (grant.offline) {
    const rt = rnd();
    refreshTokens.set(rt, { ...grant, jti });
    body.refresh_token = rt;
  }
  return body;
}

// An app-only access token, as Entra shapes one for `scope=https://outlook.office365.com/.default`:
// `roles` (the app roles an administrator assigned; absent without consent), `idtyp: app`,
// `appid`, and no user. Exchange maps such a token to a mailbox through the mailbox permission
// it holds for the app's service principal (Add-MailboxPermission / Add-RecipientPermission);
// Dovecot's oauth2 passdb instead compares one username claim (`email`, username_attribute)
// with the XOAUTH2 `user=`. So the peer names in `email` the one mailbox this app was given
// (--app-client ID:SECRET:MAILBOX:ROLES): a login as that mailbox passes, a login as any other
// is refused, as Exchange refuses a mailbox the app holds no permission on.
async function appToken(f) {
  const app = apps.get(f.client_id);
  const jti = rnd(12);
  const access = await issuer.buildToken({
    expiresIn: 3600,
    scopesOrTransform: (_header, p) => {
      Object.assign(p, {
        sub: `sp-${f.client_id}`, oid: `sp-${f.client_id}`, appid: f.client_id, azp: f.client_id,
        client_id: f.client_id, idtyp: 'app', aud: 'https://outlook.office365.com', jti,
        email: app.mailbox,
        ...(app.roles.length ? { roles: app.roles } : {}),
      });
    },
  });
  return { access_token: access, token_type: 'Bearer', expires_in: 3599, ext_expires_in: 3599 };
}

function send(res, status, body, headers = {}) {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers });
  res.end(JSON.stringify(body));
}
const oauthError = (res, status, error, description) =>
  send(res, status, { error, error_description: description });

function readForm(req) {
  return new Promise((resolve) => {
    let data = '';
    req.on('data', (c) => { data += c; });
    req.on('end', () => resolve(Object.fromEntries(new URLSearchParams(data))));
  });
}

function checkClient(res, f) {
  if (!clients.has(f.client_id)) {
    oauthError(res, 400, 'unauthorized_client', `AADSTS700016: unknown client ${f.client_id}`);
    return false;
  }
  return true;
}
function checkSecret(res, f) {
  if (clients.get(f.client_id) !== f.client_secret) {
    oauthError(res, 401, 'invalid_client', 'AADSTS7000215: Invalid client secret provided.');
    return false;
  }
  return true;
}

function authorize(req, res, q) {
  const redirect = q.get('redirect_uri');
  if (!redirect || !clients.has(q.get('client_id'))) {
    return send(res, 400, { error: 'invalid_request', error_description: 'unknown client or no redirect_uri' });
  }
  const back = new URL(redirect);
  const state = q.get('state');
  if (state) back.searchParams.set('state', state);
  if (q.get('mock_deny')) {
    back.searchParams.set('error', 'access_denied');
    back.searchParams.set('error_description', 'The user declined to consent.');
  } else if (q.get('code_challenge_method') && q.get('code_challenge_method') !== 'S256') {
    back.searchParams.set('error', 'invalid_request');
    back.searchParams.set('error_description', 'only S256 is supported');
  } else {
    const scope = q.get('scope') || '';
    const code = rnd();
    codes.set(code, {
      client_id: q.get('client_id'),
      redirect_uri: redirect,
      challenge: q.get('code_challenge'),
      user: q.get('mock_login_as') || q.get('login_hint') || 'johndoe@example.test',
      scope,
      offline: scope.split(' ').includes('offline_access') || q.get('access_type') === 'offline',
      mock: { token: q.get('mock_token'), expired: !!q.get('mock_expired') },
    });
    back.searchParams.set('code', code);
  }
  res.writeHead(302, { location: back.toString() });
  res.end();
}

async function token(req, res) {
  const f = await readForm(req);
  if (!checkClient(res, f)) return;
  switch (f.grant_type) {
    case 'authorization_code': {
      if (!checkSecret(res, f)) return;
      const g = codes.get(f.code);
      codes.delete(f.code);
      if (!g || g.client_id !== f.client_id) return oauthError(res, 400, 'invalid_grant', 'unknown or used code');
      if (g.redirect_uri !== f.redirect_uri) return oauthError(res, 400, 'invalid_grant', 'redirect_uri does not match');
      if (g.challenge) {
        const hash = crypto.createHash('sha256').update(f.code_verifier || '').digest('base64url');
        if (hash !== g.challenge) return oauthError(res, 400, 'invalid_grant', 'code_verifier does not match code_challenge');
      }
      return send(res, 200, await issue(g));
    }
    case 'refresh_token': {
      if (!checkSecret(res, f)) return;
      const g = refreshTokens.get(f.refresh_token);
      if (!g || g.client_id !== f.client_id) {
        return oauthError(res, 400, 'invalid_grant', 'AADSTS70008: The refresh token has expired or is invalid.');
      }
      refreshTokens.delete(f.refresh_token); // rotation: the old one is spent
      return send(res, 200, await issue(g));
    }
    case 'urn:ietf:params:oauth:grant-type:device_code': {
      const d = devices.get(f.device_code);
      if (!d || d.grant.client_id !== f.client_id) return oauthError(res, 400, 'invalid_grant', 'unknown device_code');
      d.polls += 1;
      if (d.denied) return oauthError(res, 400, 'access_denied', 'the user declined');
      if (!d.approved) {
        // The second poll is answered slow_down once, so clients show they honour it.
        if (d.polls === 2) return oauthError(res, 400, 'slow_down', 'polling too fast');
        return oauthError(res, 400, 'authorization_pending', 'waiting for the user');
      }
      devices.delete(f.device_code);
      return send(res, 200, await issue(d.grant));
    }
    case 'client_credentials': {
      if (!checkSecret(res, f)) return;
      if (!apps.has(f.client_id)) {
        return oauthError(res, 400, 'invalid_client',
          `AADSTS7000229: The client application ${f.client_id} is missing service principal in the tenant.`);
      }
      if (!(f.scope || '').split(' ').every((s) => s.endsWith('/.default'))) {
        return oauthError(res, 400, 'invalid_scope',
          `AADSTS1002012: The provided value for scope ${f.scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`);
      }
      return send(res, 200, await appToken(f));
    }
    default:
      return oauthError(res, 400, 'unsupported_grant_type', `grant_type ${f.grant_type}`);
  }
}

async function devicecode(req, res) {
  const f = await readForm(req);
  if (!checkClient(res, f)) return;
  const scope = f.scope || '';
  const device_code = rnd();
  const user_code = crypto.randomBytes(4).toString('hex').toUpperCase();
  devices.set(device_code, {
    grant: { client_id: f.client_id, scope, offline: scope.split(' ').includes('offline_access'), user: null },
    user_code, approved: false, polls: 0,
  });
  send(res, 200, {
    device_code, user_code, verification_uri: `${base}/device`, expires_in: 900, interval: 5,
    message: `To sign in, use a web browser to open the page ${base}/device and enter the code ${user_code} to authenticate.`,
  });
}

function device(req, res, q) {
  for (const d of devices.values()) {
    if (d.user_code === q.get('user_code')) {
      if (q.get('deny')) d.denied = true;
      else { d.approved = true; d.grant.user = q.get('login_as'); }
      res.writeHead(200, { 'content-type': 'text/plain' });
      return res.end('approved\n');
    }
  }
  res.writeHead(404, { 'content-type': 'text/plain' });
  res.end('unknown user code\n');
}

async function introspect(req, res) {
  const f = await readForm(req);
  try {
    const { payload } = await jwtVerify(f.token || '', publicKey, { issuer: base });
    if (revoked.has(payload.jti)) return send(res, 200, { active: false });
    // Exchange lets no app-only token in without one of its mail roles (admin consent): this
    // server reports such a token inactive, so Dovecot refuses it the same way.
    if (payload.idtyp === 'app' && !(payload.roles || []).some((r) => MAIL_ROLES.includes(r))) {
      return send(res, 200, { active: false });
    }
    send(res, 200, {
      active: true, username: payload.email, email: payload.email, sub: payload.sub,
      scope: payload.scope, client_id: payload.client_id, exp: payload.exp, iss: payload.iss,
    });
  } catch {
    send(res, 200, { active: false });
  }
}

async function revoke(req, res) {
  const f = await readForm(req);
  const g = refreshTokens.get(f.token);
  if (g) refreshTokens.delete(f.token);
  else {
    try {
      const { payload } = await jwtVerify(f.token || '', publicKey, { issuer: base });
      revoked.add(payload.jti);
    } catch { /* RFC 7009: unknown tokens are not an error */ }
  }
  res.writeHead(200);
  res.end();
}

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, base);
  const p = url.pathname;
  process.stderr.write(`${req.method} ${p}\n`); // never the query or body: they carry codes and tokens
  try {
    if (req.method === 'GET' && (p.endsWith('/authorize') || p.endsWith('/auth'))) return authorize(req, res, url.searchParams);
    if (req.method === 'POST' && p.endsWith('/token')) return await token(req, res);
    if (req.method === 'POST' && p.endsWith('/devicecode')) return await devicecode(req, res);
    if (req.method === 'GET' && p === '/device') return device(req, res, url.searchParams);
    if (req.method === 'POST' && p === '/introspect') return await introspect(req, res);
    if (req.method === 'POST' && p === '/revoke') return await revoke(req, res);
    if (req.method === 'GET' && p === '/health') return send(res, 200, { ok: true });
    send(res, 404, { error: 'not_found' });
  } catch (e) {
    send(res, 500, { error: 'server_error', error_description: String(e) });
  }
});
server.listen(port, '127.0.0.1', () => process.stderr.write(`idp listening on ${base}\n`));

// The relay Dovecot submission needs before it answers AUTH (mail-peers.md §1): accepts anything.
if (sinkPort) {
  net.createServer((sock) => {
    sock.write('220 sink ESMTP\r\n');
    let buf = '';
    let data = false;
    sock.on('data', (chunk) => {
      buf += chunk.toString('latin1');
      let i;
      while ((i = buf.indexOf('\r\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 2);
        if (data) { if (line === '.') { data = false; sock.write('250 2.0.0 queued\r\n'); } continue; }
        const verb = line.split(' ')[0].toUpperCase();
        if (verb === 'EHLO') sock.write('250-sink\r\n250 8BITMIME\r\n');
        else if (verb === 'DATA') { data = true; sock.write('354 go ahead\r\n'); }
        else if (verb === 'QUIT') { sock.end('221 2.0.0 bye\r\n'); }
        else sock.write('250 2.0.0 ok\r\n');
      }
    });
    sock.on('error', () => {});
  }).listen(sinkPort, '127.0.0.1');
}
