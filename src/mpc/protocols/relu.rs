//! What a comparison buys: DReLU, `x < y`, ReLU (`msb` + one bit-times-value round: 8 rounds
//! classic; one round on a two-word DCF key with FSS, [`super::fss::relu`], reading activations
//! at [`super::fss::activation_bits`]), ReLU6 (both halves in the same rounds) and the max of a
//! row by a tournament tree (`ceil(log2 L)` levels of `max(a, b) = b + relu(a - b)`).

use super::super::party::{Party, ProtocolFamily};
use super::super::share::{ArithShare, BitShare};
use super::b2a::{bit_mul_cost, bit_mul_impl};
use super::cost::Cost;
use super::linear::add_const;
use super::msb::{msb_cost, msb_impl};
use crate::mpc::bench::{input, BenchCase, Dims};
use crate::{Error, Result};

/// Bits `[x >= 0]`.
pub async fn drelu(p: &mut Party, x: &ArithShare) -> Result<BitShare> {
    let id = p.id();
    metered!(p, "drelu", msb_impl(p, x).await.map(|m| m.not(id)))
}

/// Bits `[x < y]` (valid when `|x - y| < 2^63` in the ring).
pub async fn lt(p: &mut Party, x: &ArithShare, y: &ArithShare) -> Result<BitShare> {
    metered!(p, "lt", async { msb_impl(p, &x.sub(y)?).await }.await)
}

/// Bits `[x < c]` for a public constant.
pub async fn lt_const(p: &mut Party, x: &ArithShare, c: f64) -> Result<BitShare> {
    let d = add_const(p, x, -c);
    metered!(p, "lt", msb_impl(p, &d).await)
}

/// `max(x, 0)`: 8 rounds (1 in the FSS family).
pub async fn relu(p: &mut Party, x: &ArithShare) -> Result<ArithShare> {
    metered!(p, "relu", relu_impl(p, x).await)
}

pub(crate) async fn relu_impl(p: &mut Party, x: &ArithShare) -> Result<ArithShare> {
    if p.config().family == ProtocolFamily::Fss {
        // One round on a two-word DCF key instead of the sign and a bit product, at the
        // activation width (exact for |x| < 2^15 at F = 16).
        let bits = super::fss::activation_bits(p.fp().frac_bits);
        return super::fss::relu::relu_unmetered(p, x, bits).await;
    }
    let id = p.id();
    let m = msb_impl(p, x).await?;
    bit_mul_impl(p, &m.not(id), x).await
}

/// `min(max(x, 0), 6)` = `relu(x) - relu(x - 6)`, both halves in the same 8 rounds.
pub async fn relu6(p: &mut Party, x: &ArithShare) -> Result<ArithShare> {
    metered!(
        p,
        "relu6",
        async {
            let n = x.len();
            let flat = x.reshape(&[n])?;
            let shifted = add_const(p, &flat, -6.0);
            let both = ArithShare::concat(0, &[&flat, &shifted])?;
            let r = relu_impl(p, &both).await?;
            r.slice_axis(0, 0, n)?
                .sub(&r.slice_axis(0, n, 2 * n)?)?
                .reshape(x.shape())
        }
        .await
    )
}

/// Maximum along the last axis (kept with length 1), by a tournament tree: `ceil(log2 L)`
/// levels of `max(a, b) = b + relu(a - b)`, each 8 rounds (1 with FSS) on
/// `rows * floor(len / 2)` elements.
pub async fn max_last(p: &mut Party, x: &ArithShare) -> Result<ArithShare> {
    metered!(p, "max", max_last_impl(p, x).await)
}

pub(crate) async fn max_last_impl(p: &mut Party, x: &ArithShare) -> Result<ArithShare> {
    let nd = x.data.ndim();
    if nd == 0 || x.shape()[nd - 1] == 0 {
        return Err(Error::shape(
            "max over the last axis",
            "a non-empty last axis",
            format!("{:?}", x.shape()),
        ));
    }
    let ax = nd - 1;
    let mut cur = x.clone();
    while cur.shape()[ax] > 1 {
        let len = cur.shape()[ax];
        let h = len / 2;
        let a = cur.slice_axis(ax, 0, h)?;
        let b = cur.slice_axis(ax, h, 2 * h)?;
        let r = relu_impl(p, &a.sub(&b)?).await?;
        let m = b.add(&r)?;
        cur = if len % 2 == 1 {
            ArithShare::concat(ax, &[&m, &cur.slice_axis(ax, 2 * h, len)?])?
        } else {
            m
        };
    }
    Ok(cur)
}

/// ReLU on `n` elements.
pub fn relu_cost(n: usize) -> Cost {
    msb_cost(n) + bit_mul_cost(n)
}

/// ReLU6 on `n` elements.
pub fn relu6_cost(n: usize) -> Cost {
    relu_cost(2 * n)
}

/// Max over the last axis of `rows` rows of length `len`.
pub fn max_last_cost(rows: usize, len: usize) -> Cost {
    max_tree_cost(rows, len, relu_cost)
}

/// The max tree's cost with `relu(n)` the cost of a ReLU on `n` elements (either family).
pub(crate) fn max_tree_cost(rows: usize, len: usize, relu: impl Fn(usize) -> Cost) -> Cost {
    let mut c = Cost::default();
    let mut l = len;
    while l > 1 {
        let h = l / 2;
        c += relu(rows * h);
        l -= h;
    }
    c
}

/// Rows of the cost table ([`crate::mpc::bench`]).
pub(crate) const BENCH: &[BenchCase] = &[
    BenchCase::new(
        "relu",
        Dims::Flat,
        &[input(0, Dims::Flat, -4.0, 4.0)],
        crate::program!(|p, x| relu(p, &x[0]).await),
    ),
    BenchCase::new(
        "relu6",
        Dims::Flat,
        &[input(0, Dims::Flat, -4.0, 4.0)],
        crate::program!(|p, x| relu6(p, &x[0]).await),
    ),
    BenchCase::new(
        "max (last axis)",
        Dims::Rows,
        &[input(0, Dims::Rows, -4.0, 4.0)],
        crate::program!(|p, x| max_last(p, &x[0]).await),
    ),
];
