// The shipped models (and those trained in this tab): a table and, per dataset, the accuracy /
// private-latency plot with its Pareto front.
import { $, fetchOk, esc, mb, seconds, tableHtml } from './util.js';
import { state } from './state.js';
import { drawPareto } from './pareto.js';
import { describeModel, DATASETS } from './models.js';

async function manifestOf(entry) {
  if (state.manifests.has(entry.name)) return state.manifests.get(entry.name);
  const manifest = JSON.parse(await (await fetchOk(`../models/${entry.manifest}`, 'manifest')).text());
  state.manifests.set(entry.name, manifest);
  return manifest;
}

export async function renderFamily() {
  const rows = [];
  const points = [];
  const rank = (m) => DATASETS.findIndex(([d]) => d === m.dataset);
  const ordered = [...state.index.models].sort((a, b) => rank(a) - rank(b) || a.name.localeCompare(b.name, 'en', { numeric: true }));
  for (const m of ordered) {
    const title = esc(describeModel(m).title);
    try {
      const manifest = await manifestOf(m);
      const cost = manifest.cost ?? {};
      const acc = manifest.metrics?.test_accuracy;
      const images = manifest.metrics?.test_images;
      points.push({ name: m.name, dataset: m.dataset, acc: 100 * acc, wan: cost.wan_s, tab: Boolean(m.trained_here) });
      const accText = acc != null ? `${(100 * acc).toFixed(2)}%${m.trained_here ? ` <span class="muted small">(${images} images)</span>` : ''}` : '–';
      rows.push([`<span title="${esc(m.name)}">${title}</span>`, m.dataset, accText, cost.rounds ?? '–',
        cost.online_bytes != null ? mb(cost.online_bytes) : '–', cost.wan_s != null ? seconds(cost.wan_s) : '–']);
    } catch (err) {
      rows.push([title, m.dataset, esc(err.message), '–', '–', '–']);
    }
  }
  $('family').innerHTML = tableHtml(['model', 'dataset', 'test accuracy', 'rounds', 'online', 'WAN estimate'], rows);
  $('family').dataset.models = rows.length;
  drawPareto($('pareto'), points);
}
