// End-to-end test of the page's remote mode: the tab as the client of a native `mpcvit serve`
// and an independent `mpcvit dealer`, both started here on loopback WebSocket ports and stopped
// at the end (headless Chromium through playwright-core).
//
//   * the page opened with ?server=ws://…&dealer=ws://… starts in remote mode, shows what the
//     server's hello announces, and never requests a model's weights (nor holds any);
//   * sample images are classified privately against the native server: each answer matches
//     its label for at least E2E_MIN_CORRECT of them, the cost panel shows rounds, bytes both
//     ways and the time measured over the real network; the server logs each session;
//   * a drawing is prepared in the client worker and classified privately;
//   * a dealer the server does not use, an unreachable server and a missing dealer address are
//     clear messages, never a hang; the page logs no error.
// Prints `e2e-remote: N passed, M failed` and exits non-zero on any failure. Every wait is
// bounded. Run: node tests/e2e/remote.test.mjs (needs pkg/ and target/release/mpcvit; env
// MPCVIT_BIN to use another binary).
import { chromium } from 'playwright-core';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { startServer } from '../../scripts/serve.mjs';

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const BIN = process.env.MPCVIT_BIN || 'target/release/mpcvit';
const SAMPLES = 4;
const MIN_CORRECT = Number(process.env.E2E_MIN_CORRECT || 3);
const RUN_TIMEOUT = 180000;
const ARTIFACTS = 'test-artifacts';

