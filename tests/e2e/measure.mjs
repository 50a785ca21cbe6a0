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
// Run: node tests/e2e/measure.mjs [model ...]   (needs pkg/ and models/)
// Env: CHROMIUM (default /usr/bin/chromium), REPEATS (default 3), JSON=path to also save rows.
import { chromium } from 'playwright-core';
import { writeFileSync } from 'node:fs';
import { startServer } from '../../scripts/serve.mjs';

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const REPEATS = Number(process.env.REPEATS || 3);
const models = process.argv.slice(2).length ? process.argv.slice(2) : ['mnist-softmax', 'fashion-softmax', 'fashion-mpcvit-mu0.3'];
const PROFILES = ['none', 'lan', 'wan'];

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const { server, url } = await startServer({ port: 0 });
const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
const rows = [];
try {
  const page = await (await browser.newContext({ viewport: { width: 1100, height: 1200 } })).newPage();
  await page.goto(url);
  const phase = () => page.waitForFunction(() => ['ready', 'done', 'error'].includes(document.body.dataset.phase), null, { timeout: 120000 });
  await phase();
  for (const model of models) {
    await page.selectOption('#model', model);
    await phase();
    for (const profile of PROFILES) {
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
        if (r.error) throw new Error(`${model} ${profile}: ${r.error}`);
        runs.push(r);
      }
      const c = runs[0].cost;
      const estimate = { none: median(runs.map((r) => r.cost.compute_s)), lan: median(runs.map((r) => r.cost.lan_s)), wan: median(runs.map((r) => r.cost.wan_s)) }[profile];
      const row = {
        model, profile, rounds: c.rounds, online_mb: (c.bytes_client_to_server + c.bytes_server_to_client) / 1e6,
        measured_s: median(runs.map((r) => r.measured)), wall_s: median(runs.map((r) => r.wall)), estimated_s: estimate, repeats: REPEATS,
      };
      rows.push(row);
      console.log(`${model.padEnd(22)} ${profile.padEnd(5)} measured ${row.measured_s.toFixed(2)} s (page ${row.wall_s.toFixed(2)} s), `
        + `estimated ${row.estimated_s.toFixed(2)} s, ${row.rounds} rounds, ${row.online_mb.toFixed(2)} MB`);
    }
  }
} finally {
  await browser.close().catch(() => {});
  server.close();
}
console.log('\n| model | network | measured in the tab (client) | page wall time | estimate | rounds | online MB |');
console.log('|---|---|---|---|---|---|---|');
for (const r of rows) {
  console.log(`| ${r.model} | ${r.profile} | ${r.measured_s.toFixed(2)} s | ${r.wall_s.toFixed(2)} s | ${r.estimated_s.toFixed(2)} s | ${r.rounds} | ${r.online_mb.toFixed(2)} |`);
}
if (process.env.JSON) writeFileSync(process.env.JSON, JSON.stringify(rows, null, 2));
