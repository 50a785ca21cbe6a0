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
//! | [`reciprocal`] | grid cell (6 per octave), per-cell cubic | `[4^-7, 4^10)` | rel 4e-4 on `[0.01, 4]` (1.6e-4); abs 1.5e-4 on `[1, 1e4]` (4.9e-5) | 10 |
//! | [`divide`] `q / s` | exact `4^-J` normalisation, per-cell cubic on `[1, 4)` | `s` in `[4^-7, 4^10)` | abs 2e-4 for quotients in `[0, 1]` (1.2e-4) | 11 |
//! | [`rsqrt`] | grid cell (4 per octave), per-cell cubic | `[2^-16, 4^10)` | rel 2e-3 on `[1e-3, 100]` (3.0e-4); abs 1e-4 on `[100, 1e4]` (3.4e-5) | 10 |
//! | [`gelu`] | `[x >= 4] x + [abs x < 4] (x/2 + q(x^2))`, Chebyshev degree 8 in `x^2`, riding on the comparisons | all | abs 5e-4 (1.1e-4) | 8 |
//! | [`layer_norm`] | mean, variance, normalised rsqrt | var in `[2^-16, 4^10)` | abs 1e-2 (3.8e-3 for std 0.1, 1.8e-4 for std 1.7, 2.1e-4 for std 35) | 12 |
//! | [`softmax`] | max tree, [`exp`], [`divide`] | any | abs 5e-3 (3.8e-3) | `8 ceil(log2 L) + 18` |
//! | [`relu_softmax`] | [`relu`](super::compare::relu), [`divide`] | row sums below 1e6 | abs 1e-3 (6.1e-5) | 19 |
//! | [`two_quad`] | square, [`divide`] | row sums below 1e6 | abs 1e-3 (3.9e-5) | 12 |
//! | [`sparsemax`] | bisection on the threshold (no sorting) | any | abs `2^-(iters+1)` + 1e-4 (1.95e-3 for 8 iters) | `8 ceil(log2 L) + 16 iters + 8` |
//! | [`l2_normalize`] | square, normalised rsqrt | squared norms in `[2^-16, 4^10)` | abs 3e-3 | 12 |
//!
//! Public scalings (`1/n` of the ReLU, ReLU6, Square and ScaleAttn maps, `1/C` of the mean)
//! multiply by the encoded constant, whose relative error is up to `2^-(F+1) / c`.
//!
//! **Grid and per-cell cubic** (for [`reciprocal`], [`divide`] and [`rsqrt`]): one batched
//! [`msb`] of `x - t` for every threshold `t = 4^(J + k/K)` of a [`Grid`] (`K` cells per
//! octave `[4^J, 4^(J+1))`, 7 rounds) and one round that turns all bits into additive shares
//! and multiplies the octave bits `[x < 4^j]` by `x` (the bit-times-value tuple's opening is a
//! B2A as well) give, locally, the exact normalisation `x' = x 4^-J` (an integer combination
//! of the `b_j x`, truncated once) and any per-cell constant as a telescoping combination of
//! the bits with public coefficients. A cubic in `t = x' - m` with the cell's centre `m` and
//! coefficients (Chebyshev interpolation of the target on the cell, computed in `f64`) then
//! takes 2 rounds (`t^2`, `c1 t`, `c3 t`; `(c2 + c3 t) t^2`): 10 rounds for a function of `x`,
//! whatever its magnitude over a range of 2^36, against 14 to 17 for a staircase guess plus
//! Goldschmidt iterations (each 1 or 2 rounds). The price is bytes: `K` times more
//! comparisons. Powers of two of `J` (`2^-J`, `4^-J`) are exact in fixed point, so
//! [`divide`], [`layer_norm`] and [`l2_normalize`] multiply the numerator by them in the
//! cubic's first round and keep the quotient's significant bits even when it is tiny;
//! [`reciprocal`] and [`rsqrt`] fold them into the coefficients (absolute precision `2^-F`
//! for large `x`).
//!
//! [`msb`]: super::compare::msb
//! [`b2a`]: super::compare::b2a

