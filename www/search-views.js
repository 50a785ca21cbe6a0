// The drawings of the "Search live" section: the loss / accuracy curves, the alpha heat map
// (layer x unit) and the binarised plan as a layer x head grid.

function setupCanvas(cv) {
  const ctx = cv.getContext('2d');
  ctx.clearRect(0, 0, cv.width, cv.height);
  ctx.font = '11px system-ui, sans-serif';
  return ctx;
}

/** Loss (left axis) and accuracy (right axis, 0-100%) against the steps of one phase. */
export function drawCurves(cv, points, total, title) {
  const ctx = setupCanvas(cv);
  ctx.fillStyle = '#1b1f24';
  ctx.fillText(title, 40, 8);
  const [w, h, l, r, t, b] = [cv.width, cv.height, 34, 34, 14, 22];
  if (!points.length) return;
  const maxLoss = Math.max(0.1, ...points.map((p) => p.loss));
  const x = (s) => l + ((w - l - r) * s) / Math.max(1, total);
  const yLoss = (v) => t + (h - t - b) * (1 - v / maxLoss);
  const yAcc = (v) => t + (h - t - b) * (1 - v);
  ctx.strokeStyle = '#e3e6ea';
  ctx.strokeRect(l, t, w - l - r, h - t - b);
  ctx.fillStyle = '#5b6470';
  ctx.fillText(maxLoss.toFixed(2), 2, t + 8);
  ctx.fillText('0', 2, h - b);
  ctx.fillText('100%', w - r + 3, t + 8);
  ctx.fillText('step', w / 2 - 10, h - 6);
  for (const [key, colour, y] of [['loss', '#b3261e', yLoss], ['accuracy', '#2458d3', yAcc]]) {
    ctx.strokeStyle = colour;
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    points.forEach((p, i) => (i ? ctx.lineTo(x(p.step), y(p[key])) : ctx.moveTo(x(p.step), y(p[key]))));
    ctx.stroke();
  }
  ctx.fillStyle = '#b3261e';
  ctx.fillText('loss', l + 4, h - b - 4);
  ctx.fillStyle = '#2458d3';
  ctx.fillText('accuracy', l + 34, h - b - 4);
}

/** The alphas as a heat map: one row per layer, one column per head (or per head and row). */
export function drawHeat(cv, alphas, depth, heads) {
  const ctx = setupCanvas(cv);
  const per = alphas.length / depth;
  const [l, t, b] = [44, 4, 18];
  const cw = (cv.width - l - 4) / per;
  const ch = (cv.height - t - b) / depth;
  for (let layer = 0; layer < depth; layer++) {
    ctx.fillStyle = '#5b6470';
    ctx.fillText(`layer ${layer}`, 2, t + ch * layer + ch / 2 + 4);
    for (let u = 0; u < per; u++) {
      const a = alphas[layer * per + u];
      // White (alpha 0, ScaleAttn) to the accent blue (alpha 1, RSAttn).
      ctx.fillStyle = `rgb(${Math.round(255 - 219 * a)}, ${Math.round(255 - 167 * a)}, ${Math.round(255 - 44 * a)})`;
      ctx.fillRect(l + u * cw, t + layer * ch, Math.max(1, cw - (per <= 16 ? 2 : 0)), ch - 2);
      if (per <= 16 && cw > 30) {
        ctx.fillStyle = a > 0.55 ? '#fff' : '#1b1f24';
        ctx.fillText(a.toFixed(2), l + u * cw + cw / 2 - 12, t + layer * ch + ch / 2 + 4);
      }
    }
  }
  ctx.fillStyle = '#5b6470';
  const unit = per === 1 ? 'whole layer' : per === heads ? 'head' : `head × row (${per / heads} rows each)`;
  ctx.fillText(`columns: ${unit}`, l, cv.height - 4);
}

/** The plan as a layer x head grid: the variant, or for row plans the RSAttn rows of each head. */
export function renderPlan(el, plan, cfg) {
  const a = plan.attention;
  const cell = (layer, head) => {
    if (a.granularity === 'layer') return [a.variants[layer], a.variants[layer]];
    if (a.granularity === 'head') return [a.variants[layer][head], a.variants[layer][head]];
    const rows = a.variants[layer][head];
    const kept = rows.filter((v) => v === 'rsattn').length;
    return [kept > rows.length / 2 ? 'rsattn' : 'scale', `${kept}/${rows.length} rows`];
  };
  let html = `<div class="plan-grid" style="grid-template-columns: auto repeat(${cfg.heads}, minmax(4.5em, 1fr))">`;
  for (let layer = 0; layer < cfg.depth; layer++) {
    html += `<span class="layer">layer ${layer}</span>`;
    for (let head = 0; head < cfg.heads; head++) {
      const [cls, text] = cell(layer, head);
      html += `<span class="${cls}" title="layer ${layer}, head ${head}">${text}</span>`;
    }
  }
  el.innerHTML = `${html}</div>`;
}
