// The message protocol between the page and its workers, one small module used on both sides.
//
// Every exchange is a request and one reply:
//   page -> worker   {id, type, ...payload}            (payload buffers may be transferred)
//   worker -> page   {id, ok: true, result}  or  {id, ok: false, error: "message"}
//
// Workers (module workers, each with its own wasm instance of /pkg/mpcvit.js). The page
// compiles the wasm once (wasm.js); every worker's first request hands it the compiled module,
// so no worker downloads or compiles it again:
//   every worker      'init'           {module: WebAssembly.Module} -> true
//   workers/plain.js  the client's local helper, long-lived:
//                       'load'           {weights: Uint8Array, manifest: string} -> info object
//                       'classify'       {pixels: Uint8Array}  -> {prediction, probabilities, labels?}
//                       'classify-rgba'  {rgba: Uint8Array, width, height}
//                                        -> {prediction, probabilities, labels?, input}
//                       'variants'       {config: string} -> rows of the variant explorer
//   workers/party.js  one participant of a private inference, kept warm for the next one
//                     (private.js); one 'run' at a time:
//                       'run' {role: 'client', manifest, pixels, peer, dealer, profile}
//                       'run' {role: 'server', manifest, weights, peer, dealer, profile}
//                       'run' {role: 'dealer', manifest, toClient, toServer}
//                     The parties then talk among themselves over the MessagePorts they were
//                     given (secret shares as transferred ArrayBuffers); the page sees no share.
//                     The client also posts progress: {stage: 'weights'|'embed'|'layer'|'head',
//                     layer?, layers?} (public positions only, never a share or a value).
//                     The same worker is the remote client (remote.js): it alone runs in the
//                     tab and reaches a native `mpcvit serve` and `mpcvit dealer` by WebSocket:
//                       'remote-hello' {server} -> {config, plan, class_names, session, dealer,
//                                                   dealer_in_server}
//                       'remote-run'   {server, dealer|null, token|null, image, rgbaSize|null}
//                                      -> {hello, prediction, probabilities, logits, input, cost,
//                                          measured_s} (progress as above)
//   workers/trainer.js  the in-tab search and retraining (see that file for its requests);
//                     long requests post progress while they run, and 'stop' ends them early.
//
// A long request may post any number of progress messages before its reply:
//   worker -> page   {id, progress: {...}}              (delivered to the call's onProgress)

/** Request types understood by the workers. */
export const REQUEST = Object.freeze({
  INIT: 'init',
  LOAD: 'load',
  CLASSIFY: 'classify',
  CLASSIFY_RGBA: 'classify-rgba',
  VARIANTS: 'variants',
  RUN: 'run',
  REMOTE_HELLO: 'remote-hello',
  REMOTE_RUN: 'remote-run',
  SEARCH: 'search',
  BINARISE: 'binarise',
  RETRAIN: 'retrain',
  STOP: 'stop',
});

/** Raised when a request is cancelled through its AbortSignal. */
export class Cancelled extends Error {
  constructor() {
    super('cancelled');
    this.name = 'Cancelled';
  }
}

/**
 * The page's side of a worker: `call(type, payload)` resolves to the worker's result or rejects
 * with its error message. A worker that fails to start (a missing /pkg/ build, a script error)
 * rejects every pending and later call with a message saying so; nothing waits forever.
 */
