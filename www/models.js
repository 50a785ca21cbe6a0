// The model list: the shipped models (models/index.json) grouped by dataset with a plain name
// and one line each, loading the selected one into the plaintext worker, the models trained in
// this tab, and remembering the last choice.
import { $, fetchOk, remembered } from './util.js';
import { state, setPhase, setStatus, showError, hideError } from './state.js';
import { plainWorker } from './wasm.js';
import { REQUEST } from './protocol.js';

export const DATASETS = [
  ['mnist', 'Handwritten digits (MNIST)'],
  ['fashion', 'Clothing (Fashion-MNIST)'],
];

/** `{title, line}`: a plain-language name for the model list and one line saying what it is. */
export function describeModel(entry) {
  const rest = entry.name.replace(`${entry.dataset}-`, '');
  const mu = /mu([0-9.]+)/.exec(rest)?.[1];
  if (entry.trained_here) {
    return { title: `${entry.name} (trained in this tab)`, line: 'Trained here by Search live: the searched plan, retrained with distillation.' };
  }
  if (rest === 'softmax') return { title: 'Softmax attention (baseline)', line: 'The usual ViT attention: the most accurate, and the slowest privately (its exponentials and divisions need many rounds).' };
  if (rest === 'scale') return { title: 'ScaleAttn everywhere (fastest)', line: 'Linear attention (scores scaled, no softmax) in every head: no comparisons, the fewest rounds.' };
  if (rest === 'rsattn') return { title: 'RSAttn everywhere', line: 'ReLU-Softmax attention (a ReLU instead of the exponential) in every head: cheaper than Softmax, still comparisons.' };
  if (mu && rest.includes('plus')) {
    return { title: `MPCViT+ μ=${mu}`, line: `As MPCViT μ=${mu}, and the MLP's GeLU is replaced by a cheaper linear map on the tokens the search found least useful.` };
  }
  if (mu) {
    return { title: `MPCViT μ=${mu} (searched mix)`, line: `The paper's method: a search chose which ${Math.round(100 * mu)}% of the attention heads keep RSAttn; the others use the cheap ScaleAttn.` };
  }
  return { title: entry.name, line: entry.description ?? '' };
}

const accuracyText = (acc) => (acc != null ? `${(100 * acc).toFixed(1)}%` : '');

function option(entry) {
  const acc = accuracyText(entry.test_accuracy);
  return new Option(`${describeModel(entry).title}${acc ? ` — ${acc} accurate` : ''}`, entry.name);
}

/** Rebuilds the list: one group per dataset, digits first, each group's models by name. */
function fillList() {
  const select = $('model');
  const keep = select.value;
  select.replaceChildren();
  for (const [dataset, title] of DATASETS.filter(([d]) => state.index.models.some((m) => m.dataset === d))) {
    const group = document.createElement('optgroup');
    group.label = title;
    const models = state.index.models.filter((m) => m.dataset === dataset);
    models.sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }));
    // The baseline first, as the natural first choice.
    models.sort((a, b) => (b.name === `${dataset}-softmax`) - (a.name === `${dataset}-softmax`));
    group.append(...models.map(option));
    select.append(group);
  }
  for (const m of state.index.models.filter((e) => !DATASETS.some(([d]) => d === e.dataset))) select.append(option(m));
  if (keep) select.value = keep;
}

/** Loads models/index.json, calls `onListed()` and selects the remembered (else the first
 *  MNIST) model with `onSelect()`. */
export async function loadIndex(onSelect, onListed) {
  setPhase('loading');
  setStatus('loading the list of models…');
  try {
    const index = await (await fetchOk('../models/index.json', 'model list')).json();
    if (!Array.isArray(index?.models) || index.models.length === 0) throw new Error('models/index.json lists no models');
    state.index = index;
  } catch (err) {
    showError(`No models could be loaded: ${err.message}. Models are trained with the command-line tool into `
      + 'models/ (see the README); serve the repository root with ./scripts/serve.sh.', () => loadIndex(onSelect, onListed));
    return;
  }
  fillList();
  const names = state.index.models.map((m) => m.name);
  const last = remembered.get('model');
  $('model').value = names.includes(last) ? last : names.includes('mnist-softmax') ? 'mnist-softmax' : names[0];
  $('model').disabled = false;
  onListed();
  await onSelect();
}

/** The model's weights and manifest (fetched once). */
export async function loadModel(name) {
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
  state.manifests.set(name, manifest);
  return model;
}

/**
 * Loads the selected model into the plaintext worker. `before()` runs first (the page drops
 * what belonged to the previous model), `after(model)` once it is loaded; a newer selection
 * made meanwhile wins.
 */
export async function selectModel({ before, after }) {
  const token = ++state.loadToken;
  const name = $('model').value;
  state.current = null;
  before();
  hideError();
  setPhase('loading');
  try {
    setStatus(`loading ${describeModel(state.index.models.find((m) => m.name === name) ?? { name }).title}…`);
    const model = await loadModel(name);
    const weights = model.weights.slice();
    await plainWorker().call(REQUEST.LOAD, { weights, manifest: model.manifestText }, { transfer: [weights.buffer] });
    if (token !== state.loadToken) return;
    await after(model, () => token !== state.loadToken);
    if (token !== state.loadToken) return;
    state.current = model;
    remembered.set('model', name);
    $('model-info').textContent = describeModel(model.entry).line;
    $('model-shape').textContent = `${describePlan(model.manifest.plan)}. Shape: ${shape(model.manifest.config)}.`;
    setStatus('');
    setPhase('ready');
  } catch (err) {
    if (token === state.loadToken) showError(`Could not load model ${name}: ${err.message}`, () => selectModel({ before, after }));
  }
}

const shape = (c) => `${c.image_size}×${c.image_size} ${c.channels === 1 ? 'grey' : 'colour'} input in `
  + `${c.patch}×${c.patch} patches, width ${c.dim}, ${c.depth} blocks × ${c.heads} heads`;

/** "RSAttn 31%, ScaleAttn 69% of the heads" and the GeLU plan, if any. */
export function describePlan(plan) {
  const names = { softmax: 'Softmax', scale: 'ScaleAttn', rsattn: 'RSAttn' };
  const v = plan.attention.variants.flat(3);
  const counts = {};
  v.forEach((a) => { counts[a] = (counts[a] ?? 0) + 1; });
  const unit = { layer: 'layers', head: 'heads', row: 'rows' }[plan.attention.granularity] ?? 'units';
  let s = `Attention: ${Object.entries(counts).map(([a, n]) => `${names[a] ?? a} on ${Math.round((100 * n) / v.length)}%`).join(', ')} of the ${unit}`;
  if (plan.gelu) {
    const t = plan.gelu.linearised.flat();
    s += `; GeLU made linear on ${t.filter(Boolean).length} of ${t.length} tokens`;
  }
  return s;
}

/** Adds a model trained in this tab to the list (not selected). */
export function addModel({ name, dataset, manifestText, manifest, weights }) {
  const entry = { name, dataset, weights: null, manifest: null, test_accuracy: manifest.metrics?.test_accuracy, trained_here: true };
  state.index.models.push(entry);
  state.models.set(name, { entry, manifestText, manifest, weights });
  state.manifests.set(name, manifest);
  fillList();
  return entry;
}
