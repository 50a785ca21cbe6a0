//! Non-linear functions by approximation, and the normalisations built from them.
//!
//! Error bounds are for the default F = 16, against `f64` on the fixed-point-rounded inputs,
//! and are asserted by `tests/native_mpc.rs` (measured values in parentheses, local truncation);
//! "abs" is absolute and "rel" relative error. Round counts are for
//! [`super::super::TruncMode::Local`]; exact truncation adds one round per multiplicative
//! level (formulas in [`super::cost`]). `L` is the row length.
//!
//! | function | method | domain | bound (measured) | rounds |
//! |---|---|---|---|---|
//! | [`exp`] | `(1 + x/2^7)^(2^7)`, 7 squarings (CrypTen's method) | `[-128, 20]` | abs 5e-3 on `[-16, 0]` (3.8e-3); rel 7e-2 on `[-4, 4]` (5.8e-2) | 7 |
//! | [`reciprocal`] | staircase guess + 5 Goldschmidt steps | `[4^-7, 3e5]` | rel 4e-4 on `[0.01, 4]` (3.1e-4); abs 1.5e-4 on `[1, 1e4]` (8.1e-5) | 14 |
//! | [`divide`] `q / s` | exact `4^-J` normalisation, Goldschmidt on `[1, 4)` | `s` in `[4^-7, 3e5]` | abs 2e-4 for quotients in `[0, 1]` (1.4e-4) | 15 |
//! | [`rsqrt`] | exact `4^-J` normalisation, 4 Goldschmidt steps on `[1, 4)` | `[2^-16, 3.9e5]` | rel 2e-3 on `[1e-3, 100]` (5.6e-4); abs 1e-4 on `[100, 1e4]` (2.1e-5) | 17 |
//! | [`gelu`] | `relu(x) + [abs x < 4] h(abs x)`, Chebyshev degree 8 | all | abs 5e-4 (1.5e-4) | 12 |
//! | [`layer_norm`] | mean, variance, normalised rsqrt | var in `[2^-16, 3.9e5]` | abs 1e-2 (3.8e-3 for std 0.1, 1.3e-4 for std 1.7, 1.2e-3 for std 35) | 18 |
//! | [`softmax`] | max tree, [`exp`], [`divide`] | any | abs 5e-3 (3.8e-3) | `8 ceil(log2 L) + 22` |
//! | [`relu_softmax`] | [`relu`](super::compare::relu), [`divide`] | row sums below 3e5 | abs 1e-3 (7.8e-5) | 23 |
//! | [`two_quad`] | square, [`divide`] | row sums below 3e5 | abs 1e-3 (7e-5) | 16 |
//! | [`sparsemax`] | bisection on the threshold (no sorting) | any | abs `2^-(iters+1)` + 1e-4 (1.95e-3 for 8 iters) | `8 ceil(log2 L) + 16 iters + 8` |
//! | [`l2_normalize`] | square, normalised rsqrt | squared norms in `[2^-16, 3.9e5]` | abs 3e-3 (4.7e-5) | 18 |
//!
//! Public scalings (`1/n` of the ReLU, ReLU6, Square and ScaleAttn maps, `1/C` of the mean)
//! multiply by the encoded constant, whose relative error is up to `2^-(F+1) / c`.
//!
//! **Staircase** (for [`reciprocal`], [`divide`] and [`rsqrt`]): one batched [`msb`] of
//! `x - 4^j` for every `j` of a range of powers of four and one [`b2a`] give the bits
//! `[x < 4^j]`; any `c(J)` for `x` in `[4^J, 4^(J+1))` is then a telescoping linear combination
//! of them with public coefficients (no multiplication). With `c(J) = 0.4 / 4^J`, `x c(J)` lies
//! in `[0.4, 1.6)`, whatever the magnitude, so a fixed small number of Goldschmidt iterations
//! (each one round of independent products) reaches full precision over a range of 2^34
//! (CrypTen's `exp`-based guess covers about [0.1, 100] for rsqrt). With `c(J) = 2^-J` and
//! `4^-J`, which are exact in fixed point, [`divide`] and [`rsqrt`] instead scale their input
//! into `[1, 4)` and iterate there, so the result keeps its significant bits even when it is
//! tiny (`1/x` itself has only `F` fractional bits: [`reciprocal`] of a large `x` is accurate
//! in absolute terms only).
//!
//! [`msb`]: super::compare::msb
//! [`b2a`]: super::compare::b2a

