//! Reciprocal, division and inverse square root on the comparison grid of [`super::grid`].
//!
//! Error bounds are for the default F = 16, against `f64` on the fixed-point-rounded inputs,
//! and are asserted by `tests/native_mpc.rs` (measured values in parentheses, local truncation);
//! "abs" is absolute and "rel" relative error. Round counts are for
//! [`TruncMode::Local`]; exact truncation adds one round per multiplicative
//! level (formulas in the `_cost` functions). `L` is the row length.
//!
//! | function | method | domain | bound (measured) | rounds |
//! |---|---|---|---|---|
//! | [`reciprocal`] | grid cell (6 per octave), per-cell cubic | `[4^-7, 4^10)` | rel 4e-4 on `[0.01, 4]` (1.6e-4); abs 1.5e-4 on `[1, 1e4]` (4.9e-5) | 10 |
//! | [`divide`] `q / s` | exact `4^-J` normalisation, per-cell cubic on `[1, 4)` | `s` in `[4^-7, 4^10)` | abs 2e-4 for quotients in `[0, 1]` (1.2e-4) | 11 |
//! | [`rsqrt`] | grid cell (4 per octave), per-cell cubic | `[2^-16, 4^10)` | rel 2e-3 on `[1e-3, 100]` (3.0e-4); abs 1e-4 on `[100, 1e4]` (3.4e-5) | 10 |

use super::super::party::{Party, TruncMode};
use super::super::share::ArithShare;
use super::beaver::{mul1, mul_batch_cost, mul_cost, mul_many_impl, MulOperand};
use super::cost::Cost;
use super::grid::{
    cubic, cubic_cost, fine_const, fine_cubic, fine_stage, fine_stage_cost, DIV_GRID, RECIP_GRID,
    RSQRT_GRID,
};
use crate::mpc::bench::{input, BenchCase, Dims};
use crate::{Error, Result};

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
    let rows = x.len();
    if rows == 0 || !num.len().is_multiple_of(rows) {
        return Err(Error::shape(
            "scaled rsqrt",
            format!("a multiple of {rows} numerators, one row per value"),
            format!("{:?}", num.shape()),
        ));
    }
    let flat = num.reshape(&[rows, num.len() / rows])?;
    scaled_rsqrt_mul_groups(p, &[&flat], x)
        .await?
        .remove(0)
        .reshape(num.shape())
}

/// [`scaled_rsqrt_mul`] for groups of rows of different lengths in the same 11 rounds: `x`
/// holds one value per row of the groups' rows taken in order (group 0's first), each group a
/// `(rows, len)` matrix (LayerNorm folded into two maps of different widths,
/// [`super::layer_norm::layer_norm_linear`]).
pub(crate) async fn scaled_rsqrt_mul_groups(
    p: &mut Party,
    groups: &[&ArithShare],
    x: &ArithShare,
) -> Result<Vec<ArithShare>> {
    let rows: Vec<usize> = groups.iter().map(|g| g.shape()[0]).collect();
    if groups.iter().any(|g| g.data.ndim() != 2) || rows.iter().sum::<usize>() != x.len() {
        return Err(Error::ShapeMismatch {
            op: "scaled rsqrt",
            expected: format!("(rows, len) groups with {} rows in all", x.len()),
            got: format!("{:?}", groups.iter().map(|g| g.shape()).collect::<Vec<_>>()),
        });
    }
    let column = [x.len(), 1];
    let fine = fine_stage(p, x, RSQRT_GRID).await?;
    let s2 = fine_const(p, &fine, |j, _| 2f64.powi(-j))?.reshape(&column)?;
    let (m, c) = fine_cubic(p, &fine, |v| 1.0 / v.sqrt(), |_| 1.0)?;
    let t = fine.xn.sub(&m)?;
    let slices = |v: &ArithShare| -> Result<Vec<ArithShare>> {
        let mut at = 0;
        let mut out = Vec::with_capacity(rows.len());
        for &r in &rows {
            out.push(v.slice_axis(0, at, at + r)?);
            at += r;
        }
        Ok(out)
    };
    let s2 = slices(&s2)?;
    let extra: Vec<(&ArithShare, &ArithShare)> = groups.iter().copied().zip(&s2).collect();
    let (y, ns) = cubic(p, &t, &c, &extra).await?;
    let y = slices(&y.reshape(&column)?)?;
    let pairs: Vec<(&ArithShare, &ArithShare)> = ns.iter().zip(&y).collect();
    mul_many_impl(p, &pairs, true).await
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

/// [`scaled_rsqrt_mul_groups`] on groups of `(rows, len)`.
pub(crate) fn scaled_rsqrt_mul_groups_cost(mode: TruncMode, groups: &[(usize, usize)]) -> Cost {
    let rows = groups.iter().map(|g| g.0).sum();
    let ops: Vec<MulOperand> = groups.iter().map(|&(r, l)| (r * l, Some(r))).collect();
    fine_stage_cost(mode, rows, RSQRT_GRID)
        + cubic_cost(mode, rows, &ops)
        + mul_batch_cost(mode, &ops)
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
