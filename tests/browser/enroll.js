#!/usr/bin/env node
// Enroll through the portal the way a person does, in Debian's chromium
// (headless, driven by playwright-core): open the invitation link, type a
// mismatched pair first (the page must explain), then the password twice,
// submit, land on the setup page. Screenshots of each step go to --out.
// Prints one JSON line with what it saw; exits non-zero on any surprise.
//
//   node enroll.js --url URL --password PW --out DIR
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const { chromium } = require('playwright-core');

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
// Without the background-networking flags chromium keeps trying to reach
// the internet; as root it needs --no-sandbox.
const FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--disable-dev-shm-usage'];

function args() {
  const out = {};
  const v = process.argv.slice(2);
  for (let i = 0; i + 1 < v.length; i += 2) out[v[i].replace(/^--/, '')] = v[i + 1];
  for (const k of ['url', 'password', 'out']) {
    if (!out[k]) throw new Error(`missing --${k}`);
  }
  return out;
}

async function shot(page, dir, name) {
  const file = path.join(dir, name);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

async function enroll(page, a, seen) {
  const resp = await page.goto(a.url, { waitUntil: 'load' });
  seen.enrollStatus = resp.status();
  seen.enrollTitle = await page.title();
  seen.enrollHeading = (await page.textContent('h1')).trim();
  seen.csp = resp.headers()['content-security-policy'] || '';
  seen.shots.push(await shot(page, a.out, 'enroll.png'));
  await page.setViewportSize({ width: 390, height: 844 });
  seen.shots.push(await shot(page, a.out, 'enroll-phone.png'));
  seen.phoneOverflow = await page.evaluate(
    () => document.documentElement.scrollWidth > window.innerWidth + 1);
  await page.setViewportSize({ width: 900, height: 1000 });

  // a mismatch first: the same page again, with the reason, token intact
  await page.getByLabel('New password').fill(a.password);
  await page.getByLabel('Confirm the password').fill(a.password + 'x');
  await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Create password' }).click()]);
  seen.errorText = (await page.textContent('[role=alert]')).trim();
  seen.shots.push(await shot(page, a.out, 'enroll-error.png'));

  await page.getByLabel('New password').fill(a.password);
  await page.getByLabel('Confirm the password').fill(a.password);
  await Promise.all([page.waitForURL(/\/setup\?/), page.getByRole('button', { name: 'Create password' }).click()]);
  seen.setupUrl = page.url();
  seen.setupTitle = await page.title();
  seen.setupHeading = (await page.textContent('h1')).trim();
  seen.setupText = await page.textContent('main');
  seen.appleLink = await page.getAttribute('a[href^="/setup/apple.mobileconfig"]', 'href');
  seen.thunderbirdLink = await page.getAttribute('a[href^="/.well-known/autoconfig/"]', 'href');
  seen.shots.push(await shot(page, a.out, 'setup.png'));
}

async function main() {
  const a = args();
  fs.mkdirSync(a.out, { recursive: true });
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'sg-chromium-'));
  const seen = { shots: [], console: [], failedRequests: [] };
  let ctx;
  try {
    ctx = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM, headless: true, args: FLAGS, ignoreHTTPSErrors: true,
      viewport: { width: 900, height: 1000 }, locale: 'en-US', timezoneId: 'UTC',
    });
    const page = ctx.pages()[0] || await ctx.newPage();
    page.on('console', (m) => seen.console.push(`${m.type()}: ${m.text()}`));
    page.on('requestfailed', (r) => seen.failedRequests.push(r.url()));
    await enroll(page, a, seen);
  } finally {
    if (ctx) await ctx.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
  process.stdout.write(JSON.stringify(seen) + '\n');
}

main().catch((e) => {
  process.stderr.write(`enroll.js: ${e.stack || e}\n`);
  process.exit(1);
});
