//! Reciprocal, division and inverse square root on the comparison grid of [`super::grid`].
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
//! | [`reciprocal`] | grid cell (6 per octave), per-cell cubic | `[4^-7, 4^10)` | rel 4e-4 on `[0.01, 4]` (1.6e-4); abs 1.5e-4 on `[1, 1e4]` (4.9e-5) | 10 |
//! | [`divide`] `q / s` | exact `4^-J` normalisation, per-cell cubic on `[1, 4)` | `s` in `[4^-7, 4^10)` | abs 2e-4 for quotients in `[0, 1]` (1.2e-4) | 11 |
//! | [`rsqrt`] | grid cell (4 per octave), per-cell cubic | `[2^-16, 4^10)` | rel 2e-3 on `[1e-3, 100]` (3.0e-4); abs 1e-4 on `[100, 1e4]` (3.4e-5) | 10 |

use super::super::party::{Party, TruncMode};
use super::super::share::ArithShare;
use super::beaver::{mul1, mul_cost};
use super::cost::Cost;
use super::grid::{
    cubic, cubic_cost, fine_const, fine_cubic, fine_stage, fine_stage_cost, DIV_GRID, RECIP_GRID,
    RSQRT_GRID,
};
use crate::mpc::bench::{input, BenchCase, Dims};
use crate::Result;

/// `1 / x` for positive `x` (see the module table): [`fine_stage`] locates `x`'s cell in
/// [`RECIP_GRID`] and normalises it, `x' = x 4^-J`, and a per-cell cubic in `x'` with the
/// coefficients of `4^-J / x'` selected by the bits gives `1 / x` ([`cubic`]). Rounds: 8 + 2.
/// `4^-J` is folded into the coefficients, so `1 / x` is accurate in absolute terms (`F`
/// fractional bits) for large `x`.
pub async fn reciprocal(p: &mut Party, x: &ArithShare) -> Result<ArithShare> {
    metered!(p, "reciprocal", reciprocal_impl(p, x).await)
}

pub(crate) async fn reciprocal_impl(p: &mut Party, x: &ArithShare) -> Result<ArithShare> {
    let fine = fine_stage(p, x, RECIP_GRID).await?;
    let (m, c) = fine_cubic(p, &fine, |v| 1.0 / v, |j| 4f64.powi(-j))?;
    let t = fine.xn.sub(&m)?;
    let (y, _) = cubic(p, &t, &c, &[]).await?;
    y.reshape(x.shape())
}

/// `q / s` with `s` positive and broadcast to `q` (e.g. row sums of shape `(.., 1)`), to the
/// precision of the quotient rather than of `1 / s`: [`fine_stage`] gives the cell of `s` in
/// [`DIV_GRID`] and `s' = s 4^-J` in `[1, 4)`; `q' = q 4^-J` (exact power of two) is computed
/// in the first round of the per-cell cubic for `1 / s'` ([`cubic`]), and one product gives
/// `q' / s'`. Domain: `s` in `[4^-7, 4^10)`. Rounds: 8 + 2 + 1 = 11 (plus T).
pub async fn divide(p: &mut Party, q: &ArithShare, s: &ArithShare) -> Result<ArithShare> {
    metered!(p, "divide", divide_impl(p, q, s).await)
}

pub(crate) async fn divide_impl(
    p: &mut Party,
    q: &ArithShare,
    s: &ArithShare,
) -> Result<ArithShare> {
    let fine = fine_stage(p, s, DIV_GRID).await?;
    let s4 = fine_const(p, &fine, |j, _| 4f64.powi(-j))?.reshape(s.shape())?;
    let (m, c) = fine_cubic(p, &fine, |v| 1.0 / v, |_| 1.0)?;
    let t = fine.xn.sub(&m)?;
    let (y, mut qs) = cubic(p, &t, &c, &[(q, &s4)]).await?;
    mul1(p, &qs.remove(0), &y.reshape(s.shape())?).await
}

