// End-to-end test of the page in headless Chromium: loads the page from a local static server,
// classifies sample test images privately (client, server and dealer workers talking over
// MessagePorts), checks the private prediction equals the plaintext one and the cost panel shows
// real traffic from both parties, classifies a drawn digit, and saves a screenshot.
// Run: node tests/e2e/page.test.mjs   (needs pkg/ from scripts/build-wasm.sh and models/)
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { startServer } from '../../scripts/serve.mjs';

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SAMPLES = Number(process.env.E2E_SAMPLES || 4);
let passed = 0;
let failed = 0;
function check(name, ok, detail = '') {
  if (ok) passed++; else failed++;
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}${detail ? ` (${detail})` : ''}`);
}

const { server, url } = await startServer({ port: 0 });
const browser = await chromium.launch({
  executablePath: CHROMIUM,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--no-first-run'],
});
const hardStop = setTimeout(() => { console.error('e2e: timed out'); process.exit(1); }, 8 * 60 * 1000);
try {
  const page = await browser.newPage({ viewport: { width: 1100, height: 1400 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  await page.goto(url);
  await page.waitForFunction(() => !document.getElementById('classify').disabled
    || !document.getElementById('error').hidden, null, { timeout: 60000 });
  const loadError = await page.$eval('#error', (e) => (e.hidden ? '' : e.textContent));
  check('page loads a shipped model', !loadError, loadError.trim().slice(0, 200));
  if (loadError) throw new Error('no model');
  const model = await page.$eval('#model', (s) => s.value);

  let agree = 0;
  let correct = 0;
  for (let i = 0; i < SAMPLES; i++) {
    const thumb = page.locator('#samples canvas').nth(i * 10 % 100);
    const label = Number(await thumb.getAttribute('data-label'));
    await thumb.click();
    await page.click('#classify');
    await page.waitForFunction(() => !document.getElementById('classify').disabled, null, { timeout: 180000 });
    const err = await page.$eval('#error', (e) => (e.hidden ? '' : e.textContent));
    if (err) { check(`sample ${i} classified`, false, err.trim()); continue; }
    const priv = Number(await page.$eval('#private-pred', (e) => e.dataset.class));
    const plain = Number(await page.$eval('#plain-pred', (e) => e.dataset.class));
    const rounds = Number(await page.$eval('#cost', (e) => e.dataset.rounds));
    const serverBytes = Number(await page.$eval('#cost', (e) => e.dataset.serverBytes));
    agree += priv === plain;
    correct += priv === label;
    check(`sample ${i} (label ${label}): private ${priv} = plaintext ${plain}`, priv === plain);
    check(`sample ${i}: both parties exchanged messages`, rounds > 0 && serverBytes > 0, `${rounds} rounds, server saw ${serverBytes} bytes`);
  }
  check(`${model}: private predictions match labels`, correct >= SAMPLES - 1, `${correct}/${SAMPLES}`);

  // Draw a "1": a vertical stroke in the middle of the canvas.
  await page.click('#clear');
  const box = await page.locator('#canvas').boundingBox();
  await page.mouse.move(box.x + box.width / 2, box.y + box.height * 0.15);
  await page.mouse.down();
  for (let k = 1; k <= 10; k++) await page.mouse.move(box.x + box.width / 2, box.y + box.height * (0.15 + 0.07 * k));
  await page.mouse.up();
  await page.click('#classify');
  await page.waitForFunction(() => !document.getElementById('classify').disabled, null, { timeout: 180000 });
  const drawn = await page.$eval('#private-pred', (e) => e.dataset.class);
  const drawnPlain = await page.$eval('#plain-pred', (e) => e.dataset.class);
  check('a drawn digit is classified privately, same as plaintext', drawn !== undefined && drawn === drawnPlain, `private ${drawn}, plaintext ${drawnPlain}`);

  // The variant explorer measures every attention variant on the real protocol.
  await page.click('#compare-run');
  await page.waitForFunction(() => Number(document.getElementById('variants').dataset.rows) > 0
    || !document.getElementById('error').hidden, null, { timeout: 180000 });
  const costs = await page.$$eval('#variants tr', (trs) => trs.slice(1).map((tr) => [...tr.children].map((td) => td.textContent)));
  const wanOf = (name) => parseFloat(costs.find((r) => r[0] === name)?.[4]);
  check('variant explorer lists the ten variants and four MPCViT plans', costs.length === 14, `${costs.length} rows`);
  check('Softmax costs more than RSAttn, which costs more than ScaleAttn (WAN)',
    wanOf('softmax') > wanOf('rsattn') && wanOf('rsattn') > wanOf('scale'),
    `softmax ${wanOf('softmax')} s, rsattn ${wanOf('rsattn')} s, scale ${wanOf('scale')} s`);

  check('no errors in the page', errors.length === 0, errors.join(' | ').slice(0, 300));
  mkdirSync('test-artifacts', { recursive: true });
  await page.screenshot({ path: 'test-artifacts/page.png', fullPage: true });
  console.log('screenshot: test-artifacts/page.png');
} catch (err) {
  check('e2e run', false, err.message);
} finally {
  clearTimeout(hardStop);
  await browser.close();
  server.close();
}
console.log(`e2e: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
