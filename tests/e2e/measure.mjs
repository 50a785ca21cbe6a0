// Measures private-inference time in the page (headless Chromium), per shipped model and per
// network profile imposed on the client-server channel (none, LAN, WAN), next to the
// estimate the cost meter gives for that profile. Not part of the test command: it takes a few
// minutes (WAN runs take ~10-17 s each) and its figures depend on the machine.
//
// For each model and profile it classifies REPEATS test images privately (three workers over
// MessageChannels, as a user would) and records the client's measured time (from its first
// message to the revealed logits, weight sharing included) and the page's wall time (workers
// started to result shown). The estimate is rounds x RTT + bytes / bandwidth + measured compute
// (for "none": the measured compute alone).
//
// With --search it instead runs the page's "Search live" with its default settings (4000
// training images, head-wise, lambda 0.1, 2 search epochs, mu 0.3, 8 retraining epochs with
// distillation) for each dataset given (default mnist fashion), and records the time of each
// phase, the training speed, the test accuracy and the new model's private cost.
//
// Each model and profile is measured with each protocol family the page offers (classic and
// FSS, the page's "Protocols" choice), so the two stand side by side from one run.
//
// Run: node tests/e2e/measure.mjs [model ...]   (needs pkg/ and models/)
//      node tests/e2e/measure.mjs --search [dataset ...]
// Env: CHROMIUM (default /usr/bin/chromium), REPEATS (default 3), PROFILES (default
// "none lan wan"), PROTOCOLS (default "classic fss"), JSON=path to also save rows.
import { chromium } from 'playwright-core';
import { writeFileSync } from 'node:fs';
import { startServer } from '../../scripts/serve.mjs';

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const REPEATS = Number(process.env.REPEATS || 3);
const SEARCH = process.argv.includes('--search');
const names = process.argv.slice(2).filter((a) => a !== '--search');
const models = names.length ? names : ['mnist-softmax', 'fashion-softmax', 'fashion-mpcvit-mu0.3'];
const datasets = names.length ? names : ['mnist', 'fashion'];
const PROFILES = (process.env.PROFILES || 'none lan wan').split(/[\s,]+/).filter(Boolean);
const FAMILIES = (process.env.PROTOCOLS || 'classic fss').split(/[\s,]+/).filter(Boolean);

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const { server, url } = await startServer({ port: 0 });
const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
const rows = [];
try {
  const page = await (await browser.newContext({ viewport: { width: 1100, height: 1200 } })).newPage();
  let wasmFetches = 0;
  page.on('request', (r) => { wasmFetches += r.url().endsWith('.wasm'); });
  const loadStart = Date.now();
  await page.goto(url);
  const phase = () => page.waitForFunction(() => ['ready', 'done', 'error'].includes(document.body.dataset.phase), null, { timeout: 120000 });
  await phase();
  // Page load: navigation to the first model loaded (wasm compiled, plaintext worker ready).
  console.log(`page ready in ${((Date.now() - loadStart) / 1000).toFixed(2)} s`);
  process.on('exit', () => console.log(`wasm fetched ${wasmFetches} time(s) in the session`));
  if (SEARCH) await measureSearch(page);
  for (const model of SEARCH ? [] : models) {
    await page.selectOption('#model', model);
    await phase();
    for (const [family, profile] of FAMILIES.flatMap((f) => PROFILES.map((p) => [f, p]))) {
      await page.selectOption('#protocols', family);
      await page.selectOption('#profile', profile);
      const runs = [];
      for (let i = 0; i < REPEATS; i++) {
        const before = await page.evaluate(() => Number(document.body.dataset.runs || 0));
        await page.locator('#samples canvas').nth(i * 10).click();
        await page.waitForFunction((b) => Number(document.body.dataset.runs || 0) > b || document.body.dataset.phase === 'error',
          before, { timeout: 300000 });
        const r = await page.evaluate(() => {
          if (document.body.dataset.phase === 'error') return { error: document.getElementById('error-text').textContent };
          const { result } = window.__mpcvit.last;
          return { measured: result.client.measured_s, wall: result.wallSeconds, cost: result.client.cost };
        });
        if (r.error) throw new Error(`${model} ${family} ${profile}: ${r.error}`);
        runs.push(r);
      }
      const c = runs[0].cost;
      const estimate = { none: median(runs.map((r) => r.cost.compute_s)), lan: median(runs.map((r) => r.cost.lan_s)), wan: median(runs.map((r) => r.cost.wan_s)) }[profile];
      const row = {
        model, protocols: family, profile, rounds: c.rounds, online_mb: (c.bytes_client_to_server + c.bytes_server_to_client) / 1e6,
        measured_s: median(runs.map((r) => r.measured)), wall_s: median(runs.map((r) => r.wall)), estimated_s: estimate, repeats: REPEATS,
      };
      rows.push(row);
      console.log(`${model.padEnd(22)} ${family.padEnd(7)} ${profile.padEnd(5)} measured ${row.measured_s.toFixed(2)} s (page ${row.wall_s.toFixed(2)} s), `
        + `estimated ${row.estimated_s.toFixed(2)} s, ${row.rounds} rounds, ${row.online_mb.toFixed(2)} MB`);
    }
  }
} finally {
  await browser.close().catch(() => {});
  server.close();
}
if (SEARCH) {
  console.log('\n| dataset | training images | search (2 epochs) | retrain with KD (8 epochs) | test accuracy | RSAttn heads | rounds | WAN estimate |');
  console.log('|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    console.log(`| ${r.dataset} | ${r.images} | ${r.search_s.toFixed(1)} s (${r.search_ips} images/s) | ${r.retrain_s.toFixed(1)} s `
      + `(${r.retrain_ips} images/s) | ${(100 * r.accuracy).toFixed(1)}% of ${r.test_images} | ${r.rsattn} | ${r.rounds} | ${r.wan_s.toFixed(2)} s |`);
  }
  if (process.env.JSON) writeFileSync(process.env.JSON, JSON.stringify(rows, null, 2));
  process.exit(0);
}
console.log('\n| model | protocols | network | measured in the tab (client) | page wall time | estimate | rounds | online MB |');
console.log('|---|---|---|---|---|---|---|---|');
for (const r of rows) {
  console.log(`| ${r.model} | ${r.protocols} | ${r.profile} | ${r.measured_s.toFixed(2)} s | ${r.wall_s.toFixed(2)} s | ${r.estimated_s.toFixed(2)} s | ${r.rounds} | ${r.online_mb.toFixed(2)} |`);
}
if (process.env.JSON) writeFileSync(process.env.JSON, JSON.stringify(rows, null, 2));

