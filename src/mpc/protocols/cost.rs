//! The documented cost of every protocol, as formulas: rounds, online payload bytes in each
//! direction and offline bytes (dealer -> party 1), for given sizes and truncation mode.
//!
//! Each function mirrors its protocol's sequence of rounds and correlations, so a change in a
//! protocol's rounds or bytes must be matched here; `tests/native_mpc.rs` asserts the meter
//! against these formulas for every protocol. Frame headers (20 bytes per message) are not
//! included (see [`super::super::meter`]).

use std::ops::{Add, AddAssign, Mul};

use super::super::party::TruncMode;
use super::approx::{Grid, DIV_GRID, RECIP_GRID, RSQRT_GRID};
use super::compare::MSB_LEVEL_WIDTHS;

/// Rounds and bytes of a protocol run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cost {
    /// Communication rounds.
    pub rounds: u64,
    /// Online payload bytes party 0 -> party 1.
    pub p0_to_p1: u64,
    /// Online payload bytes party 1 -> party 0.
    pub p1_to_p0: u64,
    /// Offline bytes dealer -> party 1.
    pub offline: u64,
    /// Offline bytes dealer -> party 0 (FSS keys only: classic correlations expand from party
    /// 0's seed).
    pub offline_p0: u64,
}

impl Add for Cost {
    type Output = Cost;
    fn add(self, o: Cost) -> Cost {
        Cost {
            rounds: self.rounds + o.rounds,
            p0_to_p1: self.p0_to_p1 + o.p0_to_p1,
            p1_to_p0: self.p1_to_p0 + o.p1_to_p0,
            offline: self.offline + o.offline,
            offline_p0: self.offline_p0 + o.offline_p0,
        }
    }
}

impl AddAssign for Cost {
    fn add_assign(&mut self, o: Cost) {
        *self = *self + o;
    }
}

impl Mul<u64> for Cost {
    type Output = Cost;
    fn mul(self, k: u64) -> Cost {
        Cost {
            rounds: self.rounds * k,
            p0_to_p1: self.p0_to_p1 * k,
            p1_to_p0: self.p1_to_p0 * k,
            offline: self.offline * k,
            offline_p0: self.offline_p0 * k,
        }
    }
}

/// A symmetric round with `each` bytes each way and `offline` dealer bytes.
pub(crate) fn sym(each: usize, offline: usize) -> Cost {
    Cost {
        rounds: 1,
        p0_to_p1: each as u64,
        p1_to_p0: each as u64,
        offline: offline as u64,
        offline_p0: 0,
    }
}

fn offline_only(bytes: usize) -> Cost {
    Cost {
        offline: bytes as u64,
        ..Cost::default()
    }
}

/// Truncation of `n` elements.
pub fn trunc(mode: TruncMode, n: usize) -> Cost {
    match mode {
        TruncMode::Local => Cost::default(),
        TruncMode::Exact if n == 0 => Cost::default(),
        TruncMode::Exact => sym(8 * n, 16 * n),
    }
}

/// Input sharing of `n` elements owned by `owner`.
pub fn share_input(owner: usize, n: usize) -> Cost {
    if owner == 0 {
        Cost {
            rounds: 1,
            p0_to_p1: 8 * n as u64,
            ..Cost::default()
        }
    } else {
        offline_only(8 * n)
    }
}

/// Opening `n` elements to both parties.
pub fn reveal(n: usize) -> Cost {
    sym(8 * n, 0)
}

/// Opening `n` elements to party `to`.
pub fn reveal_to(to: usize, n: usize) -> Cost {
    let b = 8 * n as u64;
    if to == 0 {
        Cost {
            rounds: 1,
            p1_to_p0: b,
            ..Cost::default()
        }
    } else {
        Cost {
            rounds: 1,
            p0_to_p1: b,
            ..Cost::default()
        }
    }
}

/// One operand pair of a batched multiplication: `Some(ny)` for a product with a right operand
/// of `ny` elements, `None` for a square.
pub type MulOperand = (usize, Option<usize>);

/// One round of products ([`super::arith::mul_many`]) followed by their truncation.
pub fn mul_batch(mode: TruncMode, ops: &[MulOperand]) -> Cost {
    let mut each = 0;
    let mut off = 0;
    let mut n_out = 0;
    for &(n, ny) in ops {
        each += 8 * (n + ny.unwrap_or(0));
        off += 8 * n;
        n_out += n;
    }
    sym(each, off) + trunc(mode, n_out)
}

/// `x * y` with `x` of `n` and `y` of `ny` elements.
pub fn mul(mode: TruncMode, n: usize, ny: usize) -> Cost {
    mul_batch(mode, &[(n, Some(ny))])
}

/// `x * x` on `n` elements.
pub fn square(mode: TruncMode, n: usize) -> Cost {
    mul_batch(mode, &[(n, None)])
}

