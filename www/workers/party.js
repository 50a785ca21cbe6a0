// One participant of one private inference: the client (party 0, owns the image), the server
// (party 1, owns the weights) or the dealer (correlated randomness). Each runs in its own
// worker with its own wasm instance and talks to the others only through the MessagePorts it
// is given, moving secret shares as transferred ArrayBuffers; the page never sees a share.
// Request: 'run' with a role (see ../protocol.js); the reply is what that party may learn.
// A worker serves one run after another: the page keeps the three warm between inferences.
// In the page's remote mode one such worker is the whole of the tab's part: the client,
// talking to a native server and dealer over WebSocket ('remote-hello', 'remote-run').
import init, { run_client, run_server, run_dealer, remote_hello, classify_remote } from '../../pkg/mpcvit.js';
import { serve, REQUEST } from '../protocol.js';

serve({
  [REQUEST.RUN]: (m, progress) => {
    switch (m.role) {
      // The client reports which stage (layer k of L) it has reached: control messages only.
      case 'client': return run_client(m.manifest, m.pixels, m.peer, m.dealer, m.profile ?? null, progress, m.protocols);
      case 'server': return run_server(m.weights, m.manifest, m.peer, m.dealer, m.profile ?? null, m.protocols);
      case 'dealer': return run_dealer(m.manifest, m.toClient, m.toServer, m.protocols);
      default: throw new Error(`unknown role '${m.role}'`);
    }
  },
  [REQUEST.REMOTE_HELLO]: (m) => remote_hello(m.server),
  [REQUEST.REMOTE_RUN]: (m, progress) => classify_remote(m.server, m.dealer ?? undefined, m.token ?? undefined,
    m.image, m.rgbaSize ?? undefined, progress),
}, init);
