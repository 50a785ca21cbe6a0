// End-to-end test of the page in headless Chromium (playwright-core driving /usr/bin/chromium).
//
// Serves the repository root as scripts/serve.mjs does (/ -> /www/, /pkg, /models), then:
//   * the page loads the shipped model list and a model;
//   * clicking sample test images (one per class) classifies each: the plaintext probabilities
//     are shown, the private inference (client, server and dealer workers over MessagePorts)
//     agrees with the plaintext result, both parties exchanged messages, and at least
//     E2E_MIN_CORRECT of them match their labels;
//   * a stroke drawn on the canvas gets a plaintext prediction, then a private one;
//   * an uploaded PNG is classified; a file that is not an image shows an error;
//   * a run under the WAN profile can be cancelled;
//   * the client party's "layer k of L" indicator reaches the last layer;
//   * the variant explorer measures every attention variant;
//   * Search live: a tiny search (alpha heat map, progress), binarise (plan and its measured
//     cost), retrain with distillation, the download buttons, and the new model classifies
//     privately (same result as plaintext);
//   * on a phone-sized screen the page fits and classifies;
//   * failures are shown in the page: missing model list, corrupt weights, missing wasm;
//   * no errors were logged by the page; screenshots go to test-artifacts/.
// Prints `e2e: N passed, M failed` and exits non-zero on any failure. Every wait is bounded.
//
// Run: node tests/e2e/page.test.mjs   (needs pkg/ from scripts/build-wasm.sh and models/)
// Env: CHROMIUM (default /usr/bin/chromium), E2E_SAMPLES (default 10), E2E_MIN_CORRECT (8).
import { chromium } from 'playwright-core';
import { existsSync, mkdirSync } from 'node:fs';
import { startServer } from '../../scripts/serve.mjs';

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SAMPLES = Number(process.env.E2E_SAMPLES || 10);
const MIN_CORRECT = Number(process.env.E2E_MIN_CORRECT || Math.ceil(SAMPLES * 0.8));
const RUN_TIMEOUT = 180000;
const ARTIFACTS = 'test-artifacts';

let passed = 0;
let failed = 0;
function check(name, ok, detail = '') {
  if (ok) passed++; else failed++;
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}${detail ? ` (${detail})` : ''}`);
  return ok;
}
function finish() {
  console.log(`e2e: ${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

// Preconditions, with a clear message rather than a confusing page failure.
for (const [path, hint] of [
  ['pkg/mpcvit.js', 'build it with ./scripts/build-wasm.sh'],
  ['models/index.json', 'no shipped models: train them with the CLI into models/ (see README), then write the index'],
]) {
  if (!check(`${path} exists`, existsSync(path), existsSync(path) ? '' : hint)) finish();
}
mkdirSync(ARTIFACTS, { recursive: true });

const hardStop = setTimeout(() => {
  console.error('e2e: the whole test exceeded 12 minutes');
  failed++;
  finish();
}, 12 * 60 * 1000);

const { server, url } = await startServer({ port: 0 });
const browser = await chromium.launch({
  executablePath: CHROMIUM,
  timeout: 60000,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--no-first-run'],
});

/** A page that records its errors. */
async function openPage(options = {}) {
  const context = await browser.newContext(options);
  context.setDefaultTimeout(30000);
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(`console: ${m.text()}`); });
  page.on('crash', () => errors.push('the page crashed'));
  return { context, page, errors };
}

/** Waits until the model is loaded (or an error is shown); returns the error text or ''. */
async function waitReady(page) {
  await page.waitForFunction(() => ['ready', 'error'].includes(document.body.dataset.phase), null, { timeout: 90000 });
  return page.$eval('#error', (e) => (e.hidden ? '' : e.querySelector('#error-text').textContent));
}

/** Runs `action`, then waits for one more completed classification (or an error). */
async function classifyBy(page, action) {
  const before = await page.evaluate(() => Number(document.body.dataset.runs || 0));
  await action();
  await page.waitForFunction((b) => Number(document.body.dataset.runs || 0) > b || document.body.dataset.phase === 'error',
    before, { timeout: RUN_TIMEOUT });
  return page.evaluate(() => (document.body.dataset.phase === 'error' ? document.getElementById('error-text').textContent : ''));
}

