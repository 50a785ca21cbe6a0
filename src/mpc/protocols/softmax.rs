//! Row normalisations of attention scores: Softmax, ReLU-Softmax (RSAttn), 2Quad (MPCFormer)
//! and Sparsemax.
//!
//! Error bounds are for the default F = 16, against `f64` on the fixed-point-rounded inputs,
//! and are asserted by `tests/native_mpc.rs` (measured values in parentheses, local truncation);
//! "abs" is absolute and "rel" relative error. Round counts are for
//! [`TruncMode::Local`]; exact truncation adds one round per multiplicative
//! level (formulas in the `_cost` functions). `L` is the row length.
//!
//! | function | method | domain | bound (measured) | rounds |
//! |---|---|---|---|---|
//! | [`softmax`] | max tree, [`exp`], [`divide`] | any | abs 5e-3 (3.8e-3) | `8 ceil(log2 L) + 18` |
//! | [`softmax`], FSS family | max tree, [`super::fss::exp`], [`super::fss::normalize`] | `L < 2^15`, scores above `-2^15` | abs 5e-3 at `L = 17` | `ceil(log2 L) + 4` |
//! | [`relu_softmax`] | [`relu`](super::compare::relu), [`divide`] | row sums below 1e6 | abs 1e-3 (6.1e-5) | 19 |
//! | [`relu_softmax`], [`two_quad`], FSS family | their numerator, [`super::fss::range_reduced`] | row sums below 1e6 | abs 1e-3 | 5; `1 + 4` |
//! | [`two_quad`] | square, [`divide`] | row sums below 1e6 | abs 1e-3 (3.9e-5) | 12 |
//! | [`sparsemax`] | bisection on the threshold (no sorting) | any | abs `2^-(iters+1)` + 1e-4 (1.95e-3 for 8 iters) | `8 ceil(log2 L) + 16 iters + 8` |

use super::super::party::{Party, ProtocolFamily, TruncMode};
use super::super::share::ArithShare;
use super::b2a::{b2a_cost, b2a_impl};
use super::beaver::{square1, square_cost};
use super::cost::Cost;
use super::exp::{exp_cost, exp_impl};
use super::fss::range_reduced::Power;
use super::linear::{add_const, eps_ring};
use super::msb::{msb_cost, msb_impl};
use super::reciprocal::{divide_cost, divide_impl};
use super::relu::{max_last_cost, max_last_impl, max_tree_cost, relu_cost, relu_impl};
use crate::mpc::bench::{input, BenchCase, Dims};
use crate::Result;

/// Default bisection steps of [`sparsemax`] (threshold error `2^-9`).
pub const SPARSEMAX_ITERS: usize = 8;

/// Softmax over the last axis: `exp(x - max) / sum`.
pub async fn softmax(p: &mut Party, x: &ArithShare) -> Result<ArithShare> {
    metered!(p, "softmax", softmax_impl(p, x).await)
}

async fn softmax_impl(p: &mut Party, x: &ArithShare) -> Result<ArithShare> {
    let m = max_last_impl(p, x).await?;
    if p.config().family == ProtocolFamily::Fss {
        // exp on x - max <= 0 from one masked opening, then a reciprocal table on the row sum.
        let e = super::fss::exp::exp_nonpositive_unmetered(p, &x.sub(&m)?).await?;
        return super::fss::normalize::normalize_unmetered(p, &e).await;
    }
    let e = exp_impl(p, &x.sub(&m)?).await?;
    let s = e.sum_last_keep()?;
    divide_impl(p, &e, &s).await
}

/// ReLU-Softmax (RSAttn's map) over the last axis: `relu(x) / (sum relu(x) + eps)`; `eps` is
/// raised to one fixed-point unit if smaller (the paper's 1e-8 is below 2^-16). A row with no
/// positive entry maps to zeros.
pub async fn relu_softmax(p: &mut Party, x: &ArithShare, eps: f64) -> Result<ArithShare> {
    metered!(
        p,
        "relu_softmax",
        async {
            let q = relu_impl(p, x).await?;
            let s = q.sum_last_keep()?.add_scalar_ring(eps_ring(p, eps), p.id());
            row_divide(p, &q, &s).await
        }
        .await
    )
}

/// `q / s` for maps whose entries are at most their row's sum (`0 <= q <= s`: ReLU-Softmax,
/// 2Quad): in the FSS family the range-reduced division (4 rounds, [`super::fss::range_reduced`]),
/// else [`divide`](super::reciprocal::divide).
async fn row_divide(p: &mut Party, q: &ArithShare, s: &ArithShare) -> Result<ArithShare> {
    if p.config().family == ProtocolFamily::Fss {
        super::fss::range_reduced::power_mul(p, q, s, Power::Inv).await
    } else {
        divide_impl(p, q, s).await
    }
}