use super::super::party::Party;
use super::super::share::ArithShare;
use super::arith::{add_const, metered, mul_many_impl, trunc_many_impl};
use super::compare::{b2a_impl, bit_mul_impl, max_last_impl, msb_impl, relu_impl};
use crate::model::Attention;
use crate::{Error, Result};

/// Squarings in [`exp`]: `exp(x) ~ (1 + x / 2^EXP_ITERS)^(2^EXP_ITERS)`.
pub const EXP_ITERS: u32 = 7;
/// Powers of four `4^j`, `j` in this range, used as [`reciprocal`] thresholds.
pub const RECIP_THRESHOLDS: (i32, i32) = (-6, 8);
/// Goldschmidt iterations of [`reciprocal`].
pub const RECIP_ITERS: usize = 5;
/// Powers of four used by [`divide`] to normalise the divisor into `[1, 4)`.
pub const DIV_THRESHOLDS: (i32, i32) = (-6, 8);
/// Goldschmidt factors of [`divide`].
pub const DIV_ITERS: usize = 5;
/// Powers of four used as [`rsqrt`] thresholds.
pub const RSQRT_THRESHOLDS: (i32, i32) = (-7, 8);
/// Goldschmidt iterations of [`rsqrt`].
pub const RSQRT_ITERS: usize = 4;
/// GeLU is approximated by a polynomial on `[-GELU_T, GELU_T]` and exactly by ReLU outside.
pub const GELU_T: f64 = 4.0;
/// Chebyshev coefficients of `h(t) = gelu(-t)` on `t` in `[0, 4]` (variable `s = t/2 - 1`),
/// for the tanh form `gelu(x) = x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))` that the model
/// uses. Truncation error 1.2e-4; `|h(4)| = 7e-5`.
pub const GELU_CHEB: [f64; 9] = [
    -0.0522960616,
    0.0562864083,
    0.0245112519,
    -0.0516469303,
    0.0297254681,
    -0.0058629023,
    -0.0018614556,
    0.0012763298,
    -0.0001454778,
];
/// Default bisection steps of [`sparsemax`] (threshold error `2^-9`).
pub const SPARSEMAX_ITERS: usize = 8;

async fn mul1(p: &mut Party, x: &ArithShare, y: &ArithShare) -> Result<ArithShare> {
    Ok(mul_many_impl(p, &[(x, y)], true).await?.remove(0))
}

async fn square1(p: &mut Party, x: &ArithShare) -> Result<ArithShare> {
    Ok(mul_many_impl(p, &[(x, x)], true).await?.remove(0))
}

async fn trunc1(p: &mut Party, x: ArithShare, bits: u32) -> Result<ArithShare> {
    Ok(trunc_many_impl(p, vec![x], bits).await?.remove(0))
}

/// `v * c` for a public constant, truncated.
async fn scale_by(p: &mut Party, v: ArithShare, c: f64) -> Result<ArithShare> {
    let fp = p.fp();
    trunc1(p, v.mul_int(fp.encode(c)), fp.frac_bits).await
}

/// `2 x - c` (local).
fn twice_minus(x: &ArithShare, c: &ArithShare) -> Result<ArithShare> {
    x.mul_int(2).sub(c)
}

fn eps_ring(p: &Party, eps: f64) -> u64 {
    p.fp().encode(eps).max(1)
}

