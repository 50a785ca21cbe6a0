//! The wasm suite (tests/common_wasm) in a headless Chromium page.
#![cfg(target_arch = "wasm32")]

wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

mod common_wasm;