/** What the results panel shows. */
function results(page) {
  return page.evaluate(() => {
    const num = (id) => (document.getElementById(id).dataset.class != null ? Number(document.getElementById(id).dataset.class) : null);
    const percents = (id) => [...document.querySelectorAll(`#${id} .value`)].map((e) => parseFloat(e.textContent));
    const cost = document.getElementById('cost').dataset;
    return {
      priv: num('private-pred'),
      plain: num('plain-pred'),
      privText: document.getElementById('private-pred').textContent,
      plainBars: percents('plain-bars'),
      privBars: percents('private-bars'),
      rounds: Number(cost.rounds || 0),
      serverBytes: Number(cost.serverBytes || 0),
    };
  });
}

async function drawStroke(page, points) {
  const box = await page.locator('#canvas').boundingBox();
  const at = ([x, y]) => [box.x + box.width * x, box.y + box.height * y];
  await page.mouse.move(...at(points[0]));
  await page.mouse.down();
  for (const p of points.slice(1)) await page.mouse.move(...at(p), { steps: 4 });
  await page.mouse.up();
}

/** Waits for the Search live section to reach `phase` (or an error); returns the error text. */
async function searchPhase(page, phase) {
  await page.waitForFunction((p) => [p, 'error'].includes(document.getElementById('search').dataset.phase), phase, { timeout: 240000 });
  return page.evaluate(() => (document.getElementById('search').dataset.phase === 'error'
    ? document.getElementById('error-text').textContent : ''));
}

