// The page: model and network choice, image input (draw, sample, upload), the private and
// plaintext results side by side, and the cost of the private inference.
import { classifyPrivately, PROFILES } from './private.js';

const $ = (id) => document.getElementById(id);
const state = { index: null, models: new Map(), current: null, samples: new Map(), pixels: null, drawn: false };
window.__mpcvit = state; // for the end-to-end test

// ---------- the plaintext worker (request / response by id) ----------
const plain = new Worker(new URL('./workers/plain.js', import.meta.url), { type: 'module' });
let nextId = 0;
const pending = new Map();
plain.onmessage = (e) => {
  const p = pending.get(e.data.id);
  pending.delete(e.data.id);
  if (p) (e.data.ok ? p.resolve(e.data.result) : p.reject(new Error(e.data.error)));
};
plain.onerror = (e) => showError(`The local worker failed: ${e.message || 'script error'}`);
function ask(message, transfer = []) {
  const id = nextId++;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject });
    plain.postMessage({ ...message, id }, transfer);
  });
}

// ---------- errors and status ----------
let retryAction = null;
function showError(text, retry) {
  $('error-text').textContent = text;
  $('error').hidden = false;
  retryAction = retry ?? null;
  $('retry').hidden = !retryAction;
  setStatus('');
}
$('retry').onclick = () => { $('error').hidden = true; retryAction?.(); };
function setStatus(text) { $('status').textContent = text; }

