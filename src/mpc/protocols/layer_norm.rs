//! LayerNorm over the last axis, the numerator riding in the inverse square root's cubic.
//!
//! Error bounds are for the default F = 16, against `f64` on the fixed-point-rounded inputs,
//! and are asserted by `tests/native_mpc.rs` (measured values in parentheses, local truncation);
//! "abs" is absolute and "rel" relative error. Round counts are for
//! [`TruncMode::Local`]; exact truncation adds one round per multiplicative
//! level (formulas in the `_cost` functions). `L` is the row length.
//!
//! | function | method | domain | bound (measured) | rounds |
//! |---|---|---|---|---|
//! | [`layer_norm`] | mean, variance, normalised rsqrt | var in `[2^-16, 4^10)` | abs 1e-2 (3.8e-3 for std 0.1, 1.8e-4 for std 1.7, 2.1e-4 for std 35) | 12 |
//! | [`layer_norm`], FSS family | mean, variance, [`super::fss::range_reduced`] | var in `[2^-16, 4^10)` | abs 1e-2 | 4 |

use super::super::party::{Party, ProtocolFamily, TruncMode};
use super::super::share::ArithShare;
use super::beaver::{mul_batch_cost, mul_many_impl, square1, square_cost};
use super::cost::Cost;
use super::fss::range_reduced::Power;
use super::linear::eps_ring;
use super::reciprocal::{scaled_rsqrt_mul, scaled_rsqrt_mul_cost};
use super::trunc::{trunc1, trunc_cost};
use crate::mpc::bench::{input, BenchCase, Dims};
use crate::{Error, Result};

/// LayerNorm over the last axis: `(x - mean) / sqrt(var + eps) * gamma + beta` with `gamma`,
/// `beta` shared vectors of the last dimension (or `None`). The product with `gamma` shares the
/// variance's round. Rounds: 1 (squares) + 11 (normalised rsqrt times the numerator) = 12
/// (plus T).
pub async fn layer_norm(
    p: &mut Party,
    x: &ArithShare,
    gamma: Option<&ArithShare>,
    beta: Option<&ArithShare>,
    eps: f64,
) -> Result<ArithShare> {
    metered!(
        p,
        "layer_norm",
        layer_norm_impl(p, x, gamma, beta, eps).await
    )
}

async fn layer_norm_impl(
    p: &mut Party,
    x: &ArithShare,
    gamma: Option<&ArithShare>,
    beta: Option<&ArithShare>,
    eps: f64,
) -> Result<ArithShare> {
    let nd = x.data.ndim();
    if nd == 0 {
        return Err(Error::shape("layer norm", "at least 1 axis", "a scalar"));
    }
    let c = x.shape()[nd - 1];
    let fp = p.fp();
    let inv_c = fp.encode(1.0 / c as f64);
    let mean = trunc1(p, x.sum_last_keep()?.mul_int(inv_c), fp.frac_bits).await?;
    let d = x.sub(&mean)?;
    let (sq, dg) = match gamma {
        Some(g) => {
            let mut r = mul_many_impl(p, &[(&d, &d), (&d, g)], true).await?;
            let dg = r.remove(1);
            (r.remove(0), dg)
        }
        None => (square1(p, &d).await?, d.clone()),
    };
    let var = trunc1(p, sq.sum_last_keep()?.mul_int(inv_c), fp.frac_bits).await?;
    let var = var.add_scalar_ring(eps_ring(p, eps), p.id());
    let y = if p.config().family == ProtocolFamily::Fss {
        // Range reduction, a table and two products: 3 rounds instead of 11.
        super::fss::range_reduced::power_mul(p, &dg, &var, Power::InvSqrt).await?
    } else {
        scaled_rsqrt_mul(p, &dg, &var).await?
    };
    match beta {
        Some(b) => y.add(b),
        None => Ok(y),
    }
}

/// LayerNorm of `rows` rows of `c` channels, with or without `gamma`.
pub fn layer_norm_cost(mode: TruncMode, rows: usize, c: usize, gamma: bool) -> Cost {
    moments_cost(mode, rows, c, gamma) + scaled_rsqrt_mul_cost(mode, rows * c, rows)
}

/// LayerNorm in the FSS family at `frac_bits` fractional bits.
pub fn layer_norm_cost_fss(
    mode: TruncMode,
    rows: usize,
    c: usize,
    gamma: bool,
    frac_bits: u32,
) -> Cost {
    moments_cost(mode, rows, c, gamma)
        + super::fss::range_reduced::cost(Power::InvSqrt, mode, rows, c, frac_bits)
}

/// The mean, the squares (with the product by `gamma`) and the variance.
fn moments_cost(mode: TruncMode, rows: usize, c: usize, gamma: bool) -> Cost {
    let n = rows * c;
    let sq = if gamma {
        mul_batch_cost(mode, &[(n, None), (n, Some(c))])
    } else {
        square_cost(mode, n)
    };
    trunc_cost(mode, rows) + sq + trunc_cost(mode, rows)
}

/// Rows of the cost table ([`crate::mpc::bench`]): the gain and bias are party 1's.
pub(crate) const BENCH: &[BenchCase] = &[BenchCase::new(
    "layer_norm",
    Dims::Rows,
    &[
        input(0, Dims::Rows, -4.0, 4.0),
        input(1, Dims::RowLen, 0.5, 1.5),
        input(1, Dims::RowLen, -0.5, 0.5),
    ],
    crate::program!(|p, x| layer_norm(p, &x[0], Some(&x[1]), Some(&x[2]), 1e-5).await),
)];
