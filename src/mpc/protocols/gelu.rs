//! GeLU (tanh form) as ReLU outside `[-4, 4]` and `x/2` plus an even Chebyshev series inside,
//! the series riding on the range comparisons' rounds.
//!
//! Error bounds are for the default F = 16, against `f64` on the fixed-point-rounded inputs,
//! and are asserted by `tests/native_mpc.rs` (measured values in parentheses, local truncation);
//! "abs" is absolute and "rel" relative error. Round counts are for
//! [`TruncMode::Local`]; exact truncation adds one round per multiplicative
//! level (formulas in the `_cost` functions). `L` is the row length.
//!
//! | function | method | domain | bound (measured) | rounds |
//! |---|---|---|---|---|
//! | [`gelu`] | `[x >= 4] x + [abs x < 4] (x/2 + q(x^2))`, Chebyshev degree 8 in `x^2`, riding on the comparisons | all | abs 5e-4 (1.1e-4) | 8 |
//! | [`gelu`], FSS family | ReLU minus a table of `relu - gelu` on `[-4, 4)` ([`super::fss::gelu`]) | `abs x < 32760` | abs 1.1e-3 | 2 |

use super::super::party::{Party, ProtocolFamily, TruncMode};
use super::super::share::{ArithShare, BitShare};
use super::b2a::{bit_mul_cost, bit_mul_impl};
use super::beaver::{mul_batch_cost, mul_close, mul_open, MulOperand, MulPending};
use super::cost::Cost;
use super::linear::add_const;
use super::msb::{msb_riding, msb_rounds, riding_cost, Rider};
use super::trunc::{trunc_close, trunc_cost, trunc_open, TruncPending, TruncStep};
use crate::mpc::bench::{input, BenchCase, Dims};
use crate::{Error, Result};

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
    if p.config().family == ProtocolFamily::Fss {
        // ReLU minus a windowed table, all from one masked opening: 2 rounds.
        return super::fss::gelu::gelu_relu_unmetered(p, x, r).await;
    }
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

/// `2 x - c` (local).
fn twice_minus(x: &ArithShare, c: &ArithShare) -> Result<ArithShare> {
    x.mul_int(2).sub(c)
}

/// GeLU on `n` elements.
pub fn gelu_cost(mode: TruncMode, n: usize) -> Cost {
    gelu_relu_cost(mode, n, 0)
}

/// GeLU on `n` elements with ReLU on `m` more in the same rounds ([`super::approx::gelu_relu`]).
pub fn gelu_relu_cost(mode: TruncMode, n: usize, m: usize) -> Cost {
    riding_cost(&msb_rounds(2 * n + m), &gelu_series_rounds(mode, n)) + bit_mul_cost(2 * n + m)
}

/// The rounds of GeLU's Chebyshev series on `n` elements: four rounds of products, each
/// followed (in exact mode) by a truncation round, and the truncation of the sum.
pub(crate) fn gelu_series_rounds(mode: TruncMode, n: usize) -> Vec<Cost> {
    let stages: [&[MulOperand]; 4] = [
        &[(n, None)],
        &[(n, None)],
        &[(n, Some(n)), (n, None)],
        &[(n, Some(n)), (n, None), (n, Some(n)), (n, None)],
    ];
    let mut r = Vec::new();
    for ops in stages {
        r.push(mul_batch_cost(TruncMode::Local, ops));
        if mode == TruncMode::Exact {
            r.push(trunc_cost(mode, ops.len() * n));
        }
    }
    if mode == TruncMode::Exact {
        r.push(trunc_cost(mode, n));
    }
    r
}

/// Rows of the cost table ([`crate::mpc::bench`]).
pub(crate) const BENCH: &[BenchCase] = &[BenchCase::new(
    "gelu",
    Dims::Flat,
    &[input(0, Dims::Flat, -4.0, 4.0)],
    crate::program!(|p, x| gelu(p, &x[0]).await),
)];