/** A tiny live search on 1000 images (one epoch), binarised at mu 0.25, retrained one epoch. */
async function searchLive(page, shipped) {
  const t0 = Date.now();
  await page.selectOption('#s-dataset', 'mnist');
  await page.selectOption('#s-size', '1000');
  await page.fill('#s-epochs', '1');
  await page.click('#s-start');
  let err = await searchPhase(page, 'searched');
  const searched = await page.evaluate(() => {
    const s = window.__mpcvitSearch;
    const heat = document.getElementById('s-heat');
    const px = heat.getContext('2d').getImageData(0, 0, heat.width, heat.height).data;
    let painted = 0;
    for (let i = 3; i < px.length; i += 4) painted += px[i] > 0;
    return { alphas: s.search?.alphas ?? [], points: s.points.length, painted, progress: document.getElementById('s-progress').value };
  });
  check('search live: the search runs to the end with progress, curves and an alpha heat map',
    !err && searched.alphas.length === 16 && searched.alphas.every((a) => a >= 0 && a <= 1) && searched.alphas.some((a) => a < 1)
      && searched.points >= 2 && searched.painted > 1000 && searched.progress === 16,
    err || `${searched.alphas.length} alphas, ${searched.points} progress points, heat map ${searched.painted} px, ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  if (err) return;

  await page.fill('#s-mu', '0.25');
  await page.click('#s-binarise');
  err = await searchPhase(page, 'binarised');
  const plan = await page.evaluate(() => ({
    units: window.__mpcvitSearch.binarised?.rsattn_units,
    cells: document.querySelectorAll('#s-plan .rsattn').length,
    rounds: Number(document.getElementById('s-plan-cost').dataset.rounds),
    teacher: window.__mpcvit.models.get('mnist-softmax')?.manifest.cost?.rounds,
  }));
  check('binarise at mu 0.25 keeps RSAttn on 4 of 16 heads and costs fewer rounds than the Softmax teacher',
    !err && plan.units === 4 && plan.cells === 4 && plan.rounds > 0 && plan.rounds < plan.teacher, err || JSON.stringify(plan));
  if (err) return;

  await page.fill('#s-retrain-epochs', '1');
  await page.click('#s-retrain');
  err = await searchPhase(page, 'trained');
  const trained = await page.evaluate(async () => {
    const s = window.__mpcvitSearch.trained;
    const get = async (id) => {
      const a = document.getElementById(id);
      return { name: a.download, bytes: new Uint8Array(await (await fetch(a.href)).arrayBuffer()) };
    };
    const [w, m] = await Promise.all([get('s-dl-weights'), get('s-dl-manifest')]);
    const manifest = JSON.parse(new TextDecoder().decode(m.bytes));
    return {
      name: s?.name,
      listed: [...document.querySelectorAll('#model option')].some((o) => o.value === s?.name),
      weights: w.name, weightBytes: w.bytes.length, manifestFile: m.name,
      manifestName: manifest.name, accuracy: manifest.metrics?.test_accuracy, rounds: manifest.cost?.rounds,
      teacher: manifest.training?.teacher, visible: !document.getElementById('s-downloads').hidden,
    };
  });
  check('retraining with KD gives a model in the list, with safetensors + manifest downloads',
    !err && trained.listed && trained.visible && trained.weights === `${trained.name}.safetensors` && trained.weightBytes > 10000
      && trained.manifestFile === `${trained.name}.json` && trained.manifestName === trained.name && trained.accuracy > 0
      && trained.rounds > 0 && trained.teacher === 'mnist-softmax',
    err || `${JSON.stringify(trained)}, whole flow ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  if (err) return;
  const listed = await page.waitForFunction((name) => [...document.querySelectorAll('#family td:first-child')]
    .some((td) => td.textContent === name), trained.name, { timeout: 30000 }).then(() => true, () => false);
  const pareto = await page.evaluate(() => ({
    points: Number(document.getElementById('pareto')?.dataset.points),
    models: document.querySelectorAll('#family tr').length - 1,
    options: document.querySelectorAll('#model option').length,
  }));
  check('the trained model joins the models table and the Pareto plot',
    listed && pareto.points === pareto.models && pareto.models === pareto.options, JSON.stringify(pareto));

  await page.click('#s-use');
  const useErr = await waitReady(page);
  const selected = await page.$eval('#model', (s) => s.value);
  const privErr = await classifyBy(page, () => page.locator('#samples canvas').nth(25).click());
  const r = await results(page);
  check('the model trained in the tab classifies privately, as in plaintext',
    !useErr && !privErr && selected === trained.name && r.priv === r.plain && r.rounds === trained.rounds,
    useErr || privErr || `${selected}: private ${r.priv}, plaintext ${r.plain}, ${r.rounds} rounds`);
  await page.screenshot({ path: `${ARTIFACTS}/page-search.png`, fullPage: true });
  // Back to the shipped model for the checks that follow.
  await page.selectOption('#model', shipped);
  await waitReady(page);
}

try {
  // ---------------------------------------------------------------- the main flow, laptop size
  const { page, errors } = await openPage({ viewport: { width: 1100, height: 1400 } });
  await page.goto(url, { timeout: 30000 });
  check('title', (await page.title()) === 'MPCViT — private image classification in your browser');
  const loadError = await waitReady(page);
  if (!check('the page loads a shipped model', !loadError, loadError.trim().slice(0, 300))) throw new Error('no model');
  const model = await page.$eval('#model', (s) => s.value);
  const options = await page.$$eval('#model option', (os) => os.length);
  check('the model list is shown', options > 0, `${options} models, selected ${model}`);
  const classes = await page.evaluate(() => window.__mpcvit.current.manifest.config.classes);
  const thumbs = await page.locator('#samples canvas').count();
  check('sample thumbnails are shown', thumbs >= SAMPLES, `${thumbs} thumbnails`);

  let correct = 0;
  let privateChecks = 0;
  for (let i = 0; i < SAMPLES; i++) {
    // One sample per class: the sample file holds 10 per class, in label order.
    const thumb = page.locator('#samples canvas').nth((i * Math.floor(thumbs / SAMPLES)) % thumbs);
    const label = Number(await thumb.getAttribute('data-label'));
    const err = await classifyBy(page, () => thumb.click());
    if (err) { check(`sample ${i} (label ${label}) classified`, false, err.trim()); continue; }
    const r = await results(page);
    const sum = r.plainBars.reduce((a, b) => a + b, 0);
    check(`sample ${i} (label ${label}): plaintext ${r.plain}, probabilities shown`,
      r.plainBars.length === classes && Math.abs(sum - 100) < 1.5, `${r.plainBars.length} bars summing to ${sum.toFixed(1)}%`);
    // Private inference: the 2PC result equals the plaintext one and both parties did work.
    privateChecks += check(`sample ${i}: private ${r.priv} = plaintext ${r.plain}, both parties exchanged messages`,
      r.priv === r.plain && r.privBars.length === classes && r.rounds > 0 && r.serverBytes > 0,
      `${r.rounds} rounds, server saw ${r.serverBytes} bytes`);
    correct += r.priv === label;
  }
  check(`${model}: predictions match the labels of at least ${MIN_CORRECT} of ${SAMPLES} samples`, correct >= MIN_CORRECT, `${correct}/${SAMPLES}`);
  const stages = await page.$eval('#layer-progress', (e) => ({ ...e.dataset }));
  const depth = await page.evaluate(() => window.__mpcvit.current.manifest.config.depth);
  check('the client reported its progress layer by layer, up to the head',
    stages.stage === 'head' && Number(stages.layer) === depth && Number(stages.layers) === depth, JSON.stringify(stages));

  // Draw a "1": plaintext prediction after the stroke, then the private one on the button.
  await page.click('#clear');
  await page.evaluate(() => { delete document.getElementById('plain-pred').dataset.class; });
  await drawStroke(page, [[0.5, 0.15], [0.5, 0.5], [0.5, 0.85]]);
  await page.waitForFunction(() => document.getElementById('plain-pred').dataset.class != null, null, { timeout: 30000 });
  const preview = await results(page);
  check('a drawn stroke gets a plaintext prediction at once', preview.plain != null && preview.priv == null,
    `plaintext ${preview.plain}`);
  const drawErr = await classifyBy(page, () => page.click('#classify'));
  const drawn = await results(page);
  check('the drawing is classified privately, same as plaintext', !drawErr && drawn.priv === drawn.plain,
    drawErr || `private ${drawn.priv}, plaintext ${drawn.plain}`);
  await page.screenshot({ path: `${ARTIFACTS}/page.png`, fullPage: true });

  // Upload: a sample test image as a 28x28 PNG file, then a file that is not an image.
  const sampleThumb = page.locator('#samples canvas').nth(Math.floor(thumbs / 2));
  const upLabel = Number(await sampleThumb.getAttribute('data-label'));
  const png = Buffer.from((await sampleThumb.evaluate((c) => c.toDataURL('image/png'))).split(',')[1], 'base64');
  const upErr = await classifyBy(page, () => page.setInputFiles('#upload', { name: 'digit.png', mimeType: 'image/png', buffer: png }));
  const up = await results(page);
  check('an uploaded PNG is classified privately, as its label', !upErr && up.priv === upLabel && up.priv === up.plain,
    upErr || `label ${upLabel}, private ${up.priv}, plaintext ${up.plain}`);
  await page.setInputFiles('#upload', { name: 'notes.png', mimeType: 'image/png', buffer: Buffer.from('not an image') });
  await page.waitForFunction(() => !document.getElementById('error').hidden, null, { timeout: 15000 }).catch(() => {});
  const badUpload = await page.$eval('#error', (e) => (e.hidden ? '' : e.textContent));
  check('a file that is not an image shows an error in the page', /could not be read as an image/.test(badUpload),
    badUpload.trim().slice(0, 120));

  // Cancel a slow run (WAN imposed), then go back to no network shaping.
  await page.selectOption('#profile', 'wan');
  await page.locator('#samples canvas').nth(0).click();
  await page.waitForFunction(() => document.body.dataset.phase === 'running' && !document.getElementById('cancel').hidden, null, { timeout: 15000 });
  await page.waitForTimeout(300);
  await page.click('#cancel');
  const afterCancel = await page.evaluate(() => ({ phase: document.body.dataset.phase, error: !document.getElementById('error').hidden }));
  check('a running private inference can be cancelled', afterCancel.phase === 'ready' && !afterCancel.error, JSON.stringify(afterCancel));
  await page.selectOption('#profile', 'none');
  const againErr = await classifyBy(page, () => page.locator('#samples canvas').nth(0).click());
  check('classifying works again after a cancel', !againErr, againErr);

  // The variant explorer measures every attention variant on the real protocol.
  await page.click('#compare-run');
  await page.waitForFunction(() => Number(document.getElementById('variants').dataset.rows) > 0
    || !document.getElementById('error').hidden, null, { timeout: 300000 });
  const costs = await page.$$eval('#variants tr', (trs) => trs.slice(1).map((tr) => [...tr.children].map((td) => td.textContent)));
  const wanOf = (name) => parseFloat(costs.find((r) => r[0] === name)?.[4]);
  check('variant explorer lists the ten variants and four MPCViT plans', costs.length === 14, `${costs.length} rows`);
  const withAcc = costs.filter((r) => /%/.test(r[5] ?? '')).length;
  check('every Table-2 variant of the MNIST shape shows an accuracy (shipped model or sweep)', withAcc >= 10, `${withAcc} rows with an accuracy`);
  check('Softmax costs more than RSAttn, which costs more than ScaleAttn (WAN)',
    wanOf('softmax') > wanOf('rsattn') && wanOf('rsattn') > wanOf('scale'),
    `softmax ${wanOf('softmax')} s, rsattn ${wanOf('rsattn')} s, scale ${wanOf('scale')} s`);

  // The Pareto plot of the shipped models: one plot per dataset, a dot per model.
  const pareto = await page.evaluate(() => ({
    points: Number(document.getElementById('pareto').dataset.points),
    plots: document.querySelectorAll('#pareto svg').length,
    dots: document.querySelectorAll('#pareto circle').length,
    front: document.querySelectorAll('#pareto .on-front').length,
    models: document.querySelectorAll('#family tr').length - 1,
  }));
  check('the Pareto plot shows every shipped model, per dataset, with a front',
    pareto.points === pareto.models && pareto.dots === pareto.models && pareto.plots >= 2 && pareto.front >= 2,
    JSON.stringify(pareto));

  // Search live: search -> binarise -> retrain with KD -> download -> classify privately.
  await searchLive(page, model);

  // Later private-mode checks (other network profiles) go here.

  check('no errors logged by the page', errors.length === 0, errors.join(' | ').slice(0, 400));
  await page.screenshot({ path: `${ARTIFACTS}/page-full.png`, fullPage: true });
  await page.context().close();

  // ---------------------------------------------------------------- a phone
  {
    const { page, errors } = await openPage({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
    await page.goto(url, { timeout: 30000 });
    const err = await waitReady(page);
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    check('phone: the page fits the screen width', !err && width <= 390, err || `content ${width} px wide on a 390 px screen`);
    const tapErr = await classifyBy(page, () => page.locator('#samples canvas').nth(0).tap());
    check('phone: tapping a sample classifies it', !tapErr, tapErr);
    const box = await page.locator('#canvas').boundingBox();
    check('phone: the drawing area is large and square', box.width >= 280 && Math.abs(box.width - box.height) < 2, `${box.width}x${box.height}`);
    check('phone: no errors logged', errors.length === 0, errors.join(' | ').slice(0, 300));
    await page.screenshot({ path: `${ARTIFACTS}/page-phone.png`, fullPage: true });
    await page.context().close();
  }

  // ---------------------------------------------------------------- failures shown in the page
  const failureCases = [
    ['a missing model list', '**/models/index.json', { status: 404, body: 'not found' }, /No models could be loaded.*index\.json/s],
    ['corrupt weights', '**/models/*.safetensors', { status: 200, body: Buffer.from('definitely not safetensors') }, /Could not load model.*invalid model file/s],
    ['a missing wasm build', '**/pkg/mpcvit_bg.wasm', { status: 404, body: 'not found' }, /Could not load model.*WebAssembly/s],
  ];
  for (const [what, pattern, reply, expected] of failureCases) {
    const { page } = await openPage({ viewport: { width: 1000, height: 900 } });
    await page.route(pattern, (route) => route.fulfill(reply));
    await page.goto(url, { timeout: 30000 });
    const err = await waitReady(page).catch((e) => `timeout: ${e.message}`);
    const retry = await page.$eval('#retry', (b) => !b.hidden);
    check(`${what} is reported in the page with a retry`, expected.test(err) && retry, err.trim().slice(0, 160));
    await page.context().close();
  }

  // Missing training data for Search live: an error naming the file, and a retry that works
  // once the data is back; a running search can be stopped.
  {
    const { page } = await openPage({ viewport: { width: 1000, height: 900 } });
    const missing = (route) => route.fulfill({ status: 404, body: 'not found' });
    await page.route('**/www/data/*.bin', missing);
    await page.goto(url, { timeout: 30000 });
    await waitReady(page);
    await page.click('#s-start');
    const err = await searchPhase(page, 'searched');
    const retry = await page.$eval('#retry', (b) => !b.hidden);
    check('missing training data is reported in the page with a retry',
      /training data data\/mnist-train\.bin: HTTP 404/.test(err) && retry, err.trim().slice(0, 160));
    await page.unroute('**/www/data/*.bin', missing);
    await page.click('#retry');
    await page.waitForFunction(() => (window.__mpcvitSearch.points.length > 0) || document.getElementById('search').dataset.phase === 'error',
      null, { timeout: 60000 });
    await page.click('#s-stop');
    const stopped = await searchPhase(page, 'searched');
    const text = await page.$eval('#s-status', (e) => e.textContent);
    check('after the retry the search runs, and Stop ends it early', !stopped && /stopped early/.test(text), stopped || text);
    await page.context().close();
  }
} catch (err) {
  check('e2e run', false, err.message.split('\n')[0]);
} finally {
  clearTimeout(hardStop);
  await browser.close().catch(() => {});
  server.close();
}
console.log(`screenshots: ${ARTIFACTS}/page.png, ${ARTIFACTS}/page-full.png, ${ARTIFACTS}/page-search.png, ${ARTIFACTS}/page-phone.png`);
finish();
