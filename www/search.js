// The page's "Search live" section: search, binarise and retrain a model in the trainer worker
// (workers/trainer.js) on the page's small dataset subsets (www/data/, the first images of
// each split), with a progress bar, loss / accuracy curves and the alpha heat map updating as
// it trains. The retrained model is added to the page's model list, where it can be used
// privately at once, and can be downloaded as safetensors + manifest.
import { WorkerClient, REQUEST, Cancelled } from './protocol.js';

const $ = (id) => document.getElementById(id);
const TRAINER_WORKER = new URL('./workers/trainer.js', import.meta.url);
const LONG = 120000; // no progress for 2 minutes means the worker is stuck

let trainer = null;
/** A working trainer worker: a failed one (e.g. the wasm did not load) is replaced. */
function worker() {
  if (!trainer || trainer.failure) {
    trainer?.terminate();
    trainer = new WorkerClient(TRAINER_WORKER, { name: 'trainer' });
  }
  return trainer;
}

const data = new Map(); // 'mnist-train' -> Uint8Array
/** The page's dataset file `data/<dataset>-<split>.bin` (fetched once). */
async function dataset(name, split, fetchOk) {
  const key = `${name}-${split}`;
  if (!data.has(key)) {
    const r = await fetchOk(`data/${key}.bin`, 'training data');
    data.set(key, new Uint8Array(await r.arrayBuffer()));
  }
  return data.get(key);
}

/** Settings of one training run as the Rust `TrainConfig` JSON. */
function trainSettings(dataset, epochs) {
  return JSON.stringify({
    epochs, batch_size: 64, lr: 0.002, min_lr: 0.00002, warmup_epochs: 0.5, weight_decay: 0.05,
    augment: { max_shift: 1, hflip: dataset === 'fashion' },
    seed: crypto.getRandomValues(new Uint32Array(1))[0],
  });
}

// ---------------------------------------------------------------- drawing
function setupCanvas(cv) {
  const ctx = cv.getContext('2d');
  ctx.clearRect(0, 0, cv.width, cv.height);
  ctx.font = '11px system-ui, sans-serif';
  return ctx;
}

/** Loss (left axis) and accuracy (right axis, 0-100%) against the steps of one phase. */
function drawCurves(cv, points, total, title) {
  const ctx = setupCanvas(cv);
  ctx.fillStyle = '#1b1f24';
  ctx.fillText(title, 40, 8);
  const [w, h, l, r, t, b] = [cv.width, cv.height, 34, 34, 14, 22];
  if (!points.length) return;
  const maxLoss = Math.max(0.1, ...points.map((p) => p.loss));
  const x = (s) => l + ((w - l - r) * s) / Math.max(1, total);
  const yLoss = (v) => t + (h - t - b) * (1 - v / maxLoss);
  const yAcc = (v) => t + (h - t - b) * (1 - v);
  ctx.strokeStyle = '#e3e6ea';
  ctx.strokeRect(l, t, w - l - r, h - t - b);
  ctx.fillStyle = '#5b6470';
  ctx.fillText(maxLoss.toFixed(2), 2, t + 8);
  ctx.fillText('0', 2, h - b);
  ctx.fillText('100%', w - r + 3, t + 8);
  ctx.fillText('step', w / 2 - 10, h - 6);
  for (const [key, colour, y] of [['loss', '#b3261e', yLoss], ['accuracy', '#2458d3', yAcc]]) {
    ctx.strokeStyle = colour;
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    points.forEach((p, i) => (i ? ctx.lineTo(x(p.step), y(p[key])) : ctx.moveTo(x(p.step), y(p[key]))));
    ctx.stroke();
  }
  ctx.fillStyle = '#b3261e';
  ctx.fillText('loss', l + 4, h - b - 4);
  ctx.fillStyle = '#2458d3';
  ctx.fillText('accuracy', l + 34, h - b - 4);
}

