//! MPCViT: Vision Transformers with heterogeneous attention (ReLU-Softmax vs Scaling attention
//! per layer, head or row), trained with an MPC-aware differentiable architecture search and
//! evaluated under secure two-party computation.
//!
//! Module map (the design and the path of one private inference are in `ARCHITECTURE.md`):
//! * [`model`]  - ViT config, attention plan, parameters and the plaintext forward (f32, ndarray);
//! * [`train`]  - backward passes, AdamW, schedule, augmentation, distillation, the search;
//! * [`mpc`]    - the 2PC engine: ring Z_2^64 fixed point, shares, PRGs, dealer, FSS keys,
//!   transports, protocols, cost meter; it knows nothing of the ViT;
//! * [`secure`] - the ViT under 2PC: weights as shares, the private forward, attention maps,
//!   programs per party, sessions, the remote client / server / dealer, cost reports;
//! * [`data`]   - datasets in a compact binary form, image preprocessing, out-of-domain sets;
//! * [`io`]     - safetensors weights + JSON manifest, the model index;
//! * [`perf`]   - plaintext timing, native vs wasm;
//! * [`wasm`]   - the `#[wasm_bindgen]` surface only.

// Crate lints (arkworks / mpz style): every public item documented, nothing `pub` that the
// crate does not export, nothing unused; `scripts/test.sh` runs clippy with warnings denied.
#![warn(missing_docs, unreachable_pub, unused)]

/// Asserts (in tests) that `$result` failed with an error matching `$pattern`, printing what it
/// was otherwise: error assertions name the kind they expect instead of accepting any error.
#[cfg(test)]
macro_rules! assert_err {
    ($result:expr, $pattern:pat $(if $guard:expr)?) => {
        match $result.map(|_| ()) {
            Err($pattern) $(if $guard)? => {}
            other => panic!(
                "expected Err({}), got {:?}",
                stringify!($pattern),
                other
            ),
        }
    };
}

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
