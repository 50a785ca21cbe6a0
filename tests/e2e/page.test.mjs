// End-to-end test of the page in headless Chromium (playwright-core driving /usr/bin/chromium).
//
// Serves the repository root as scripts/serve.mjs does (/ -> /www/, /pkg, /models), then:
//   * the page loads the shipped model list and a model;
//   * clicking sample test images (one per class) classifies each: the plaintext probabilities
//     are shown, the private inference (client, server and dealer workers over MessagePorts)
//     agrees with the plaintext result, both parties exchanged messages, and at least
//     E2E_MIN_CORRECT of them match their labels;
//   * a stroke drawn on the canvas gets a plaintext prediction, then a private one;
//   * an uploaded PNG is classified, and again with the FSS protocols chosen (same answer,
//     fewer rounds); a file that is not an image shows an error;
//   * a run under the WAN profile can be cancelled;
//   * the client party's "layer k of L" indicator reaches the last layer;
//   * the variant explorer measures every attention variant;
//   * Search live: a tiny search (alpha heat map, progress), binarise (plan and its measured
//     cost), retrain with distillation, the download buttons, and the new model classifies
//     privately (same result as plaintext);
//   * on a phone-sized screen the page fits and classifies;
//   * failures are shown in the page: missing model list, corrupt weights, missing wasm;
//   * no errors were logged by the page; screenshots go to test-artifacts/.
// And what a newcomer needs (issue 15), at 1366x800 and on a 390x844 phone: the result, the
// progress and the time left are in view after a click or a stroke; no stale progress or result
// after Cancel, a model switch, Clear or a new search; empty input and bad network values get
// an inline hint, not the error card; the retraining progress sits under the Retrain button;
// Pareto labels do not overlap and tab-trained models are marked; the variant explorer keeps
// random and searched plans and the two accuracy sources apart and follows the model's
// dataset; plain model names, a light-on-black drawing, one sample per class at first; tables
// scroll on a phone; the wasm is fetched once per page load and the server answers 304; the
// page remembers the model and network; "How it works" appears after the first result.
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

/** Whether the element is displayed and wholly inside the viewport. */
function inView(page, selector) {
  return page.$eval(selector, (e) => {
    const r = e.getBoundingClientRect();
    return e.offsetParent !== null && r.height > 0 && r.top >= 0 && r.bottom <= window.innerHeight
      && r.left >= 0 && r.right <= window.innerWidth;
  }).catch(() => false);
}

/** Pairs of Pareto labels (per plot) whose boxes intersect, as "a / b" strings. */
function overlappingLabels(page) {
  return page.evaluate(() => [...document.querySelectorAll('#pareto svg')].flatMap((svg) => {
    const boxes = [...svg.querySelectorAll('.label')].map((t) => ({ text: t.textContent, b: t.getBBox() }));
    const hit = (a, b) => a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
    return boxes.flatMap((a, i) => boxes.slice(i + 1).filter((b) => hit(a.b, b.b)).map((b) => `${a.text} / ${b.text}`));
  }));
}

/** The state a newcomer should never see stale: progress bar, Cancel, result, summary. */
function leftovers(page) {
  return page.evaluate(() => ({
    progress: !document.getElementById('layer-progress').hidden,
    cancel: !document.getElementById('cancel').hidden,
    results: !document.getElementById('results').hidden,
    summary: document.getElementById('summary').textContent,
    error: !document.getElementById('error').hidden,
  }));
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
  if (!err) await retrainLive(page, shipped, t0);
}