/// 2Quad (MPCFormer) over the last axis: `(x + c)^2 / (sum (x + c)^2 + eps)`.
pub async fn two_quad(p: &mut Party, x: &ArithShare, c: f64, eps: f64) -> Result<ArithShare> {
    metered!(
        p,
        "two_quad",
        async {
            let sh = add_const(p, x, c);
            let q = square1(p, &sh).await?;
            let s = q.sum_last_keep()?.add_scalar_ring(eps_ring(p, eps), p.id());
            row_divide(p, &q, &s).await
        }
        .await
    )
}

/// Sparsemax over the last axis without sorting: with `z = x - max(x)` the threshold `tau`
/// (`sum relu(z - tau) = 1`) lies in `[-1, 0)`; `iters` bisection steps each compute
/// `s = sum relu(z - mid)` and the bit `[s >= 1]` and move the lower end by `2^-i` times that bit
/// (B2A, no multiplication). The output `relu(z - tau')` with `tau'` the final midpoint is within
/// `2^-(iters+1)` of the exact map per element.
pub async fn sparsemax(p: &mut Party, x: &ArithShare, iters: usize) -> Result<ArithShare> {
    metered!(p, "sparsemax", sparsemax_impl(p, x, iters).await)
}

async fn sparsemax_impl(p: &mut Party, x: &ArithShare, iters: usize) -> Result<ArithShare> {
    let fp = p.fp();
    let id = p.id();
    let m = max_last_impl(p, x).await?;
    let z = x.sub(&m)?;
    let mut lo = add_const(p, &ArithShare::zeros(m.shape()), -1.0);
    for i in 1..=iters {
        let step = 2f64.powi(-(i as i32));
        let mid = add_const(p, &lo, step);
        let r = relu_impl(p, &z.sub(&mid)?).await?;
        let s = add_const(p, &r.sum_last_keep()?, -1.0);
        let ge = msb_impl(p, &s).await?.not(id);
        let gi = b2a_impl(p, &ge).await?;
        lo = lo.add(&gi.mul_int(fp.encode(step)))?;
    }
    let tau = add_const(p, &lo, 2f64.powi(-(iters as i32) - 1));
    relu_impl(p, &z.sub(&tau)?).await
}

/// Softmax of `rows` rows of length `len`.
pub fn softmax_cost(mode: TruncMode, rows: usize, len: usize) -> Cost {
    max_last_cost(rows, len) + exp_cost(mode, rows * len) + divide_cost(mode, rows * len, rows)
}

/// ReLU-Softmax of `rows` rows of length `len` in the FSS family at `frac_bits` fractional bits.
pub fn relu_softmax_cost_fss(mode: TruncMode, rows: usize, len: usize, frac_bits: u32) -> Cost {
    let bits = super::fss::activation_bits(frac_bits);
    super::fss::relu::relu_cost(rows * len, bits)
        + super::fss::range_reduced::cost(Power::Inv, mode, rows, len, frac_bits)
}

/// Softmax of `rows` rows of length `len` in the FSS family at `frac_bits` fractional bits.
pub fn softmax_cost_fss(mode: TruncMode, rows: usize, len: usize, frac_bits: u32) -> Result<Cost> {
    let bits = super::fss::activation_bits(frac_bits);
    let max = max_tree_cost(rows, len, |n| super::fss::relu::relu_cost(n, bits));
    Ok(max
        + super::fss::exp::cost(rows * len, frac_bits)
        + super::fss::normalize::cost(mode, rows, len, frac_bits)?)
}

/// ReLU-Softmax of `rows` rows of length `len`.
pub fn relu_softmax_cost(mode: TruncMode, rows: usize, len: usize) -> Cost {
    relu_cost(rows * len) + divide_cost(mode, rows * len, rows)
}

/// 2Quad of `rows` rows of length `len`.
pub fn two_quad_cost(mode: TruncMode, rows: usize, len: usize) -> Cost {
    square_cost(mode, rows * len) + divide_cost(mode, rows * len, rows)
}

/// Sparsemax of `rows` rows of length `len` with `iters` bisection steps.
pub fn sparsemax_cost(rows: usize, len: usize, iters: usize) -> Cost {
    max_last_cost(rows, len)
        + (relu_cost(rows * len) + msb_cost(rows) + b2a_cost(rows)) * iters as u64
        + relu_cost(rows * len)
}

/// Rows of the cost table ([`crate::mpc::bench`]); the attention maps with the model's
/// constants are `crate::secure::bench`'s.
pub(crate) const BENCH: &[BenchCase] = &[
    BenchCase::new(
        "softmax",
        Dims::Rows,
        &[input(0, Dims::Rows, -4.0, 4.0)],
        crate::program!(|p, x| softmax(p, &x[0]).await),
    ),
    BenchCase::new(
        "sparsemax",
        Dims::Rows,
        &[input(0, Dims::Rows, -4.0, 4.0)],
        crate::program!(|p, x| sparsemax(p, &x[0], SPARSEMAX_ITERS).await),
    ),
];