/// One matrix product `(bx, m, k) x (by, k, p)` (a batch of 1 is broadcast).
pub fn matmul(mode: TruncMode, bx: usize, by: usize, m: usize, k: usize, p: usize) -> Cost {
    let b = bx.max(by);
    sym(8 * (bx * m * k + by * k * p), 8 * b * m * p) + trunc(mode, b * m * p)
}

/// Several matrix products `(bx, by, m, k, p)` in one round ([`super::arith::matmul_many`]).
pub fn matmul_batch(mode: TruncMode, ops: &[(usize, usize, usize, usize, usize)]) -> Cost {
    let (mut each, mut out) = (0, 0);
    for &(bx, by, m, k, p) in ops {
        each += 8 * (bx * m * k + by * k * p);
        out += bx.max(by) * m * p;
    }
    sym(each, 8 * out) + trunc(mode, out)
}

/// MSB of `n` elements (7 rounds).
pub fn msb(n: usize) -> Cost {
    msb_rounds(n)
        .into_iter()
        .fold(Cost::default(), |a, c| a + c)
}

/// The rounds of [`msb`], one [`Cost`] each.
fn msb_rounds(n: usize) -> Vec<Cost> {
    let mut r = vec![sym(8 * n, 8 * n)];
    for w in MSB_LEVEL_WIDTHS {
        let nb = (w as usize * n).div_ceil(8);
        r.push(sym(2 * nb, nb));
    }
    r
}

/// A protocol whose rounds carry a rider's rounds (`super::compare::Rider`): bytes add up,
/// rounds are the longer of the two.
fn riding(main: &[Cost], rider: &[Cost]) -> Cost {
    let all = main
        .iter()
        .chain(rider)
        .fold(Cost::default(), |a, &c| a + c);
    Cost {
        rounds: main.len().max(rider.len()) as u64,
        ..all
    }
}

/// B2A of `n` bits.
pub fn b2a(n: usize) -> Cost {
    sym(n.div_ceil(8), 8 * n)
}

/// Bit times value on `n` elements (also `select`).
pub fn bit_mul(n: usize) -> Cost {
    sym(n.div_ceil(8) + 8 * n, 16 * n)
}

/// ReLU on `n` elements.
pub fn relu(n: usize) -> Cost {
    msb(n) + bit_mul(n)
}

/// ReLU6 on `n` elements.
pub fn relu6(n: usize) -> Cost {
    relu(2 * n)
}

/// Max over the last axis of `rows` rows of length `len`.
pub fn max_last(rows: usize, len: usize) -> Cost {
    let mut c = Cost::default();
    let mut l = len;
    while l > 1 {
        let h = l / 2;
        c += relu(rows * h);
        l -= h;
    }
    c
}

/// `exp` on `n` elements.
pub fn exp(mode: TruncMode, n: usize) -> Cost {
    trunc(mode, n) + square(mode, n) * super::approx::EXP_ITERS as u64
}

/// B2A of `n` bits of which the first `m` are also multiplied by values
/// (`super::compare::b2a_mul_impl`).
pub fn b2a_mul(n: usize, m: usize) -> Cost {
    sym(
        m.div_ceil(8) + 8 * m + (n - m).div_ceil(8),
        16 * m + 8 * (n - m),
    )
}

/// Locating and normalising `n` elements on a grid (`super::approx::fine_stage`).
fn fine_stage(mode: TruncMode, n: usize, grid: Grid) -> Cost {
    let t = grid.thresholds() * n;
    msb(t) + b2a_mul(t, grid.octave_count() * n) + trunc(mode, n)
}

/// The per-cell cubic on `n` elements, with `extra` products in its first round.
fn cubic(mode: TruncMode, n: usize, extra: &[MulOperand]) -> Cost {
    let mut ops = vec![(n, None), (n, Some(n)), (n, Some(n))];
    ops.extend_from_slice(extra);
    mul_batch(mode, &ops) + mul(mode, n, n)
}

/// Reciprocal on `n` elements.
pub fn reciprocal(mode: TruncMode, n: usize) -> Cost {
    fine_stage(mode, n, RECIP_GRID) + cubic(mode, n, &[])
}

/// `q / s` for `n` numerators and `rows` divisors.
pub fn divide(mode: TruncMode, n: usize, rows: usize) -> Cost {
    fine_stage(mode, rows, DIV_GRID) + cubic(mode, rows, &[(n, Some(rows))]) + mul(mode, n, rows)
}

/// Inverse square root on `n` elements.
pub fn rsqrt(mode: TruncMode, n: usize) -> Cost {
    fine_stage(mode, n, RSQRT_GRID) + cubic(mode, n, &[])
}

