//! Values the page shows and sends that the library owns: the named network profiles and the
//! training and distillation defaults. The page reads them from here instead of retyping them,
//! so a change in the library reaches the page (issue 14, item 8).

use serde::Serialize;
use wasm_bindgen::prelude::*;

use super::to_js;
use crate::mpc::NetworkProfile;
use crate::train::distill::DistillConfig;
use crate::train::TrainConfig;

/// A named profile as the page uses it: `key` is the value the page stores and sends.
#[derive(Serialize)]
struct ProfileView {
    key: &'static str,
    name: String,
    rtt_ms: f64,
    mbytes_per_s: f64,
}

impl ProfileView {
    fn new(key: &'static str, p: NetworkProfile) -> Self {
        ProfileView {
            key,
            name: p.name,
            rtt_ms: p.rtt_s * 1e3,
            mbytes_per_s: p.bandwidth_bytes_per_s / 1e6,
        }
    }
}

/// The library's named network profiles, `[{key, name, rtt_ms, mbytes_per_s}]`: LAN, then
/// the paper's WAN.
#[wasm_bindgen]
pub fn network_profiles() -> Result<JsValue, JsError> {
    let views: Vec<ProfileView> = NetworkProfile::named()
        .into_iter()
        .map(|(key, p)| ProfileView::new(key, p))
        .collect();
    to_js(&views)
}

/// `TrainConfig::default_for(dataset)` as the JSON object `TrainerHandle` and `SearchHandle`
/// accept back.
#[wasm_bindgen]
pub fn train_defaults(dataset: &str) -> Result<JsValue, JsError> {
    to_js(&TrainConfig::default_for(dataset))
}

/// The paper's distillation weights (`DistillConfig::default()`, section 5.1) as the JSON
/// object `TrainerHandle::distil_from` accepts.
#[wasm_bindgen]
pub fn distill_defaults() -> Result<JsValue, JsError> {
    to_js(&DistillConfig::default())
}

/// The out-of-domain sets for models of `dataset` (`crate::data::ood::SETS`): the names the
/// page fetches as `ood/<name>.bin` to report a trained model's accuracy on them.
#[wasm_bindgen]
pub fn ood_sets(dataset: &str) -> Vec<String> {
    crate::data::ood::SETS
        .iter()
        .filter(|(_, base)| *base == dataset)
        .map(|(name, _)| name.to_string())
        .collect()
}