/// Additive shares of the integer bits `[x < 4^j]` for `j` in `lo..=hi`, `j`-major (one
/// batched [`msb`](super::compare::msb) and [`b2a`](super::compare::b2a) of `(hi - lo + 1) n`
/// elements: 8 rounds).
async fn staircase_bits(p: &mut Party, x: &ArithShare, (lo, hi): (i32, i32)) -> Result<ArithShare> {
    let n = x.len();
    let flat = x.reshape(&[n])?;
    let shifted: Vec<ArithShare> = (lo..=hi)
        .map(|j| add_const(p, &flat, -4f64.powi(j)))
        .collect();
    let refs: Vec<&ArithShare> = shifted.iter().collect();
    let all = ArithShare::concat(0, &refs)?;
    let m = msb_impl(p, &all).await?;
    b2a_impl(p, &m).await
}

/// `c(J)` for `x` in `[4^J, 4^(J+1))`, `J` clamped to `lo - 1 ..= hi`, from the bits of
/// [`staircase_bits`]: a telescoping combination with public coefficients (local).
fn staircase_combine(
    p: &Party,
    bits: &ArithShare,
    shape: &[usize],
    (lo, hi): (i32, i32),
    c: impl Fn(i32) -> f64,
) -> Result<ArithShare> {
    let n: usize = shape.iter().product();
    let fp = p.fp();
    let mut y = ArithShare::zeros(&[n]).add_scalar_ring(fp.encode(c(hi)), p.id());
    for (idx, j) in (lo..=hi).enumerate() {
        let mj = bits.slice_axis(0, idx * n, (idx + 1) * n)?;
        y = y.add(&mj.mul_int(fp.encode(c(j - 1) - c(j))))?;
    }
    y.reshape(shape)
}

/// [`staircase_bits`] then [`staircase_combine`] (see the module doc): 8 rounds.
async fn staircase(
    p: &mut Party,
    x: &ArithShare,
    range: (i32, i32),
    c: impl Fn(i32) -> f64,
) -> Result<ArithShare> {
    let bits = staircase_bits(p, x, range).await?;
    staircase_combine(p, &bits, x.shape(), range, c)
}

/// Exact shares of `2^-J` and `4^-J` for `x` in `[4^J, 4^(J+1))` (powers of two are exact in
/// fixed point over the threshold range): 8 rounds.
async fn pow4_scale(
    p: &mut Party,
    x: &ArithShare,
    range: (i32, i32),
) -> Result<(ArithShare, ArithShare)> {
    let bits = staircase_bits(p, x, range).await?;
    let s2 = staircase_combine(p, &bits, x.shape(), range, |j| 2f64.powi(-j))?;
    let s4 = staircase_combine(p, &bits, x.shape(), range, |j| 4f64.powi(-j))?;
    Ok((s2, s4))
}

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

/// `1 / x` for positive `x` (see the module table): staircase guess `0.4 / 4^J`, then
/// Goldschmidt `y <- y (1 + e)`, `e <- e^2` with `e = 1 - x y0` (both products in one round).
pub async fn reciprocal(p: &mut Party, x: &ArithShare) -> Result<ArithShare> {
    metered!(p, "reciprocal", reciprocal_impl(p, x).await)
}

pub(crate) async fn reciprocal_impl(p: &mut Party, x: &ArithShare) -> Result<ArithShare> {
    let mut y = staircase(p, x, RECIP_THRESHOLDS, |j| 0.4 * 4f64.powi(-j)).await?;
    let xy = mul1(p, x, &y).await?;
    let mut e = add_const(p, &xy.neg(), 1.0);
    for it in 0..RECIP_ITERS {
        let ope = add_const(p, &e, 1.0);
        if it + 1 == RECIP_ITERS {
            y = mul1(p, &y, &ope).await?;
        } else {
            let mut r = mul_many_impl(p, &[(&y, &ope), (&e, &e)], true).await?;
            e = r.remove(1);
            y = r.remove(0);
        }
    }
    Ok(y)
}

