//! The wasm suite (tests/common_wasm) in Node.
#![cfg(target_arch = "wasm32")]

mod common_wasm;
