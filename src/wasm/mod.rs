//! The `#[wasm_bindgen]` surface, thin by design: every function converts arguments, calls the
//! library and converts errors to `JsError` with the library's message. No logic lives here.

mod bench;
mod classifier;
mod compare;
mod data;
mod defaults;
mod party;
mod progress;
mod remote;
mod search;
mod trainer;
mod websocket;

pub use bench::{bench_fss, bench_plaintext, bench_protocols};
pub use classifier::Classifier;
pub use compare::variant_costs;
pub use data::dataset_subset;
pub use defaults::{distill_defaults, network_profiles, ood_sets, train_defaults};
pub use party::{run_client, run_dealer, run_server};
pub use remote::{classify_remote, remote_hello};
pub use search::SearchHandle;
pub use trainer::TrainerHandle;

use wasm_bindgen::prelude::*;

/// Installs the panic hook so a bug shows a readable message in the console.
#[wasm_bindgen(start)]
pub fn start() {
    console_error_panic_hook::set_once();
}

/// The crate version.
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

/// Turns any library error into a JavaScript `Error` with the same message.
pub(crate) fn js_err(e: impl std::fmt::Display) -> JsError {
    JsError::new(&e.to_string())
}

/// Serialises a value as plain JavaScript objects and arrays (maps as objects), as JSON would.
pub(crate) fn to_js(v: &impl serde::Serialize) -> Result<JsValue, JsError> {
    v.serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(js_err)
}
