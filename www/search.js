// The page's "Search live" section: search, binarise and retrain a model in the trainer worker
// (workers/trainer.js) on the page's small dataset subsets (www/data/, the first images of
// each split), with a progress bar, loss / accuracy curves and the alpha heat map updating as
// it trains. The live progress (status, bar, curves) sits under the step that is running. The
// retrained model is added to the page's model list, where it can be used privately at once,
// and can be downloaded as safetensors + manifest.
import { $, fetchOk, mb, seconds, tableHtml } from './util.js';
import { showError } from './state.js';
import { REQUEST, Cancelled } from './protocol.js';
import { startWorker, wasmLibrary } from './wasm.js';
import { drawCurves, drawHeat, renderPlan } from './search-views.js';

const LONG = 120000; // no progress for 2 minutes means the worker is stuck
// The tab's runs differ from the library's defaults in two ways, on purpose: batches of 64
// give the small subsets (1000-4000 images) enough steps per epoch, and shifts of one pixel
// are those of the shipped models' training (`--shift 1`).
const TAB_TRAINING = { batch_size: 64, max_shift: 1 };

// points: the current phase's curve (search, then retraining), total: its steps.
const state = { search: null, binarised: null, points: [], total: 0, title: '', trained: null, urls: [] };
window.__mpcvitSearch = state; // for the end-to-end test
let page = null; // what the rest of the page lends this section (see initSearch)

let trainer = null;
/** A working trainer worker: a failed one (e.g. the wasm did not load) is replaced. */
function worker() {
  if (!trainer || trainer.failure) {
    trainer?.terminate();
    trainer = startWorker('trainer.js', 'trainer');
  }
  return trainer;
}

const data = new Map(); // 'mnist-train' -> Uint8Array
/** The page's dataset file `data/<dataset>-<split>.bin` (fetched once). */
async function dataset(name, split) {
  const key = `${name}-${split}`;
  if (!data.has(key)) {
    const r = await fetchOk(`data/${key}.bin`, 'training data');
    data.set(key, new Uint8Array(await r.arrayBuffer()));
  }
  return data.get(key);
}

const oodData = new Map(); // 'mnist-fonts' -> Uint8Array
/** The out-of-domain sets for models of `ds` (`ood/<name>.bin` in the repository, issue #13:
 *  fonts, canvas drawings, photographed uploads), fetched once: [{name, bytes}]. */
async function oodSets(ds) {
  const names = (await wasmLibrary()).ood_sets(ds);
  return Promise.all(names.map(async (name) => {
    if (!oodData.has(name)) {
      const r = await fetchOk(`../ood/${name}.bin`, 'out-of-domain set');
      oodData.set(name, new Uint8Array(await r.arrayBuffer()));
    }
    return { name, bytes: oodData.get(name) };
  }));
}

/** Settings of one training run as the Rust `TrainConfig` JSON: the library's defaults for
 *  the dataset, with the tab's batch size and shift, these epochs and a fresh seed. */
async function trainSettings(ds, epochs) {
  const defaults = (await wasmLibrary()).train_defaults(ds);
  return JSON.stringify({
    ...defaults, epochs, batch_size: TAB_TRAINING.batch_size,
    augment: { ...defaults.augment, max_shift: TAB_TRAINING.max_shift },
    seed: crypto.getRandomValues(new Uint32Array(1))[0],
  });
}

const status = (text) => { $('s-status').textContent = text; };
const phase = (p) => { $('search').dataset.phase = p; };
function busy(on) {
  for (const id of ['s-start', 's-binarise', 's-retrain']) $(id).disabled = on;
  $('s-stop').hidden = !on;
  $('s-progress').hidden = !on && !state.points.length;
}
function fail(what, err, retry) {
  busy(false);
  phase('error');
  status('');
  if (!(err instanceof Cancelled)) showError(`${what}: ${err.message}`, retry);
}
/** Moves the live view (status, progress bar, curves) under the step that runs. */
const liveUnder = (id) => $(id).append($('s-live'));