/** The alphas as a heat map: one row per layer, one column per head (or per head and row). */
function drawHeat(cv, alphas, depth, heads) {
  const ctx = setupCanvas(cv);
  const per = alphas.length / depth;
  const [l, t, b] = [44, 4, 18];
  const cw = (cv.width - l - 4) / per;
  const ch = (cv.height - t - b) / depth;
  for (let layer = 0; layer < depth; layer++) {
    ctx.fillStyle = '#5b6470';
    ctx.fillText(`layer ${layer}`, 2, t + ch * layer + ch / 2 + 4);
    for (let u = 0; u < per; u++) {
      const a = alphas[layer * per + u];
      // White (alpha 0, ScaleAttn) to the accent blue (alpha 1, RSAttn).
      ctx.fillStyle = `rgb(${Math.round(255 - 219 * a)}, ${Math.round(255 - 167 * a)}, ${Math.round(255 - 44 * a)})`;
      ctx.fillRect(l + u * cw, t + layer * ch, Math.max(1, cw - (per <= 16 ? 2 : 0)), ch - 2);
      if (per <= 16 && cw > 30) {
        ctx.fillStyle = a > 0.55 ? '#fff' : '#1b1f24';
        ctx.fillText(a.toFixed(2), l + u * cw + cw / 2 - 12, t + layer * ch + ch / 2 + 4);
      }
    }
  }
  ctx.fillStyle = '#5b6470';
  const unit = per === 1 ? 'whole layer' : per === heads ? 'head' : `head × row (${per / heads} rows each)`;
  ctx.fillText(`columns: ${unit}`, l, cv.height - 4);
}

/** The plan as a layer x head grid: the variant, or for row plans the RSAttn rows of each head. */
function renderPlan(el, plan, cfg) {
  const a = plan.attention;
  const cell = (layer, head) => {
    if (a.granularity === 'layer') return [a.variants[layer], a.variants[layer]];
    if (a.granularity === 'head') return [a.variants[layer][head], a.variants[layer][head]];
    const rows = a.variants[layer][head];
    const kept = rows.filter((v) => v === 'rsattn').length;
    return [kept > rows.length / 2 ? 'rsattn' : 'scale', `${kept}/${rows.length} rows`];
  };
  let html = `<div class="plan-grid" style="grid-template-columns: auto repeat(${cfg.heads}, minmax(4.5em, 1fr))">`;
  for (let layer = 0; layer < cfg.depth; layer++) {
    html += `<span class="layer">layer ${layer}</span>`;
    for (let head = 0; head < cfg.heads; head++) {
      const [cls, text] = cell(layer, head);
      html += `<span class="${cls}" title="layer ${layer}, head ${head}">${text}</span>`;
    }
  }
  el.innerHTML = `${html}</div>`;
}

const mb = (b) => `${(b / 1e6).toFixed(2)} MB`;

// ---------------------------------------------------------------- the section
/**
 * Wires the section. `page` gives access to the rest of the page: `models()` (index entries),
 * `loadModel(name)` -> {manifest, manifestText, weights}, `addModel(model)` (adds and selects
 * a trained model), `useModel(name)`, `fetchOk(url, kind)`.
 */
