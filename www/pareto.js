// Accuracy vs estimated WAN latency of the models, one small SVG scatter plot per dataset
// (their accuracies live on different scales), with the Pareto front drawn: the models that no
// other model of the dataset beats on both accuracy and latency. Models trained in the tab
// (scored on fewer test images) are drawn hollow and kept out of the axes' range and the front,
// so that one weaker model does not squeeze the shipped ones together; one below the range sits
// on the bottom edge with an arrow. Labels are placed so that none overlaps another or a dot.

const SVG = 'http://www.w3.org/2000/svg';
const [W, H, L, R, T, B] = [360, 230, 46, 12, 24, 36];
// An upper bound of the label font's advance per character (8 px system-ui), for placement.
const CHAR_W = 5;
const LABEL_H = 9;

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

/** A short label: the variant or the budget, without the dataset. */
function shortLabel(p, dataset) {
  const rest = p.name.replace(`${dataset}-`, '');
  const mu = /mu([0-9.]+)/.exec(rest)?.[1];
  const base = { softmax: 'Softmax', scale: 'ScaleAttn', rsattn: 'RSAttn' }[rest]
    ?? (mu ? `${rest.includes('plus') ? 'MPCViT+' : 'MPCViT'} μ${mu}` : rest);
  return p.tab ? `${base} (tab)` : base;
}

const overlaps = (a, b) => a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1;

function labelBox(x, y, width, anchor) {
  const x0 = anchor === 'start' ? x : anchor === 'end' ? x - width : x - width / 2;
  return { x0: x0 - 1, x1: x0 + width + 1, y0: y - LABEL_H + 1, y1: y + 2 };
}

/** Candidate spots around a dot, nearest first; the farther ones get a leader line. */
function* candidates(cx, cy) {
  for (const [dx, dy, anchor] of [[6, -5, 'start'], [6, 11, 'start'], [-6, -5, 'end'], [-6, 11, 'end'],
    [7, 3, 'start'], [-7, 3, 'end'], [0, -8, 'middle'], [0, 15, 'middle']]) yield { x: cx + dx, y: cy + dy, anchor };
  for (let dy = 18; dy <= 90; dy += 9) {
    for (const s of [-1, 1]) {
      for (const [dx, anchor] of [[10, 'start'], [-10, 'end']]) yield { x: cx + dx, y: cy + s * dy, anchor, leader: true };
    }
  }
}

/** Places each label at the first candidate that overlaps no placed label, no dot and no edge. */
function placeLabels(items) {
  const placed = [];
  const dots = items.map(({ cx, cy }) => ({ x0: cx - 4, x1: cx + 4, y0: cy - 4, y1: cy + 4 }));
  const inside = (b) => b.x0 >= 0 && b.x1 <= W && b.y0 >= T - 6 && b.y1 <= H - B;
  for (const item of items) {
    const width = item.text.length * CHAR_W;
    let best = null;
    for (const c of candidates(item.cx, item.cy)) {
      const box = labelBox(c.x, c.y, width, c.anchor);
      if (inside(box) && !placed.some((b) => overlaps(b, box)) && !dots.some((d) => overlaps(d, box))) {
        best = { ...c, box };
        break;
      }
    }
    // Nowhere free (a very crowded plot): the first spot, which the tooltip still explains.
    best ??= { ...candidates(item.cx, item.cy).next().value, box: null };
    if (best.box) placed.push(best.box);
    item.spot = best;
  }
}

function axes(svg, x, y, [w0, w1], [a0, a1], dataset) {
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
}

function plot(dataset, points) {
  const svg = el('svg', { viewBox: `0 0 ${W} ${H}`, class: 'pareto', role: 'img',
    'aria-label': `${dataset}: test accuracy against estimated WAN latency` });
  const shipped = points.filter((p) => !p.tab);
  const ranged = shipped.length ? shipped : points;
  const pad = (lo, hi, f) => [lo - (hi - lo || 1) * f, hi + (hi - lo || 1) * f];
  const accs = pad(Math.min(...ranged.map((p) => p.acc)), Math.max(...ranged.map((p) => p.acc)), 0.12);
  const wans = pad(Math.min(...points.map((p) => p.wan)), Math.max(...points.map((p) => p.wan)), 0.08);
  const x = (w) => L + ((w - wans[0]) / (wans[1] - wans[0])) * (W - L - R);
  const y = (a) => H - B - ((Math.min(Math.max(a, accs[0]), accs[1]) - accs[0]) / (accs[1] - accs[0])) * (H - T - B);
  axes(svg, x, y, wans, accs, dataset);
  const front = paretoFront(ranged).sort((p, q) => p.wan - q.wan);
  svg.append(el('polyline', { points: front.map((p) => `${x(p.wan)},${y(p.acc)}`).join(' '), class: 'front' }));
  const items = points.map((p) => {
    const clipped = p.acc < accs[0] ? ` ↓${p.acc.toFixed(1)}%` : '';
    return { p, cx: x(p.wan), cy: y(p.acc), text: `${shortLabel(p, dataset)}${clipped}` };
  });
  // The front's labels first: they matter most and get the nearest spots.
  items.sort((a, b) => front.includes(b.p) - front.includes(a.p) || a.p.wan - b.p.wan);
  placeLabels(items);
  for (const { p, cx, cy, text, spot } of items) {
    const g = el('g', { class: `point${front.includes(p) ? ' on-front' : ''}${p.tab ? ' tab' : ''}`, 'data-name': p.name });
    if (spot.leader) g.append(el('line', { x1: cx, y1: cy, x2: spot.x, y2: spot.y - 3, class: 'leader' }));
    g.append(el('circle', { cx, cy, r: 4 }));
    g.append(el('title', {}, `${p.name}: ${p.acc.toFixed(2)}%, ${p.wan.toFixed(2)} s on WAN${p.tab ? ' (trained in this tab, scored on fewer test images)' : ''}`));
    g.append(el('text', { x: spot.x, y: spot.y, class: 'label', 'text-anchor': spot.anchor }, text));
    svg.append(g);
  }
  return svg;
}

/** Replaces the contents of `container` with one plot per dataset of `models`
 *  ([{name, dataset, acc (%), wan (s), tab}]); models without both figures are left out. */
export function drawPareto(container, models) {
  container.replaceChildren();
  const usable = models.filter((m) => Number.isFinite(m.acc) && Number.isFinite(m.wan));
  const datasets = [...new Set(usable.map((m) => m.dataset))].sort((a, b) => (a === 'mnist' ? -1 : b === 'mnist' ? 1 : a.localeCompare(b)));
  for (const d of datasets) container.append(plot(d, usable.filter((m) => m.dataset === d)));
  container.dataset.points = usable.length;
}
