// The page: model and network choice, image input (draw, sample, upload), the private and
// plaintext results side by side, the cost of the private inference, the variant explorer and
// the table of shipped models. All computation runs in workers (see protocol.js): the
// plaintext helper (workers/plain.js) and, per private inference, three party workers
// (private.js); this thread only draws.
import { classifyPrivately, PROFILES } from './private.js';
import { WorkerClient, REQUEST, Cancelled } from './protocol.js';
import { drawPareto } from './pareto.js';
import { initSearch } from './search.js';

const $ = (id) => document.getElementById(id);
const PLAIN_WORKER = new URL('./workers/plain.js', import.meta.url);

const state = {
  index: null, // models/index.json
  models: new Map(), // name -> {entry, manifestText, manifest, weights}
  manifests: new Map(), // name -> manifest, for the tables
  current: null, // the selected, loaded model
  samples: new Map(), // dataset -> samples JSON
  input: null, // {kind: 'sample', pixels, label, index} or {kind: 'drawing'}
  run: null, // AbortController of the classification in progress
  runs: 0, // completed classifications (private result shown)
  loadToken: 0,
};
window.__mpcvit = state; // for the end-to-end test and for curious users

/** `idle`, `loading`, `ready`, `running`, `done` or `error`: for the test and for CSS. */
function setPhase(phase) { document.body.dataset.phase = phase; }

// ---------- the plaintext worker ----------
let plain = new WorkerClient(PLAIN_WORKER, { name: 'plaintext' });
/** A working plaintext worker: a failed one (e.g. the wasm did not load) is replaced. */
function plainWorker() {
  if (plain.failure) {
    plain.terminate();
    plain = new WorkerClient(PLAIN_WORKER, { name: 'plaintext' });
  }
  return plain;
}

// ---------- errors and status ----------
let retryAction = null;
function showError(text, retry) {
  $('error-text').textContent = text;
  $('error').hidden = false;
  retryAction = retry ?? null;
  $('retry').hidden = !retryAction;
  setStatus('');
  setPhase('error');
}
function hideError() { $('error').hidden = true; }
$('retry').onclick = () => { hideError(); retryAction?.(); };
function setStatus(text) { $('status').textContent = text; }

async function fetchOk(url, kind) {
  let r;
  try {
    r = await fetch(url);
  } catch (err) {
    throw new Error(`${kind} ${url} could not be fetched (${err.message})`);
  }
  if (!r.ok) throw new Error(`${kind} ${url}: HTTP ${r.status}${r.status === 404 ? ' (not found)' : ''}`);
  return r;
}

// ---------- models ----------
async function loadIndex() {
  setPhase('loading');
  setStatus('loading the list of models…');
  try {
    const index = await (await fetchOk('../models/index.json', 'model list')).json();
    if (!Array.isArray(index?.models) || index.models.length === 0) throw new Error('models/index.json lists no models');
    state.index = index;
  } catch (err) {
    showError(`No models could be loaded: ${err.message}. Models are trained with the command-line tool into `
      + 'models/ (see the README); serve the repository root with ./scripts/serve.sh.', loadIndex);
    return;
  }
  const select = $('model');
  select.innerHTML = '';
  for (const m of state.index.models) {
    const opt = document.createElement('option');
    opt.value = m.name;
    opt.textContent = `${m.name} (${m.dataset}${m.test_accuracy ? `, ${(100 * m.test_accuracy).toFixed(1)}% accurate` : ''})`;
    select.append(opt);
  }
  const preferred = state.index.models.find((m) => m.name === 'mnist-softmax') ?? state.index.models[0];
  select.value = preferred.name;
  select.disabled = false;
  await selectModel();
  renderFamily();
}

async function loadModel(name) {
  if (state.models.has(name)) return state.models.get(name);
  const entry = state.index.models.find((m) => m.name === name);
  if (!entry) throw new Error(`model ${name} is not in models/index.json`);
  const [manifestText, weights] = await Promise.all([
    fetchOk(`../models/${entry.manifest}`, 'manifest').then((r) => r.text()),
    fetchOk(`../models/${entry.weights}`, 'weights').then((r) => r.arrayBuffer()).then((b) => new Uint8Array(b)),
  ]);
  let manifest;
  try {
    manifest = JSON.parse(manifestText);
  } catch (err) {
    throw new Error(`manifest ${entry.manifest} is not JSON (${err.message})`);
  }
  const model = { entry, manifestText, manifest, weights };
  state.models.set(name, model);
  return model;
}

