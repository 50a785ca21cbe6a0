//! The FSS protocol family: comparisons and nonlinearities whose online phase opens masked
//! values and evaluates dealer keys locally ([`crate::mpc::fss`]), at the published round floor
//! (Boyle et al., Eurocrypt 2021; SIGMA, PETS 2024).
//!
//! | file | protocols | rounds |
//! |---|---|---|
//! | [`sign`] | MSB, DReLU (bits or 0/1 values), `x < y`, `x < c` | 1 |
//! | [`relu`] | ReLU; select (shared with the classic family) | 1; 1 |
//! | [`exp`] | `e^x` for `x <= 0` (softmax's exponentials): lookup table, clip, signed product | 2 |
//! | [`gelu`] | GeLU as ReLU minus a windowed table (one DCF key at three offsets), signed product | 2 |
//! | [`range_reduced`] | LayerNorm's `d / sqrt(v)`, the maps' row division `q / s`: range reduction from one key at many offsets, table, products | 3 + 2T; 4 |
//! | [`normalize`] | softmax's row division for sums in `[1, L]`: reciprocal table, signed product | 2 + T |
//!
//! `gate` holds what every gate shares: the mask, the bundle layout, the opening round; `lut`
//! the lookup of a public table at a masked index from a 1-bit DPF (Pika, PETS 2022), whose
//! shares carry a sign known to the dealer only; `signed_mul` the one-round product that
//! removes it. Softmax in the FSS family is the max tree of [`relu`] (one round per level),
//! [`exp`] and [`normalize`]: `ceil(log2 L) + 4` rounds plus a truncation.
//!
//! Each file holds its dealer bundle (a [`crate::mpc::fss::deal::KeyRequest`]), its online
//! steps, its cost formula, its security argument and its tests; a new protocol adds its file
//! and one line to [`super::registry`].

pub mod exp;
mod gate;
pub mod gelu;
mod lut;
pub mod normalize;
pub(crate) mod range_reduced;
pub mod relu;
pub mod sign;
mod signed_mul;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_tables;

pub use relu::{relu, relu_within, select};

/// The width at which the FSS family reads activations for ReLU (every ReLU of the engine's
/// entry points, the max tree included): `max(32, F + 16)` bits, so ReLU is exact for
/// `|x| < 2^(k-1-F)` (32,768 at `F = 16`, far above any activation of a normalised network);
/// a narrower DCF halves the key bytes of the full 64-bit ring.
pub const fn activation_bits(frac_bits: u32) -> u32 {
    if frac_bits + 16 > 32 {
        frac_bits + 16
    } else {
        32
    }
}
pub use sign::{drelu, drelu_values, lt, lt_const, msb, msb_within};