export function initSearch(page) {
  // points: the current phase's curve (search, then retraining), total: its steps.
  const state = { search: null, binarised: null, points: [], total: 0, title: '', trained: null, urls: [] };
  window.__mpcvitSearch = state; // for the end-to-end test

  const status = (text) => { $('s-status').textContent = text; };
  const phase = (p) => { $('search').dataset.phase = p; };
  const busy = (on) => {
    for (const id of ['s-start', 's-binarise', 's-retrain']) $(id).disabled = on;
    $('s-stop').hidden = !on;
    $('s-progress').hidden = !on && !state.points.length;
  };
  const fail = (what, err, retry) => {
    busy(false);
    phase('error');
    status('');
    if (!(err instanceof Cancelled)) page.showError(`${what}: ${err.message}`, retry);
  };

  /** The shipped Softmax model of `dataset`: the teacher, and the shape the student takes. */
  const teacherOf = (dataset) => page.models().find((m) => m.dataset === dataset && m.name === `${dataset}-softmax`)
    ?? page.models().find((m) => m.dataset === dataset && /softmax/.test(m.name));

  function progress(p) {
    if (p.step == null || !p.total) return;
    state.total = p.total;
    state.points.push({ step: p.step, loss: p.loss, accuracy: p.accuracy });
    drawCurves($('s-curves'), state.points, state.total, state.title);
    $('s-progress').max = p.total;
    $('s-progress').value = p.step;
  }

  async function startSearch() {
    const ds = $('s-dataset').value;
    const teacher = teacherOf(ds);
    busy(true);
    phase('searching');
    state.points = [];
    state.title = 'search (loss includes the latency penalty)';
    state.binarised = null;
    $('s-binarise-box').hidden = true;
    $('s-retrain-box').hidden = true;
    try {
      if (!teacher) throw new Error(`no shipped Softmax model of ${ds} to take the shape from and distil`);
      status('loading the training images and the teacher…');
      const [train, t] = await Promise.all([dataset(ds, 'train', page.fetchOk), page.loadModel(teacher.name)]);
      const cfg = t.manifest.config;
      const size = Number($('s-size').value);
      const lambda = Number($('s-lambda').value);
      const epochs = Number($('s-epochs').value);
      if (!(lambda >= 0) || !(epochs >= 1 && epochs <= 20)) throw new Error('λ must be ≥ 0 and the epochs between 1 and 20');
      const granularity = $('s-granularity').value;
      state.search = { dataset: ds, size, granularity, lambda, epochs, config: cfg, teacher: teacher.name };
      status('measuring each unit\'s private latency on the real protocol…');
      $('s-views').hidden = false;
      $('s-progress').hidden = false;
      $('s-progress').removeAttribute('value');
      const settings = trainSettings(ds, epochs);
      const last = await worker().call(REQUEST.SEARCH, {
        train: train.slice(), size, config: JSON.stringify(cfg), settings,
        search: JSON.stringify({ granularity, lambda, alpha_lr: 0.01, profile: 'wan' }),
      }, {
        timeoutMs: LONG,
        onProgress: (p) => {
          if (p.latency) state.search.latency = p.latency;
          if (p.alphas) drawHeat($('s-heat'), p.alphas, cfg.depth, cfg.heads);
          state.search.alphas = p.alphas;
          progress(p);
          if (p.total) {
            status(`search: step ${p.step} of ${p.total}, loss ${p.loss.toFixed(3)} (latency penalty ${p.penalty.toFixed(3)}), `
              + `accuracy ${(100 * p.accuracy).toFixed(1)}%, ${Math.round(p.images_per_sec)} images/s`);
          }
        },
      });
      const lat = state.search.latency;
      status(`${last.stopped ? 'search stopped early' : 'search done'}: one head's RSAttn costs ${lat.rs_attn_head.toFixed(3)} s `
        + `more than ScaleAttn on a ${lat.profile} (measured); now binarise.`);
      phase('searched');
      busy(false);
      $('s-binarise-box').hidden = false;
    } catch (err) {
      fail('The search failed', err, startSearch);
    }
  }

  async function binarise() {
    const mu = Number($('s-mu').value);
    busy(true);
    status('binarising and measuring the plan\'s private cost…');
    try {
      if (!(mu >= 0 && mu <= 1)) throw new Error('μ must be between 0 and 1');
      const b = await worker().call(REQUEST.BINARISE, { mu, perLayer: $('s-per-layer').checked }, { timeoutMs: LONG });
      b.mu = mu; // as typed (the worker's copy is single precision)
      state.binarised = b;
      const cfg = state.search.config;
      renderPlan($('s-plan'), b.plan, cfg);
      const teacher = await page.loadModel(state.search.teacher);
      const tc = teacher.manifest.cost ?? {};
      const row = (k, v, w) => `<tr><th>${k}</th><td>${v}</td><td>${w ?? '–'}</td></tr>`;
      $('s-plan-cost').innerHTML = `<tr><th></th><th>this plan</th><th>${state.search.teacher} (teacher)</th></tr>`
        + row('RSAttn units', `${b.rsattn_units} of ${b.units}`, 'all Softmax')
        + row('rounds', b.cost.rounds, tc.rounds)
        + row('online traffic', mb(b.cost.online_bytes), tc.online_bytes != null ? mb(tc.online_bytes) : null)
        + row('WAN estimate (40 ms, 44 MB/s)', `${b.cost.wan_s.toFixed(2)} s`, tc.wan_s != null ? `${tc.wan_s.toFixed(2)} s` : null);
      $('s-plan-cost').dataset.rounds = b.cost.rounds;
      $('s-teacher').textContent = `teacher: ${state.search.teacher} (χ = β = γ = 1, T = 1)`;
      $('s-retrain-box').hidden = false;
      $('s-downloads').hidden = true;
      $('s-result').textContent = '';
      status(`plan: RSAttn on ${b.rsattn_units} of ${b.units} units; now retrain it.`);
      phase('binarised');
      busy(false);
    } catch (err) {
      fail('Binarising failed', err, binarise);
    }
  }

  async function retrain() {
    const s = state.search;
    const b = state.binarised;
    const epochs = Number($('s-retrain-epochs').value);
    busy(true);
    phase('retraining');
    try {
      if (!(epochs >= 1 && epochs <= 50)) throw new Error('the epochs must be between 1 and 50');
      const [train, test, teacher] = await Promise.all([
        dataset(s.dataset, 'train', page.fetchOk), dataset(s.dataset, 'test', page.fetchOk), page.loadModel(s.teacher)]);
      const name = uniqueName(`${s.dataset}-tab-${s.granularity}-mu${b.mu}${b.per_layer ? '-per-layer' : ''}`);
      state.points = [];
      state.title = 'retraining (loss: CE + KL + feature distance)';
      status('retraining with distillation…');
      const record = {
        search: JSON.stringify({
          granularity: s.granularity, lambda: s.lambda, epochs: s.epochs, train_images: s.size, mu: b.mu,
          per_layer: b.per_layer, alphas: s.alphas, latency: s.latency,
        }),
      };
      const r = await worker().call(REQUEST.RETRAIN, {
        train: train.slice(), size: s.size, test: test.slice(), config: JSON.stringify(s.config),
        plan: JSON.stringify(b.plan), settings: trainSettings(s.dataset, epochs),
        teacher: { weights: teacher.weights.slice(), manifest: teacher.manifestText },
        distill: JSON.stringify({ chi: 1, beta: 1, gamma: 1, temperature: 1 }), record, name,
      }, {
        timeoutMs: LONG,
        onProgress: (p) => {
          progress(p);
          status(`retraining: step ${p.step} of ${p.total}, loss ${p.loss.toFixed(3)}, accuracy `
            + `${(100 * p.accuracy).toFixed(1)}%, ${Math.round(p.images_per_sec)} images/s`);
        },
      });
      busy(false);
      if (r.stopped) {
        status('retraining stopped; press Retrain to start it again.');
        phase('binarised');
        return;
      }
      const manifest = JSON.parse(r.manifest);
      const weights = new Uint8Array(r.weights);
      state.trained = { name, manifest, accuracy: r.accuracy };
      page.addModel({ name, dataset: s.dataset, manifestText: r.manifest, manifest, weights });
      offerDownloads(name, weights, r.manifest);
      $('s-result').textContent = `${name}: ${(100 * r.accuracy).toFixed(1)}% on ${manifest.metrics.test_images} test images; `
        + `private inference: ${manifest.cost.rounds} rounds, ${mb(manifest.cost.online_bytes)}, ${manifest.cost.wan_s.toFixed(2)} s `
        + 'estimated on a WAN. It is now in the model list above.';
      status('');
      phase('trained');
    } catch (err) {
      fail('Retraining failed', err, retrain);
    }
  }

  function uniqueName(base) {
    const taken = new Set(page.models().map((m) => m.name));
    let name = base;
    for (let i = 2; taken.has(name); i++) name = `${base}-${i}`;
    return name;
  }

  function offerDownloads(name, weights, manifestText) {
    state.urls.forEach((u) => URL.revokeObjectURL(u));
    const w = URL.createObjectURL(new Blob([weights], { type: 'application/octet-stream' }));
    const m = URL.createObjectURL(new Blob([manifestText], { type: 'application/json' }));
    state.urls = [w, m];
    Object.assign($('s-dl-weights'), { href: w, download: `${name}.safetensors` });
    Object.assign($('s-dl-manifest'), { href: m, download: `${name}.json` });
    $('s-downloads').hidden = false;
  }

  $('s-start').onclick = startSearch;
  $('s-binarise').onclick = binarise;
  $('s-retrain').onclick = retrain;
  $('s-use').onclick = () => state.trained && page.useModel(state.trained.name);
  $('s-stop').onclick = () => {
    // Ends the running search or retraining after its current slice; what is done stays.
    trainer?.call(REQUEST.STOP, {}, { timeoutMs: 10000 }).catch(() => {});
    status('stopping after this slice…');
  };
  phase('idle');
}
