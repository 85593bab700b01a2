// A cross-origin fetch in headless Chromium (run by tests/it/cors.rs).
//
//   node cors.mjs PAGE_URL TARGET_URL
//
// Loads PAGE_URL, then from that page fetches TARGET_URL (another origin)
// twice: plainly, which needs only the response's CORS headers, and with
// If-None-Match, which is not a CORS-safelisted request header, so the
// browser sends a preflight first. Prints one line per fetch: its status,
// the ETag the script can read, and (for the plain one) the body; or
// `refused` when the browser kept the response from the script.

import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const [pageUrl, target] = process.argv.slice(2);
if (!pageUrl || !target) {
  console.error('usage: node cors.mjs PAGE_URL TARGET_URL');
  process.exit(2);
}

const userDataDir = mkdtempSync(join(tmpdir(), 'mote-chromium-'));
const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
let failed = false;
try {
  const page = context.pages()[0] ?? (await context.newPage());
  await page.goto(pageUrl, { waitUntil: 'load' });
  const lines = await page.evaluate(async (url) => {
    const one = async (name, init, withBody) => {
      try {
        const r = await fetch(url, { cache: 'no-store', ...init });
        const body = withBody ? ` ${(await r.text()).trim()}` : '';
        return `${name}: ${r.status} ${r.headers.get('etag')}${body}`;
      } catch (e) {
        return `${name}: refused`;
      }
    };
    return [
      await one('simple', {}, true),
      await one('preflighted', { headers: { 'If-None-Match': '"not-this-one"' } }, false),
    ];
  }, target);
  console.log(lines.join('\n'));
} catch (e) {
  console.error(String(e && e.stack ? e.stack : e));
  failed = true;
} finally {
  await context.close();
  rmSync(userDataDir, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
