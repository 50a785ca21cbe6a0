// One participant of a private inference: the client (party 0), the server (party 1) or the
// dealer. Each runs in its own worker with its own wasm instance and talks to the others only
// through the MessagePorts it is given; the page never sees a share.
import init, { run_client, run_server, run_dealer } from '../../pkg/mpcvit.js';

const ready = init();

self.onmessage = async (event) => {
  const m = event.data;
  try {
    await ready;
    let result;
    if (m.role === 'client') {
      result = await run_client(m.manifest, m.pixels, m.peer, m.dealer, m.profile ?? null);
    } else if (m.role === 'server') {
      result = await run_server(m.weights, m.manifest, m.peer, m.dealer, m.profile ?? null);
    } else if (m.role === 'dealer') {
      result = await run_dealer(m.manifest, m.toClient, m.toServer);
    } else {
      throw new Error(`unknown role ${m.role}`);
    }
    self.postMessage({ ok: true, role: m.role, result });
  } catch (err) {
    self.postMessage({ ok: false, role: m.role, error: String(err?.message ?? err) });
  }
};