/** Search live with the page's defaults, per dataset; pushes one row each. */
async function measureSearch(page) {
  const until = (p) => page.waitForFunction((want) => [want, 'error'].includes(document.getElementById('search').dataset.phase),
    p, { timeout: 900000 }).then(async () => {
    const err = await page.evaluate(() => document.getElementById('search').dataset.phase === 'error'
      && document.getElementById('error-text').textContent);
    if (err) throw new Error(err);
  });
  const speed = () => page.evaluate(() => {
    const m = /(\d+) images\/s/.exec(document.getElementById('s-status').textContent);
    return m ? Number(m[1]) : null;
  });
  for (const dataset of datasets) {
    await page.selectOption('#s-dataset', dataset);
    let t0 = Date.now();
    await page.click('#s-start');
    let ips = null;
    const poll = setInterval(async () => { ips = (await speed().catch(() => null)) ?? ips; }, 1000);
    await until('searched');
    clearInterval(poll);
    const search_s = (Date.now() - t0) / 1000;
    const search_ips = ips;
    await page.click('#s-binarise');
    await until('binarised');
    t0 = Date.now();
    await page.click('#s-retrain');
    ips = null;
    const poll2 = setInterval(async () => { ips = (await speed().catch(() => null)) ?? ips; }, 1000);
    await until('trained');
    clearInterval(poll2);
    const retrain_s = (Date.now() - t0) / 1000;
    const r = await page.evaluate(() => {
      const s = window.__mpcvitSearch;
      return { images: s.search.size, rsattn: `${s.binarised.rsattn_units} of ${s.binarised.units}`, manifest: s.trained.manifest };
    });
    const row = {
      dataset, images: r.images, search_s, search_ips, retrain_s, retrain_ips: ips, accuracy: r.manifest.metrics.test_accuracy,
      test_images: r.manifest.metrics.test_images, rsattn: r.rsattn, rounds: r.manifest.cost.rounds, wan_s: r.manifest.cost.wan_s,
    };
    rows.push(row);
    console.log(JSON.stringify(row));
  }
}
