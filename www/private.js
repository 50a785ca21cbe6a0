// Orchestrates one private inference: three workers (client, server, dealer) and three
// MessageChannels wired directly between them. The page only hands each worker its own inputs
// and ports, then collects what each is allowed to learn.

const PARTY_WORKER = new URL('./workers/party.js', import.meta.url);

export const PROFILES = {
  none: null,
  lan: { name: 'LAN', rtt_ms: 0.1, mbytes_per_s: 1000 },
  wan: { name: 'WAN', rtt_ms: 40, mbytes_per_s: 44 },
};

function runWorker(role, message, transfer, timeoutMs) {
  const worker = new Worker(PARTY_WORKER, { type: 'module', name: role });
  const done = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the ${role} did not finish within ${timeoutMs / 1000} s`)), timeoutMs);
    worker.onmessage = (e) => {
      clearTimeout(timer);
      if (e.data.ok) resolve(e.data.result);
      else reject(new Error(`${role}: ${e.data.error}`));
    };
    worker.onerror = (e) => {
      clearTimeout(timer);
      reject(new Error(`the ${role} worker died: ${e.message || 'script error'}`));
    };
  });
  worker.postMessage({ role, ...message }, transfer);
  return { worker, done };
}

/**
 * Classifies `pixels` privately. `manifest` (public architecture) goes to everyone, `weights`
 * only to the server, `pixels` only to the client. Resolves to {client, server, dealer}.
 */
export async function classifyPrivately({ manifest, weights, pixels, profile, timeoutMs = 180000 }) {
  const peer = new MessageChannel();
  const dealerClient = new MessageChannel();
  const dealerServer = new MessageChannel();
  const runs = [
    runWorker('dealer', { manifest, toClient: dealerClient.port1, toServer: dealerServer.port1 },
      [dealerClient.port1, dealerServer.port1], timeoutMs),
    runWorker('server', { manifest, weights: weights.slice(), peer: peer.port2, dealer: dealerServer.port2, profile },
      [peer.port2, dealerServer.port2], timeoutMs),
    runWorker('client', { manifest, pixels: pixels.slice(), peer: peer.port1, dealer: dealerClient.port2, profile },
      [peer.port1, dealerClient.port2], timeoutMs),
  ];
  try {
    const [dealer, server, client] = await Promise.all(runs.map((r) => r.done));
    return { client, server, dealer };
  } finally {
    runs.forEach((r) => r.worker.terminate());
  }
}
