// The trainer worker: the MPC-aware architecture search, binarisation and retraining with
// distillation (paper section 4) on a small dataset, live in the page. It holds one search
// and one retraining at a time; long requests run the Rust step function in short slices
// (about 0.2 s each), post progress after each slice and yield between slices, so a 'stop'
// request can end them early and the page never waits on a long computation.
//
// Requests (see ../protocol.js for the envelope):
//   'search'   {train: Uint8Array (dataset file), size (its first images used), config,
//              settings, search (JSON strings)}
//              -> progress {step, total, epoch, loss, accuracy, lr, images_per_sec, alphas,
//                 penalty, latency?}; reply: the last progress
//   'binarise' {mu, perLayer} -> {mu, per_layer, plan, rsattn_units, units, cost}
//   'retrain'  {train, size, test: Uint8Array, config, plan, settings (JSON), teacher: {weights,
//              manifest}, distill (JSON), record: {key: JSON string}, name, ood: [Uint8Array]
//              (out-of-domain sets)}
//              -> progress {step, total, epoch, loss, accuracy, lr, images_per_sec};
//                 reply: {accuracy, ood: [{set, accuracy, images, unreadable}], weights:
//                 Uint8Array, manifest: string} (or {stopped: true})
//   'stop'     ends the running search or retraining after its current slice.
import init, { SearchHandle, TrainerHandle, dataset_subset } from '../../pkg/mpcvit.js';
import { serve, REQUEST } from '../protocol.js';

const SLICE_SECONDS = 0.2;
let search = null;
let stopRequested = false;

/** Steps `handle` to its end (or a stop) in slices of about SLICE_SECONDS, posting progress. */
async function runSlices(handle, progress, extra = () => ({})) {
  stopRequested = false;
  let n = 1;
  let last = null;
  while (!handle.done && !stopRequested) {
    const t0 = performance.now();
    last = { ...handle.step(n), ...extra() };
    progress(last);
    const seconds = (performance.now() - t0) / 1000;
    n = Math.max(1, Math.min(64, Math.round((n * SLICE_SECONDS) / Math.max(seconds, 1e-3))));
    // Let queued messages ('stop') in before the next slice.
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
  return { last, stopped: !handle.done };
}

serve({
  [REQUEST.SEARCH]: async (m, progress) => {
    search?.free();
    search = null;
    const handle = new SearchHandle(m.config, m.settings, m.search, dataset_subset(m.train, m.size));
    search = handle;
    const latency = handle.latency();
    progress({ step: 0, total: null, alphas: Array.from(handle.alphas()), latency });
    const { last, stopped } = await runSlices(handle, progress, () => ({ latency }));
    return { ...last, stopped };
  },
  [REQUEST.BINARISE]: (m) => {
    if (!search) throw new Error('run a search first');
    return search.binarise(m.mu, m.perLayer);
  },
  [REQUEST.RETRAIN]: async (m, progress) => {
    const t = new TrainerHandle(m.config, m.plan, m.settings, dataset_subset(m.train, m.size));
    try {
      if (m.teacher) t.distil_from(m.teacher.weights, m.teacher.manifest, m.distill);
      for (const [key, value] of Object.entries(m.record ?? {})) t.record(key, value);
      const { stopped } = await runSlices(t, progress);
      if (stopped) return { stopped: true };
      const accuracy = t.evaluate(m.test);
      const ood = (m.ood ?? []).map((set) => t.evaluate_ood(set));
      const { weights, manifest } = t.export(m.name);
      return { accuracy, ood, weights, manifest };
    } finally {
      t.free();
    }
  },
  [REQUEST.STOP]: () => {
    stopRequested = true;
    return true;
  },
}, init);
