// Runs mpcvit's plaintext benchmark inside wasm under Node and prints one JSON line
// {forward_ms, train_images_per_s}. Usage: node scripts/bench-wasm.mjs PKG MODELS NAME ITERS STEPS
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const [pkg, models, name, iters, steps] = process.argv.slice(2);
const mod = await import(pathToFileURL(resolve(pkg, 'mpcvit.js')).href);
mod.initSync({ module: readFileSync(join(pkg, 'mpcvit_bg.wasm')) });
const weights = readFileSync(join(models, `${name}.safetensors`));
const manifest = readFileSync(join(models, `${name}.json`), 'utf8');
const result = mod.bench_plaintext(weights, manifest, Number(iters), Number(steps));
console.log(JSON.stringify(result));
