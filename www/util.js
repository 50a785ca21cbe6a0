// Small helpers shared by the page's modules: element lookup, fetching with readable errors,
// number formats, the horizontal bar charts, and the page's remembered choices.

/** The element with this id. */
export const $ = (id) => document.getElementById(id);

/** `fetch` that turns a network failure or an HTTP error into an Error naming `kind` and `url`. */
export async function fetchOk(url, kind) {
  let r;
  try {
    r = await fetch(url);
  } catch (err) {
    throw new Error(`${kind} ${url} could not be fetched (${err.message})`);
  }
  if (!r.ok) throw new Error(`${kind} ${url}: HTTP ${r.status}${r.status === 404 ? ' (not found)' : ''}`);
  return r;
}

export const percent = (v) => `${(100 * v).toFixed(1)}%`;
export const mb = (b) => `${(b / 1e6).toFixed(2)} MB`;
export const seconds = (s, digits = 2) => `${s.toFixed(digits)} s`;

/** `text` without its trailing punctuation, to embed it in a sentence of our own. */
export const clause = (text) => String(text).trim().replace(/[.!?;:,\s]+$/, '');

/** Escapes text for an HTML template. */
export const esc = (text) => String(text).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);

/**
 * A horizontal bar chart in `el`: one row per value with its name, a bar (`scale` maps a value
 * to [0, 1] of the track) and the formatted value; row `top` is highlighted. `titles` gives
 * each row a tooltip (default: its name).
 */
export function bars(el, values, names, { format = percent, scale = (v) => v, top = -1, titles = names } = {}) {
  el.innerHTML = '';
  values.forEach((v, i) => {
    const row = document.createElement('div');
    row.className = i === top ? 'bar top' : 'bar';
    row.innerHTML = '<span class="label"></span><span class="track"><span class="fill"></span></span><span class="value"></span>';
    row.children[0].textContent = names[i];
    row.title = titles[i];
    row.querySelector('.fill').style.width = `${Math.min(100, Math.max(0.5, 100 * scale(v)))}%`;
    row.children[2].textContent = format(v);
    el.append(row);
  });
}

/** A table's HTML from a header row and body rows (cells are HTML). */
export function tableHtml(head, rows) {
  const tr = (cells, tag) => `<tr>${cells.map((c) => `<${tag}>${c}</${tag}>`).join('')}</tr>`;
  return `<thead>${tr(head, 'th')}</thead><tbody>${rows.map((r) => tr(r, 'td')).join('')}</tbody>`;
}

/** The page's remembered choices (the last model and network), kept in localStorage. */
export const remembered = {
  get(key) {
    try {
      return JSON.parse(localStorage.getItem(`mpcvit.${key}`));
    } catch {
      return null; // storage disabled or a value from another version
    }
  },
  set(key, value) {
    try {
      localStorage.setItem(`mpcvit.${key}`, JSON.stringify(value));
    } catch {
      // Private mode or a full quota: the page works, it just does not remember.
    }
  },
};