/// `1 / sqrt(x)` for positive `x` (see the module table): [`fine_stage`] on [`RSQRT_GRID`],
/// then a per-cell cubic in `x' = x 4^-J` with the coefficients of `2^-J / sqrt(x')`
/// ([`cubic`]). Rounds: 8 + 2. `2^-J` is folded into the coefficients (absolute precision for
/// large `x`); [`layer_norm`] and [`l2_normalize`] keep it separate.
pub async fn rsqrt(p: &mut Party, x: &ArithShare) -> Result<ArithShare> {
    metered!(p, "rsqrt", rsqrt_impl(p, x).await)
}

pub(crate) async fn rsqrt_impl(p: &mut Party, x: &ArithShare) -> Result<ArithShare> {
    let fine = fine_stage(p, x, RSQRT_GRID).await?;
    let (m, c) = fine_cubic(p, &fine, |v| 1.0 / v.sqrt(), |j| 2f64.powi(-j))?;
    let t = fine.xn.sub(&m)?;
    let (y, _) = cubic(p, &t, &c, &[]).await?;
    y.reshape(x.shape())
}

/// `num / sqrt(x)` to the precision of the result: [`fine_stage`] gives `x' = x 4^-J` and the
/// exact `2^-J`, `num' = num 2^-J` joins the first round of the per-cell cubic for
/// `1 / sqrt(x')`, then `num' rsqrt(x')`: 8 + 2 + 1 = 11 rounds. `x` broadcasts to `num`.
pub(crate) async fn scaled_rsqrt_mul(
    p: &mut Party,
    num: &ArithShare,
    x: &ArithShare,
) -> Result<ArithShare> {
    let fine = fine_stage(p, x, RSQRT_GRID).await?;
    let s2 = fine_const(p, &fine, |j, _| 2f64.powi(-j))?.reshape(x.shape())?;
    let (m, c) = fine_cubic(p, &fine, |v| 1.0 / v.sqrt(), |_| 1.0)?;
    let t = fine.xn.sub(&m)?;
    let (y, mut ns) = cubic(p, &t, &c, &[(num, &s2)]).await?;
    mul1(p, &ns.remove(0), &y.reshape(x.shape())?).await
}

/// Reciprocal on `n` elements.
pub fn reciprocal_cost(mode: TruncMode, n: usize) -> Cost {
    fine_stage_cost(mode, n, RECIP_GRID) + cubic_cost(mode, n, &[])
}

/// `q / s` for `n` numerators and `rows` divisors.
pub fn divide_cost(mode: TruncMode, n: usize, rows: usize) -> Cost {
    fine_stage_cost(mode, rows, DIV_GRID)
        + cubic_cost(mode, rows, &[(n, Some(rows))])
        + mul_cost(mode, n, rows)
}

/// Inverse square root on `n` elements.
pub fn rsqrt_cost(mode: TruncMode, n: usize) -> Cost {
    fine_stage_cost(mode, n, RSQRT_GRID) + cubic_cost(mode, n, &[])
}

/// `num / sqrt(x)` for `n` numerators and `rows` values of `x`.
pub(crate) fn scaled_rsqrt_mul_cost(mode: TruncMode, n: usize, rows: usize) -> Cost {
    fine_stage_cost(mode, rows, RSQRT_GRID)
        + cubic_cost(mode, rows, &[(n, Some(rows))])
        + mul_cost(mode, n, rows)
}

/// Rows of the cost table ([`crate::mpc::bench`]).
pub(crate) const BENCH: &[BenchCase] = &[
    BenchCase::new(
        "reciprocal",
        Dims::Flat,
        &[input(0, Dims::Flat, 0.01, 100.0)],
        crate::program!(|p, x| reciprocal(p, &x[0]).await),
    ),
    BenchCase::new(
        "rsqrt",
        Dims::Flat,
        &[input(0, Dims::Flat, 0.01, 100.0)],
        crate::program!(|p, x| rsqrt(p, &x[0]).await),
    ),
];