use super::super::party::Party;
use super::super::share::{ArithShare, BitShare};
use super::arith::{
    add_const, metered, mul_close, mul_many_impl, mul_open, trunc_close, trunc_many_impl,
    trunc_open, MulPending, TruncPending, TruncStep,
};
use super::compare::{
    b2a_impl, b2a_mul_impl, bit_mul_impl, max_last_impl, msb_impl, msb_riding, relu_impl, Rider,
};
use crate::{Error, Result};

/// Squarings in [`exp`]: `exp(x) ~ (1 + x / 2^EXP_ITERS)^(2^EXP_ITERS)`.
pub const EXP_ITERS: u32 = 7;
/// GeLU is approximated by a polynomial on `[-GELU_T, GELU_T]` and exactly by ReLU outside.
pub const GELU_T: f64 = 4.0;
/// `s = x^2 / 2^GELU_S_SHIFT - 1` maps `[-GELU_T, GELU_T]` onto `[-1, 1]` (`2^3 = GELU_T^2 / 2`).
const GELU_S_SHIFT: u32 = 3;
const _: () = assert!(GELU_T * GELU_T / 2.0 == (1u32 << GELU_S_SHIFT) as f64);
/// Chebyshev coefficients (`T_0..T_8`) of the even part `e(x) = gelu(x) - x/2` on `x` in
/// `[-4, 4]` in the variable `s = x^2/8 - 1`, for the tanh form
/// `gelu(x) = x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))` that the model uses (least-squares
/// fit at 400 Chebyshev nodes). Approximation error 5.0e-5; `|gelu(-4)| = 7e-5`.
pub const GELU_CHEB: [f64; 9] = [
    1.2312642265,
    0.9159448679,
    -0.2014095128,
    0.0743665638,
    -0.0270763282,
    0.0089043329,
    -0.0026293045,
    0.0007075076,
    -0.0001759122,
];
/// Default bisection steps of [`sparsemax`] (threshold error `2^-9`).
pub const SPARSEMAX_ITERS: usize = 8;

async fn mul1(p: &mut Party, x: &ArithShare, y: &ArithShare) -> Result<ArithShare> {
    Ok(mul_many_impl(p, &[(x, y)], true).await?.remove(0))
}

pub(crate) async fn square1(p: &mut Party, x: &ArithShare) -> Result<ArithShare> {
    Ok(mul_many_impl(p, &[(x, x)], true).await?.remove(0))
}

async fn trunc1(p: &mut Party, x: ArithShare, bits: u32) -> Result<ArithShare> {
    Ok(trunc_many_impl(p, vec![x], bits).await?.remove(0))
}

/// `v * c` for a public constant, truncated.
pub(crate) async fn scale_by(p: &mut Party, v: ArithShare, c: f64) -> Result<ArithShare> {
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

/// The comparison grid of [`reciprocal`], [`divide`] and [`rsqrt`]: the octaves
/// `[4^J, 4^(J+1))` for `J` in `octaves` (inclusive), each cut into `subdiv` geometric cells
/// `[4^(J + k/subdiv), 4^(J + (k+1)/subdiv))` (thresholds rounded to fixed point).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Grid {
    /// Lowest and highest octave exponent `J`.
    pub octaves: (i32, i32),
    /// Cells per octave.
    pub subdiv: usize,
}

impl Grid {
    /// Number of octaves.
    pub fn octave_count(&self) -> usize {
        (self.octaves.1 - self.octaves.0 + 1) as usize
    }

    /// Number of thresholds (one per cell).
    pub fn thresholds(&self) -> usize {
        self.octave_count() * self.subdiv
    }

    /// Position of the threshold opening cell `(j, k)` in the bit vector: the octave
    /// thresholds (`k = 0`) first.
    fn pos(&self, j: i32, k: usize) -> usize {
        let o = (j - self.octaves.0) as usize;
        if k == 0 {
            o
        } else {
            self.octave_count() + o * (self.subdiv - 1) + k - 1
        }
    }

    /// The cells in increasing order.
    fn cells(&self) -> Vec<(i32, usize)> {
        (self.octaves.0..=self.octaves.1)
            .flat_map(|j| (0..self.subdiv).map(move |k| (j, k)))
            .collect()
    }

    /// The threshold opening cell `(j, k)` as compared (rounded to `frac_bits`).
    fn threshold(&self, j: i32, k: usize, frac_bits: u32) -> f64 {
        let s = 2f64.powi(frac_bits as i32);
        (4f64.powf(j as f64 + k as f64 / self.subdiv as f64) * s).round() / s
    }
}