let passed = 0;
let failed = 0;
function check(name, ok, detail = '') {
  if (ok) passed++; else failed++;
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}${detail ? ` (${detail})` : ''}`);
  return ok;
}
const children = [];
function finish() {
  for (const c of children) c.kill('SIGKILL');
  console.log(`e2e-remote: ${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

for (const [path, hint] of [
  ['pkg/mpcvit.js', 'build it with ./scripts/build-wasm.sh'],
  [BIN, 'build it with cargo build --release'],
  ['models/mnist-softmax.json', 'the shipped model is missing'],
]) {
  if (!check(`${path} exists`, existsSync(path), existsSync(path) ? '' : hint)) finish();
}
mkdirSync(ARTIFACTS, { recursive: true });
const hardStop = setTimeout(() => {
  console.error('e2e-remote: the whole test exceeded 8 minutes');
  failed++;
  finish();
}, 8 * 60 * 1000);

/** Starts `mpcvit args…`; resolves to {child, line, log} once a stdout line matches `ready`. */
function start(args, ready) {
  const child = spawn(BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  const log = [];
  createInterface({ input: child.stderr }).on('line', (l) => log.push(l));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${args[0]} did not start within 30 s: ${log.join(' | ')}`)), 30000);
    createInterface({ input: child.stdout }).on('line', (line) => {
      const m = ready.exec(line);
      if (m) {
        clearTimeout(timer);
        resolve({ child, at: m[1], log });
      }
    });
    child.on('exit', (code) => reject(new Error(`${args[0]} exited with ${code}: ${log.join(' | ')}`)));
  });
}

const dealer = await start(['dealer', '--listen', 'ws://127.0.0.1:0'], /dealer listening on (ws:\/\/\S+)/);
const server = await start(['serve', 'mnist-softmax', '--listen', 'ws://127.0.0.1:0', '--dealer', dealer.at],
  /serving .* on (ws:\/\/\S+)/);
check('native dealer and server listen on loopback WebSocket ports',
  /^ws:\/\/127\.0\.0\.1:\d+$/.test(dealer.at) && /^ws:\/\/127\.0\.0\.1:\d+$/.test(server.at), `${dealer.at} ${server.at}`);

const { server: http, url } = await startServer({ port: 0 });
const browser = await chromium.launch({
  executablePath: CHROMIUM,
  timeout: 60000,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--no-first-run'],
});
const context = await browser.newContext({ viewport: { width: 1366, height: 800 } });
context.setDefaultTimeout(30000);
const page = await context.newPage();
const errors = [];
page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
page.on('console', (m) => { if (m.type() === 'error') errors.push(`console: ${m.text()}`); });
const requests = [];
context.on('request', (r) => requests.push(r.url()));

const phase = (want) => page.waitForFunction((w) => w.includes(document.body.dataset.phase), want, { timeout: 90000 });
const errorText = () => page.$eval('#error', (e) => (e.hidden ? '' : e.querySelector('#error-text').textContent));

async function classifyBy(action) {
  const before = await page.evaluate(() => Number(document.body.dataset.runs || 0));
  await action();
  await page.waitForFunction((b) => Number(document.body.dataset.runs || 0) > b || document.body.dataset.phase === 'error',
    before, { timeout: RUN_TIMEOUT });
  return page.evaluate(() => (document.body.dataset.phase === 'error' ? document.getElementById('error-text').textContent : ''));
}

try {
  await page.goto(`${url}?server=${encodeURIComponent(server.at)}&dealer=${encodeURIComponent(dealer.at)}`);
  await phase(['ready', 'error']);
  check('the page connects to the remote server', !(await errorText()), await errorText());
  const info = await page.evaluate(() => ({
    where: document.body.dataset.where,
    remote: Boolean(window.__mpcvit.current?.remote),
    info: document.getElementById('model-info').textContent,
    status: document.getElementById('remote-status').textContent,
    modelDisabled: document.getElementById('model').disabled,
  }));
  check('it starts in remote mode from the URL', info.where === 'remote' && info.remote && info.modelDisabled, JSON.stringify(info));
  check('it shows what the hello announces', /4 blocks|blocks × \d+ heads/.test(info.info) && info.info.includes(server.at), info.info);
  check('the dealer is the user\'s own (no warning)', info.status.startsWith('Connected'), info.status);

  let correct = 0;
  let last = null;
  for (let i = 0; i < SAMPLES; i++) {
    // The first image of each class is shown; the others wait behind "Show more".
    const err = await classifyBy(() => page.locator('#samples canvas:not(.extra)').nth(i).click());
    if (!check(`sample ${i} classified privately with the native server`, !err, err)) continue;
    last = await page.evaluate(() => ({
      pred: Number(document.getElementById('private-pred').dataset.class),
      label: window.__mpcvit.last.label,
      rounds: Number(document.getElementById('cost').dataset.rounds),
      bytes: Number(document.getElementById('cost').dataset.serverBytes),
      measured: Number(document.getElementById('cost').dataset.measured),
      costText: document.getElementById('cost').textContent,
      plainHidden: document.getElementById('plain-side').hidden,
      summary: document.getElementById('summary').textContent,
    }));
    if (last.pred === last.label) correct++;
  }
  check(`at least ${MIN_CORRECT} of ${SAMPLES} remote answers match their labels`, correct >= MIN_CORRECT, `${correct}`);
  if (last) {
    check('the cost panel shows rounds, online bytes and the measured network time', last.rounds > 50 && last.bytes > 1e5
      && last.measured > 0 && last.costText.includes('Measured over the network'), JSON.stringify(last));
    check('no plaintext column in remote mode (no weights here)', last.plainHidden);
    check('the run bar names the server', last.summary.includes(server.at), last.summary);
  }

  // A drawing: prepared in the client worker (no weights in the tab), then classified.
  const box = await page.locator('#canvas').boundingBox();
  await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * 0.15);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * 0.85, { steps: 12 });
  await page.mouse.up();
  const drawn = await classifyBy(() => page.click('#classify'));
  const drawnPred = await page.evaluate(() => document.getElementById('private-pred').dataset.class);
  check('a drawn stroke is classified privately by the remote server', !drawn && drawnPred != null, drawn || `class ${drawnPred}`);
  await page.screenshot({ path: `${ARTIFACTS}/remote.png`, fullPage: true });

  const weights = requests.filter((u) => u.endsWith('.safetensors'));
  const held = await page.evaluate(() => window.__mpcvit.models.size);
  check('the tab never fetched or held a weight', weights.length === 0 && held === 0, `${weights.join(', ')} held ${held}`);
  check('the server logged each private session', server.log.filter((l) => l.includes('classified 1 image(s) privately')).length >= SAMPLES + 1,
    server.log.slice(-3).join(' | '));
  // The page reads the hello on its own connection to show the model: a probe, not a failure.
  const probes = server.log.filter((l) => l.includes('read the hello and left'));
  const failures = server.log.filter((l) => l.includes('connection from'));
  check('the page\'s hello probes are logged as such, not as failed sessions',
    probes.length >= 1 && failures.length === 0, failures.join(' | ') || 'no probe logged');

  // A dealer the server does not use: refused before any image is shared.
  await page.fill('#dealer-url', 'ws://127.0.0.1:9');
  const wrong = await classifyBy(() => page.locator('#samples canvas:not(.extra)').nth(0).click());
  check('a dealer the server does not use is refused', wrong.includes('same dealer'), wrong);
  await page.fill('#dealer-url', '');
  await page.click('#retry').catch(() => {});
  const hint = await page.evaluate(() => document.getElementById('hint').textContent);
  check('a missing dealer address is an inline hint', /dealer you trust/.test(hint), hint);

  // An unreachable server: a clear error on Connect.
  await page.fill('#dealer-url', dealer.at);
  await page.fill('#server-url', 'ws://127.0.0.1:9');
  await page.click('#connect');
  await phase(['error']);
  const unreachable = await errorText();
  check('an unreachable server is a clear error', /cannot reach the server/.test(unreachable), unreachable);
  // Back to the real server: the page recovers.
  await page.fill('#server-url', server.at);
  await page.click('#connect');
  await phase(['ready']);
  check('reconnecting after an error works', !(await errorText()));
  check('the page logged no errors', errors.length === 0, errors.join(' | '));
} catch (err) {
  check('the remote test ran to its end', false, err.stack);
} finally {
  clearTimeout(hardStop);
  await browser.close();
  http.close();
  finish();
}
