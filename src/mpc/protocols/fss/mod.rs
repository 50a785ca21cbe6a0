//! The FSS protocol family: comparisons and nonlinearities whose online phase opens masked
//! values and evaluates dealer keys locally ([`crate::mpc::fss`]), at the published round floor
//! (Boyle et al., Eurocrypt 2021; SIGMA, PETS 2024).
//!
//! | file | protocols | rounds |
//! |---|---|---|
//! | [`sign`] | MSB, DReLU (bits or 0/1 values), `x < y`, `x < c` | 1 |
//! | [`relu`] | ReLU; select (shared with the classic family) | 1; 1 |
//!
//! `gate` holds what every gate shares: the mask, the bundle layout, the opening round; `lut`
//! the lookup of a public table at a masked index from a 1-bit DPF (Pika, PETS 2022).
//!
//! Each file holds its dealer bundle (a [`crate::mpc::fss::deal::KeyRequest`]), its online
//! steps, its cost formula, its security argument and its tests; a new protocol adds its file
//! and one line to [`super::registry`].

mod gate;
// The table-lookup gate lands before the exp and softmax gates built on it (issue #11).
#[allow(dead_code)]
mod lut;
pub mod relu;
pub mod sign;

#[cfg(test)]
mod tests;

pub use relu::{relu, relu_within, select};
pub use sign::{drelu, drelu_values, lt, lt_const, msb, msb_within};