/// `q / s` with `s` positive and broadcast to `q` (e.g. row sums of shape `(.., 1)`), to the
/// precision of the quotient rather than of `1 / s`: the staircase bits of `s` give the exact
/// secret power `4^-J` (`s` in `[4^J, 4^(J+1))`), both `q` and `s` are scaled by it in one round
/// (`s' = s 4^-J` in `[1, 4)`), `1 / s'` is computed by Goldschmidt from the public guess 0.4
/// (`|1 - 0.4 s'| <= 0.6`, 5 factors: error `0.6^32`), and one product gives `q' / s'`.
/// Domain: `s` in `[4^-7, 3e5]`. Rounds: 8 + 1 + 5 + 1 = 15 (plus T).
pub async fn divide(p: &mut Party, q: &ArithShare, s: &ArithShare) -> Result<ArithShare> {
    metered!(p, "divide", divide_impl(p, q, s).await)
}

pub(crate) async fn divide_impl(
    p: &mut Party,
    q: &ArithShare,
    s: &ArithShare,
) -> Result<ArithShare> {
    let fp = p.fp();
    let scale = staircase(p, s, DIV_THRESHOLDS, |j| 4f64.powi(-j)).await?;
    let r = mul_many_impl(p, &[(q, &scale), (s, &scale)], true).await?;
    let (qt, st) = (&r[0], &r[1]);
    // e0 = 1 - 0.4 s', y1 = 0.4 (1 + e0) = 0.8 - 0.16 s' (one truncation for both).
    let t = trunc_many_impl(
        p,
        vec![st.mul_int(fp.encode(0.4)), st.mul_int(fp.encode(0.16))],
        fp.frac_bits,
    )
    .await?;
    let mut e = add_const(p, &t[0].neg(), 1.0);
    let mut y = add_const(p, &t[1].neg(), 0.8);
    e = square1(p, &e).await?;
    for i in 1..DIV_ITERS {
        let ope = add_const(p, &e, 1.0);
        if i + 1 == DIV_ITERS {
            y = mul1(p, &y, &ope).await?;
        } else {
            let mut r = mul_many_impl(p, &[(&y, &ope), (&e, &e)], true).await?;
            e = r.remove(1);
            y = r.remove(0);
        }
    }
    mul1(p, qt, &y).await
}

/// `1 / sqrt(x)` for positive `x` (see the module table): staircase guess
/// `sqrt(1/2) / 2^J`, then Goldschmidt with `g -> sqrt(x)`, `h -> 1 / (2 sqrt(x))`:
/// `r = 1/2 - g h`, `g <- g + g r`, `h <- h + h r`.
pub async fn rsqrt(p: &mut Party, x: &ArithShare) -> Result<ArithShare> {
    metered!(p, "rsqrt", rsqrt_impl(p, x).await)
}

pub(crate) async fn rsqrt_impl(p: &mut Party, x: &ArithShare) -> Result<ArithShare> {
    let (s2, s4) = pow4_scale(p, x, RSQRT_THRESHOLDS).await?;
    let xs = mul1(p, x, &s4).await?;
    let r = rsqrt_unit(p, &xs).await?;
    mul1(p, &r, &s2).await
}

