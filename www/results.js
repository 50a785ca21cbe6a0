// The results panel: the private and plaintext predictions side by side with their
// probabilities, the cost of the private inference (rounds, bytes, time, where the rounds go)
// and, after the first result, "How it works".
import { $, bars, mb, percent, seconds } from './util.js';
import { state } from './state.js';
import { namedProfile, profileFigures } from './network.js';

export function classNames(model, result) {
  return result?.labels
    ?? model.hello?.class_names
    ?? state.samples.get(model.manifest.dataset)?.classes
    ?? [...Array(model.manifest.config.classes).keys()].map(String);
}

function verdict(el, prediction, label, names) {
  if (label == null) { el.textContent = ''; return; }
  const ok = prediction === label;
  el.textContent = `True label: ${names[label]} — ${ok ? 'correct ✓' : 'wrong ✗'}`;
  el.className = ok ? 'verdict good' : 'verdict bad';
}

function showPrediction(side, model, { prediction, probabilities, labels }, label) {
  const names = classNames(model, { labels });
  $('results').hidden = false;
  $(`${side}-pred`).textContent = names[prediction];
  $(`${side}-pred`).dataset.class = prediction;
  bars($(`${side}-bars`), Array.from(probabilities), names, { top: prediction });
  verdict($(`${side}-verdict`), prediction, label, names);
}

export function renderPlain(model, reference, label = null) {
  showPrediction('plain', model, reference, label);
}

/** The private side while it is computed (or after a cancel): no figures, a short note. */
export function renderPrivatePending(text) {
  $('private-pred').textContent = '';
  delete $('private-pred').dataset.class;
  $('private-bars').innerHTML = '';
  $('private-verdict').textContent = text;
  $('private-verdict').className = 'verdict muted';
  $('cost-box').classList.add('stale');
}

/** Hides every result (a new input, a new model): nothing from before stays on screen. */
export function clearResults() {
  $('results').hidden = true;
  $('plain-side').hidden = false;
  renderPrivatePending('');
  delete $('plain-pred').dataset.class;
  $('plain-pred').textContent = '';
  $('plain-bars').innerHTML = '';
  $('plain-verdict').textContent = '';
  $('summary').textContent = '';
  $('summary').className = '';
}

const estimateRow = (key) => {
  const p = namedProfile(key);
  return p ? `Estimated on a ${p.name} (${profileFigures(p)})` : `Estimated on ${key}`;
};

// Parts of the private forward in the order data flows, with a plain name and what they do.
const PARTS = [
  [/^embed$/, () => 'image in, patch embedding', 'the client masks its image patches once, and that message already computes their projection'],
  [/^layer (\d+)$/, (m) => `block ${Number(m[1]) + 1}`, 'attention, LayerNorms and the MLP of one Transformer block'],
  [/^head$/, () => 'classifier head', 'the final LayerNorm and the linear classifier'],
  [/^$/, () => 'revealing the result', 'the server sends its share of the scores; only the client can add them up'],
];
function part(label) {
  for (const [i, [re, name, what]] of PARTS.entries()) {
    const m = re.exec(label);
    if (m) return { rank: i * 1000 + (m[1] ? Number(m[1]) : 0), name: name(m), what };
  }
  return { rank: 1e6, name: label, what: label };
}

/**
 * The private result and its cost. `run` is `{client, server, dealer}` from the three workers of
 * this tab, or `{client, remote: true}` from a remote server (the client's joint view, the
 * server's counters included, and the time measured over the real network).
 */
export function renderPrivate(model, run, label) {
  showPrediction('private', model, run.client, label);
  $('plain-side').hidden = Boolean(run.remote); // a remote model has no plaintext copy here
  const { client: c } = run;
  const cost = c.cost;
  const measured = run.remote
    ? ['Measured over the network (connect to answer, weight sharing included)', seconds(c.measured_s)]
    : ['Measured in this tab (client)', seconds(c.measured_s)];
  const fss = cost.protocols === 'fss';
  const rows = [
    ['Protocols', fss ? 'FSS (one-round comparisons from dealer keys)' : 'classic (Beaver circuits)'],
    ['Communication rounds', cost.rounds],
    ['Client → server (online)', mb(cost.bytes_client_to_server)],
    ['Server → client (online)', mb(cost.bytes_server_to_client)],
    [fss ? 'Dealer → both parties (offline, ahead of time)' : 'Dealer → server (offline, ahead of time)',
      mb(run.remote ? cost.offline_bytes : run.dealer.offline_bytes)],
    measured,
    [estimateRow('lan'), seconds(cost.lan_s)],
    [estimateRow('wan'), seconds(cost.wan_s)],
  ];
  $('cost').innerHTML = rows.map(([k, v]) => `<tr><th>${k}</th><td>${v}</td></tr>`).join('');
  $('cost').dataset.rounds = cost.rounds;
  $('cost').dataset.measured = c.measured_s;
  $('cost').dataset.serverBytes = run.remote
    ? cost.bytes_client_to_server + cost.bytes_server_to_client
    : run.server.bytes_client_to_server + run.server.bytes_server_to_client;
  $('cost-box').classList.remove('stale');
  const parts = cost.by_layer.filter(([, s]) => s.rounds > 0).map(([l, s]) => ({ ...part(l), rounds: s.rounds }))
    .sort((a, b) => a.rank - b.rank);
  const most = Math.max(1, ...parts.map((p) => p.rounds));
  bars($('breakdown'), parts.map((p) => p.rounds), parts.map((p) => p.name), {
    format: (v) => `${v} round${v === 1 ? '' : 's'}`, scale: (v) => v / most, titles: parts.map((p) => p.what),
  });
  $('how').hidden = false; // "How it works" makes sense once there is a result to explain
}

/** The one-line result of a remote run: what the client learnt, from whom, how long it took. */
export function summariseRemote(model, result, label) {
  const names = classNames(model, null);
  const p = result.client.prediction;
  const truth = label == null ? '' : p === label ? ' ✓ correct' : ` ✗ (it is ${names[label]})`;
  $('summary').textContent = `Private answer: ${names[p]}${truth} · ${percent(result.client.probabilities[p])} sure · `
    + `computed with the server at ${model.server} · ${seconds(result.wallSeconds, 1)}`;
  $('summary').className = label == null || p === label ? 'good' : 'bad';
}

/** The one-line result in the run bar: what the client learnt, and whether plaintext agrees. */
export function summarise(model, reference, result, label) {
  const names = classNames(model, reference);
  const p = result.client.prediction;
  const same = p === reference.prediction;
  const truth = label == null ? '' : p === label ? ' ✓ correct' : ` ✗ (it is ${names[label]})`;
  $('summary').textContent = `Private answer: ${names[p]}${truth} · ${percent(result.client.probabilities[p])} sure · `
    + `${same ? 'same as plaintext' : `plaintext says ${names[reference.prediction]}`} · ${seconds(result.wallSeconds, 1)}`;
  $('summary').className = same ? 'good' : 'bad';
}
