// Where the server runs: simulated in this tab (three workers: client, server, dealer), or a
// remote `mpcvit serve` with a dealer, reached by WebSocket. In remote mode only the client
// worker runs here: the page never fetches a model's weights, the image never leaves the tab
// except as secret shares, and the cost panel shows the real network's time.
//
// The page starts in remote mode when its URL says `?server=ws://…&dealer=ws://…` (or when it
// was left in that mode): then no model is loaded at all.
import { $, remembered } from './util.js';
import { state } from './state.js';
import { REQUEST } from './protocol.js';
import { startWorker } from './wasm.js';

let client = null;
/** The warm remote-client worker (one run at a time; a cancelled run stops it). */
function clientWorker() {
  if (!client || client.failure) {
    client?.terminate();
    client = startWorker('party.js', 'remote client');
  }
  return client;
}

/** Whether the page classifies with a remote server. */
export const isRemote = () => $('where').value === 'remote';

/** The fields as typed: {server, dealer, token, acceptServers}. */
function fields() {
  return {
    server: $('server-url').value.trim(),
    dealer: $('dealer-url').value.trim(),
    token: $('dealer-token').value.trim(),
    acceptServers: $('accept-dealer').checked,
  };
}

/** The problem with the remote fields, or '' when they are usable. */
export function remoteProblem() {
  const f = fields();
  const url = (u) => /^wss?:\/\/[^/\s]+/.test(u);
  if (!url(f.server)) return 'Enter the server’s address, e.g. ws://127.0.0.1:7000 (or wss://…).';
  if (!f.acceptServers && !url(f.dealer)) {
    return 'Enter the address of a dealer you trust (e.g. ws://127.0.0.1:7001), or tick “use the dealer the server proposes”.';
  }
  return '';
}

/** The sample set that fits the server's classes (the hello names classes, not a dataset). */
function datasetOf(hello) {
  const names = hello.class_names ?? [];
  if (names.length !== 10 || hello.config.channels !== 1 || hello.config.image_size !== 28) return null;
  return names.every((c, i) => c === String(i)) ? 'mnist' : 'fashion';
}

/** What the server's hello says, as the page's "model": its public architecture only. */
function remoteModel(hello, server) {
  return {
    remote: true,
    server,
    entry: { name: server, dataset: datasetOf(hello) },
    manifest: { name: `the model at ${server}`, dataset: datasetOf(hello), config: hello.config, plan: hello.plan, cost: null },
    hello,
  };
}

/** Asks the server for its hello; resolves to the page's remote "model". */
export async function connectRemote() {
  const f = fields();
  save();
  const hello = await clientWorker().call(REQUEST.REMOTE_HELLO, { server: f.server }, { timeoutMs: 30000 });
  return remoteModel(hello, f.server);
}

/** The warning to show before classifying, or '' (the dealer is the user's own). */
export function dealerWarning(model) {
  const f = fields();
  if (model.hello.dealer_in_server) {
    return `The server's dealer runs inside the server process (${model.hello.dealer}): fine for a demo, but that server could unmask your image.`;
  }
  if (f.acceptServers) {
    return `Using the dealer the server proposes (${model.hello.dealer}): if the server runs or chose it, it could unmask your image.`;
  }
  return '';
}

/**
 * Classifies privately with the remote server: `input` is the page's current input (a sample's
 * pixels or a drawing's RGBA, prepared for the model by the client worker). Resolves to the
 * client's result; `signal` stops the worker, `onProgress` gets its stages.
 */
export async function classifyRemotely({ input, signal, onProgress, timeoutMs = 180000 }) {
  const f = fields();
  const [image, rgbaSize, transfer] = input.kind === 'sample'
    ? [Uint8Array.from(input.pixels), null, []]
    : (() => { const im = input.rgba(); return [im.rgba, [im.width, im.height], [im.rgba.buffer]]; })();
  const worker = clientWorker();
  const stop = () => { worker.terminate(); client = null; };
  signal?.addEventListener('abort', stop, { once: true });
  try {
    return await worker.call(REQUEST.REMOTE_RUN, {
      server: f.server,
      dealer: f.acceptServers ? null : f.dealer,
      token: f.token || null,
      image,
      rgbaSize,
    }, { transfer, timeoutMs, signal, onProgress });
  } catch (err) {
    if (!signal?.aborted) stop(); // a failed session leaves nothing behind for the next one
    throw err;
  } finally {
    signal?.removeEventListener('abort', stop);
  }
}

function save() {
  const f = fields();
  remembered.set('remote', { where: $('where').value, server: f.server, dealer: f.dealer, acceptServers: f.acceptServers });
}

/** Shows the remote fields when they apply. */
function showFields() {
  const remote = isRemote();
  $('remote').hidden = !remote;
  $('model').disabled = remote || !state.index;
  $('model').closest('label').hidden = remote; // the model is the server's
  $('profile-box').hidden = remote; // a real network needs no imposed one
  document.body.dataset.where = remote ? 'remote' : 'tab';
}

/** A one-line description of what the server announced. */
export function describeHello(model) {
  const c = model.hello.config;
  const names = model.hello.class_names;
  return `Connected to ${model.server}: a ViT of ${c.depth} blocks × ${c.heads} heads on ${c.image_size}×${c.image_size} `
    + `images, ${c.classes} classes${names ? ` (${names.slice(0, 4).join(', ')}${names.length > 4 ? ', …' : ''})` : ''}. `
    + 'Its weights stay on the server.';
}

/**
 * Wires the choice: `changed(remote)` when the user switches mode, `connect()` when the
 * Connect button is pressed. The URL (`?server=…&dealer=…&token=…`) or the last visit decides the
 * starting mode; returns whether the page starts in remote mode.
 */
export function initRemote({ changed, connect }) {
  const q = new URLSearchParams(location.search);
  const last = remembered.get('remote') ?? {};
  $('server-url').value = q.get('server') ?? last.server ?? 'ws://127.0.0.1:7000';
  $('dealer-url').value = q.get('dealer') ?? last.dealer ?? 'ws://127.0.0.1:7001';
  $('dealer-token').value = q.get('token') ?? '';
  $('accept-dealer').checked = q.has('server') ? q.get('accept_dealer') === '1' : Boolean(last.acceptServers);
  $('where').value = q.has('server') ? 'remote' : last.where === 'remote' ? 'remote' : 'tab';
  $('where').onchange = () => {
    save();
    showFields();
    changed(isRemote());
  };
  $('accept-dealer').onchange = () => {
    $('dealer-url').disabled = $('accept-dealer').checked;
    save();
  };
  $('dealer-url').disabled = $('accept-dealer').checked;
  $('connect').onclick = connect;
  for (const id of ['server-url', 'dealer-url']) {
    $(id).onkeydown = (e) => { if (e.key === 'Enter') connect(); };
  }
  showFields();
  return isRemote();
}

/** The status line under the remote fields. */
export function remoteStatus(text, bad = false) {
  $('remote-status').textContent = text;
  $('remote-status').className = bad ? 'field-error' : 'small muted';
}