async function fetchOk(url, kind) {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${kind} ${url}: HTTP ${r.status}`);
  return r;
}

// ---------- models ----------
async function loadIndex() {
  try {
    state.index = await (await fetchOk('../models/index.json', 'model list')).json();
  } catch (err) {
    showError(`No models could be loaded (${err.message}). Run ./scripts/serve.sh from the repository root.`, loadIndex);
    return;
  }
  const select = $('model');
  select.innerHTML = '';
  for (const m of state.index.models) {
    const opt = document.createElement('option');
    opt.value = m.name;
    opt.textContent = `${m.name} (${m.dataset}${m.test_accuracy ? `, ${(100 * m.test_accuracy).toFixed(1)}%` : ''})`;
    select.append(opt);
  }
  const preferred = state.index.models.find((m) => m.name === 'mnist-softmax') ?? state.index.models[0];
  if (preferred) select.value = preferred.name;
  await selectModel();
  renderFamily();
}

async function loadModel(name) {
  if (state.models.has(name)) return state.models.get(name);
  const entry = state.index.models.find((m) => m.name === name);
  const [manifestText, weights] = await Promise.all([
    fetchOk(`../models/${entry.manifest}`, 'manifest').then((r) => r.text()),
    fetchOk(`../models/${entry.weights}`, 'weights').then((r) => r.arrayBuffer()).then((b) => new Uint8Array(b)),
  ]);
  const model = { entry, manifestText, manifest: JSON.parse(manifestText), weights };
  state.models.set(name, model);
  return model;
}

async function selectModel() {
  $('classify').disabled = true;
  const name = $('model').value;
  try {
    setStatus(`loading ${name}…`);
    const model = await loadModel(name);
    await ask({ type: 'load', weights: model.weights.slice(), manifest: model.manifestText });
    state.current = model;
    const c = model.manifest.config;
    $('model-info').textContent = `${c.image_size}×${c.image_size} input, patch ${c.patch}, width ${c.dim}, ` +
      `${c.depth} blocks × ${c.heads} heads; attention plan: ${describePlan(model.manifest.plan, c)}.`;
    await loadSamples(model.manifest.dataset);
    $('classify').disabled = false;
    setStatus('');
  } catch (err) {
    showError(`Could not load model ${name}: ${err.message}`, selectModel);
  }
}
$('model').onchange = selectModel;

function describePlan(plan, c) {
  const v = plan.attention.variants.flat(3);
  const counts = {};
  v.forEach((a) => { counts[a] = (counts[a] ?? 0) + 1; });
  let s = Object.entries(counts).map(([a, n]) => `${a} ${Math.round((100 * n) / v.length)}%`).join(', ');
  s += ` per ${plan.attention.granularity}`;
  if (plan.gelu) {
    const t = plan.gelu.linearised.flat();
    s += `; GeLU linearised on ${t.filter(Boolean).length} of ${t.length} tokens`;
  }
  return s;
}

// ---------- samples ----------
async function loadSamples(dataset) {
  if (!state.samples.has(dataset)) {
    const r = await fetchOk(`samples/${dataset}.json`, 'samples');
    state.samples.set(dataset, await r.json());
  }
  const set = state.samples.get(dataset);
  const box = $('samples');
  box.innerHTML = '';
  set.images.forEach((img, i) => {
    const cv = document.createElement('canvas');
    cv.width = set.cols; cv.height = set.rows;
    cv.title = `test image ${img.index}: ${set.classes[img.label]}`;
    cv.dataset.label = img.label;
    cv.dataset.i = i;
    const ctx = cv.getContext('2d');
    const data = ctx.createImageData(set.cols, set.rows);
    img.pixels.forEach((p, k) => { data.data.set([p, p, p, 255], 4 * k); });
    ctx.putImageData(data, 0, 0);
    cv.onclick = () => {
      box.querySelectorAll('canvas').forEach((c) => c.classList.remove('selected'));
      cv.classList.add('selected');
      state.pixels = Uint8Array.from(img.pixels);
      state.label = img.label;
      state.drawn = false;
    };
    box.append(cv);
  });
}

// ---------- drawing and upload ----------
const canvas = $('canvas');
const ctx = canvas.getContext('2d');
function clearCanvas() {
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  state.drawn = false;
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
  ctx.beginPath();
  ctx.moveTo(...pos(e));
});
canvas.addEventListener('pointermove', (e) => {
  if (!drawing) return;
  ctx.lineWidth = 20; ctx.lineCap = 'round'; ctx.lineJoin = 'round'; ctx.strokeStyle = '#000';
  ctx.lineTo(...pos(e));
  ctx.stroke();
  state.drawn = true;
  state.pixels = null;
  $('samples').querySelectorAll('canvas').forEach((c) => c.classList.remove('selected'));
});
['pointerup', 'pointercancel'].forEach((t) => canvas.addEventListener(t, () => { drawing = false; }));

$('upload').onchange = async (e) => {
  const file = e.target.files[0];
  if (!file) return;
  try {
    const bmp = await createImageBitmap(file);
    clearCanvas();
    const s = Math.min(canvas.width / bmp.width, canvas.height / bmp.height);
    ctx.drawImage(bmp, (canvas.width - bmp.width * s) / 2, (canvas.height - bmp.height * s) / 2, bmp.width * s, bmp.height * s);
    state.drawn = true;
    state.pixels = null;
  } catch (err) {
    showError(`That file could not be read as an image (${err.message}).`);
  }
  e.target.value = '';
};

async function inputPixels() {
  if (state.drawn) {
    const img = ctx.getImageData(0, 0, canvas.width, canvas.height);
    const rgba = new Uint8Array(img.data.buffer.slice(0));
    return ask({ type: 'prepare', rgba, width: canvas.width, height: canvas.height }, [rgba.buffer]);
  }
  if (state.pixels) return state.pixels;
  throw new Error('Draw something, pick a sample or upload an image first.');
}

// ---------- classify ----------
function profile() {
  const p = $('profile').value;
  if (p !== 'custom') return PROFILES[p];
  return { name: 'custom', rtt_ms: Number($('rtt').value), mbytes_per_s: Number($('bw').value) };
}
$('profile').onchange = () => { $('custom').hidden = $('profile').value !== 'custom'; };

async function classify() {
  const model = state.current;
  if (!model) return;
  $('error').hidden = true;
  $('classify').disabled = true;
  try {
    const pixels = await inputPixels();
    setStatus('plaintext reference…');
    const reference = await ask({ type: 'classify', pixels: pixels.slice() });
    const net = profile();
    setStatus(`private inference in progress (client, server and dealer workers${net ? `, ${net.name} network imposed` : ''})…`);
    const t0 = performance.now();
    const run = await classifyPrivately({ manifest: model.manifestText, weights: model.weights, pixels, profile: net });
    run.wallSeconds = (performance.now() - t0) / 1000;
    state.last = { reference, run, label: state.drawn ? null : state.label };
    render(model, reference, run);
    setStatus('');
  } catch (err) {
    showError(err.message, classify);
  } finally {
    $('classify').disabled = false;
  }
}
$('classify').onclick = classify;

// ---------- rendering ----------
const classes = (m) => state.samples.get(m.manifest.dataset)?.classes
  ?? [...Array(m.manifest.config.classes).keys()].map(String);
const percent = (v) => `${(100 * v).toFixed(1)}%`;
function bars(el, values, names, format = percent) {
  el.innerHTML = '';
  const max = Math.max(...values, 1e-9);
  values.forEach((v, i) => {
    const row = document.createElement('div');
    row.className = 'bar';
    row.innerHTML = '<span class="label"></span><span class="fill"></span><span class="value"></span>';
    row.children[0].textContent = names[i];
    row.children[1].style.width = `${Math.max(1, (160 * v) / max)}px`;
    row.children[2].textContent = format(v);
    el.append(row);
  });
}
const mb = (b) => `${(b / 1e6).toFixed(2)} MB`;

function render(model, reference, run) {
  const names = classes(model);
  const c = run.client;
  $('results').hidden = false;
  $('private-pred').textContent = names[c.prediction];
  $('private-pred').dataset.class = c.prediction;
  $('plain-pred').textContent = names[reference.prediction];
  $('plain-pred').dataset.class = reference.prediction;
  bars($('private-bars'), c.probabilities, names);
  bars($('plain-bars'), Array.from(reference.probabilities), names);
  const cost = c.cost;
  const rows = [
    ['Communication rounds', cost.rounds],
    ['Client → server (online)', mb(cost.bytes_client_to_server)],
    ['Server → client (online)', mb(cost.bytes_server_to_client)],
    ['Dealer → server (offline)', mb(run.dealer.offline_bytes)],
    ['Measured in this tab (client)', `${c.measured_s.toFixed(2)} s`],
    ['Estimated on LAN (0.1 ms, 1 GB/s)', `${cost.lan_s.toFixed(2)} s`],
    ['Estimated on WAN (40 ms, 44 MB/s)', `${cost.wan_s.toFixed(2)} s`],
  ];
  $('cost').innerHTML = rows.map(([k, v]) => `<tr><th>${k}</th><td>${v}</td></tr>`).join('');
  $('cost').dataset.rounds = cost.rounds;
  $('cost').dataset.serverBytes = run.server.bytes_client_to_server + run.server.bytes_server_to_client;
  const layers = cost.by_layer.filter(([, s]) => s.rounds > 0);
  bars($('breakdown'), layers.map(([, s]) => s.rounds), layers.map(([l]) => l || 'other'), (v) => `${v} rounds`);
}

async function renderFamily() {
  const rows = [];
  state.manifests = new Map();
  for (const m of state.index.models) {
    try {
      const manifest = JSON.parse(await (await fetchOk(`../models/${m.manifest}`, 'manifest')).text());
      state.manifests.set(m.name, manifest);
      const cost = manifest.cost ?? {};
      rows.push(`<tr><td>${m.name}</td><td>${m.dataset}</td><td>${manifest.metrics.test_accuracy != null ? (100 * manifest.metrics.test_accuracy).toFixed(2) + '%' : '–'}</td>` +
        `<td>${cost.rounds ?? '–'}</td><td>${cost.online_bytes != null ? mb(cost.online_bytes) : '–'}</td><td>${cost.wan_s != null ? cost.wan_s.toFixed(2) + ' s' : '–'}</td></tr>`);
    } catch (err) {
      rows.push(`<tr><td>${m.name}</td><td colspan="5">${err.message}</td></tr>`);
    }
  }
  $('family').innerHTML = '<tr><th>model</th><th>dataset</th><th>test accuracy</th><th>rounds</th><th>online</th><th>WAN estimate</th></tr>' + rows.join('');
}

// ---------- variant explorer ----------
/** Accuracy of a shipped model of this dataset and shape whose plan is `variant` everywhere. */
function accuracyOf(variant, dataset, config) {
  for (const m of state.manifests?.values() ?? []) {
    const v = m.plan.attention.variants.flat(3);
    const same = m.dataset === dataset && JSON.stringify(m.config) === JSON.stringify(config);
    if (same && !m.plan.gelu && v.every((x) => x === variant)) return m.metrics.test_accuracy;
  }
  return null;
}

$('compare-run').onclick = async () => {
  const model = state.current;
  if (!model) return;
  $('compare-run').disabled = true;
  $('compare-status').textContent = 'running every variant privately…';
  try {
    const rows = await ask({ type: 'variants', config: JSON.stringify(model.manifest.config) });
    const body = rows.map((r) => {
      const acc = accuracyOf(r.model, model.manifest.dataset, model.manifest.config);
      return `<tr><td>${r.model}</td><td>${r.rounds}</td><td>${r.online_mb.toFixed(2)}</td>` +
        `<td>${r.lan_s.toFixed(3)} s</td><td>${r.wan_s.toFixed(2)} s</td><td>${acc != null ? (100 * acc).toFixed(2) + '%' : '–'}</td></tr>`;
    });
    $('variants').innerHTML = '<tr><th>attention</th><th>rounds</th><th>online MB</th><th>LAN</th><th>WAN</th>' +
      `<th>accuracy (${model.manifest.dataset})</th></tr>` + body.join('');
    $('variants').dataset.rows = rows.length;
    $('compare-status').textContent = '';
  } catch (err) {
    showError(`Measuring the variants failed: ${err.message}`);
    $('compare-status').textContent = '';
  } finally {
    $('compare-run').disabled = false;
  }
};

loadIndex();
