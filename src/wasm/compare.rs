//! The page's variant explorer: the private cost of every attention variant and of MPCViT
//! head-wise plans for a model shape, measured on the real protocol in this wasm instance.

use wasm_bindgen::prelude::*;

use super::js_err;
use crate::model::ViTConfig;
use crate::mpc::SessionConfig;
use crate::secure::paper::paper_table;

/// Rows `{config, model, rounds, online_mb, offline_mb, lan_s, wan_s, wan_network_s}` for
/// every Table-2 variant and MPCViT at mu 0.1 / 0.3 / 0.5 / 0.7, for the config `config_json`.
#[wasm_bindgen]
pub fn variant_costs(config_json: &str) -> Result<JsValue, JsError> {
    let cfg: ViTConfig = serde_json::from_str(config_json).map_err(js_err)?;
    cfg.validate().map_err(js_err)?;
    let rows = paper_table(
        "this model's shape",
        &cfg,
        &[0.1, 0.3, 0.5, 0.7],
        SessionConfig::default(),
    )
    .map_err(js_err)?;
    let s = serde_wasm_bindgen::Serializer::json_compatible();
    serde::Serialize::serialize(&rows, &s).map_err(js_err)
}
