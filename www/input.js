// The image to classify: a sample test image (one per class shown, the rest on demand), a
// drawing (light ink on black, as the samples are) or an uploaded PNG / JPEG / GIF / WebP.
import { $, fetchOk, clause } from './util.js';
import { state, showError } from './state.js';

const canvas = $('canvas');
const ctx = canvas.getContext('2d', { willReadFrequently: true });
// MNIST and Fashion-MNIST images are light on black: the drawing is too.
const BACKGROUND = '#000';
const INK = '#fff';

let hooks = { pick() {}, stroke() {}, cleared() {} };

/** The drawing's RGBA bytes, moved (not copied) to the worker. */
function canvasRgba() {
  const img = ctx.getImageData(0, 0, canvas.width, canvas.height);
  return { rgba: new Uint8Array(img.data.buffer), width: img.width, height: img.height };
}
const drawingInput = () => ({ kind: 'drawing', rgba: canvasRgba });

/** Blanks the drawing (and forgets it as the input). */
export function clearCanvas() {
  ctx.fillStyle = BACKGROUND;
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  if (state.input?.kind === 'drawing') state.input = null;
}

function selectThumb(cv) {
  $('samples').querySelectorAll('canvas').forEach((c) => c.classList.toggle('selected', c === cv));
}

function thumbnail(set, img, i) {
  const cv = document.createElement('canvas');
  cv.width = set.cols;
  cv.height = set.rows;
  const name = set.classes[img.label];
  cv.title = `test image ${img.index}: ${name}`;
  cv.setAttribute('role', 'button');
  cv.setAttribute('aria-label', `sample ${i + 1}, a ${name}`);
  cv.tabIndex = 0;
  cv.dataset.label = img.label;
  cv.dataset.i = i;
  const data = cv.getContext('2d').createImageData(set.cols, set.rows);
  img.pixels.forEach((p, k) => { data.data.set([p, p, p, 255], 4 * k); });
  cv.getContext('2d').putImageData(data, 0, 0);
  const pick = () => {
    clearCanvas(); // the canvas shows no stale drawing while a sample is classified
    selectThumb(cv);
    state.input = { kind: 'sample', pixels: Uint8Array.from(img.pixels), label: img.label, index: img.index };
    hooks.pick();
  };
  cv.onclick = pick;
  cv.onkeydown = (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); pick(); } };
  return cv;
}

/** Shows the dataset's sample images: the first of each class, the others behind a button. */
export async function loadSamples(dataset) {
  const box = $('samples');
  if (!state.samples.has(dataset)) {
    try {
      const r = await fetchOk(`samples/${dataset}.json`, 'samples');
      state.samples.set(dataset, await r.json());
    } catch (err) {
      box.textContent = `No sample images for ${dataset} (${clause(err.message)}); draw or upload instead.`;
      return;
    }
  }
  const set = state.samples.get(dataset);
  const seen = new Set();
  const thumbs = set.images.map((img, i) => {
    const cv = thumbnail(set, img, i);
    cv.classList.toggle('extra', seen.has(img.label));
    seen.add(img.label);
    return cv;
  });
  box.replaceChildren(...thumbs);
  box.classList.remove('all');
  const more = thumbs.filter((t) => t.classList.contains('extra')).length;
  $('more-samples').hidden = more === 0;
  $('more-samples').textContent = `Show ${more} more test images`;
  const classes = set.classes;
  $('draw-hint').textContent = dataset === 'mnist' ? 'or draw a digit here (mouse, pen or finger):'
    : `or draw one of: ${classes.join(', ')}:`;
}

let drawing = false;
function pos(e) {
  const r = canvas.getBoundingClientRect();
  return [((e.clientX - r.left) * canvas.width) / r.width, ((e.clientY - r.top) * canvas.height) / r.height];
}

function initDrawing() {
  canvas.addEventListener('pointerdown', (e) => {
    drawing = true;
    canvas.setPointerCapture(e.pointerId);
    Object.assign(ctx, { lineWidth: 20, lineCap: 'round', lineJoin: 'round', strokeStyle: INK });
    ctx.beginPath();
    ctx.moveTo(...pos(e));
    ctx.lineTo(...pos(e)); // a tap leaves a dot
    ctx.stroke();
    selectThumb(null);
    state.input = drawingInput();
    hooks.strokeStarted?.();
  });
  canvas.addEventListener('pointermove', (e) => {
    if (!drawing) return;
    ctx.lineTo(...pos(e));
    ctx.stroke();
  });
  const endStroke = () => {
    if (!drawing) return;
    drawing = false;
    hooks.stroke(canvasRgba);
  };
  canvas.addEventListener('pointerup', endStroke);
  canvas.addEventListener('pointercancel', endStroke);
}

async function upload(e) {
  const file = e.target.files[0];
  e.target.value = '';
  if (!file) return;
  try {
    const bmp = await createImageBitmap(file);
    clearCanvas();
    const s = Math.min(canvas.width / bmp.width, canvas.height / bmp.height);
    ctx.drawImage(bmp, (canvas.width - bmp.width * s) / 2, (canvas.height - bmp.height * s) / 2, bmp.width * s, bmp.height * s);
    bmp.close();
  } catch (err) {
    showError(`“${file.name}” could not be read as an image (${clause(err.message || err.name)}). Try a PNG or JPEG.`,
      () => $('upload').click());
    return;
  }
  selectThumb(null);
  state.input = drawingInput();
  hooks.pick();
}

/**
 * Wires the inputs: `pick()` after a sample or an upload is chosen, `strokeStarted()` as a
 * stroke begins, `stroke(rgba)` after each stroke, `cleared()` after Clear.
 */
export function initInput(h) {
  hooks = h;
  clearCanvas();
  initDrawing();
  $('clear').onclick = () => {
    clearCanvas();
    selectThumb(null);
    hooks.cleared();
  };
  $('upload').onchange = upload;
  $('more-samples').onclick = () => {
    $('samples').classList.add('all');
    $('more-samples').hidden = true;
  };
}
