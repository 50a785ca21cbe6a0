//! The exponential, by repeated squaring (CrypTen's method).
//!
//! Error bounds are for the default F = 16, against `f64` on the fixed-point-rounded inputs,
//! and are asserted by `tests/native_mpc.rs` (measured values in parentheses, local truncation);
//! "abs" is absolute and "rel" relative error. Round counts are for
//! [`TruncMode::Local`]; exact truncation adds one round per multiplicative
//! level (formulas in the `_cost` functions). `L` is the row length.
//!
//! | function | method | domain | bound (measured) | rounds |
//! |---|---|---|---|---|
//! | [`exp`] | `(1 + x/2^7)^(2^7)`, 7 squarings (CrypTen's method) | `[-128, 20]` | abs 5e-3 on `[-16, 0]` (3.8e-3); rel 7e-2 on `[-4, 4]` (5.8e-2) | 7 |

use super::super::party::{Party, TruncMode};
use super::super::share::ArithShare;
use super::beaver::{square1, square_cost};
use super::cost::Cost;
use super::linear::add_const;
use super::trunc::{trunc1, trunc_cost};
use crate::mpc::bench::{input, BenchCase, Dims};
use crate::Result;

/// Squarings in [`exp`]: `exp(x) ~ (1 + x / 2^EXP_ITERS)^(2^EXP_ITERS)`.
pub const EXP_ITERS: u32 = 7;

/// `e^x` (see the module table). Inputs below -128 are not supported (the base
/// `1 + x/128` turns negative); attention calls it on `x - max(x) <= 0`. With 16 fractional
/// bits, 7 squarings balance the approximation error (`e^x x^2 / 256`) against the
/// amplification of truncation errors (`2^7` ulp); 8 (CrypTen's default) doubles the latter.
pub async fn exp(p: &mut Party, x: &ArithShare) -> Result<ArithShare> {
    metered!(p, "exp", exp_impl(p, x).await)
}

pub(crate) async fn exp_impl(p: &mut Party, x: &ArithShare) -> Result<ArithShare> {
    let y = trunc1(p, x.clone(), EXP_ITERS).await?;
    let mut y = add_const(p, &y, 1.0);
    for _ in 0..EXP_ITERS {
        y = square1(p, &y).await?;
    }
    Ok(y)
}

/// `exp` on `n` elements.
pub fn exp_cost(mode: TruncMode, n: usize) -> Cost {
    trunc_cost(mode, n) + square_cost(mode, n) * EXP_ITERS as u64
}

/// Rows of the cost table ([`crate::mpc::bench`]).
pub(crate) const BENCH: &[BenchCase] = &[BenchCase::new(
    "exp",
    Dims::Flat,
    &[input(0, Dims::Flat, -8.0, 0.0)],
    crate::program!(|p, x| exp(p, &x[0]).await),
)];