/// `1 / sqrt(x)` for `x` in `[1, 4)` (converges on `(0, 6)`): Goldschmidt from the public
/// guess `y0 = 1/sqrt(2)` (`x y0^2` in `[0.5, 2)`), `g -> sqrt(x)`, `h -> 1 / (2 sqrt(x))`,
/// `r = 1/2 - g h`, `g <- g + g r`, `h <- h + h r`; the first step is local but for one product
/// (its `h` is public), the other [`RSQRT_ITERS`]` - 1` take 2 rounds: 7 rounds.
async fn rsqrt_unit(p: &mut Party, xs: &ArithShare) -> Result<ArithShare> {
    let fp = p.fp();
    let y0 = std::f64::consts::FRAC_1_SQRT_2;
    let h0 = y0 / 2.0;
    // g0 = x y0, r0 = 1/2 - g0 h0 = 1/2 - x/4, h1 = h0 (1 + r0) = 1.5 h0 - (h0 / 4) x.
    let t = trunc_many_impl(
        p,
        vec![
            xs.mul_int(fp.encode(y0)),
            xs.mul_int(fp.encode(0.25)),
            xs.mul_int(fp.encode(h0 * 0.25)),
        ],
        fp.frac_bits,
    )
    .await?;
    let g0 = &t[0];
    let r0 = add_const(p, &t[1].neg(), 0.5);
    let mut h = add_const(p, &t[2].neg(), 1.5 * h0);
    let mut g = g0.add(&mul1(p, g0, &r0).await?)?;
    for it in 1..RSQRT_ITERS {
        let gh = mul1(p, &g, &h).await?;
        let r = add_const(p, &gh.neg(), 0.5);
        if it + 1 == RSQRT_ITERS {
            h = h.add(&mul1(p, &h, &r).await?)?;
        } else {
            let d = mul_many_impl(p, &[(&g, &r), (&h, &r)], true).await?;
            g = g.add(&d[0])?;
            h = h.add(&d[1])?;
        }
    }
    Ok(h.mul_int(2))
}

/// `num / sqrt(x)` to the precision of the result: `x' = x 4^-J` in `[1, 4)` and
/// `num' = num 2^-J` (one round), then `num' rsqrt_unit(x')`. `x` broadcasts to `num`.
async fn scaled_rsqrt_mul(p: &mut Party, num: &ArithShare, x: &ArithShare) -> Result<ArithShare> {
    let (s2, s4) = pow4_scale(p, x, RSQRT_THRESHOLDS).await?;
    let r = mul_many_impl(p, &[(x, &s4), (num, &s2)], true).await?;
    let u = rsqrt_unit(p, &r[0]).await?;
    mul1(p, &r[1], &u).await
}

/// GeLU, tanh form (see the module table). `gelu(x) = relu(x) + gelu(-|x|)` (exact identity
/// for the tanh form); `gelu(-t)` for `t < 4` is a degree-8 Chebyshev series in `s = t/2 - 1`
/// whose basis `T_2..T_8` is computed by doubling formulas in 3 rounds; outside, 0.
/// Rounds: msb of `[x, x - 4, x + 4]` (7), `x [x < 0]` (1), `T_k` (3), select (1).
pub async fn gelu(p: &mut Party, x: &ArithShare) -> Result<ArithShare> {
    metered!(p, "gelu", gelu_impl(p, x).await)
}

pub(crate) async fn gelu_impl(p: &mut Party, x: &ArithShare) -> Result<ArithShare> {
    let n = x.len();
    let id = p.id();
    let fp = p.fp();
    let flat = x.reshape(&[n])?;
    let lo = add_const(p, &flat, -GELU_T);
    let hi = add_const(p, &flat, GELU_T);
    let bits = msb_impl(p, &ArithShare::concat(0, &[&flat, &lo, &hi])?).await?;
    let (m0, m1, m2) = (
        bits.range(0, n),
        bits.range(n, 2 * n),
        bits.range(2 * n, 3 * n),
    );
    let xm = bit_mul_impl(p, &m0, &flat).await?;
    let relu = flat.sub(&xm)?;
    let ax = relu.sub(&xm)?;
    let s = trunc1(p, ax, 1).await?;
    let s = add_const(p, &s, -1.0);
    let one = ArithShare::zeros(&[n]).add_scalar_ring(fp.one(), id);
    let t2 = twice_minus(&square1(p, &s).await?, &one)?;
    let r = mul_many_impl(p, &[(&s, &t2), (&t2, &t2)], true).await?;
    let t3 = twice_minus(&r[0], &s)?;
    let t4 = twice_minus(&r[1], &one)?;
    let r = mul_many_impl(p, &[(&t2, &t3), (&t3, &t3), (&t3, &t4), (&t4, &t4)], true).await?;
    let t5 = twice_minus(&r[0], &s)?;
    let t6 = twice_minus(&r[1], &one)?;
    let t7 = twice_minus(&r[2], &s)?;
    let t8 = twice_minus(&r[3], &one)?;
    let basis = [&s, &t2, &t3, &t4, &t5, &t6, &t7, &t8];
    let mut acc = ArithShare::zeros(&[n]);
    for (t, c) in basis.iter().zip(&GELU_CHEB[1..]) {
        acc = acc.add(&t.mul_int(fp.encode(*c)))?;
    }
    let acc = trunc1(p, acc, fp.frac_bits).await?;
    let poly = add_const(p, &acc, GELU_CHEB[0]);
    let inside = m1.xor(&m2)?;
    let corr = bit_mul_impl(p, &inside, &poly).await?;
    relu.add(&corr)?.reshape(x.shape())
}

