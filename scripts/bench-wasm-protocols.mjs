// Runs mpcvit's per-protocol 2PC benchmark inside wasm under Node and prints the rows as one
// JSON line. Usage: node scripts/bench-wasm-protocols.mjs PKG SIZE
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const [pkg, size] = process.argv.slice(2);
const mod = await import(pathToFileURL(resolve(pkg, 'mpcvit.js')).href);
mod.initSync({ module: readFileSync(join(pkg, 'mpcvit_bg.wasm')) });
// The first run warms the JIT; the second is measured.
mod.bench_protocols(Number(size));
console.log(JSON.stringify(mod.bench_protocols(Number(size))));