/** Retrains the binarised plan one epoch with KD, then uses the new model privately. */
async function retrainLive(page, shipped, t0) {
  await page.fill('#s-retrain-epochs', '1');
  await page.click('#s-retrain');
  // The live progress moves under the Retrain button as the retraining starts.
  const near = await page.evaluate(() => {
    const button = document.getElementById('s-retrain').getBoundingClientRect();
    const live = document.getElementById('s-status').getBoundingClientRect();
    return { gap: Math.round(live.top - button.bottom), under: document.getElementById('s-retrain-box').contains(document.getElementById('s-progress')) };
  });
  check('the retraining progress is shown right under the Retrain button', near.under && near.gap >= 0 && near.gap < 120, JSON.stringify(near));
  const err = await searchPhase(page, 'trained');
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
      ood: s?.ood, manifestOod: manifest.metrics?.ood, result: document.getElementById('s-result').textContent,
    };
  });
  check('retraining with KD gives a model in the list, with safetensors + manifest downloads',
    !err && trained.listed && trained.visible && trained.weights === `${trained.name}.safetensors` && trained.weightBytes > 10000
      && trained.manifestFile === `${trained.name}.json` && trained.manifestName === trained.name && trained.accuracy > 0
      && trained.rounds > 0 && trained.teacher === 'mnist-softmax',
    err || `${JSON.stringify(trained)}, whole flow ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  if (err) return;
  const oodNames = (trained.ood ?? []).map((o) => o.set).join(',');
  check('the retrained model is scored on the out-of-domain sets, in the page and its manifest',
    oodNames === 'mnist-fonts,mnist-drawn,mnist-upload'
      && trained.ood.every((o) => o.accuracy >= 0 && o.accuracy <= 1 && o.images >= 500
        && trained.manifestOod?.[o.set]?.accuracy === o.accuracy && trained.result.includes(o.set)),
    `${JSON.stringify(trained.ood)}; ${trained.result}`);
  const listed = await page.waitForFunction((name) => [...document.querySelectorAll('#family td:first-child span')]
    .some((span) => span.title === name), trained.name, { timeout: 30000 }).then(() => true, () => false);
  const pareto = await page.evaluate(() => ({
    points: Number(document.getElementById('pareto')?.dataset.points),
    models: document.querySelectorAll('#family tr').length - 1,
    options: document.querySelectorAll('#model option').length,
  }));
  check('the trained model joins the models table and the Pareto plot',
    listed && pareto.points === pareto.models && pareto.models === pareto.options, JSON.stringify(pareto));
  const marked = await page.$$eval('#pareto .point.tab', (gs) => gs.map((g) => g.dataset.name));
  const overlaps = await overlappingLabels(page);
  check('the tab-trained model is marked in the Pareto plot and no labels overlap',
    marked.includes(trained.name) && overlaps.length === 0, `marked ${marked}; overlapping ${overlaps.join(', ')}`);

  await page.click('#s-use');
  const useErr = await waitReady(page);
  const selected = await page.$eval('#model', (s) => s.value);
  const privErr = await classifyBy(page, () => page.locator('#samples canvas').nth(20).click());
  const r = await results(page);
  check('the model trained in the tab classifies privately, as in plaintext',
    !useErr && !privErr && selected === trained.name && r.priv === r.plain && r.rounds === trained.rounds,
    useErr || privErr || `${selected}: private ${r.priv}, plaintext ${r.plain}, ${r.rounds} rounds`);
  await page.screenshot({ path: `${ARTIFACTS}/page-search.png`, fullPage: true });
  // A new search forgets the previous plan, its cost and the retrained model.
  await page.click('#s-start');
  const fresh = await page.evaluate(() => ({
    plan: document.getElementById('s-plan').innerHTML, cost: document.getElementById('s-plan-cost').innerHTML,
    binarise: !document.getElementById('s-binarise-box').hidden, retrain: !document.getElementById('s-retrain-box').hidden,
  }));
  check('a new search shows no plan or cost of the previous one', !fresh.plan && !fresh.cost && !fresh.binarise && !fresh.retrain,
    JSON.stringify(fresh).slice(0, 200));
  await page.click('#s-stop');
  await searchPhase(page, 'searched');
  // Back to the shipped model for the checks that follow.
  await page.selectOption('#model', shipped);
  await waitReady(page);
}

/** What a newcomer reads first: plain model names, the library's network profiles, μ explained,
 *  one sample per class, the light-on-black canvas, no "How it works" before a result. */
async function firstReading(page) {
  const list = await page.evaluate(() => ({
    groups: [...document.querySelectorAll('#model optgroup')].map((g) => g.label),
    texts: [...document.querySelectorAll('#model option')].map((o) => [o.value, o.textContent]),
    profiles: [...document.querySelectorAll('#profile option')].map((o) => [o.value, o.textContent]),
    info: document.getElementById('model-info').textContent,
    mu: document.getElementById('mu-help').textContent,
    visible: [...document.querySelectorAll('#samples canvas')].filter((c) => c.offsetParent !== null).length,
    how: !document.getElementById('how').hidden,
  }));
  check('models are grouped by dataset, digits first, with plain names', /digits/i.test(list.groups[0] ?? '')
    && list.texts.every(([name, text]) => text && !text.startsWith(name)), `${list.groups}; ${list.texts[0]}`);
  const wan = list.profiles.find(([k]) => k === 'wan')?.[1] ?? '';
  check('the network profiles come from the wasm (LAN and the paper\'s WAN)', list.profiles.some(([k]) => k === 'lan')
    && /40 ms, 44 MB\/s/.test(wan), JSON.stringify(list.profiles));
  check('the selected model is described in one plain line, and μ is explained', list.info.length > 20 && /share of attention heads/.test(list.mu),
    list.info);
  check('one sample per class is shown at first, the rest on demand', list.visible === 10, `${list.visible} visible thumbnails`);
  check('"How it works" waits for the first result', !list.how);
}

/** Slips a newcomer makes get an inline hint, not the error card: Classify with nothing to
 *  classify, impossible custom network values. */
async function userSlips(page) {
  await page.click('#classify');
  const empty = await page.evaluate(() => ({ hint: document.getElementById('hint').hidden ? '' : document.getElementById('hint').textContent,
    error: !document.getElementById('error').hidden, phase: document.body.dataset.phase }));
  check('Classify before choosing an image gives an inline hint, no error card', empty.hint && !empty.error && empty.phase === 'ready',
    JSON.stringify(empty));
  check('1366x800: the hint is in view', await inView(page, '#hint'));
  await page.selectOption('#profile', 'custom');
  await page.fill('#rtt', '-5');
  await page.fill('#bw', '0');
  const custom = await page.evaluate(() => document.getElementById('custom-error').hidden ? '' : document.getElementById('custom-error').textContent);
  await page.locator('#samples canvas').nth(0).click();
  const refused = await page.evaluate(() => ({ hint: document.getElementById('hint').textContent, error: !document.getElementById('error').hidden,
    phase: document.body.dataset.phase }));
  check('a custom network of -5 ms / 0 MB/s is refused inline, not run into the error card',
    /round trip/.test(custom) && /bandwidth/.test(custom) && /Check the network/.test(refused.hint) && !refused.error && refused.phase !== 'running',
    `${custom} | ${JSON.stringify(refused)}`);
  await page.selectOption('#profile', 'none');
}

/** Cancel, a model switch during a run and Clear leave no progress bar, Cancel button or old
 *  result behind; the WAN run shows its time left, in view. */
async function staleStates(page) {
  const model = await page.$eval('#model', (s) => s.value);
  await page.selectOption('#profile', 'wan');
  await page.locator('#samples canvas').nth(10).click();
  await page.waitForFunction(() => /s left/.test(document.getElementById('layer-text').textContent), null, { timeout: 15000 });
  const left = await page.$eval('#layer-text', (e) => e.textContent);
  check('a WAN run shows its progress and the time left, in view', await inView(page, '#layer-progress') && /about \d+ s left/.test(left), left);
  await page.click('#cancel');
  let after = await leftovers(page);
  check('Cancel leaves no progress bar, no Cancel button and no error', !after.progress && !after.cancel && !after.error
    && await page.evaluate(() => document.body.dataset.phase === 'ready'), JSON.stringify(after));
  await page.locator('#samples canvas').nth(20).click();
  await page.waitForFunction(() => !document.getElementById('layer-progress').hidden, null, { timeout: 15000 });
  const other = await page.$$eval('#model option', (os, m) => os.map((o) => o.value).find((v) => v !== m && v.startsWith('mnist')), model);
  await page.selectOption('#model', other);
  await waitReady(page);
  after = await leftovers(page);
  check('switching the model during a run leaves no Cancel, progress bar or old result', !after.progress && !after.cancel && !after.results
    && !after.summary, JSON.stringify(after));
  await page.selectOption('#model', model);
  await page.selectOption('#profile', 'none');
  await waitReady(page);
  const err = await classifyBy(page, () => page.locator('#samples canvas').nth(30).click());
  await page.click('#clear');
  after = await leftovers(page);
  check('Clear after a result clears the result too', !err && !after.results && !after.summary, err || JSON.stringify(after));
}

/** The dev server answers a repeated request with 304 (validators), so nothing is re-sent. */
async function revalidation() {
  const first = await fetch(`${url}pkg/mpcvit_bg.wasm`);
  await first.arrayBuffer();
  const etag = first.headers.get('etag');
  const again = await fetch(`${url}pkg/mpcvit_bg.wasm`, { headers: { 'If-None-Match': etag } });
  const since = await fetch(`${url}www/app.js`, { headers: { 'If-Modified-Since': new Date(Date.now() + 1000).toUTCString() } });
  check('the server sends validators and answers 304 when nothing changed', etag && first.headers.get('last-modified')
    && again.status === 304 && since.status === 304, `${etag}, ${again.status}, ${since.status}`);
}

/** The last model and network are remembered across visits. */
async function remembers() {
  const { page } = await openPage({ viewport: { width: 1000, height: 800 } });
  await page.goto(url, { timeout: 30000 });
  await waitReady(page);
  await page.selectOption('#model', 'mnist-scale');
  await waitReady(page);
  await page.selectOption('#profile', 'lan');
  await page.reload();
  await waitReady(page);
  const back = await page.evaluate(() => [document.getElementById('model').value, document.getElementById('profile').value]);
  check('the page remembers the last model and network', back[0] === 'mnist-scale' && back[1] === 'lan', back.join(', '));
  await page.context().close();
}

try {
  // ---------------------------------------------------------------- the main flow, laptop size
  const { page, errors } = await openPage({ viewport: { width: 1366, height: 800 } });
  const wasmFetches = [];
  page.on('request', (r) => { if (r.url().endsWith('.wasm')) wasmFetches.push(r.url()); });
  await page.goto(url, { timeout: 30000 });
  check('title', (await page.title()) === 'MPCViT — private image classification in your browser');
  const loadError = await waitReady(page);
  if (!check('the page loads a shipped model', !loadError, loadError.trim().slice(0, 300))) throw new Error('no model');
  const model = await page.$eval('#model', (s) => s.value);
  const options = await page.$$eval('#model option', (os) => os.length);
  check('the model list is shown', options > 0, `${options} models, selected ${model}`);
  await firstReading(page);
  const classes = await page.evaluate(() => window.__mpcvit.current.manifest.config.classes);
  const thumbs = await page.locator('#samples canvas').count();
  check('sample thumbnails are shown', thumbs >= SAMPLES, `${thumbs} thumbnails`);
  await userSlips(page);

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
    if (i === 0) {
      check('1366x800: the result summary is in view after clicking a sample', await inView(page, '#summary')
        && /Private answer/.test(await page.$eval('#summary', (e) => e.textContent)), await page.$eval('#summary', (e) => e.textContent));
      const how = await page.$eval('#how', (e) => !e.hidden);
      check('"How it works" appears after the first result', how);
    }
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
  const ink = await page.$eval('#canvas', (c) => {
    const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    return { corner: px[0], middle: px[4 * (c.width * Math.floor(c.height / 2) + Math.floor(c.width / 2))] };
  });
  check('the drawing is light on black, like the samples', ink.corner === 0 && ink.middle > 200, JSON.stringify(ink));
  check('1366x800: the plaintext guess is in view after a stroke', await inView(page, '#summary')
    && /Plaintext guess/.test(await page.$eval('#summary', (e) => e.textContent)));
  const drawErr = await classifyBy(page, () => page.click('#classify'));
  const drawn = await results(page);
  check('the drawing is classified privately, same as plaintext', !drawErr && drawn.priv === drawn.plain,
    drawErr || `private ${drawn.priv}, plaintext ${drawn.plain}`);
  // Several digits drawn with the mouse, as a person would (issue #13): each one is read as
  // the digit drawn, in plaintext and privately.
  const ring = (cx, cy, rx, ry, n) => Array.from({ length: n + 1 }, (_, i) => {
    const a = (2 * Math.PI * i) / n - Math.PI / 2;
    return [cx + rx * Math.cos(a), cy + ry * Math.sin(a)];
  });
  const digits = [
    [0, [ring(0.5, 0.5, 0.2, 0.3, 20)]],
    [1, [[[0.47, 0.18], [0.52, 0.5], [0.53, 0.84]]]],
    [2, [[[0.3, 0.3], [0.38, 0.18], [0.55, 0.15], [0.68, 0.25], [0.66, 0.42], [0.3, 0.82], [0.72, 0.82]]]],
    [3, [[[0.3, 0.2], [0.6, 0.16], [0.7, 0.3], [0.48, 0.47], [0.7, 0.62], [0.65, 0.8], [0.3, 0.84]]]],
    [4, [[[0.55, 0.16], [0.27, 0.6], [0.75, 0.6]], [[0.6, 0.35], [0.6, 0.86]]]],
    [7, [[[0.27, 0.2], [0.72, 0.2], [0.45, 0.86]]]],
  ];
  const misread = [];
  for (const [digit, strokes] of digits) {
    await page.click('#clear');
    for (const stroke of strokes) await drawStroke(page, stroke);
    const e = await classifyBy(page, () => page.click('#classify'));
    const r = await results(page);
    if (e || r.plain !== digit || r.priv !== digit) misread.push(`${digit}: ${e || `plaintext ${r.plain}, private ${r.priv}`}`);
  }
  check(`digits drawn with the mouse (${digits.map((d) => d[0]).join(' ')}) are read as drawn, privately and in plaintext`,
    misread.length === 0, misread.join('; '));
  await page.screenshot({ path: `${ARTIFACTS}/page.png`, fullPage: true });

  // Upload: a sample test image as a 28x28 PNG file, then a file that is not an image.
  const sampleThumb = page.locator('#samples canvas').nth(Math.floor(thumbs / 2));
  const upLabel = Number(await sampleThumb.getAttribute('data-label'));
  const png = Buffer.from((await sampleThumb.evaluate((c) => c.toDataURL('image/png'))).split(',')[1], 'base64');
  const upErr = await classifyBy(page, () => page.setInputFiles('#upload', { name: 'digit.png', mimeType: 'image/png', buffer: png }));
  const up = await results(page);
  check('an uploaded PNG is classified privately, as its label', !upErr && up.priv === upLabel && up.priv === up.plain,
    upErr || `label ${upLabel}, private ${up.priv}, plaintext ${up.plain}`);
  // The FSS family in the tab: the same answer in fewer rounds, and the cost says which ran.
  await page.selectOption('#protocols', 'fss');
  const fssErr = await classifyBy(page, () => page.click('#classify'));
  const viaFss = await results(page);
  const fssCost = await page.$eval('#cost', (e) => e.textContent);
  check('with FSS chosen the upload is classified privately as in plaintext, in fewer rounds',
    !fssErr && viaFss.priv === up.plain && viaFss.rounds > 0 && viaFss.rounds < up.rounds && /FSS/.test(fssCost),
    fssErr || `private ${viaFss.priv}, plaintext ${up.plain}, rounds ${viaFss.rounds} vs classic ${up.rounds}`);
  await page.selectOption('#protocols', 'classic');
  await page.setInputFiles('#upload', { name: 'notes.png', mimeType: 'image/png', buffer: Buffer.from('not an image') });
  await page.waitForFunction(() => !document.getElementById('error').hidden, null, { timeout: 15000 }).catch(() => {});
  const badUpload = await page.$eval('#error', (e) => (e.hidden ? '' : e.textContent));
  check('a file that is not an image shows an error in the page, in one clean sentence',
    /could not be read as an image/.test(badUpload) && !/[.!?]\)\./.test(badUpload), badUpload.trim().slice(0, 160));
  const accept = await page.$eval('#upload', (e) => e.accept);
  check('the file picker offers only formats that work (no SVG)', accept && !/svg|\*/.test(accept), accept);
  const parts = await page.$$eval('#breakdown .bar', (rows) => rows.map((r) => [r.children[0].textContent, r.title]));
  check('every row of the round breakdown is named and explained', parts.length > 0
    && parts.every(([name, what]) => name && name !== 'other' && what && what !== name), JSON.stringify(parts.slice(-2)));
  await staleStates(page);

  const againErr = await classifyBy(page, () => page.locator('#samples canvas').nth(0).click());
  check('classifying works again after a cancel and a model switch', !againErr, againErr);

  // The variant explorer measures every attention variant on the real protocol.
  await page.click('#compare-run');
  await page.waitForFunction(() => Number(document.getElementById('variants').dataset.rows) > 0
    || !document.getElementById('error').hidden, null, { timeout: 300000 });
  const costs = await page.$$eval('#variants tbody tr', (trs) => trs.map((tr) => [...tr.children].map((td) => td.textContent)));
  const wanOf = (name) => parseFloat(costs.find((r) => r[0] === name)?.[4]);
  const random = costs.filter((r) => /random plan/.test(r[0]));
  const searched = costs.filter((r) => /searched plan/.test(r[0]));
  check('variant explorer lists the ten variants, four random MPCViT plans and the shipped searched ones',
    costs.length === 14 + searched.length && random.length === 4 && searched.length >= 4, `${costs.length} rows, ${searched.length} searched`);
  check('the shipped searched models show their accuracy; random plans are marked untrained',
    searched.every((r) => /%/.test(r[5])) && random.every((r) => /not trained/.test(r[5])), JSON.stringify(searched[0]));
  const sweepAcc = costs.filter((r) => /\b2 epochs/.test(r[6] ?? '')).length;
  const fullAcc = costs.slice(0, 10).filter((r) => /%/.test(r[5] ?? '')).every((r) => !/\b2 epochs/.test(r[5]));
  check('every Table-2 variant shows its 2-epoch sweep accuracy in its own column, apart from full trainings',
    sweepAcc >= 10 && fullAcc, `${sweepAcc} rows with a sweep accuracy`);
  const cellWrap = await page.$eval('#variants td', (td) => getComputedStyle(td).whiteSpace);
  check('explorer cells do not wrap mid-figure', cellWrap === 'nowrap', cellWrap);
  await page.selectOption('#model', 'fashion-softmax');
  await waitReady(page);
  const switched = await page.evaluate(() => ({ rows: document.querySelectorAll('#variants tr').length,
    button: document.getElementById('compare-run').textContent }));
  check('after switching to a Fashion model the explorer shows no MNIST figures', switched.rows === 0 && /Softmax/.test(switched.button),
    JSON.stringify(switched));
  await page.selectOption('#model', model);
  await waitReady(page);
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
  const overlaps = await overlappingLabels(page);
  check('no two Pareto labels overlap', overlaps.length === 0, overlaps.join(', '));

  // Search live: search -> binarise -> retrain with KD -> download -> classify privately.
  await searchLive(page, model);

  check('the wasm was fetched once for the whole session (workers get the compiled module)',
    wasmFetches.length === 1, `${wasmFetches.length} fetches`);
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
    const first = await page.$eval('#samples', (e) => Math.round(e.getBoundingClientRect().top));
    check('phone: the sample images come first, within the first screen', first < 600, `samples at ${first} px`);
    const tapErr = await classifyBy(page, () => page.locator('#samples canvas').nth(0).tap());
    check('phone: tapping a sample classifies it, and the result is in view', !tapErr && await inView(page, '#summary'), tapErr);
    await page.locator('#family').scrollIntoViewIfNeeded();
    const tables = await page.$$eval('table', (ts) => ts.map((t) => {
      const box = t.parentElement;
      return { id: t.id, scrolls: box.classList.contains('table-scroll') && getComputedStyle(box).overflowX === 'auto' };
    }));
    check('phone: every table scrolls sideways in its own box', tables.every((t) => t.scrolls), JSON.stringify(tables.filter((t) => !t.scrolls)));
    const box = await page.locator('#canvas').boundingBox();
    check('phone: the drawing area is large and square', box.width >= 280 && Math.abs(box.width - box.height) < 2, `${box.width}x${box.height}`);
    check('phone: no errors logged', errors.length === 0, errors.join(' | ').slice(0, 300));
    await page.screenshot({ path: `${ARTIFACTS}/page-phone.png`, fullPage: true });
    await page.context().close();
  }

  await revalidation();
  await remembers();

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
