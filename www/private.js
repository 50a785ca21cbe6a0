// Orchestrates one private inference: three workers (client, server, dealer) and three
// MessageChannels wired directly between them. The page only hands each worker its own inputs
// and ports, then collects what each is allowed to learn.
//
// The three workers are kept warm between inferences (started with the compiled wasm module,
// see wasm.js): a run takes the warm set, and gives it back when it ends well. A cancelled or
// failed run stops its workers (the only way to interrupt a party mid-protocol) and a fresh set
// is started at once for the next run.
import { REQUEST } from './protocol.js';
import { startWorker } from './wasm.js';

const ROLES = ['dealer', 'server', 'client'];
let warm = null;

/** Starts the three party workers now, if they are not already waiting. */
export function prewarmParties() {
  warm ??= ROLES.map((role) => startWorker('party.js', role));
}

function takeParties() {
  prewarmParties();
  const parties = warm;
  warm = null;
  return parties;
}

/**
 * Classifies `pixels` (the model's input bytes) privately. `manifest` (the public architecture)
 * goes to everyone, `weights` only to the server, `pixels` only to the client; all three run the
 * protocol family `protocols` (`'classic'` or `'fss'`). Resolves to
 * `{client, server, dealer}`: the client's `{prediction, probabilities, logits, cost,
 * measured_s}` and the server's and dealer's own cost views. `signal` (an AbortSignal) stops
 * all three workers at once; so does any party's failure or the timeout. `onProgress` receives
 * the client's stage messages (`{stage, layer?, layers?}`) as the inference advances.
 */
export async function classifyPrivately({ manifest, weights, pixels, profile, protocols = 'classic', signal, onProgress, timeoutMs = 180000 }) {
  const peer = new MessageChannel();
  const dealerClient = new MessageChannel();
  const dealerServer = new MessageChannel();
  const parties = takeParties();
  const [dealer, server, client] = parties;
  const opts = (transfer) => ({ transfer, timeoutMs, signal });
  let ok = false;
  try {
    const runs = [
      dealer.call(REQUEST.RUN, { role: 'dealer', manifest, protocols, toClient: dealerClient.port1, toServer: dealerServer.port1 },
        opts([dealerClient.port1, dealerServer.port1])),
      server.call(REQUEST.RUN, { role: 'server', manifest, protocols, weights: weights.slice(), peer: peer.port2, dealer: dealerServer.port2, profile },
        opts([peer.port2, dealerServer.port2])),
      client.call(REQUEST.RUN, { role: 'client', manifest, protocols, pixels: Uint8Array.from(pixels), peer: peer.port1, dealer: dealerClient.port2, profile },
        { ...opts([peer.port1, dealerClient.port2]), onProgress }),
    ].map((p, i) => p.catch((err) => {
      // Name the party that failed; the others would otherwise wait for it until the timeout.
      if (err.name !== 'Cancelled') err.message = `${parties[i].name}: ${err.message}`;
      throw err;
    }));
    const [d, s, c] = await Promise.all(runs);
    ok = true;
    return { client: c, server: s, dealer: d };
  } finally {
    if (ok && !warm) {
      warm = parties;
    } else {
      parties.forEach((p) => p.terminate());
      prewarmParties();
    }
  }
}
