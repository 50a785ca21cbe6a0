// The page's entry point: wires its sections together. Each section is its own module:
//   remote.js    where the server runs: simulated in this tab, or a remote `mpcvit serve`
//   models.js    the model list (plain names, one line each) and loading the selected model
//   network.js   the network imposed between client and server (profiles from the wasm)
//   input.js     sample images, the drawing canvas and uploads
//   classify.js  one classification: plaintext reference, then the private run with progress
//   results.js   the predictions, the cost of the private inference, "How it works"
//   explorer.js  the private cost of every attention variant for the model's shape
//   family.js    the table and Pareto plots of all models
//   search.js    Search live: search, binarise and retrain in a trainer worker
// All computation runs in workers (protocol.js); wasm.js compiles the wasm once for all of them.
import { $ } from './util.js';
import { state, setPhase, setStatus, showError, hideError } from './state.js';
import { loadIndex, loadModel, selectModel, addModel, describePlan } from './models.js';
import { initRemote, connectRemote, describeHello, dealerWarning, remoteStatus } from './remote.js';
import { initNetwork } from './network.js';
import { initInput, loadSamples, clearCanvas } from './input.js';
import { classify, cancel, hint, previewDrawing, stopRun } from './classify.js';
import { clearResults } from './results.js';
import { initExplorer, resetExplorer } from './explorer.js';
import { renderFamily } from './family.js';
import { initSearch } from './search.js';
import { prewarmParties } from './private.js';

/** Leaving the current input or model: stop its run, drop its results and hints. */
function dropRun() {
  stopRun();
  clearResults();
  hint('');
}

const select = () => selectModel({
  before: () => {
    dropRun();
    resetExplorer(null);
    $('classify').disabled = true;
  },
  after: async (model, stale) => {
    await loadSamples(model.manifest.dataset);
    if (stale()) return;
    state.input = null;
    clearCanvas();
    $('classify').disabled = false;
    resetExplorer(model);
    prewarmParties();
  },
});
$('model').onchange = select;

/** Remote mode: asks the server for its public architecture and makes it the current model. */
async function connect() {
  const token = ++state.loadToken;
  dropRun();
  resetExplorer(null);
  state.current = null;
  $('classify').disabled = true;
  $('model').disabled = true;
  hideError();
  setPhase('loading');
  setStatus('');
  remoteStatus('connecting…');
  try {
    const model = await connectRemote();
    if (token !== state.loadToken) return;
    if (model.manifest.dataset) await loadSamples(model.manifest.dataset);
    else $('samples').textContent = 'No sample images for this server’s classes; draw or upload instead.';
    if (token !== state.loadToken) return;
    state.input = null;
    clearCanvas();
    state.current = model;
    $('classify').disabled = false;
    $('model-info').textContent = describeHello(model);
    $('model-shape').textContent = `${describePlan(model.hello.plan)}.`;
    const warning = dealerWarning(model);
    remoteStatus(warning ? `Warning: ${warning}` : 'Connected: pick or draw an image.', Boolean(warning));
    setPhase('ready');
  } catch (err) {
    if (token !== state.loadToken) return;
    remoteStatus(err.message, true);
    showError(`Could not connect to the server: ${err.message}`, connect);
  }
}

const startsRemote = initRemote({
  changed: (remote) => {
    if (remote) connect();
    else if (state.index) select();
  },
  connect,
});

initNetwork(() => hint(''));
initInput({
  pick: classify,
  strokeStarted: () => {
    hideError();
    hint('');
  },
  stroke: previewDrawing,
  cleared: () => {
    dropRun();
    if (state.current) setPhase('ready');
  },
});
$('classify').onclick = classify;
$('cancel').onclick = cancel;
$('see-details').onclick = () => $('results').scrollIntoView({ behavior: 'smooth', block: 'start' });
initExplorer();
initSearch({
  models: () => state.index?.models ?? [],
  loadModel,
  addModel: (model) => {
    addModel(model);
    renderFamily();
  },
  useModel: (name) => {
    if ($('where').value === 'remote') {
      $('where').value = 'tab';
      $('where').onchange();
    }
    $('model').value = name;
    select();
    $('setup').scrollIntoView({ behavior: 'smooth' });
  },
});

setPhase('idle');
// In remote mode no model is loaded: the index only feeds the tables below.
loadIndex(() => (startsRemote ? connect() : select()), renderFamily);
