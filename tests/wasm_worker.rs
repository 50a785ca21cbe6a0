//! The wasm suite (tests/common_wasm) in a dedicated worker in headless Chromium.
#![cfg(target_arch = "wasm32")]

wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_dedicated_worker);

mod common_wasm;
