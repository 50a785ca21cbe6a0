// One classification: the plaintext reference first (instant), then the private inference by
// the three party workers, with the client's progress and the time left shown in the run bar;
// Cancel, a new input or another model stop it and leave nothing stale on screen.
import { $, clause, seconds } from './util.js';
import { state, setPhase, setStatus, showError, hideError } from './state.js';
import { REQUEST, Cancelled } from './protocol.js';
import { plainWorker } from './wasm.js';
import { classifyPrivately } from './private.js';
import { classifyRemotely, dealerWarning, remoteProblem } from './remote.js';
import { customProblem, profile, protocols } from './network.js';
import { renderPlain, renderPrivatePending, renderPrivate, summarise, summariseRemote } from './results.js';

/** An inline hint in the run bar for a user slip (no input, bad network values): not an error. */
export function hint(text) {
  $('hint').textContent = text;
  $('hint').hidden = !text;
}

function setBusy(busy) {
  $('classify').disabled = busy || !state.current;
  $('cancel').hidden = !busy;
}

/** Stops the classification in progress, if any, and clears its progress display. */
export function stopRun() {
  state.run?.abort();
  state.run = null;
  setBusy(false);
  $('layer-progress').hidden = true; // its data attributes keep the last run's final stage
}

/** Cancel: the private side says so; the page is ready for the next input. */
export function cancel() {
  if (!state.run) return;
  stopRun();
  renderPrivatePending('Cancelled.');
  $('summary').textContent = '';
  setStatus('cancelled');
  setPhase('ready');
}

/** The plaintext reference and the model input bytes for the current input. */
async function plaintext(input, signal) {
  if (input.kind === 'sample') {
    const reference = await plainWorker().call(REQUEST.CLASSIFY, { pixels: input.pixels }, { signal });
    return { reference, pixels: input.pixels, label: input.label };
  }
  const im = input.rgba();
  const reference = await plainWorker().call(REQUEST.CLASSIFY_RGBA, im, { transfer: [im.rgba.buffer], signal });
  return { reference, pixels: Uint8Array.from(reference.input), label: null };
}

/**
 * Seconds the run should take under `net` with `family`, from the model's measured cost; null
 * if unknown (also when the manifest's cost was measured with the other protocol family).
 */
function expectedSeconds(model, net, family) {
  const c = model.manifest.cost;
  if (!net || !c?.rounds || c.online_bytes == null || (c.protocols ?? 'classic') !== family) return null;
  return c.rounds * (net.rtt_ms / 1000) + c.online_bytes / (net.mbytes_per_s * 1e6) + (c.compute_s ?? 0);
}

/** A run's progress in the run bar: the client's stage, the elapsed time and the time left. */
function progressView(model, net, family) {
  const depth = model.manifest.config.depth;
  const expected = expectedSeconds(model, net, family);
  for (const key of ['stage', 'layer', 'layers', 'expected']) delete $('layer-progress').dataset[key];
  const t0 = performance.now();
  let stage = null;
  const show = () => {
    const elapsed = (performance.now() - t0) / 1000;
    const steps = depth + 3; // weights, embedding, blocks, head
    const at = { weights: 0, embed: 1, layer: 2 + (stage?.layer ?? 0), head: depth + 2 }[stage?.stage] ?? 0;
    const what = !stage ? (model.remote ? `connecting to ${model.server} and its dealer…` : 'starting the client, server and dealer…')
      : { weights: 'the server masks its weights for the session', embed: 'patch embedding',
        layer: `block ${(stage.layer ?? 0) + 1} of ${stage.layers}`, head: 'classifier head' }[stage.stage];
    const left = expected == null ? '' : elapsed < expected ? ` · about ${Math.ceil(expected - elapsed)} s left`
      : ' · almost done';
    $('layer-progress').hidden = false;
    $('layer-bar').max = steps;
    $('layer-bar').value = stage ? at + 1 : 0;
    $('layer-text').textContent = `${what} · ${seconds(elapsed, 1)}${left}`;
    const lp = $('layer-progress').dataset;
    lp.stage = stage?.stage ?? 'start';
    if (stage?.stage === 'layer') Object.assign(lp, { layer: stage.layer + 1, layers: stage.layers });
    if (expected != null) lp.expected = expected.toFixed(1);
  };
  return { t0, show, stage: (s) => { stage = s; show(); } };
}

