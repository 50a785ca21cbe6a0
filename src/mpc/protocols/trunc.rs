//! Truncation (division by `2^bits` of a fixed-point product): local, SecureML's share-wise
//! shift (0 rounds; fails with probability about `2^-(63 - l)` for values of `l` bits), or exact
//! in one round with a dealer pair ([`TruncPair`]): open `c = x + 2^62 + r` and correct the carry
//! of the low 63 bits from `msb(c)` and the shared `msb(r)` (the protocol of CrypTen's TTP
//! truncation, with the wrap handled exactly for `|x| < 2^62`).
//!
//! `T(n)` below and in the other protocols' tables: 0 rounds in [`TruncMode::Local`], 1 round /
//! `8n` bytes each way / `16n` bytes offline in [`TruncMode::Exact`].

use super::super::correlation::{CompRing, CompRole, Correlation};
use super::super::party::{Party, TruncMode};
use super::super::ring::trunc_share_local;
use super::super::share::{bytes_to_words, flatten_all, unflatten_all, words_to_bytes, ArithShare};
use super::cost::{sym, Cost};
use super::registry;
use crate::mpc::bench::{input, BenchCase, Dims};
use crate::{Error, Result};

/// Truncation pairs for the exact one-round truncation: random `r`, and additive shares of
/// `msb(r)` and of `(r mod 2^63) >> bits`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TruncPair {
    /// Elements.
    pub n: usize,
    /// Bits truncated.
    pub bits: u32,
}

impl Correlation for TruncPair {
    fn tag(&self) -> u32 {
        registry::TRUNC_PAIR
    }

    fn layout(&self) -> Vec<(CompRing, CompRole)> {
        let n = self.n;
        vec![
            (CompRing::Arith(n), CompRole::Free),
            (CompRing::Arith(n), CompRole::Dep),
            (CompRing::Arith(n), CompRole::Dep),
        ]
    }

    fn dependent_values(&self, v: &[Vec<u64>]) -> Result<Vec<Vec<u64>>> {
        let bits = self.bits;
        let msb = v[0].iter().map(|r| r >> 63).collect();
        let mid = v[0].iter().map(|r| (r << 1) >> (bits + 1)).collect();
        Ok(vec![msb, mid])
    }
}

/// Divides by `2^bits` (rounding), through the session's truncation protocol.
pub async fn trunc(p: &mut Party, x: &ArithShare, bits: u32) -> Result<ArithShare> {
    metered!(
        p,
        "trunc",
        trunc_many_impl(p, vec![x.clone()], bits)
            .await
            .map(|mut v| v.remove(0))
    )
}

/// Truncates several tensors by `bits` in one round (or none in local mode).
pub async fn trunc_many(p: &mut Party, xs: Vec<ArithShare>, bits: u32) -> Result<Vec<ArithShare>> {
    metered!(p, "trunc", trunc_many_impl(p, xs, bits).await)
}

pub(crate) async fn trunc_many_impl(
    p: &mut Party,
    xs: Vec<ArithShare>,
    bits: u32,
) -> Result<Vec<ArithShare>> {
    match trunc_open(p, xs, bits).await? {
        TruncStep::Done(out) => Ok(out),
        TruncStep::Open(pending, payload) => {
            let got = p.exchange(payload).await?;
            trunc_close(p, pending, &got)
        }
    }
}

/// Either the truncated values (local mode, nothing to truncate) or the round the exact
/// protocol still needs: its pending state and this party's payload.
pub(crate) enum TruncStep {
    Done(Vec<ArithShare>),
    Open(TruncPending, Vec<u8>),
}

/// The state of an exact truncation between its opening and the peer's answer.
pub(crate) struct TruncPending {
    shapes: Vec<Vec<usize>>,
    bits: u32,
    c_mine: Vec<u64>,
    r_msb: Vec<u64>,
    r_mid: Vec<u64>,
}

/// First half of [`trunc_many_impl`]: local truncation finishes here; exact truncation fetches
/// its correlation and returns the masked values to open.
pub(crate) async fn trunc_open(p: &mut Party, xs: Vec<ArithShare>, bits: u32) -> Result<TruncStep> {
    let mode = p.config().trunc;
    trunc_open_in(p, xs, bits, mode).await
}

/// One tensor truncated exactly whatever the session's mode: for values too wide for the
/// local protocol's failure probability (up to `2^62`).
pub(crate) async fn trunc_exact1(p: &mut Party, x: ArithShare, bits: u32) -> Result<ArithShare> {
    match trunc_open_in(p, vec![x], bits, TruncMode::Exact).await? {
        TruncStep::Done(mut out) => Ok(out.remove(0)),
        TruncStep::Open(pending, payload) => {
            let got = p.exchange(payload).await?;
            Ok(trunc_close(p, pending, &got)?.remove(0))
        }
    }
}

