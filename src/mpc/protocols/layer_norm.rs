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
//! | [`layer_norm_linear`] (LayerNorm, then fixed products) | as [`layer_norm`], the products in the squares' round | as [`layer_norm`] | abs 1e-2 times the map's largest column 1-norm | 12 / 4 |
//!
//! **LayerNorm folded into the products that read it.** In a ViT every LayerNorm feeds a fixed
//! linear map (Q/K/V, the MLP's first layer, the classifier), and the row's factor
//! `r = 1 / sqrt(var + eps)` is one value per row, so `LN(x) W + b = r (d W') + b'` with
//! `d = x - mean`, `W' = diag(gamma) W` and `b' = beta W + b` folded by the weights' owner in
//! plaintext ([`crate::model::layers::fold_layer_norm`]). [`layer_norm_linear`] opens `d` for the
//! fixed products in the same message as the squares, so the map costs no round of its own: the
//! numerator that the rsqrt multiplies is `d W'` (the map's width) instead of `d` (`C`). Each
//! map reads a set of rows (MPCViT+'s GeLU and linearised tokens read different maps), all in
//! the same rounds.

use super::super::party::{Party, ProtocolFamily, TruncMode};
use super::super::share::ArithShare;
use super::beaver::{mul_batch_cost, mul_close, mul_many_impl, mul_open, square1, square_cost};
use super::cost::Cost;
use super::fixed_matmul::{fixed_close, fixed_open, matmul_fixed_cost, FixedOperand};
use super::fss::range_reduced::Power;
use super::linear::eps_ring;
use super::reciprocal::{
    scaled_rsqrt_mul, scaled_rsqrt_mul_cost, scaled_rsqrt_mul_groups, scaled_rsqrt_mul_groups_cost,
};
use super::trunc::{trunc1, trunc_cost, trunc_many_impl};
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

/// One fixed linear map that reads a LayerNorm's output, with the norm's gain and bias folded
/// in by the weights' owner (`W' = diag(gamma) W`, `b' = beta W + b`; module doc), and the rows
/// of the norm's input it reads.
#[derive(Clone, Copy, Debug)]
pub struct FoldedLinear<'a> {
    /// The rows this map reads, in the order of its output; `None`: every row.
    pub rows: Option<&'a [usize]>,
    /// `W'`, `C` x `p`.
    pub w: &'a FixedOperand,
    /// `b'`, `[p]`.
    pub b: &'a ArithShare,
}

/// LayerNorm over the last axis of `x` `(n, C)`, then each map's fixed product and bias on its
/// rows (module doc): one output per map, `(rows, p)`. Every row of `x` is read by exactly one
/// map. Rounds as [`layer_norm`]: the products share the squares' round.
pub async fn layer_norm_linear(
    p: &mut Party,
    x: &ArithShare,
    maps: &[FoldedLinear<'_>],
    eps: f64,
) -> Result<Vec<ArithShare>> {
    metered!(
        p,
        "layer_norm",
        layer_norm_linear_impl(p, x, maps, eps).await
    )
}

/// Each map's rows of `x` `(n, C)`, checked to read every row exactly once.
fn map_rows(x: &ArithShare, maps: &[FoldedLinear<'_>]) -> Result<Vec<Vec<usize>>> {
    let n = x.shape()[0];
    let rows: Vec<Vec<usize>> = maps
        .iter()
        .map(|m| m.rows.map_or_else(|| (0..n).collect(), <[usize]>::to_vec))
        .collect();
    let mut seen = vec![0usize; n];
    for &r in rows.iter().flatten() {
        if r >= n {
            return Err(Error::shape(
                "layer norm linear",
                format!("rows below {n}"),
                format!("row {r}"),
            ));
        }
        seen[r] += 1;
    }
    if let Some(r) = seen.iter().position(|&k| k != 1) {
        return Err(Error::shape(
            "layer norm linear",
            "every row read by exactly one map",
            format!("row {r} read by {} maps", seen[r]),
        ));
    }
    Ok(rows)
}

async fn layer_norm_linear_impl(
    p: &mut Party,
    x: &ArithShare,
    maps: &[FoldedLinear<'_>],
    eps: f64,
) -> Result<Vec<ArithShare>> {
    if x.data.ndim() != 2 {
        return Err(Error::shape(
            "layer norm linear",
            "(rows, C)",
            format!("{:?}", x.shape()),
        ));
    }
    let rows = map_rows(x, maps)?;
    let c = x.shape()[1];
    let fp = p.fp();
    let inv_c = fp.encode(1.0 / c as f64);
    let mean = trunc1(p, x.sum_last_keep()?.mul_int(inv_c), fp.frac_bits).await?;
    let d = x.sub(&mean)?;
    let ds = rows
        .iter()
        .map(|r| d.select_rows(r))
        .collect::<Result<Vec<_>>>()?;
    let pairs: Vec<(&ArithShare, &FixedOperand)> =
        ds.iter().zip(maps.iter().map(|m| m.w)).collect();
    // One message: the squares' masked operand and every map's `d - A`.
    let (squares, mut payload) = mul_open(p, &[(&d, &d)]).await?;
    let cut = payload.len();
    let (products, fixed) = fixed_open(p, &pairs).await?;
    payload.extend(fixed);
    let got = p.exchange(payload).await?;
    let mut out = mul_close(p, squares, &got[..cut])?;
    out.extend(fixed_close(p.id(), products, &got[cut..])?);
    let mut out = trunc_many_impl(p, out, fp.frac_bits).await?;
    let sq = out.remove(0);
    let var = trunc1(p, sq.sum_last_keep()?.mul_int(inv_c), fp.frac_bits).await?;
    let var = var.add_scalar_ring(eps_ring(p, eps), p.id());
    let parts = rows
        .iter()
        .map(|r| var.select_rows(r))
        .collect::<Result<Vec<_>>>()?;
    let var = ArithShare::concat(0, &parts.iter().collect::<Vec<_>>())?;
    let nums: Vec<&ArithShare> = out.iter().collect();
    let ys = if p.config().family == ProtocolFamily::Fss {
        super::fss::range_reduced::power_mul_groups(p, &nums, &var, Power::InvSqrt).await?
    } else {
        scaled_rsqrt_mul_groups(p, &nums, &var).await?
    };
    ys.iter().zip(maps).map(|(y, m)| y.add(m.b)).collect()
}

/// [`layer_norm_linear`] on `rows` rows of `c` channels with maps of `(rows, width)`, in
/// `family` at `frac_bits` fractional bits.
pub fn layer_norm_linear_cost(
    family: ProtocolFamily,
    mode: TruncMode,
    c: usize,
    maps: &[(usize, usize)],
    frac_bits: u32,
) -> Cost {
    let rows: usize = maps.iter().map(|m| m.0).sum();
    let products: Vec<_> = maps.iter().map(|&(r, w)| (1, r, c, w)).collect();
    let opened = mul_batch_cost(TruncMode::Local, &[(rows * c, None)])
        + matmul_fixed_cost(TruncMode::Local, &products);
    let outputs = rows * c + maps.iter().map(|&(r, w)| r * w).sum::<usize>();
    let normalise = match family {
        ProtocolFamily::Fss => {
            super::fss::range_reduced::cost_groups(Power::InvSqrt, mode, maps, frac_bits)
        }
        ProtocolFamily::Classic => scaled_rsqrt_mul_groups_cost(mode, maps),
    };
    trunc_cost(mode, rows)
        + Cost {
            rounds: 1,
            ..opened
        }
        + trunc_cost(mode, outputs)
        + trunc_cost(mode, rows)
        + normalise
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