/// `num / sqrt(x)` for `n` numerators and `rows` values of `x`.
fn scaled_rsqrt_mul(mode: TruncMode, n: usize, rows: usize) -> Cost {
    fine_stage(mode, rows, RSQRT_GRID) + cubic(mode, rows, &[(n, Some(rows))]) + mul(mode, n, rows)
}

/// GeLU on `n` elements.
pub fn gelu(mode: TruncMode, n: usize) -> Cost {
    gelu_relu(mode, n, 0)
}

/// GeLU on `n` elements with ReLU on `m` more in the same rounds ([`super::approx::gelu_relu`]).
pub fn gelu_relu(mode: TruncMode, n: usize, m: usize) -> Cost {
    riding(&msb_rounds(2 * n + m), &gelu_series_rounds(mode, n)) + bit_mul(2 * n + m)
}

/// The rounds of GeLU's Chebyshev series on `n` elements: four rounds of products, each
/// followed (in exact mode) by a truncation round, and the truncation of the sum.
fn gelu_series_rounds(mode: TruncMode, n: usize) -> Vec<Cost> {
    let stages: [&[MulOperand]; 4] = [
        &[(n, None)],
        &[(n, None)],
        &[(n, Some(n)), (n, None)],
        &[(n, Some(n)), (n, None), (n, Some(n)), (n, None)],
    ];
    let mut r = Vec::new();
    for ops in stages {
        r.push(mul_batch(TruncMode::Local, ops));
        if mode == TruncMode::Exact {
            r.push(trunc(mode, ops.len() * n));
        }
    }
    if mode == TruncMode::Exact {
        r.push(trunc(mode, n));
    }
    r
}

/// LayerNorm of `rows` rows of `c` channels, with or without `gamma`.
pub fn layer_norm(mode: TruncMode, rows: usize, c: usize, gamma: bool) -> Cost {
    let n = rows * c;
    let sq = if gamma {
        mul_batch(mode, &[(n, None), (n, Some(c))])
    } else {
        square(mode, n)
    };
    trunc(mode, rows) + sq + trunc(mode, rows) + scaled_rsqrt_mul(mode, n, rows)
}

/// Softmax of `rows` rows of length `len`.
pub fn softmax(mode: TruncMode, rows: usize, len: usize) -> Cost {
    max_last(rows, len) + exp(mode, rows * len) + divide(mode, rows * len, rows)
}

/// ReLU-Softmax of `rows` rows of length `len`.
pub fn relu_softmax(mode: TruncMode, rows: usize, len: usize) -> Cost {
    relu(rows * len) + divide(mode, rows * len, rows)
}

/// 2Quad of `rows` rows of length `len`.
pub fn two_quad(mode: TruncMode, rows: usize, len: usize) -> Cost {
    square(mode, rows * len) + divide(mode, rows * len, rows)
}

/// Sparsemax of `rows` rows of length `len` with `iters` bisection steps.
pub fn sparsemax(rows: usize, len: usize, iters: usize) -> Cost {
    max_last(rows, len)
        + (relu(rows * len) + msb(rows) + b2a(rows)) * iters as u64
        + relu(rows * len)
}

/// L2 normalisation of `rows` rows of length `len`.
pub fn l2_normalize(mode: TruncMode, rows: usize, len: usize) -> Cost {
    square(mode, rows * len) + scaled_rsqrt_mul(mode, rows * len, rows)
}

/// ScaleAttn on `(h, n, d)` inputs with values of width `dv`.
pub fn scale_attn(mode: TruncMode, h: usize, n: usize, d: usize, dv: usize) -> Cost {
    if super::attention::scale_attn_reassociates(n, d, dv) {
        matmul(mode, h, h, d, n, dv) + trunc(mode, h * d * dv) + matmul(mode, h, h, n, d, dv)
    } else {
        matmul(mode, h, h, n, d, n) + trunc(mode, h * n * n) + matmul(mode, h, h, n, n, dv)
    }
}

/// Linformer on `(h, n, d)` inputs with `(kl, n)` projections.
pub fn linformer(mode: TruncMode, h: usize, n: usize, d: usize, kl: usize) -> Cost {
    matmul_batch(mode, &[(1, h, kl, n, d), (1, h, kl, n, d)])
        + matmul(mode, h, h, n, d, kl)
        + trunc(mode, h * n * kl)
        + softmax(mode, h * n, kl)
        + matmul(mode, h, h, n, kl, d)
}

/// XNorm attention on `(h, n, d)` inputs.
pub fn xnorm(mode: TruncMode, h: usize, n: usize, d: usize) -> Cost {
    matmul(mode, h, h, d, n, d)
        + l2_normalize(mode, h * n + h * d, d)
        + matmul(mode, h, h, n, d, d)
        + mul(mode, h * n * d, h)
}
