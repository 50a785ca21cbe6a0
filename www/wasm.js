// The WebAssembly build (pkg/, from scripts/build-wasm.sh), fetched and compiled once per page
// load. Workers get the compiled WebAssembly.Module in their first message (a Module can be
// posted to a worker), so no worker downloads or compiles the 1.4 MB again. The page itself
// instantiates it too, for the values the library owns (network profiles, training defaults).
import { WorkerClient } from './protocol.js';

const WASM_URL = new URL('../pkg/mpcvit_bg.wasm', import.meta.url);
const BINDINGS_URL = new URL('../pkg/mpcvit.js', import.meta.url);

let compiled = null;
/** The compiled module (a failed attempt is forgotten, so that Retry tries again). */
export function wasmModule() {
  compiled ??= compile().catch((err) => {
    compiled = null;
    throw err;
  });
  return compiled;
}

async function compile() {
  const fail = (why) => new Error(`WebAssembly could not start: pkg/mpcvit_bg.wasm ${why}; build it with ./scripts/build-wasm.sh`);
  let response;
  try {
    response = await fetch(WASM_URL);
  } catch (err) {
    throw fail(`could not be fetched (${err.message})`);
  }
  if (!response.ok) throw fail(`gave HTTP ${response.status}`);
  try {
    return await WebAssembly.compile(await response.arrayBuffer());
  } catch (err) {
    throw fail(`is not valid WebAssembly (${err.message})`);
  }
}

let library = null;
/** The bindings, instantiated in this thread from the same compiled module. */
export function wasmLibrary() {
  library ??= (async () => {
    const [bindings, module] = await Promise.all([import(BINDINGS_URL.href), wasmModule()]);
    await bindings.default({ module_or_path: module });
    return bindings;
  })().catch((err) => {
    library = null;
    throw err;
  });
  return library;
}

/** A worker (a module under www/workers/) that receives the compiled module first. */
export function startWorker(file, name) {
  return new WorkerClient(new URL(`./workers/${file}`, import.meta.url), { name, module: wasmModule() });
}

let plain = null;
/** The long-lived plaintext worker (workers/plain.js); a failed one is replaced. */
export function plainWorker() {
  if (!plain || plain.failure) {
    plain?.terminate();
    plain = startWorker('plain.js', 'plaintext');
  }
  return plain;
}