async function selectModel() {
  cancelRun();
  const token = ++state.loadToken;
  const name = $('model').value;
  state.current = null;
  $('classify').disabled = true;
  $('results').hidden = true;
  $('summary').textContent = '';
  hideError();
  setPhase('loading');
  try {
    setStatus(`loading ${name}…`);
    const model = await loadModel(name);
    const weights = model.weights.slice();
    await plainWorker().call(REQUEST.LOAD, { weights, manifest: model.manifestText }, { transfer: [weights.buffer] });
    if (token !== state.loadToken) return;
    await loadSamples(model.manifest.dataset);
    if (token !== state.loadToken) return;
    state.current = model;
    const c = model.manifest.config;
    $('model-info').textContent = `${c.image_size}×${c.image_size} ${c.channels === 1 ? 'grey' : 'colour'} input, `
      + `patches of ${c.patch}×${c.patch}, width ${c.dim}, ${c.depth} blocks × ${c.heads} heads; `
      + `attention: ${describePlan(model.manifest.plan)}.`;
    const classes = state.samples.get(model.manifest.dataset)?.classes;
    $('draw-hint').textContent = model.manifest.dataset === 'mnist' || !classes
      ? 'Draw a digit (mouse, pen or finger)…'
      : `Draw one of: ${classes.join(', ')} (mouse, pen or finger)…`;
    $('classify').disabled = false;
    setStatus('');
    setPhase('ready');
  } catch (err) {
    if (token === state.loadToken) showError(`Could not load model ${name}: ${err.message}`, selectModel);
  }
}
$('model').onchange = selectModel;

function describePlan(plan) {
  const v = plan.attention.variants.flat(3);
  const counts = {};
  v.forEach((a) => { counts[a] = (counts[a] ?? 0) + 1; });
  let s = Object.entries(counts).map(([a, n]) => `${a} ${Math.round((100 * n) / v.length)}%`).join(', ');
  s += ` (chosen per ${plan.attention.granularity})`;
  if (plan.gelu) {
    const t = plan.gelu.linearised.flat();
    s += `; GeLU linearised on ${t.filter(Boolean).length} of ${t.length} tokens`;
  }
  return s;
}

// ---------- samples ----------
async function loadSamples(dataset) {
  const box = $('samples');
  if (!state.samples.has(dataset)) {
    try {
      const r = await fetchOk(`samples/${dataset}.json`, 'samples');
      state.samples.set(dataset, await r.json());
    } catch (err) {
      box.textContent = `No sample images for ${dataset} (${err.message}); draw or upload instead.`;
      return;
    }
  }
  const set = state.samples.get(dataset);
  box.innerHTML = '';
  set.images.forEach((img, i) => {
    const cv = document.createElement('canvas');
    cv.width = set.cols;
    cv.height = set.rows;
    const name = set.classes[img.label];
    cv.title = `test image ${img.index}: ${name}`;
    cv.setAttribute('role', 'button');
    cv.setAttribute('aria-label', `sample ${i + 1}, a ${name}`);
    cv.tabIndex = 0;
    cv.dataset.label = img.label;
    cv.dataset.i = i;
    const ctx = cv.getContext('2d');
    const data = ctx.createImageData(set.cols, set.rows);
    img.pixels.forEach((p, k) => { data.data.set([p, p, p, 255], 4 * k); });
    ctx.putImageData(data, 0, 0);
    const pick = () => {
      clearCanvas(); // the canvas shows no stale drawing while a sample is classified
      selectThumb(cv);
      state.input = { kind: 'sample', pixels: Uint8Array.from(img.pixels), label: img.label, index: img.index };
      classify();
    };
    cv.onclick = pick;
    cv.onkeydown = (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); pick(); } };
    box.append(cv);
  });
}
function selectThumb(cv) {
  $('samples').querySelectorAll('canvas').forEach((c) => c.classList.toggle('selected', c === cv));
}

