//! L2 normalisation of rows (XNorm's map).
//!
//! Error bounds are for the default F = 16, against `f64` on the fixed-point-rounded inputs,
//! and are asserted by `tests/native_mpc.rs` (measured values in parentheses, local truncation);
//! "abs" is absolute and "rel" relative error. Round counts are for
//! [`TruncMode::Local`]; exact truncation adds one round per multiplicative
//! level (formulas in the `_cost` functions). `L` is the row length.
//!
//! | function | method | domain | bound (measured) | rounds |
//! | function | method | domain | bound (measured) | rounds |
//! |---|---|---|---|---|
//! | [`l2_normalize`] | square, normalised rsqrt | squared norms in `[2^-16, 4^10)` | abs 3e-3 | 12 |

use super::super::party::{Party, TruncMode};
use super::super::share::ArithShare;
use super::beaver::{square1, square_cost};
use super::cost::Cost;
use super::linear::eps_ring;
use super::reciprocal::{scaled_rsqrt_mul, scaled_rsqrt_mul_cost};
use crate::mpc::bench::{input, BenchCase, Dims};
use crate::Result;

/// Scales each row (last axis) to unit L2 norm: `x / sqrt(sum x^2 + eps)` (XNorm).
pub async fn l2_normalize(p: &mut Party, x: &ArithShare, eps: f64) -> Result<ArithShare> {
    metered!(p, "l2_normalize", l2_normalize_impl(p, x, eps).await)
}

pub(crate) async fn l2_normalize_impl(
    p: &mut Party,
    x: &ArithShare,
    eps: f64,
) -> Result<ArithShare> {
    let sq = square1(p, x).await?;
    let s = sq
        .sum_last_keep()?
        .add_scalar_ring(eps_ring(p, eps), p.id());
    scaled_rsqrt_mul(p, x, &s).await
}

/// L2 normalisation of `rows` rows of length `len`.
pub fn l2_normalize_cost(mode: TruncMode, rows: usize, len: usize) -> Cost {
    square_cost(mode, rows * len) + scaled_rsqrt_mul_cost(mode, rows * len, rows)
}

/// Rows of the cost table ([`crate::mpc::bench`]).
pub(crate) const BENCH: &[BenchCase] = &[BenchCase::new(
    "l2_normalize (XNorm rows)",
    Dims::Rows,
    &[input(0, Dims::Rows, -4.0, 4.0)],
    crate::program!(|p, x| l2_normalize(p, &x[0], 1e-6).await),
)];