/** Plaintext reference first, then the private inference by three workers. */
export async function classify() {
  const model = state.current;
  if (!model) return;
  if (!state.input) {
    hint('First pick a test image or draw something; then press “Classify privately”.');
    return;
  }
  const problem = model.remote ? remoteProblem() : customProblem();
  if (problem) {
    hint(problem);
    return;
  }
  if (model.remote) {
    classifyRemote(model);
    return;
  }
  const input = state.input;
  await withRun(async (run, track) => {
    setStatus('plaintext reference…');
    const { reference, pixels, label } = await plaintext(input, run.signal);
    renderPlain(model, reference, label);
    renderPrivatePending('computing privately…');
    const net = profile();
    const family = protocols();
    setStatus(`computing privately${family === 'fss' ? ' with FSS' : ''}${net ? ` over an imposed ${net.name} network` : ''}…`);
    const view = progressView(model, net, family);
    track(view);
    const result = await classifyPrivately({
      manifest: model.manifestText, weights: model.weights, pixels, profile: net, protocols: family, signal: run.signal,
      onProgress: (stage) => { if (state.run === run) view.stage(stage); },
    });
    result.wallSeconds = (performance.now() - view.t0) / 1000;
    if (state.run !== run) return null;
    renderPrivate(model, result, label);
    summarise(model, reference, result, label);
    return { reference, result, label, status: '' };
  });
}

/**
 * The run bar's life cycle around one private inference (shared by the in-tab and the remote
 * server): `body(run, track)` computes under the AbortController `run`, calls `track(view)` to
 * tick its progress view, renders, and returns `{reference, result, label, status}` (or null
 * when a newer run replaced it). Errors are shown with a retry; a cancel shows nothing.
 */
async function withRun(body) {
  stopRun();
  hint('');
  const run = new AbortController();
  state.run = run;
  hideError();
  setBusy(true);
  setPhase('running');
  $('summary').textContent = '';
  let ticker = null;
  const track = (view) => {
    view.show();
    ticker = setInterval(view.show, 250);
  };
  try {
    const done = await body(run, track);
    if (!done || state.run !== run) return;
    state.last = { reference: done.reference, result: done.result, label: done.label };
    state.runs += 1;
    document.body.dataset.runs = state.runs;
    setStatus(done.status);
    setPhase('done');
  } catch (err) {
    if (err instanceof Cancelled || run.signal.aborted) return;
    renderPrivatePending('failed, see the message above.');
    showError(err.message, classify);
  } finally {
    clearInterval(ticker);
    if (state.run === run) stopRun();
  }
}

/**
 * The private inference with a remote server: no plaintext reference (the tab holds no weights),
 * the client worker alone, the dealer's trust stated in the run bar when the user accepted the
 * server's.
 */
async function classifyRemote(model) {
  const input = state.input;
  const label = input.kind === 'sample' ? input.label : null;
  const warning = dealerWarning(model);
  await withRun(async (run, track) => {
    $('results').hidden = false;
    $('plain-side').hidden = true;
    renderPrivatePending('computing privately with the remote server…');
    setStatus(warning ? `Warning: ${warning}` : `computing privately with ${model.server}…`);
    const view = progressView(model, null);
    track(view);
    const client = await classifyRemotely({
      input, signal: run.signal, onProgress: (stage) => { if (state.run === run) view.stage(stage); },
    });
    if (state.run !== run) return null;
    const result = { client, remote: true, wallSeconds: (performance.now() - view.t0) / 1000 };
    renderPrivate(model, result, label);
    summariseRemote(model, result, label);
    return { reference: null, result, label, status: warning ? `Warning: ${warning}` : '' };
  });
}

/** After each stroke: the plaintext guess only (fast); the private run waits for the button. */
export async function previewDrawing(rgba) {
  if (!state.current || state.run) return;
  const model = state.current;
  if (model.remote) {
    // No weights here, so no plaintext guess: the answer comes from the private run.
    $('summary').textContent = 'Press “Classify privately” to classify this drawing with the remote server';
    $('summary').className = '';
    return;
  }
  try {
    const im = rgba();
    const reference = await plainWorker().call(REQUEST.CLASSIFY_RGBA, im, { transfer: [im.rgba.buffer] });
    if (state.current !== model || state.run || state.input?.kind !== 'drawing') return;
    renderPlain(model, reference);
    renderPrivatePending('Press “Classify privately” to run this drawing under 2PC.');
    const names = reference.labels ?? state.samples.get(model.manifest.dataset)?.classes ?? [];
    $('summary').textContent = `Plaintext guess: ${names[reference.prediction] ?? reference.prediction} · `
      + 'press “Classify privately” to compute it under 2PC';
    $('summary').className = '';
    setStatus('');
  } catch (err) {
    setStatus(`Keep drawing: ${clause(err.message)}.`);
  }
}
