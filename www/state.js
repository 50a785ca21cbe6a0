// What the page's sections share: the page state, its phase, the status line and the error card.
import { $ } from './util.js';

export const state = {
  index: null, // models/index.json (plus the models trained in this tab)
  models: new Map(), // name -> {entry, manifestText, manifest, weights}, loaded models
  manifests: new Map(), // name -> manifest, for the tables
  current: null, // the selected, loaded model
  samples: new Map(), // dataset -> samples JSON
  input: null, // {kind: 'sample', pixels, label, index} or {kind: 'drawing', rgba()}
  run: null, // AbortController of the classification in progress
  runs: 0, // completed classifications (private result shown)
  last: null, // {reference, result, label} of the last classification
  loadToken: 0,
};
window.__mpcvit = state; // for the end-to-end test and for curious users

/** `idle`, `loading`, `ready`, `running`, `done` or `error`: for the test and for CSS. */
export function setPhase(phase) { document.body.dataset.phase = phase; }

/** The status line of the run bar. */
export function setStatus(text) { $('status').textContent = text; }

let retryAction = null;
/** Shows the error card (for failures of the page or its workers, not for user slips). */
export function showError(text, retry) {
  $('error-text').textContent = text;
  $('error').hidden = false;
  retryAction = retry ?? null;
  $('retry').hidden = !retryAction;
  setStatus('');
  setPhase('error');
}
export function hideError() { $('error').hidden = true; }
$('retry').onclick = () => { hideError(); retryAction?.(); };
