// The client's local helper (one long-lived worker): holds a plaintext copy of the selected
// model to show the reference prediction next to the private one, prepares drawn or uploaded
// images, and measures the variant explorer's costs. Requests: see ../protocol.js.
import init, { Classifier, variant_costs } from '../../pkg/mpcvit.js';
import { serve, REQUEST } from '../protocol.js';

let model = null;

serve({
  [REQUEST.LOAD]: (m) => {
    const next = Classifier.load(m.weights, m.manifest);
    model?.free();
    model = next;
    return model.info();
  },
  [REQUEST.CLASSIFY]: (m) => loaded().classify(m.pixels),
  [REQUEST.CLASSIFY_RGBA]: (m) => loaded().classify_rgba(m.rgba, m.width, m.height),
  [REQUEST.VARIANTS]: (m) => variant_costs(m.config),
}, init);

function loaded() {
  if (!model) throw new Error('no model is loaded yet');
  return model;
}
