// The variant explorer: the private cost of every attention variant of the paper's Table 2 and
// of MPCViT budgets, for the selected model's shape, measured now in a worker by running the
// real protocol, with the accuracy of shipped models (full training) and of the Table-2 sweep
// (2 epochs, MNIST) in separate columns so that figures of different trainings never mix.
import { $, fetchOk, esc, seconds, tableHtml } from './util.js';
import { state, showError } from './state.js';
import { startWorker } from './wasm.js';
import { REQUEST } from './protocol.js';
import { describeModel } from './models.js';

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

// Field by field: the files do not all list a config's fields in the same order.
const sameShape = (a, b) => a != null && Object.keys(a).length === Object.keys(b).length
  && Object.keys(b).every((k) => a[k] === b[k]);

/** The shipped models of this dataset and shape (not the ones trained in the tab). */
function shippedLike(model) {
  return [...state.manifests.entries()].filter(([name, m]) => m.dataset === model.manifest.dataset
    && sameShape(m.config, model.manifest.config) && !state.models.get(name)?.entry.trained_here);
}

const pct = (acc, note) => `${(100 * acc).toFixed(2)}% <span class="muted small">${esc(note)}</span>`;

/** Accuracy of the shipped model whose plan is `variant` everywhere (no GeLU plan), or '–'. */
function shippedAccuracy(shipped, variant) {
  const hit = shipped.find(([, m]) => !m.plan.gelu && m.plan.attention.variants.flat(3).every((v) => v === variant));
  return hit ? pct(hit[1].metrics.test_accuracy, `${hit[0]}, ${hit[1].training?.epochs ?? '?'} epochs`) : '–';
}

function sweepAccuracy(model, variant) {
  if (model.manifest.dataset !== 'mnist') return '<span class="muted small">MNIST only</span>';
  const r = sweep.find((x) => x.model === `variant-${variant}` && sameShape(x.config, model.manifest.config));
  return r ? pct(r.test_accuracy, `${r.epochs} epochs`) : '–';
}

function rows(model, measured) {
  const shipped = shippedLike(model);
  const cost = (r) => [r.rounds, r.online_mb.toFixed(2), seconds(r.lan_s, 3), seconds(r.wan_s)];
  const body = measured.map((r) => {
    const mu = /^MPCViT mu=(.*)$/.exec(r.model)?.[1];
    if (mu == null) return [esc(r.model), ...cost(r), shippedAccuracy(shipped, r.model), sweepAccuracy(model, r.model)];
    return [`MPCViT μ=${mu} <span class="muted small">random plan</span>`, ...cost(r), '<span class="muted small">not trained</span>', '–'];
  });
  // The shipped searched models: their own plan's cost, measured when they were made.
  for (const [name, m] of shipped.filter(([n]) => /mpcvit/.test(n))) {
    const c = m.cost ?? {};
    // LAN left out: the manifest's LAN time holds the compute of the machine that made it.
    const title = describeModel({ name, dataset: m.dataset }).title.replace(/ \(.*\)$/, '');
    body.push([`${esc(title)} <span class="muted small">searched plan, shipped</span>`,
      c.rounds ?? '–', c.online_bytes != null ? (c.online_bytes / 1e6).toFixed(2) : '–', '–', c.wan_s != null ? seconds(c.wan_s) : '–',
      pct(m.metrics.test_accuracy, `${m.training?.epochs ?? '?'} epochs`), '–']);
  }
  return body;
}

/** Forgets the table, which belonged to the previous model's shape and dataset; the button
 *  names `model`, the one being selected (null while none is). */
export function resetExplorer(model) {
  $('variants').innerHTML = '';
  delete $('variants').dataset.rows;
  delete $('variants').dataset.dataset;
  $('compare-run').textContent = model ? `Measure for ${describeModel(model.entry).title}` : 'Measure for this model';
}

async function measure() {
  const model = state.current;
  if (!model) return;
  $('compare-run').disabled = true;
  $('compare-status').textContent = 'running every variant privately (about half a minute)…';
  // Its own worker, so that classifying stays responsive while this runs.
  const worker = startWorker('plain.js', 'variant explorer');
  try {
    const measured = await worker.call(REQUEST.VARIANTS, { config: JSON.stringify(model.manifest.config) }, { timeoutMs: 600000 });
    await loadSweep();
    if (state.current !== model) return; // another model was chosen meanwhile
    const head = ['attention', 'rounds', 'online MB', 'LAN', 'WAN',
      `accuracy (${esc(model.manifest.dataset)}, full training)`, 'accuracy (MNIST, 2-epoch sweep)'];
    $('variants').innerHTML = tableHtml(head, rows(model, measured));
    $('variants').dataset.rows = measured.length;
    $('variants').dataset.dataset = model.manifest.dataset;
    $('compare-status').textContent = '';
  } catch (err) {
    showError(`Measuring the variants failed: ${err.message}`);
    $('compare-status').textContent = '';
  } finally {
    worker.terminate();
    $('compare-run').disabled = false;
  }
}

export function initExplorer() {
  $('compare-run').onclick = measure;
}
