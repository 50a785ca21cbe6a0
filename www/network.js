// The network imposed on the client-server channel: none, the library's named profiles (read
// from the wasm, the one source of their figures) or custom values checked as they are typed;
// and the protocol family the three party workers run (classic or FSS). The choices are
// remembered across visits.
import { $, remembered } from './util.js';
import { wasmLibrary } from './wasm.js';

const profiles = new Map(); // key -> {key, name, rtt_ms, mbytes_per_s}

const bandwidth = (mbps) => (mbps >= 1000 ? `${mbps / 1000} GB/s` : `${mbps} MB/s`);
/** "40 ms, 44 MB/s" for a profile. */
export const profileFigures = (p) => `${p.rtt_ms} ms, ${bandwidth(p.mbytes_per_s)}`;
/** A named profile of the library (`lan`, `wan`), or undefined before the wasm is up. */
export const namedProfile = (key) => profiles.get(key);

/** The problem with the custom values, or '' when they are usable. */
export function customProblem() {
  if ($('profile').value !== 'custom') return '';
  const rtt = Number($('rtt').value);
  const bw = Number($('bw').value);
  const problems = [];
  if ($('rtt').value === '' || !Number.isFinite(rtt) || rtt < 0 || rtt > 10000) problems.push('the round trip must be between 0 and 10000 ms');
  if ($('bw').value === '' || !Number.isFinite(bw) || bw <= 0) problems.push('the bandwidth must be more than 0 MB/s');
  return problems.length ? `Check the network: ${problems.join(' and ')}.` : '';
}

/** The profile to impose (`null`: none); call only when `customProblem()` is ''. */
export function profile() {
  const key = $('profile').value;
  if (key === 'none') return null;
  if (key !== 'custom') return profiles.get(key) ?? null;
  return { name: 'custom', rtt_ms: Number($('rtt').value), mbytes_per_s: Number($('bw').value) };
}

/** The protocol family the in-tab parties run: `'classic'` or `'fss'`. */
export const protocols = () => $('protocols').value;

function showProblem() {
  const problem = customProblem();
  $('custom-error').textContent = problem;
  $('custom-error').hidden = !problem;
  for (const id of ['rtt', 'bw']) $(id).setAttribute('aria-invalid', String(Boolean(problem)));
  return problem;
}

function save() {
  remembered.set('network', { key: $('profile').value, rtt: $('rtt').value, bw: $('bw').value, protocols: protocols() });
}

/** Fills the profile list from the wasm and restores the last choice; `onChange` on edits. */
export async function initNetwork(onChange) {
  const select = $('profile');
  const changed = () => {
    $('custom').hidden = select.value !== 'custom';
    showProblem();
    save();
    onChange();
  };
  select.onchange = changed;
  $('protocols').onchange = changed;
  $('rtt').oninput = changed;
  $('bw').oninput = changed;
  try {
    const lib = await wasmLibrary();
    for (const p of lib.network_profiles()) {
      profiles.set(p.key, p);
      const paper = p.key === 'wan' ? ', as in the paper' : '';
      select.insertBefore(new Option(`${p.name} (${profileFigures(p)}${paper})`, p.key), select.lastElementChild);
    }
  } catch {
    // Without the wasm nothing runs; loading the model reports why.
  }
  const last = remembered.get('network');
  if (last && [...select.options].some((o) => o.value === last.key)) {
    select.value = last.key;
    $('rtt').value = last.rtt ?? $('rtt').value;
    $('bw').value = last.bw ?? $('bw').value;
  }
  if (last && [...$('protocols').options].some((o) => o.value === last.protocols)) $('protocols').value = last.protocols;
  $('custom').hidden = select.value !== 'custom';
  showProblem();
}
