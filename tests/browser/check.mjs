// Headless Chromium against a running mote (run by tests/it/browser.rs).
//
//   node check.mjs BASE_URL SCREENSHOT.png [--app] [--access-log FILE] [--spki HASH]
//
// Loads BASE_URL/ in /usr/bin/chromium (through playwright-core), waits for
// the load event and takes a screenshot. With --app (the hashed-asset test
// site), it checks the page's script ran, then reloads and records what the
// reload fetched: the no-cache HTML must be revalidated (304 from mote) and
// the immutable assets taken from the cache without reaching the server,
// which the access log (--access-log) confirms. With --spki (an https base
// URL), Chromium accepts a certificate with that public key (base64 of the
// SHA-256 of its SubjectPublicKeyInfo) where it would not verify, and the
// result says what the TLS connection was. Prints one JSON object on
// the last line of stdout; tests/it/browser.rs makes the assertions.

import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync, readFileSync, existsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const valued = ['--access-log', '--spki'];
const positional = process.argv.slice(2).filter((a, i, all) => !a.startsWith('--') && !valued.includes(all[i - 1]));
const [base, screenshot] = positional;
const app = process.argv.includes('--app');
const logAt = process.argv.indexOf('--access-log');
const accessLog = logAt > 0 ? process.argv[logAt + 1] : null;
const spkiAt = process.argv.indexOf('--spki');
const spki = spkiAt > 0 ? process.argv[spkiAt + 1] : null;
if (!base || !screenshot) {
  console.error('usage: node check.mjs BASE_URL SCREENSHOT.png [--app] [--access-log FILE] [--spki HASH]');
  process.exit(2);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const logSize = () => (accessLog && existsSync(accessLog) ? statSync(accessLog).size : 0);
const logLines = (from) =>
  accessLog && existsSync(accessLog)
    ? readFileSync(accessLog).subarray(from).toString('utf8').split('\n').filter((l) => l.length > 0)
    : [];
// `127.0.0.1 - - [..] "GET /path HTTP/1.1" 304 0 "-" "agent"` -> {path, status}
const parseLine = (line) => {
  const m = /"([A-Z]+) (\S+) HTTP\/[0-9.]+" (\d{3}) /.exec(line);
  return m ? { method: m[1], path: m[2], status: Number(m[3]), line } : { line };
};
// mote writes its access lines at least once a second: wait until `done`
// holds for the lines after `from`, then a little more for stragglers.
async function waitForLog(from, done, ms = 8000) {
  if (!accessLog) return [];
  const deadline = Date.now() + ms;
  while (Date.now() < deadline && !done(logLines(from).map(parseLine))) await sleep(100);
  await sleep(1500);
  return logLines(from).map(parseLine);
}

const userDataDir = mkdtempSync(join(tmpdir(), 'mote-chromium-'));
// launchPersistentContext passes this fresh directory as --user-data-dir
// (playwright refuses the flag in args); the rest are the flags asked for.
const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    ...(spki ? [`--ignore-certificate-errors-spki-list=${spki}`] : []),
  ],
  viewport: { width: 800, height: 600 },
});