/** The shipped Softmax model of `dataset`: the teacher, and the shape the student takes. */
const teacherOf = (ds) => page.models().find((m) => m.dataset === ds && m.name === `${ds}-softmax`)
  ?? page.models().find((m) => m.dataset === ds && /softmax/.test(m.name));

function progress(p) {
  if (p.step == null || !p.total) return;
  state.total = p.total;
  state.points.push({ step: p.step, loss: p.loss, accuracy: p.accuracy });
  drawCurves($('s-curves'), state.points, state.total, state.title);
  $('s-progress').max = p.total;
  $('s-progress').value = p.step;
}

/** A new search: nothing of the previous one (plan, cost, retrained model) stays on screen. */
function resetSteps() {
  state.points = [];
  state.binarised = null;
  state.trained = null;
  for (const id of ['s-binarise-box', 's-retrain-box', 's-downloads']) $(id).hidden = true;
  for (const id of ['s-plan', 's-plan-cost', 's-result']) $(id).innerHTML = '';
  delete $('s-plan-cost').dataset.rounds;
  liveUnder('s-search-live');
}

function searchInputs(ds) {
  const lambda = Number($('s-lambda').value);
  const epochs = Number($('s-epochs').value);
  if (!(lambda >= 0) || !(epochs >= 1 && epochs <= 20)) throw new Error('λ must be ≥ 0 and the epochs between 1 and 20');
  return { dataset: ds, size: Number($('s-size').value), granularity: $('s-granularity').value, lambda, epochs };
}

function searchProgress(cfg) {
  return (p) => {
    if (p.latency) state.search.latency = p.latency;
    if (p.alphas) drawHeat($('s-heat'), p.alphas, cfg.depth, cfg.heads);
    state.search.alphas = p.alphas;
    progress(p);
    if (p.total) {
      status(`search: step ${p.step} of ${p.total}, loss ${p.loss.toFixed(3)} (latency penalty ${p.penalty.toFixed(3)}), `
        + `accuracy ${(100 * p.accuracy).toFixed(1)}%, ${Math.round(p.images_per_sec)} images/s`);
    }
  };
}

