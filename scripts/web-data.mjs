// Writes the page's training data: www/data/<dataset>-train.bin and -test.bin, the first
// TRAIN (4000) and TEST (1000) images of the converted splits in data/ (see README,
// "Datasets"). Both splits are ordered round-robin by class, so these prefixes are
// class-balanced. The files are committed so that the page's "Search live" works from any
// static host without the 47 MB full splits; they are cut by the crate itself
// (`dataset_subset` in pkg/, checksummed like every dataset file).
//
// Usage: node scripts/web-data.mjs [--check]   (needs pkg/ from scripts/build-wasm.sh and data/)
// --check compares the committed files with freshly cut ones and exits non-zero on a difference.
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SIZES = { train: 4000, test: 1000 };
const check = process.argv.includes('--check');

const pkg = await import(pathToFileURL(join(ROOT, 'pkg', 'mpcvit.js')).href);
pkg.initSync({ module: readFileSync(join(ROOT, 'pkg', 'mpcvit_bg.wasm')) });
mkdirSync(join(ROOT, 'www', 'data'), { recursive: true });
let differ = 0;
for (const dataset of ['mnist', 'fashion']) {
  for (const [split, n] of Object.entries(SIZES)) {
    const subset = pkg.dataset_subset(readFileSync(join(ROOT, 'data', `${dataset}-${split}.bin`)), n);
    const out = join(ROOT, 'www', 'data', `${dataset}-${split}.bin`);
    if (check) {
      let same = false;
      try { same = Buffer.compare(readFileSync(out), Buffer.from(subset)) === 0; } catch { /* missing */ }
      console.log(`${same ? 'ok  ' : 'DIFF'} ${out}`);
      differ += !same;
    } else {
      writeFileSync(out, subset);
      console.log(`wrote ${out} (${n} images, ${subset.length} bytes)`);
    }
  }
}
process.exit(differ ? 1 : 0);
