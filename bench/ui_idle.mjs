// Counts the requests a web UI page sends while nobody touches it: opens
// URL in headless Chromium, waits for the page to settle, then counts every
// request for SECONDS. Prints one JSON line: {"url", "seconds", "requests",
// "kinds"} (kinds: request counts by method and path).
//
//   node bench/ui_idle.mjs URL SECONDS
// Uses tests/browser's puppeteer-core and Debian's chromium.
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(path.join(path.dirname(fileURLToPath(import.meta.url)),
  '../tests/browser/package.json'));
const puppeteer = require('puppeteer-core');

const [url, seconds = '30'] = process.argv.slice(2);
if (!url) {
  console.error('usage: node bench/ui_idle.mjs URL SECONDS');
  process.exit(2);
}
const browser = await puppeteer.launch({
  executablePath: process.env.FERRY_CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-dev-shm-usage'],
});
try {
  const page = await browser.newPage();
  await page.setViewport({ width: 1100, height: 760 });
  const seen = [];
  page.on('request', (r) => seen.push(`${r.method()} ${new URL(r.url()).pathname}`));
  await page.goto(url, { waitUntil: 'networkidle2', timeout: 30_000 });
  await new Promise((r) => setTimeout(r, 3000));  // settled: what loads at first is loaded
  const from = seen.length;
  await new Promise((r) => setTimeout(r, Number(seconds) * 1000));
  const idle = seen.slice(from);
  const kinds = {};
  for (const k of idle) kinds[k] = (kinds[k] || 0) + 1;
  console.log(JSON.stringify({ url, seconds: Number(seconds), requests: idle.length, kinds }));
} finally {
  await browser.close();
}
