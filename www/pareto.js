// Accuracy vs estimated WAN latency of the shipped models, one small SVG scatter plot per
// dataset (their accuracies live on different scales), with the Pareto front drawn: the models
// that no other model of the dataset beats on both accuracy and latency.

const SVG = 'http://www.w3.org/2000/svg';

function el(name, attrs = {}, text) {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text != null) e.textContent = text;
  return e;
}

/** The points of `points` ({acc, wan}) that are Pareto-optimal (higher acc, lower wan). */
export function paretoFront(points) {
  return points.filter((p) => !points.some((o) => o !== p && o.acc >= p.acc && o.wan <= p.wan
    && (o.acc > p.acc || o.wan < p.wan)));
}

function niceTicks(lo, hi, n) {
  const step0 = (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(step0));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= step0);
  const ticks = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + 1e-9; t += step) ticks.push(+t.toFixed(6));
  return ticks;
}

function plot(dataset, points) {
  const W = 360, H = 230, L = 46, R = 12, T = 24, B = 36;
  const svg = el('svg', { viewBox: `0 0 ${W} ${H}`, class: 'pareto', role: 'img',
    'aria-label': `${dataset}: test accuracy against estimated WAN latency` });
  const accs = points.map((p) => p.acc), wans = points.map((p) => p.wan);
  const pad = (lo, hi, f) => [lo - (hi - lo || 1) * f, hi + (hi - lo || 1) * f];
  const [a0, a1] = pad(Math.min(...accs), Math.max(...accs), 0.12);
  const [w0, w1] = pad(Math.min(...wans), Math.max(...wans), 0.08);
  const x = (w) => L + ((w - w0) / (w1 - w0)) * (W - L - R);
  const y = (a) => H - B - ((a - a0) / (a1 - a0)) * (H - T - B);
  svg.append(el('text', { x: L, y: 14, class: 'title' }, dataset));
  for (const t of niceTicks(w0, w1, 5)) {
    svg.append(el('line', { x1: x(t), x2: x(t), y1: T, y2: H - B, class: 'grid' }));
    svg.append(el('text', { x: x(t), y: H - B + 14, class: 'tick', 'text-anchor': 'middle' }, `${t}`));
  }
  for (const t of niceTicks(a0, a1, 4)) {
    svg.append(el('line', { x1: L, x2: W - R, y1: y(t), y2: y(t), class: 'grid' }));
    svg.append(el('text', { x: L - 4, y: y(t) + 3, class: 'tick', 'text-anchor': 'end' }, `${t}`));
  }
  svg.append(el('text', { x: (L + W - R) / 2, y: H - 6, class: 'axis', 'text-anchor': 'middle' },
    'estimated WAN latency (s), lower is better'));
  svg.append(el('text', { x: 12, y: (T + H - B) / 2, class: 'axis', 'text-anchor': 'middle',
    transform: `rotate(-90 12 ${(T + H - B) / 2})` }, 'test accuracy %'));
  const front = paretoFront(points).sort((p, q) => p.wan - q.wan);
  svg.append(el('polyline', { points: front.map((p) => `${x(p.wan)},${y(p.acc)}`).join(' '), class: 'front' }));
  // Labels alternate above and below in latency order so that neighbours do not overlap; near
  // the right edge they sit left of the dot.
  const byWan = [...points].sort((p, q) => p.wan - q.wan);
  for (const p of points) {
    const g = el('g', { class: front.includes(p) ? 'point on-front' : 'point' });
    g.append(el('circle', { cx: x(p.wan), cy: y(p.acc), r: 4 }));
    g.append(el('title', {}, `${p.name}: ${p.acc.toFixed(2)}%, ${p.wan.toFixed(2)} s on WAN`));
    const short = p.name.replace(`${dataset}-`, '');
    const right = x(p.wan) > W - R - 70;
    const below = byWan.indexOf(p) % 2 === 1;
    g.append(el('text', { x: x(p.wan) + (right ? -6 : 6), y: y(p.acc) + (below ? 12 : -6),
      class: 'label', 'text-anchor': right ? 'end' : 'start' }, short));
    svg.append(g);
  }
  return svg;
}

/** Replaces the contents of `container` with one plot per dataset of `models`
 *  ([{name, dataset, acc (%), wan (s)}]); models without both figures are left out. */
export function drawPareto(container, models) {
  container.replaceChildren();
  const usable = models.filter((m) => Number.isFinite(m.acc) && Number.isFinite(m.wan));
  const datasets = [...new Set(usable.map((m) => m.dataset))].sort();
  for (const d of datasets) container.append(plot(d, usable.filter((m) => m.dataset === d)));
  container.dataset.points = usable.length;
}
