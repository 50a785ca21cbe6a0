//! The comparison grid shared by the reciprocal, division and inverse square root
//! ([`super::reciprocal`]): locate `x` in a geometric grid of cells, normalise it exactly by a
//! power of four, and evaluate a per-cell cubic.
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

use super::super::party::{Party, TruncMode};
use super::super::share::ArithShare;
use super::b2a::{b2a_mul_cost, b2a_mul_impl};
use super::beaver::{mul1, mul_batch_cost, mul_cost, mul_many_impl, MulOperand};
use super::cost::Cost;
use super::linear::add_const;
use super::msb::{msb_cost, msb_impl};
use super::trunc::{trunc1, trunc_cost};
use crate::Result;

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
pub(crate) struct Fine {
    grid: Grid,
    n: usize,
    bits: ArithShare,
    /// The normalised `x' = x 4^-J`.
    pub(crate) xn: ArithShare,
}

/// One batched [`msb`](super::compare::msb) of `x - t` for every grid threshold `t` (7 rounds)
/// and one round that converts the bits to additive shares and multiplies the octave bits by
/// `x` ([`b2a_mul_impl`]); then `x' = x 4^-J` exactly (up to one truncation): with
/// `b_j = [x < 4^j]`, `x 4^(hi - J) = x + sum_j 3 4^(hi - j) b_j x` is an integer combination,
/// truncated once by `2 hi` bits. 8 rounds (plus T).
pub(crate) async fn fine_stage(p: &mut Party, x: &ArithShare, grid: Grid) -> Result<Fine> {
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
pub(crate) fn fine_const(
    p: &Party,
    fine: &Fine,
    v: impl Fn(i32, usize) -> f64,
) -> Result<ArithShare> {
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
pub(crate) fn fine_cubic(
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
pub(crate) async fn cubic(
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

/// Locating and normalising `n` elements on a grid (`super::approx::fine_stage`).
pub(crate) fn fine_stage_cost(mode: TruncMode, n: usize, grid: Grid) -> Cost {
    let t = grid.thresholds() * n;
    msb_cost(t) + b2a_mul_cost(t, grid.octave_count() * n) + trunc_cost(mode, n)
}

/// The per-cell cubic on `n` elements, with `extra` products in its first round.
pub(crate) fn cubic_cost(mode: TruncMode, n: usize, extra: &[MulOperand]) -> Cost {
    let mut ops = vec![(n, None), (n, Some(n)), (n, Some(n))];
    ops.extend_from_slice(extra);
    mul_batch_cost(mode, &ops) + mul_cost(mode, n, n)
}
