// Runs mpcvit's FSS primitive benchmark (DCF / DPF with AES and ChaCha tree PRGs) inside wasm
// under Node and prints the rows as one JSON line. Usage: node scripts/bench-wasm-fss.mjs PKG REPS
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const [pkg, reps] = process.argv.slice(2);
const mod = await import(pathToFileURL(resolve(pkg, 'mpcvit.js')).href);
mod.initSync({ module: readFileSync(join(pkg, 'mpcvit_bg.wasm')) });
// The first run warms the JIT; the second is measured.
mod.bench_fss(Math.floor(Number(reps) / 10) + 1);
console.log(JSON.stringify(mod.bench_fss(Number(reps))));
