// Plays the person at the browser for `mailreg verify` tests: mailreg runs `$BROWSER URL`
// (BROWSER="node tests/peers/browser.mjs"). It adds the test's choices from PEER_BROWSER_PARAMS
// (query parameters the test IdP understands, e.g. `mock_login_as=carol@example.test`) to the
// authorize URL and follows the redirect chain to mailreg's loopback listener.
const url = new URL(process.argv[process.argv.length - 1]);
for (const [k, v] of new URLSearchParams(process.env.PEER_BROWSER_PARAMS || '')) url.searchParams.set(k, v);
try {
  const res = await fetch(url, { redirect: 'follow' });
  await res.text();
  process.exit(res.ok ? 0 : 1);
} catch (e) {
  process.stderr.write(`browser.mjs: ${e.message}\n`);
  process.exit(1);
}