async function startSearch() {
  const ds = $('s-dataset').value;
  const teacher = teacherOf(ds);
  busy(true);
  phase('searching');
  resetSteps();
  state.title = 'search (loss includes the latency penalty)';
  try {
    if (!teacher) throw new Error(`no shipped Softmax model of ${ds} to take the shape from and distil`);
    const inputs = searchInputs(ds);
    status('loading the training images and the teacher…');
    const [train, t] = await Promise.all([dataset(ds, 'train'), page.loadModel(teacher.name)]);
    const cfg = t.manifest.config;
    state.search = { ...inputs, config: cfg, teacher: teacher.name };
    status('measuring each unit\'s private latency on the real protocol…');
    $('s-views').hidden = false;
    $('s-heat-box').hidden = false;
    $('s-progress').hidden = false;
    $('s-progress').removeAttribute('value');
    const last = await worker().call(REQUEST.SEARCH, {
      train: train.slice(), size: inputs.size, config: JSON.stringify(cfg), settings: await trainSettings(ds, inputs.epochs),
      search: JSON.stringify({ granularity: inputs.granularity, lambda: inputs.lambda, profile: 'wan' }),
    }, { timeoutMs: LONG, onProgress: searchProgress(cfg) });
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

async function showPlanCost(b) {
  const teacher = await page.loadModel(state.search.teacher);
  const tc = teacher.manifest.cost ?? {};
  const either = (v, f) => (v != null ? f(v) : '–');
  $('s-plan-cost').innerHTML = tableHtml(['', 'this plan', `${state.search.teacher} (teacher)`], [
    ['RSAttn units', `${b.rsattn_units} of ${b.units}`, 'all Softmax'],
    ['rounds', b.cost.rounds, either(tc.rounds, String)],
    ['online traffic', mb(b.cost.online_bytes), either(tc.online_bytes, mb)],
    ['WAN estimate', seconds(b.cost.wan_s), either(tc.wan_s, seconds)],
  ]);
  $('s-plan-cost').dataset.rounds = b.cost.rounds;
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
    renderPlan($('s-plan'), b.plan, state.search.config);
    await showPlanCost(b);
    const kd = (await wasmLibrary()).distill_defaults();
    $('s-teacher').textContent = `teacher: ${state.search.teacher} (χ = ${kd.chi}, β = ${kd.beta}, γ = ${kd.gamma}, T = ${kd.temperature})`;
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

function retrainRequest(s, b, epochs, [train, test, teacher, ood], name) {
  const record = {
    search: JSON.stringify({
      granularity: s.granularity, lambda: s.lambda, epochs: s.epochs, train_images: s.size, mu: b.mu,
      per_layer: b.per_layer, alphas: s.alphas, latency: s.latency,
    }),
  };
  return Promise.all([trainSettings(s.dataset, epochs), wasmLibrary()]).then(([settings, lib]) => ({
    train: train.slice(), size: s.size, test: test.slice(), config: JSON.stringify(s.config),
    plan: JSON.stringify(b.plan), settings, teacher: { weights: teacher.weights.slice(), manifest: teacher.manifestText },
    distill: JSON.stringify(lib.distill_defaults()), record, name, ood: ood.map((set) => set.bytes.slice()),
  }));
}

async function retrain() {
  const s = state.search;
  const b = state.binarised;
  const epochs = Number($('s-retrain-epochs').value);
  busy(true);
  phase('retraining');
  liveUnder('s-retrain-live');
  try {
    if (!(epochs >= 1 && epochs <= 50)) throw new Error('the epochs must be between 1 and 50');
    const inputs = await Promise.all([
      dataset(s.dataset, 'train'), dataset(s.dataset, 'test'), page.loadModel(s.teacher), oodSets(s.dataset),
    ]);
    const name = uniqueName(`${s.dataset}-tab-${s.granularity}-mu${b.mu}${b.per_layer ? '-per-layer' : ''}`);
    state.points = [];
    state.title = 'retraining (loss: CE + KL + feature distance)';
    status('retraining with distillation…');
    $('s-progress').hidden = false;
    $('s-progress').removeAttribute('value');
    const r = await worker().call(REQUEST.RETRAIN, await retrainRequest(s, b, epochs, inputs, name), {
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
    trained(name, s.dataset, r);
  } catch (err) {
    fail('Retraining failed', err, retrain);
  }
}

function trained(name, ds, r) {
  const manifest = JSON.parse(r.manifest);
  const weights = new Uint8Array(r.weights);
  state.trained = { name, manifest, accuracy: r.accuracy, ood: r.ood };
  page.addModel({ name, dataset: ds, manifestText: r.manifest, manifest, weights });
  offerDownloads(name, weights, r.manifest);
  const ood = (r.ood ?? []).map((o) => `${o.set} ${(100 * o.accuracy).toFixed(1)}%`
    + (o.unreadable ? ` (${o.unreadable} unreadable)` : '')).join(', ');
  $('s-result').textContent = `${name}: ${(100 * r.accuracy).toFixed(1)}% on ${manifest.metrics.test_images} test images; `
    + (ood ? `out of domain (what people draw and upload): ${ood}; ` : '')
    + `private inference: ${manifest.cost.rounds} rounds, ${mb(manifest.cost.online_bytes)}, ${seconds(manifest.cost.wan_s)} `
    + 'estimated on a WAN. It is now in the model list above.';
  status('');
  phase('trained');
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

/**
 * Wires the section. `lent` gives access to the rest of the page: `models()` (index entries),
 * `loadModel(name)` -> {manifest, manifestText, weights}, `addModel(model)` (adds a trained
 * model to the list), `useModel(name)` (selects it).
 */
export function initSearch(lent) {
  page = lent;
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