/// Reciprocal grid: `x` in `[4^-7, 4^10)`, 6 cells per octave (cubic error 2.2e-5 relative).
pub const RECIP_GRID: Grid = Grid {
    octaves: (-7, 9),
    subdiv: 6,
};
/// Divisor grid of [`divide`] (as [`RECIP_GRID`]).
pub const DIV_GRID: Grid = RECIP_GRID;
/// Inverse square root grid: `x` in `[2^-16, 4^10)`, 4 cells per octave (cubic error 3.3e-5
/// relative).
pub const RSQRT_GRID: Grid = Grid {
    octaves: (-8, 9),
    subdiv: 4,
};

/// After [`fine_stage`]: additive 0/1 shares of `[x < t]` for every grid threshold `t`
/// (position-major, see [`Grid::pos`]) and the normalised `x' = x 4^-J`.
struct Fine {
    grid: Grid,
    n: usize,
    bits: ArithShare,
    xn: ArithShare,
}

/// One batched [`msb`](super::compare::msb) of `x - t` for every grid threshold `t` (7 rounds)
/// and one round that converts the bits to additive shares and multiplies the octave bits by
/// `x` ([`b2a_mul_impl`]); then `x' = x 4^-J` exactly (up to one truncation): with
/// `b_j = [x < 4^j]`, `x 4^(hi - J) = x + sum_j 3 4^(hi - j) b_j x` is an integer combination,
/// truncated once by `2 hi` bits. 8 rounds (plus T).
async fn fine_stage(p: &mut Party, x: &ArithShare, grid: Grid) -> Result<Fine> {
    let n = x.len();
    let f = p.fp().frac_bits;
    let (lo, hi) = grid.octaves;
    let flat = x.reshape(&[n])?;
    let mut shifted: Vec<Option<ArithShare>> = vec![None; grid.thresholds()];
    for (j, k) in grid.cells() {
        let t = grid.threshold(j, k, f);
        shifted[grid.pos(j, k)] = Some(add_const(p, &flat, -t));
    }
    let refs: Vec<&ArithShare> = shifted.iter().flatten().collect();
    let m = msb_impl(p, &ArithShare::concat(0, &refs)?).await?;
    let no = grid.octave_count();
    let reps: Vec<&ArithShare> = (0..no).map(|_| &flat).collect();
    let (bits, prod) = b2a_mul_impl(p, &m, &ArithShare::concat(0, &reps)?).await?;
    let mut acc = flat.clone();
    for j in lo + 1..=hi {
        let o = (j - lo) as usize;
        let bx = prod.slice_axis(0, o * n, (o + 1) * n)?;
        acc = acc.add(&bx.mul_int(3 * 4u64.pow((hi - j) as u32)))?;
    }
    let xn = trunc1(p, acc, 2 * hi as u32).await?;
    Ok(Fine { grid, n, bits, xn })
}

/// The secret per-cell constant `v(j, k)` of `x`'s cell (cells below the grid take the first
/// cell's): a telescoping combination of the bits with public integer coefficients (local,
/// exact on the encoded values).
fn fine_const(p: &Party, fine: &Fine, v: impl Fn(i32, usize) -> f64) -> Result<ArithShare> {
    let fp = p.fp();
    let n = fine.n;
    let cells = fine.grid.cells();
    let enc: Vec<u64> = cells.iter().map(|&(j, k)| fp.encode(v(j, k))).collect();
    let mut y = ArithShare::zeros(&[n]).add_scalar_ring(enc[cells.len() - 1], p.id());
    for i in 1..cells.len() {
        let d = enc[i - 1].wrapping_sub(enc[i]);
        if d != 0 {
            let pos = fine.grid.pos(cells[i].0, cells[i].1);
            let b = fine.bits.slice_axis(0, pos * n, (pos + 1) * n)?;
            y = y.add(&b.mul_int(d))?;
        }
    }
    Ok(y)
}

