//! Benchmarks callable from JavaScript (the CLI's `perf` runs them in Node).

use wasm_bindgen::prelude::*;

/// Plaintext forward and training speed of a model in this wasm instance:
/// `{forward_ms, train_images_per_s}`.
#[wasm_bindgen]
pub fn bench_plaintext(
    weights: &[u8],
    manifest: &str,
    forward_iters: usize,
    train_steps: usize,
) -> Result<JsValue, JsError> {
    let (m, p) = crate::io::load_model(weights, manifest).map_err(super::js_err)?;
    let vit = crate::model::ViT::new(m.config, m.plan, p).map_err(super::js_err)?;
    let b = crate::perf::plaintext(&vit, forward_iters, train_steps).map_err(super::js_err)?;
    serde_wasm_bindgen::to_value(&b).map_err(super::js_err)
}

/// The per-protocol benchmark of [`crate::secure::bench::run`] in this wasm instance: an array of
/// rows `{protocol, shape, rounds, bytes_p0_to_p1, bytes_p1_to_p0, bytes_offline, compute_s, ...}`.
#[wasm_bindgen]
pub fn bench_protocols(size: usize) -> Result<JsValue, JsError> {
    let rows = crate::secure::bench::run(size, crate::mpc::ProtocolFamily::Classic)
        .map_err(super::js_err)?;
    let s = serde_wasm_bindgen::Serializer::json_compatible();
    serde::Serialize::serialize(&rows, &s).map_err(super::js_err)
}

/// The FSS primitives' speed ([`crate::mpc::fss::speed::measure`]) in this wasm instance, `reps`
/// keys per primitive: an array of rows `{prg, what, key_bytes, gen_per_s, eval_per_s}`.
#[wasm_bindgen]
pub fn bench_fss(reps: usize) -> Result<JsValue, JsError> {
    let rows = crate::mpc::fss::speed::measure(reps);
    let s = serde_wasm_bindgen::Serializer::json_compatible();
    serde::Serialize::serialize(&rows, &s).map_err(super::js_err)
}
