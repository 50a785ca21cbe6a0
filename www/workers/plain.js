// The client's local helper: prepares drawn or uploaded images and computes the plaintext
// reference prediction shown next to the private one.
import init, { Classifier, variant_costs } from '../../pkg/mpcvit.js';

const ready = init();
let model = null;

self.onmessage = async (event) => {
  const m = event.data;
  try {
    await ready;
    let result;
    if (m.type === 'variants') {
      result = variant_costs(m.config);
    } else if (m.type === 'load') {
      model?.free();
      model = Classifier.load(m.weights, m.manifest);
      result = true;
    } else if (!model) {
      throw new Error('no model loaded');
    } else if (m.type === 'prepare') {
      result = model.prepare_rgba(m.rgba, m.width, m.height);
    } else if (m.type === 'classify') {
      result = model.classify(m.pixels);
    } else {
      throw new Error(`unknown request ${m.type}`);
    }
    self.postMessage({ id: m.id, ok: true, result });
  } catch (err) {
    self.postMessage({ id: m.id, ok: false, error: String(err?.message ?? err) });
  }
};