/// Cubic interpolation of `f` at the Chebyshev nodes of `[lo, hi]`, as coefficients of powers
/// of `t = x - m` (`m` the given centre).
fn cheb_cubic(f: impl Fn(f64) -> f64, lo: f64, hi: f64, m: f64) -> [f64; 4] {
    let h = (hi - lo) / 2.0;
    let c = (hi + lo) / 2.0;
    let mut a = [[0f64; 5]; 4];
    for (i, row) in a.iter_mut().enumerate() {
        let t = c + h * ((2 * i + 1) as f64 * std::f64::consts::PI / 8.0).cos() - m;
        for (l, v) in row.iter_mut().take(4).enumerate() {
            *v = t.powi(l as i32);
        }
        row[4] = f(t + m);
    }
    for col in 0..4 {
        let piv = (col..4)
            .max_by(|&x, &y| a[x][col].abs().total_cmp(&a[y][col].abs()))
            .unwrap_or(col);
        a.swap(col, piv);
        let pivot = a[col];
        for (r, row) in a.iter_mut().enumerate() {
            if r != col {
                let q = row[col] / pivot[col];
                for (v, pv) in row.iter_mut().zip(&pivot).skip(col) {
                    *v -= q * pv;
                }
            }
        }
    }
    [
        a[0][4] / a[0][0],
        a[1][4] / a[1][1],
        a[2][4] / a[2][2],
        a[3][4] / a[3][3],
    ]
}

/// Per-cell cubic pieces of `g` on the normalised `x'` (cell `(j, k)` of the grid covers
/// `[t(j, k), t(next)) 4^-j`, widened by two units for the rounding of `x'`), each scaled by
/// `scale(j)`: the shared centre `m` and coefficients `c0..c3` of the cell of each element.
fn fine_cubic(
    p: &Party,
    fine: &Fine,
    g: impl Fn(f64) -> f64,
    scale: impl Fn(i32) -> f64,
) -> Result<(ArithShare, [ArithShare; 4])> {
    let fp = p.fp();
    let f = fp.frac_bits;
    let grid = fine.grid;
    let ulp = 2f64.powi(-(f as i32));
    let piece = |j: i32, k: usize| {
        let w = 4f64.powi(-j);
        let lo = grid.threshold(j, k, f) * w - 2.0 * ulp;
        let next = if k + 1 < grid.subdiv {
            grid.threshold(j, k + 1, f)
        } else {
            grid.threshold(j + 1, 0, f)
        };
        let hi = next * w + 2.0 * ulp;
        let m = fp.decode(fp.encode((lo + hi) / 2.0));
        (m, cheb_cubic(&g, lo, hi, m))
    };
    let m = fine_const(p, fine, |j, k| piece(j, k).0)?;
    let c = [0, 1, 2, 3].map(|l| fine_const(p, fine, |j, k| scale(j) * piece(j, k).1[l]));
    let [c0, c1, c2, c3] = c;
    Ok((m, [c0?, c1?, c2?, c3?]))
}

