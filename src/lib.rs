//! MPCViT: Vision Transformers with heterogeneous attention (ReLU-Softmax vs Scaling attention
//! per layer, head or row), trained with an MPC-aware differentiable architecture search and
//! evaluated under secure two-party computation.
//!
//! Module map (see `DESIGN.md` section 2):
//! * [`model`]  - ViT config, attention plan, parameters and the plaintext forward (f32, ndarray);
//! * [`train`]  - backward passes, AdamW, schedule, augmentation, the training loop;
//! * [`mpc`]    - ring Z_2^64 fixed point, shares, PRG, dealer, transports, protocols, cost meter;
//! * [`data`]   - datasets in a compact binary form and image preprocessing;
//! * [`io`]     - safetensors weights + JSON manifest;
//! * [`wasm`]   - the `#[wasm_bindgen]` surface only.

pub mod data;
pub mod error;
pub mod io;
pub mod model;
pub mod mpc;
pub mod perf;
pub mod secure;
pub mod train;

#[cfg(target_arch = "wasm32")]
pub mod wasm;

pub use error::{Error, Result};