/// LayerNorm over the last axis: `(x - mean) / sqrt(var + eps) * gamma + beta` with `gamma`,
/// `beta` shared vectors of the last dimension (or `None`). The product with `gamma` shares the
/// variance's round. Rounds: 1 (squares) + 17 ([`rsqrt`]) + 1 = 19 (plus T).
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
        return Err(Error::Shape("layer norm of a scalar".into()));
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
    let y = scaled_rsqrt_mul(p, &dg, &var).await?;
    match beta {
        Some(b) => y.add(b),
        None => Ok(y),
    }
}

/// Softmax over the last axis: `exp(x - max) / sum`.
pub async fn softmax(p: &mut Party, x: &ArithShare) -> Result<ArithShare> {
    metered!(p, "softmax", softmax_impl(p, x).await)
}

async fn softmax_impl(p: &mut Party, x: &ArithShare) -> Result<ArithShare> {
    let m = max_last_impl(p, x).await?;
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
            divide_impl(p, &q, &s).await
        }
        .await
    )
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
            divide_impl(p, &q, &s).await
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

/// The attention map `P = f(S)` of a row-wise variant over the last axis of `s`, as the model
/// defines it (`crate::model::attention`): Softmax, ReLU/n, ReLU6/n, Sparsemax, Square/n,
/// 2Quad (c = 5, eps 1e-8), ScaleAttn (S/n) and RSAttn (eps 1e-8). Linformer and XNorm are not
/// row maps: see [`super::attention`].
pub async fn attention_map(
    p: &mut Party,
    variant: Attention,
    s: &ArithShare,
) -> Result<ArithShare> {
    let nd = s.data.ndim();
    if nd == 0 {
        return Err(Error::Shape("attention map of a scalar".into()));
    }
    let inv_n = 1.0 / s.shape()[nd - 1] as f64;
    match variant {
        Attention::Softmax => softmax(p, s).await,
        Attention::RsAttn => relu_softmax(p, s, 1e-8).await,
        Attention::TwoQuad => two_quad(p, s, 5.0, 1e-8).await,
        Attention::Sparsemax => sparsemax(p, s, SPARSEMAX_ITERS).await,
        Attention::Relu => {
            let r = metered!(p, "relu_attn", relu_impl(p, s).await)?;
            metered!(p, "relu_attn", scale_by(p, r, inv_n).await)
        }
        Attention::Relu6 => {
            let r = super::compare::relu6(p, s).await?;
            metered!(p, "relu6_attn", scale_by(p, r, inv_n).await)
        }
        Attention::Square => {
            let q = metered!(p, "square_attn", square1(p, s).await)?;
            metered!(p, "square_attn", scale_by(p, q, inv_n).await)
        }
        Attention::ScaleAttn => metered!(p, "scale_attn", scale_by(p, s.clone(), inv_n).await),
        Attention::Linformer | Attention::XNorm => Err(Error::Config(format!(
            "{} attention is not a row map",
            variant.name()
        ))),
    }
}