/// `c0 + c1 t + c2 t^2 + c3 t^3` in 2 rounds: `t^2`, `c1 t`, `c3 t` (with the `extra` products,
/// returned too), then `(c2 + c3 t) t^2`.
async fn cubic(
    p: &mut Party,
    t: &ArithShare,
    c: &[ArithShare; 4],
    extra: &[(&ArithShare, &ArithShare)],
) -> Result<(ArithShare, Vec<ArithShare>)> {
    let mut ops = vec![(t, t), (&c[1], t), (&c[3], t)];
    ops.extend_from_slice(extra);
    let mut r = mul_many_impl(p, &ops, true).await?;
    let rest = r.split_off(3);
    let q = c[2].add(&r[2])?;
    let q2 = mul1(p, &q, &r[0]).await?;
    Ok((c[0].add(&r[1])?.add(&q2)?, rest))
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
async fn scaled_rsqrt_mul(p: &mut Party, num: &ArithShare, x: &ArithShare) -> Result<ArithShare> {
    let fine = fine_stage(p, x, RSQRT_GRID).await?;
    let s2 = fine_const(p, &fine, |j, _| 2f64.powi(-j))?.reshape(x.shape())?;
    let (m, c) = fine_cubic(p, &fine, |v| 1.0 / v.sqrt(), |_| 1.0)?;
    let t = fine.xn.sub(&m)?;
    let (y, mut ns) = cubic(p, &t, &c, &[(num, &s2)]).await?;
    mul1(p, &ns.remove(0), &y.reshape(x.shape())?).await
}

/// GeLU, tanh form (see the module table): `gelu(x) = x/2 + e(x)` with `e` even and smooth, so
/// `gelu(x) = [x >= 4] x + [-4 <= x < 4] (x/2 + q(s))` where `q` is the degree-8 Chebyshev series
/// [`GELU_CHEB`] in `s = x^2/8 - 1` (outside, `gelu` is ReLU up to 7e-5). The series needs only
/// `x`, so its four product rounds (`x^2`; `T_2`; `T_3, T_4`; `T_5..T_8` by doubling formulas)
/// ride on the seven rounds of the comparisons `x - 4`, `x + 4`
/// (`compare::msb_riding`); one bit-times-value round selects.
/// Rounds: 8 (local truncation); with exact truncation the series' 5 truncation rounds make it 10.
pub async fn gelu(p: &mut Party, x: &ArithShare) -> Result<ArithShare> {
    metered!(p, "gelu", gelu_impl(p, x).await)
}

pub(crate) async fn gelu_impl(p: &mut Party, x: &ArithShare) -> Result<ArithShare> {
    Ok(gelu_relu_impl(p, x, None).await?.0)
}

/// GeLU of `x` and, in the same 8 rounds, ReLU of `r` (MPCViT+'s linearised tokens next to
/// the GeLU tokens of a layer, section 4.5): the comparisons of `r` join GeLU's batched
/// [`msb`](super::compare::msb) and `r [r >= 0]` joins its selection round, so the linearised
/// tokens cost bytes but no rounds of their own.
pub async fn gelu_relu(
    p: &mut Party,
    x: &ArithShare,
    r: &ArithShare,
) -> Result<(ArithShare, ArithShare)> {
    metered!(
        p,
        "gelu",
        async {
            let (g, relu) = gelu_relu_impl(p, x, Some(r)).await?;
            let relu =
                relu.ok_or_else(|| Error::Protocol("gelu_relu lost its ReLU half".into()))?;
            Ok((g, relu))
        }
        .await
    )
}

async fn gelu_relu_impl(
    p: &mut Party,
    x: &ArithShare,
    r: Option<&ArithShare>,
) -> Result<(ArithShare, Option<ArithShare>)> {
    let n = x.len();
    let m = r.map_or(0, |r| r.len());
    let id = p.id();
    let flat = x.reshape(&[n])?;
    let rflat = match r {
        Some(r) => Some(r.reshape(&[m])?),
        None => None,
    };
    let lo = add_const(p, &flat, -GELU_T);
    let hi = add_const(p, &flat, GELU_T);
    let mut cmp = vec![&lo, &hi];
    cmp.extend(rflat.as_ref());
    let mut series = GeluSeries::new(flat.clone());
    let bits = msb_riding(p, &ArithShare::concat(0, &cmp)?, &mut series).await?;
    let below = bits.range(0, n);
    let above = below.not(id);
    let inside = below.xor(&bits.range(n, 2 * n))?;
    let q = series.output()?;
    let r_nonneg = rflat.as_ref().map(|_| bits.range(2 * n, 2 * n + m).not(id));
    let mut sel = vec![&above, &inside];
    let mut vals = vec![&flat, &q];
    if let (Some(rf), Some(rn)) = (&rflat, &r_nonneg) {
        sel.push(rn);
        vals.push(rf);
    }
    let prod = bit_mul_impl(
        p,
        &BitShare::concat_flat(&sel),
        &ArithShare::concat(0, &vals)?,
    )
    .await?;
    let g = prod
        .slice_axis(0, 0, n)?
        .add(&prod.slice_axis(0, n, 2 * n)?)?
        .reshape(x.shape())?;
    let relu = match r {
        Some(r) => Some(prod.slice_axis(0, 2 * n, 2 * n + m)?.reshape(r.shape())?),
        None => None,
    };
    Ok((g, relu))
}

/// The round of [`GeluSeries`] in flight.
enum SeriesRound {
    Mul(MulPending),
    Trunc(TruncPending),
}

/// `x/2 + q(s)` of [`gelu`] as a [`Rider`]: four rounds of products, each followed by its
/// truncation (local, or a round of its own in exact mode), then the truncation of the sum.
struct GeluSeries {
    x: ArithShare,
    /// The stage of the next product round (0 to 3); 4 once the sum is formed, 5 when done.
    stage: usize,
    /// `s, T_2, ..., T_8` as they become known.
    basis: Vec<ArithShare>,
    /// Values to truncate (by the given bits) before the next stage.
    to_truncate: Option<(Vec<ArithShare>, u32)>,
    in_flight: Option<SeriesRound>,
    out: Option<ArithShare>,
}

impl GeluSeries {
    fn new(x: ArithShare) -> Self {
        GeluSeries {
            x,
            stage: 0,
            basis: Vec::new(),
            to_truncate: None,
            in_flight: None,
            out: None,
        }
    }

    fn output(&mut self) -> Result<ArithShare> {
        self.out
            .take()
            .ok_or_else(|| Error::Protocol("the GeLU series did not finish".into()))
    }

    /// Uses the truncated results of the current stage.
    fn advance(&mut self, p: &Party, v: Vec<ArithShare>) -> Result<()> {
        let fp = p.fp();
        let id = p.id();
        let one = ArithShare::zeros(self.x.shape()).add_scalar_ring(fp.one(), id);
        let get = |i: usize| -> Result<&ArithShare> {
            v.get(i)
                .ok_or_else(|| Error::Protocol("the GeLU series lost a product".into()))
        };
        match self.stage {
            // s = x^2 / 8 - 1 (the truncation divided by 8 as well, GELU_S_SHIFT).
            0 => self.basis.push(add_const(p, get(0)?, -1.0)),
            1 => self.basis.push(twice_minus(get(0)?, &one)?),
            2 => {
                let s = self.basis[0].clone();
                self.basis.push(twice_minus(get(0)?, &s)?);
                self.basis.push(twice_minus(get(1)?, &one)?);
            }
            3 => {
                let s = self.basis[0].clone();
                for (i, base) in [&s, &one, &s, &one].into_iter().enumerate() {
                    self.basis.push(twice_minus(get(i)?, base)?);
                }
                // sum_k c_k T_k + x/2 at scale 2F, truncated once by F.
                let mut acc = self.x.mul_int(fp.encode(0.5));
                for (t, c) in self.basis.iter().zip(&GELU_CHEB[1..]) {
                    acc = acc.add(&t.mul_int(fp.encode(*c)))?;
                }
                self.to_truncate = Some((vec![acc], fp.frac_bits));
            }
            4 => self.out = Some(add_const(p, get(0)?, GELU_CHEB[0])),
            _ => return Err(Error::Protocol("the GeLU series has no such stage".into())),
        }
        self.stage += 1;
        Ok(())
    }
}

impl Rider for GeluSeries {
    async fn prepare(&mut self, p: &mut Party) -> Result<Option<Vec<u8>>> {
        loop {
            if let Some((vals, bits)) = self.to_truncate.take() {
                match trunc_open(p, vals, bits).await? {
                    TruncStep::Done(v) => self.advance(p, v)?,
                    TruncStep::Open(pending, payload) => {
                        self.in_flight = Some(SeriesRound::Trunc(pending));
                        return Ok(Some(payload));
                    }
                }
                continue;
            }
            let b = &self.basis;
            let pairs: Vec<(&ArithShare, &ArithShare)> = match self.stage {
                0 => vec![(&self.x, &self.x)],
                1 => vec![(&b[0], &b[0])],
                2 => vec![(&b[0], &b[1]), (&b[1], &b[1])],
                3 => vec![
                    (&b[1], &b[2]),
                    (&b[2], &b[2]),
                    (&b[2], &b[3]),
                    (&b[3], &b[3]),
                ],
                _ => return Ok(None),
            };
            let (pending, payload) = mul_open(p, &pairs).await?;
            self.in_flight = Some(SeriesRound::Mul(pending));
            return Ok(Some(payload));
        }
    }

    fn absorb(&mut self, p: &Party, got: &[u8]) -> Result<()> {
        match self.in_flight.take() {
            Some(SeriesRound::Mul(pending)) => {
                let f = p.fp().frac_bits;
                let bits = if self.stage == 0 { f + GELU_S_SHIFT } else { f };
                self.to_truncate = Some((mul_close(p, pending, got)?, bits));
                Ok(())
            }
            Some(SeriesRound::Trunc(pending)) => {
                let v = trunc_close(p, pending, got)?;
                self.advance(p, v)
            }
            None => Err(Error::Protocol(
                "the GeLU series got a payload it did not send".into(),
            )),
        }
    }
}

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