async fn trunc_open_in(
    p: &mut Party,
    xs: Vec<ArithShare>,
    bits: u32,
    mode: TruncMode,
) -> Result<TruncStep> {
    if bits == 0 || xs.iter().all(|x| x.is_empty()) {
        return Ok(TruncStep::Done(xs));
    }
    if bits >= 62 {
        return Err(Error::out_of_range("truncation bits", bits, "below 62"));
    }
    let id = p.id();
    match mode {
        TruncMode::Local => Ok(TruncStep::Done(
            xs.into_iter()
                .map(|x| ArithShare::new(x.data.mapv(|v| trunc_share_local(v, bits, id))))
                .collect(),
        )),
        TruncMode::Exact => {
            let shapes: Vec<Vec<usize>> = xs.iter().map(|x| x.shape().to_vec()).collect();
            let refs: Vec<&ArithShare> = xs.iter().collect();
            let flat = flatten_all(&refs);
            let n = flat.len();
            let parts = p.corr(&TruncPair { n, bits }).await?;
            let [r, r_msb, r_mid]: [Vec<u64>; 3] = parts
                .try_into()
                .map_err(|_| Error::Protocol("a truncation pair has three parts".into()))?;
            // b = x + 2^62 + 2^(bits-1) has msb 0 for |x| < 2^62; open c = b + r.
            let offset = (1u64 << 62).wrapping_add(1u64 << (bits - 1));
            let c_mine: Vec<u64> = flat
                .iter()
                .zip(&r)
                .map(|(x, r)| {
                    let b = if id == 0 { x.wrapping_add(offset) } else { *x };
                    b.wrapping_add(*r)
                })
                .collect();
            let payload = words_to_bytes(&c_mine);
            let pending = TruncPending {
                shapes,
                bits,
                c_mine,
                r_msb,
                r_mid,
            };
            Ok(TruncStep::Open(pending, payload))
        }
    }
}

/// Second half of [`trunc_many_impl`] in exact mode, from the peer's payload.
pub(crate) fn trunc_close(p: &Party, t: TruncPending, got: &[u8]) -> Result<Vec<ArithShare>> {
    let id = p.id();
    let n = t.c_mine.len();
    let bits = t.bits;
    let c_other = bytes_to_words(got, n)?;
    let out: Vec<u64> = (0..n)
        .map(|i| {
            let c = t.c_mine[i].wrapping_add(c_other[i]);
            let c_msb = c >> 63;
            let c_mid = (c << 1) >> (bits + 1);
            // carry of the low 63 bits = msb(c) xor msb(r), arithmetically.
            let mut carry = t.r_msb[i].wrapping_mul(1u64.wrapping_sub(2 * c_msb));
            if id == 0 {
                carry = carry.wrapping_add(c_msb);
            }
            let mut y = carry
                .wrapping_mul(1u64 << (63 - bits))
                .wrapping_sub(t.r_mid[i]);
            if id == 0 {
                y = y.wrapping_add(c_mid).wrapping_sub(1u64 << (62 - bits));
            }
            y
        })
        .collect();
    unflatten_all(&out, &t.shapes)
}

/// One tensor through [`trunc_many_impl`].
pub(crate) async fn trunc1(p: &mut Party, x: ArithShare, bits: u32) -> Result<ArithShare> {
    Ok(trunc_many_impl(p, vec![x], bits).await?.remove(0))
}

/// `v * c` for a public constant, truncated.
pub(crate) async fn scale_by(p: &mut Party, v: ArithShare, c: f64) -> Result<ArithShare> {
    let fp = p.fp();
    trunc1(p, v.mul_int(fp.encode(c)), fp.frac_bits).await
}

/// Truncation of `n` elements.
pub fn trunc_cost(mode: TruncMode, n: usize) -> Cost {
    match mode {
        TruncMode::Local => Cost::default(),
        TruncMode::Exact if n == 0 => Cost::default(),
        TruncMode::Exact => sym(8 * n, 16 * n),
    }
}

/// Rows of the cost table ([`crate::mpc::bench`]).
pub(crate) const BENCH: &[BenchCase] = &[BenchCase {
    trunc: TruncMode::Exact,
    ..BenchCase::new(
        "trunc (exact)",
        Dims::Flat,
        &[input(0, Dims::Flat, -4.0, 4.0)],
        crate::program!(|p, x| {
            let f = p.fp().frac_bits;
            trunc(p, &x[0], f).await
        }),
    )
}];