// ---------- drawing and upload ----------
const canvas = $('canvas');
const ctx = canvas.getContext('2d', { willReadFrequently: true });
function clearCanvas() {
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  if (state.input?.kind === 'drawing') state.input = null;
}
clearCanvas();
$('clear').onclick = clearCanvas;

let drawing = false;
function pos(e) {
  const r = canvas.getBoundingClientRect();
  return [((e.clientX - r.left) * canvas.width) / r.width, ((e.clientY - r.top) * canvas.height) / r.height];
}
canvas.addEventListener('pointerdown', (e) => {
  drawing = true;
  canvas.setPointerCapture(e.pointerId);
  ctx.lineWidth = 20; ctx.lineCap = 'round'; ctx.lineJoin = 'round'; ctx.strokeStyle = '#000';
  ctx.beginPath();
  ctx.moveTo(...pos(e));
  ctx.lineTo(...pos(e)); // a tap leaves a dot
  ctx.stroke();
  selectThumb(null);
  state.input = { kind: 'drawing' };
});
canvas.addEventListener('pointermove', (e) => {
  if (!drawing) return;
  ctx.lineTo(...pos(e));
  ctx.stroke();
});
function endStroke() {
  if (!drawing) return;
  drawing = false;
  previewDrawing();
}
canvas.addEventListener('pointerup', endStroke);
canvas.addEventListener('pointercancel', endStroke);

/** The drawing's RGBA bytes, moved (not copied) to the worker. */
function canvasRgba() {
  const img = ctx.getImageData(0, 0, canvas.width, canvas.height);
  return { rgba: new Uint8Array(img.data.buffer), width: img.width, height: img.height };
}

/** After each stroke: the plaintext prediction only (fast); the private run waits for the button. */
async function previewDrawing() {
  if (!state.current || state.run) return;
  const model = state.current;
  try {
    const im = canvasRgba();
    const reference = await plainWorker().call(REQUEST.CLASSIFY_RGBA, im, { transfer: [im.rgba.buffer] });
    if (state.current !== model || state.run || state.input?.kind !== 'drawing') return;
    renderPlain(model, reference);
    renderPrivatePending('Press “Classify privately” to run this drawing under 2PC.');
    $('summary').textContent = '';
    setStatus('');
  } catch (err) {
    setStatus(`Keep drawing: ${err.message}`);
  }
}

$('upload').onchange = async (e) => {
  const file = e.target.files[0];
  e.target.value = '';
  if (!file) return;
  try {
    const bmp = await createImageBitmap(file);
    clearCanvas();
    const s = Math.min(canvas.width / bmp.width, canvas.height / bmp.height);
    ctx.drawImage(bmp, (canvas.width - bmp.width * s) / 2, (canvas.height - bmp.height * s) / 2, bmp.width * s, bmp.height * s);
    bmp.close();
  } catch (err) {
    showError(`“${file.name}” could not be read as an image (${err.message || err.name}). Try a PNG or JPEG.`, () => $('upload').click());
    return;
  }
  selectThumb(null);
  state.input = { kind: 'drawing' };
  classify();
};

// ---------- classify ----------
function profile() {
  const p = $('profile').value;
  if (p !== 'custom') return PROFILES[p];
  return { name: 'custom', rtt_ms: Number($('rtt').value), mbytes_per_s: Number($('bw').value) };
}
$('profile').onchange = () => { $('custom').hidden = $('profile').value !== 'custom'; };

function cancelRun() {
  state.run?.abort();
  state.run = null;
}
$('cancel').onclick = () => {
  cancelRun();
  setBusy(false);
  renderPrivatePending('Cancelled.');
  setStatus('cancelled');
  setPhase('ready');
};

function setBusy(busy) {
  $('classify').disabled = busy || !state.current;
  $('cancel').hidden = !busy;
}

/** The plaintext reference and the model input bytes for the current input. */
async function plaintext(signal) {
  const input = state.input;
  if (input?.kind === 'sample') {
    const reference = await plainWorker().call(REQUEST.CLASSIFY, { pixels: input.pixels }, { signal });
    return { reference, pixels: input.pixels, label: input.label };
  }
  if (input?.kind === 'drawing') {
    const im = canvasRgba();
    const reference = await plainWorker().call(REQUEST.CLASSIFY_RGBA, im, { transfer: [im.rgba.buffer], signal });
    return { reference, pixels: Uint8Array.from(reference.input), label: null };
  }
  throw new Error('Draw something, pick a sample or upload an image first.');
}