const result = { base, app };
try {
  const page = context.pages()[0] ?? (await context.newPage());
  // Network events two ways: playwright's responses, and the DevTools
  // protocol's, which say what came from the cache and what was on the wire.
  let responses = [];
  let wire = new Map();
  page.on('response', async (response) => {
    const headers = await response.allHeaders().catch(() => response.headers());
    const security = await response.securityDetails().catch(() => null);
    responses.push({
      tls: security ? security.protocol ?? null : null,
      url: new URL(response.url()).pathname,
      status: response.status(),
      fromServiceWorker: response.fromServiceWorker(),
      contentEncoding: headers['content-encoding'] ?? null,
      etag: headers['etag'] ?? null,
    });
  });
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  const entry = (id) => {
    if (!wire.has(id)) wire.set(id, { id });
    return wire.get(id);
  };
  cdp.on('Network.requestWillBeSent', (e) => Object.assign(entry(e.requestId), { url: new URL(e.request.url).pathname }));
  cdp.on('Network.requestWillBeSentExtraInfo', (e) => {
    const h = Object.fromEntries(Object.entries(e.headers).map(([k, v]) => [k.toLowerCase(), v]));
    Object.assign(entry(e.requestId), { sentIfNoneMatch: h['if-none-match'] ?? null, sentAcceptEncoding: h['accept-encoding'] ?? null });
  });
  cdp.on('Network.requestServedFromCache', (e) => Object.assign(entry(e.requestId), { servedFromCache: true }));
  cdp.on('Network.responseReceived', (e) =>
    Object.assign(entry(e.requestId), {
      url: new URL(e.response.url).pathname,
      status: e.response.status,
      fromDiskCache: e.response.fromDiskCache ?? false,
      fromMemoryCache: e.response.fromMemoryCache ?? false,
      fromServiceWorker: e.response.fromServiceWorker ?? false,
      fromPrefetchCache: e.response.fromPrefetchCache ?? false,
    }),
  );
  cdp.on('Network.responseReceivedExtraInfo', (e) => Object.assign(entry(e.requestId), { wireStatus: e.statusCode }));

  const url = new URL('/', base).href;
  await page.goto(url, { waitUntil: 'load' });
  result.title = await page.title();
  result.first = { responses, wire: [...wire.values()] };
  if (app) {
    result.jsRan = await page.evaluate(() => document.documentElement.dataset.moteJs ?? null);
    result.cssApplied = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    result.first.log = await waitForLog(0, (lines) => ['/', '/assets/app.3f9a2c1b.js', '/assets/style.8c1d2e3f.css'].every((p) => lines.some((l) => l.path === p)));
  } else {
    result.bodyBackground = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    result.protocol = await page.evaluate(() => location.protocol);
    result.heading = await page.evaluate(() => document.querySelector('h1')?.textContent?.trim() ?? null);
    result.text = await page.evaluate(() => document.body.innerText.slice(0, 4000));
  }
  await page.screenshot({ path: screenshot });

  if (app) {
    result.logOffsetBeforeReload = logSize();
    responses = [];
    wire = new Map();
    await page.reload({ waitUntil: 'load' });
    result.reloadTitle = await page.title();
    result.reloadJsRan = await page.evaluate(() => document.documentElement.dataset.moteJs ?? null);
    // Let late events arrive before reading them.
    await sleep(300);
    const reload = { responses, wire: [...wire.values()] };
    reload.log = await waitForLog(result.logOffsetBeforeReload, (lines) => lines.some((l) => l.path === '/'));
    const html = reload.wire.find((w) => w.url === '/');
    const assets = ['/assets/app.3f9a2c1b.js', '/assets/style.8c1d2e3f.css'];
    reload.htmlRevalidated = Boolean(
      html && (html.wireStatus === 304 || html.status === 304) && html.sentIfNoneMatch,
    );
    reload.htmlLoggedAs304 = reload.log.some((l) => l.path === '/' && l.status === 304);
    reload.assetsFromCache = assets.every((a) => {
      const seen = reload.wire.filter((w) => w.url === a);
      // Memory-cache hits may raise no network event at all.
      return seen.every((w) => w.servedFromCache || w.fromDiskCache || w.fromMemoryCache) && !seen.some((w) => w.wireStatus);
    });
    reload.assetRequestsLogged = reload.log.filter((l) => assets.includes(l.path)).length;
    result.reload = reload;
  }
} catch (e) {
  result.error = String(e && e.stack ? e.stack : e);
} finally {
  await context.close();
  rmSync(userDataDir, { recursive: true, force: true });
}
console.log(JSON.stringify(result));
process.exit(result.error ? 1 : 0);