export class WorkerClient {
  /**
   * `module` (a promise of the compiled WebAssembly.Module) is sent as the first request;
   * every later call waits for it, and fails with its error if it fails.
   */
  constructor(url, { name = 'worker', module } = {}) {
    this.name = name;
    this.worker = new Worker(url, { type: 'module', name });
    this.pending = new Map();
    this.nextId = 0;
    this.failure = null;
    this.worker.onmessage = (e) => {
      const p = this.pending.get(e.data?.id);
      if (!p) return;
      if ('progress' in e.data) {
        p.alive();
        p.onProgress?.(e.data.progress);
        return;
      }
      this.pending.delete(e.data.id);
      p.settle();
      if (e.data.ok) p.resolve(e.data.result);
      else p.reject(new Error(e.data.error));
    };
    const fail = (message) => {
      this.failure = new Error(message);
      for (const p of this.pending.values()) {
        p.settle();
        p.reject(this.failure);
      }
      this.pending.clear();
    };
    this.worker.onerror = (e) => {
      e.preventDefault?.();
      fail(`the ${name} worker could not run (${e.message || 'script or module failed to load; is /pkg/ built?'})`);
    };
    this.worker.onmessageerror = () => fail(`the ${name} worker sent a message that could not be read`);
    this.ready = Promise.resolve(module).then((m) => (m ? this.send(REQUEST.INIT, { module: m }) : null));
    this.ready.catch((err) => { this.failure = this.failure ?? err; });
  }

  /** Like `send`, once the worker has its wasm module. */
  call(type, payload, options) {
    return this.ready.then(() => this.send(type, payload, options));
  }

  /**
   * Sends one request. `transfer` lists buffers to move rather than copy; `timeoutMs` bounds
   * the wait for the reply, counted afresh after each progress message; `onProgress` receives
   * the request's progress messages; `signal` (an AbortSignal) cancels the wait (the worker
   * is not interrupted: use `terminate` for that).
   */
  send(type, payload = {}, { transfer = [], timeoutMs = 60000, signal, onProgress } = {}) {
    if (this.failure) return Promise.reject(this.failure);
    if (signal?.aborted) return Promise.reject(new Cancelled());
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const expire = () => {
        this.pending.delete(id);
        reject(new Error(`the ${this.name} worker did not answer '${type}' within ${Math.round(timeoutMs / 1000)} s`));
      };
      let timer = setTimeout(expire, timeoutMs);
      const alive = () => {
        clearTimeout(timer);
        timer = setTimeout(expire, timeoutMs);
      };
      const onAbort = () => {
        this.pending.delete(id);
        clearTimeout(timer);
        reject(new Cancelled());
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      const settle = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      this.pending.set(id, { resolve, reject, settle, alive, onProgress });
      try {
        this.worker.postMessage({ ...payload, id, type }, transfer);
      } catch (err) {
        this.pending.delete(id);
        settle();
        reject(err);
      }
    });
  }

  /** Stops the worker; pending calls reject. */
  terminate() {
    this.worker.terminate();
    this.failure = this.failure ?? new Error(`the ${this.name} worker was stopped`);
    for (const p of this.pending.values()) {
      p.settle();
      p.reject(new Cancelled());
    }
    this.pending.clear();
  }
}

/**
 * The worker's side: answers each request with `handlers[type](message, progress)` (which may
 * be async; `progress(data)` posts a progress message for that request). The first request,
 * 'init', instantiates the wasm with `init({module_or_path: module})` (the wasm-bindgen
 * initialiser); every other request waits for it. Errors, including a failed initialisation,
 * are sent back as `{ok: false, error}`.
 */
export function serve(handlers, init) {
  let ready = null;
  const started = () => {
    if (!ready) throw new Error('the worker was not given its WebAssembly module');
    return ready.catch((err) => {
      throw new Error(`WebAssembly could not start: ${err?.message ?? err}`);
    });
  };
  self.onmessage = async (event) => {
    const m = event.data ?? {};
    try {
      // Set before the first await, so that requests queued behind 'init' find it.
      if (m.type === REQUEST.INIT) ready = ready ?? init({ module_or_path: m.module });
      await started();
      const handler = m.type === REQUEST.INIT ? () => true : handlers[m.type];
      if (!handler) throw new Error(`unknown request '${m.type}'`);
      const result = await handler(m, (progress) => self.postMessage({ id: m.id, progress }));
      self.postMessage({ id: m.id, ok: true, result });
    } catch (err) {
      self.postMessage({ id: m.id, ok: false, error: String(err?.message ?? err) });
    }
  };
}