/** Plaintext reference first (instant), then the private inference by three workers. */
async function classify() {
  const model = state.current;
  if (!model) return;
  cancelRun();
  const run = new AbortController();
  state.run = run;
  hideError();
  setBusy(true);
  setPhase('running');
  $('summary').textContent = '';
  let ticker = null;
  try {
    setStatus('plaintext reference…');
    const { reference, pixels, label } = await plaintext(run.signal);
    renderPlain(model, reference, label);
    renderPrivatePending('computing privately…');
    const net = profile();
    const t0 = performance.now();
    const say = () => setStatus(`private inference: client, server and dealer workers exchanging shares`
      + `${net ? ` over an imposed ${net.name} network` : ''}… ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    say();
    ticker = setInterval(say, 200);
    showStage(null, model.manifest.config.depth);
    const result = await classifyPrivately({
      manifest: model.manifestText, weights: model.weights, pixels, profile: net, signal: run.signal,
      onProgress: (stage) => { if (state.run === run) showStage(stage, model.manifest.config.depth); },
    });
    result.wallSeconds = (performance.now() - t0) / 1000;
    if (state.run !== run) return;
    renderPrivate(model, result, label);
    const names = classNames(model, reference);
    const same = result.client.prediction === reference.prediction;
    $('summary').textContent = `Private result: ${names[result.client.prediction]}`
      + (same ? ' (same as plaintext)' : ` (plaintext says ${names[reference.prediction]})`) + ' — details below.';
    state.last = { reference, result, label };
    state.runs += 1;
    document.body.dataset.runs = state.runs;
    setStatus('');
    setPhase('done');
  } catch (err) {
    if (err instanceof Cancelled || run.signal.aborted) return;
    renderPrivatePending('failed, see the message above.');
    showError(err.message, classify);
  } finally {
    clearInterval(ticker);
    if (state.run === run) {
      state.run = null;
      setBusy(false);
      $('layer-progress').hidden = true;
    }
  }
}
$('classify').onclick = classify;

/**
 * The client party's position in the private forward ("layer k of L"), from its control
 * messages: sharing the weights, the embedding, each block, the head. `null`: starting.
 */
function showStage(stage, depth) {
  const steps = depth + 3; // weights, embedding, blocks, head
  const at = { weights: 0, embed: 1, layer: 2 + (stage?.layer ?? 0), head: depth + 2 }[stage?.stage] ?? 0;
  const text = !stage ? 'waiting for the dealer and the server…'
    : stage.stage === 'weights' ? 'the server is secret-sharing its weights…'
      : stage.stage === 'embed' ? 'patch embedding…'
        : stage.stage === 'layer' ? `layer ${stage.layer + 1} of ${stage.layers}`
          : 'final norm and classifier head…';
  $('layer-progress').hidden = false;
  $('layer-bar').max = steps;
  $('layer-bar').value = stage ? at + 1 : 0;
  $('layer-text').textContent = text;
  $('layer-progress').dataset.stage = stage?.stage ?? 'start';
  if (stage?.stage === 'layer') {
    $('layer-progress').dataset.layer = stage.layer + 1;
    $('layer-progress').dataset.layers = stage.layers;
  }
}

// ---------- rendering ----------
function classNames(model, result) {
  return result?.labels
    ?? state.samples.get(model.manifest.dataset)?.classes
    ?? [...Array(model.manifest.config.classes).keys()].map(String);
}
const percent = (v) => `${(100 * v).toFixed(1)}%`;
const mb = (b) => `${(b / 1e6).toFixed(2)} MB`;

/** A horizontal bar chart; `scale` maps a value to [0, 1] of the track. */
function bars(el, values, names, { format = percent, scale = (v) => v, top = -1 } = {}) {
  el.innerHTML = '';
  values.forEach((v, i) => {
    const row = document.createElement('div');
    row.className = i === top ? 'bar top' : 'bar';
    row.innerHTML = '<span class="label"></span><span class="track"><span class="fill"></span></span><span class="value"></span>';
    row.children[0].textContent = names[i];
    row.children[0].title = names[i];
    row.querySelector('.fill').style.width = `${Math.min(100, Math.max(0.5, 100 * scale(v)))}%`;
    row.children[2].textContent = format(v);
    el.append(row);
  });
}

function verdict(el, prediction, label, names) {
  if (label == null) { el.textContent = ''; return; }
  const ok = prediction === label;
  el.textContent = `True label: ${names[label]} — ${ok ? 'correct ✓' : 'wrong ✗'}`;
  el.className = ok ? 'verdict good' : 'verdict bad';
}

function renderPlain(model, reference, label = null) {
  const names = classNames(model, reference);
  $('results').hidden = false;
  $('plain-pred').textContent = names[reference.prediction];
  $('plain-pred').dataset.class = reference.prediction;
  bars($('plain-bars'), Array.from(reference.probabilities), names, { top: reference.prediction });
  verdict($('plain-verdict'), reference.prediction, label, names);
}

function renderPrivatePending(text) {
  $('private-pred').textContent = '';
  delete $('private-pred').dataset.class;
  $('private-bars').innerHTML = '';
  $('private-verdict').textContent = text;
  $('private-verdict').className = 'verdict muted';
  $('cost-box').classList.add('stale');
}

function renderPrivate(model, run, label) {
  const names = classNames(model, null);
  const c = run.client;
  $('results').hidden = false;
  $('private-pred').textContent = names[c.prediction];
  $('private-pred').dataset.class = c.prediction;
  bars($('private-bars'), c.probabilities, names, { top: c.prediction });
  verdict($('private-verdict'), c.prediction, label, names);
  const cost = c.cost;
  const rows = [
    ['Communication rounds', cost.rounds],
    ['Client → server (online)', mb(cost.bytes_client_to_server)],
    ['Server → client (online)', mb(cost.bytes_server_to_client)],
    ['Dealer → server (offline, ahead of time)', mb(run.dealer.offline_bytes)],
    ['Measured in this tab (client)', `${c.measured_s.toFixed(2)} s`],
    ['Estimated on a LAN (0.1 ms, 1 GB/s)', `${cost.lan_s.toFixed(2)} s`],
    ['Estimated on a WAN (40 ms, 44 MB/s)', `${cost.wan_s.toFixed(2)} s`],
  ];
  $('cost').innerHTML = rows.map(([k, v]) => `<tr><th>${k}</th><td>${v}</td></tr>`).join('');
  $('cost').dataset.rounds = cost.rounds;
  $('cost').dataset.serverBytes = run.server.bytes_client_to_server + run.server.bytes_server_to_client;
  $('cost-box').classList.remove('stale');
  // In the order data flows: input, embedding, blocks, head, then anything else.
  const rank = (l) => (l === 'input' ? -3 : l === 'embed' ? -2 : /^layer \d+$/.test(l) ? Number(l.slice(6)) : l === 'head' ? 1e6 : 2e6);
  const layers = cost.by_layer.filter(([, s]) => s.rounds > 0).sort(([a], [b]) => rank(a) - rank(b));
  const most = Math.max(1, ...layers.map(([, s]) => s.rounds));
  bars($('breakdown'), layers.map(([, s]) => s.rounds), layers.map(([l]) => l || 'other'),
    { format: (v) => `${v} round${v === 1 ? '' : 's'}`, scale: (v) => v / most });
}

async function renderFamily() {
  const rows = [];
  const points = [];
  for (const m of state.index.models) {
    try {
      const manifest = state.models.get(m.name)?.manifest
        ?? JSON.parse(await (await fetchOk(`../models/${m.manifest}`, 'manifest')).text());
      state.manifests.set(m.name, manifest);
      const cost = manifest.cost ?? {};
      const acc = manifest.metrics?.test_accuracy;
      points.push({ name: m.name, dataset: m.dataset, acc: 100 * acc, wan: cost.wan_s });
      rows.push(`<tr><td>${m.name}</td><td>${m.dataset}</td><td>${acc != null ? (100 * acc).toFixed(2) + '%' : '–'}</td>`
        + `<td>${cost.rounds ?? '–'}</td><td>${cost.online_bytes != null ? mb(cost.online_bytes) : '–'}</td><td>${cost.wan_s != null ? cost.wan_s.toFixed(2) + ' s' : '–'}</td></tr>`);
    } catch (err) {
      rows.push(`<tr><td>${m.name}</td><td colspan="5">${err.message}</td></tr>`);
    }
  }
  $('family').innerHTML = '<tr><th>model</th><th>dataset</th><th>test accuracy</th><th>rounds</th><th>online</th><th>WAN estimate</th></tr>' + rows.join('');
  drawPareto($('pareto'), points);
}

// ---------- variant explorer ----------
/** The Table-2 sweep (`models/variants-mnist.json`, one short training per variant); optional. */
let sweep = null;
async function loadSweep() {
  if (sweep == null) {
    try {
      sweep = await (await fetchOk('../models/variants-mnist.json', 'variant sweep')).json();
    } catch {
      sweep = [];
    }
  }
  return sweep;
}

/** Accuracy of a shipped model of this dataset and shape whose plan is `variant` everywhere,
 *  else of the sweep's model of that variant: `{acc, note}` or null. */
function accuracyOf(variant, dataset, config) {
  // Field by field: the files do not all list a config's fields in the same order.
  const sameShape = (c) => c != null && Object.keys(c).length === Object.keys(config).length
    && Object.keys(config).every((k) => c[k] === config[k]);
  for (const m of state.manifests.values()) {
    const v = m.plan.attention.variants.flat(3);
    const same = m.dataset === dataset && sameShape(m.config);
    if (same && !m.plan.gelu && v.every((x) => x === variant)) return { acc: m.metrics.test_accuracy, note: m.name };
  }
  const r = (sweep ?? []).find((x) => x.model === `variant-${variant}` && x.dataset === dataset
    && sameShape(x.config));
  return r ? { acc: r.test_accuracy, note: `${r.epochs}-epoch sweep` } : null;
}

$('compare-run').onclick = async () => {
  const model = state.current;
  if (!model) return;
  $('compare-run').disabled = true;
  $('compare-status').textContent = 'running every variant privately…';
  // Its own worker, so that classifying stays responsive while this runs.
  const worker = new WorkerClient(PLAIN_WORKER, { name: 'variant explorer' });
  try {
    const rows = await worker.call(REQUEST.VARIANTS, { config: JSON.stringify(model.manifest.config) }, { timeoutMs: 600000 });
    await loadSweep();
    const body = rows.map((r) => {
      const a = accuracyOf(r.model, model.manifest.dataset, model.manifest.config);
      const acc = a ? `${(100 * a.acc).toFixed(2)}% <span class="muted small">(${a.note})</span>` : '–';
      return `<tr><td>${r.model}</td><td>${r.rounds}</td><td>${r.online_mb.toFixed(2)}</td>`
        + `<td>${r.lan_s.toFixed(3)} s</td><td>${r.wan_s.toFixed(2)} s</td><td>${acc}</td></tr>`;
    });
    $('variants').innerHTML = '<tr><th>attention</th><th>rounds</th><th>online MB</th><th>LAN</th><th>WAN</th>'
      + `<th>accuracy (${model.manifest.dataset})</th></tr>` + body.join('');
    $('variants').dataset.rows = rows.length;
    $('compare-status').textContent = '';
  } catch (err) {
    showError(`Measuring the variants failed: ${err.message}`);
    $('compare-status').textContent = '';
  } finally {
    worker.terminate();
    $('compare-run').disabled = false;
  }
};

// ---------- search live (search.js) ----------
/** Adds a model trained in this tab to the list (and the table); it is not selected. */
function addModel({ name, dataset, manifestText, manifest, weights }) {
  const entry = { name, dataset, weights: null, manifest: null, test_accuracy: manifest.metrics?.test_accuracy, trained_here: true };
  state.index.models.push(entry);
  state.models.set(name, { entry, manifestText, manifest, weights });
  const opt = document.createElement('option');
  opt.value = name;
  opt.textContent = `${name} (${dataset}, trained here${entry.test_accuracy != null ? `, ${(100 * entry.test_accuracy).toFixed(1)}% accurate` : ''})`;
  $('model').append(opt);
  renderFamily();
}
function useModel(name) {
  $('model').value = name;
  selectModel();
  $('setup').scrollIntoView({ behavior: 'smooth' });
}
initSearch({
  models: () => state.index?.models ?? [],
  loadModel,
  addModel,
  useModel,
  fetchOk,
  showError,
});

setPhase('idle');
loadIndex();
