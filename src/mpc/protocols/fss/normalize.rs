//! Softmax's row normalisation `e_i / sum_j e_j` in **two online rounds** (plus the session's
//! truncation), for rows whose sum lies in `[1, L]` — which is what the FSS exponential gives a
//! softmax row: its maximum maps to exactly 1 and every entry to at most 1 ([`super::exp`]).
//! The reciprocal is a lookup table on the top bits of the masked sum (Pika, PETS 2022; SIGMA,
//! PETS 2024, section 4, for a reciprocal from a table on a known range), and one signed
//! product ([`super::signed_mul`], broadcast along the row) multiplies it in and removes the
//! lookup's sign.
//!
//! **Domain and error.** Rows of length `1 <= L < 2^15` with sum `s` in `[1, L]`. The sum is
//! opened on `k = F + c` bits, `c = ceil(log2(L + 1))`, and its top `t = min(16, k)` bits index
//! a table of `2^t` reciprocals at spacing `D = 2^(k - t - F)` (`2^-11` at `L = 17`, `F = 16`);
//! with the carry of the low bits the index is off by at most one entry, so the reciprocal is
//! within `D / (s (s - D))` of `1 / s`, at most `1.001 D` for `s >= 1`. Each output is then
//! within `p (2 eps_e + 1.001 D) + 2^-F` of the exact softmax `p`, where `eps_e` (2.0e-3) is
//! the exponential's relative error: 4.5e-3 at `L = 17`, `F = 16` (5e-3 tested).
//!
//! **Protocol.** The dealer masks each row's sum with `r` and deals a lookup key at
//! `rho = (r >> (k - t)) mod 2^t` and the row's signed-product material. Round 1 opens
//! `s^ = s + r mod 2^k`; `j^ = (s^ >> (k - t)) mod 2^t` gives the lookup
//! `sigma T[j + c0]` with `T[i] = round(2^F / max(i D, 1/2))` (below the domain, the table
//! saturates at 2 instead of dividing by zero). Round 2 is the signed product of every entry
//! of the row with it; the session's truncation divides by `2^F`.
//!
//! **Cost** ([`cost`]) for `rows` rows of `L`: 2 rounds (plus the truncation's),
//! `rows ceil(k/8) + 8 (rows L + rows)` bytes each way; offline per party
//! `rows (8 + lut::key_len(t) + 8 (3 + 3 L))`.
//!
//! **Security.** As for the exp gate: the opened sum is masked by a uniform `r`, the lookup key
//! is simulated by random bytes, the product's openings and the dealt shares are uniform
//! ([`super::lut`], [`super::signed_mul`]). Each row's key meets its one opened sum.

use super::super::super::fss::deal::KeyRequest;
use super::super::super::fss::dpf::DpfKey;
use super::super::super::fss::{EnginePrg, TreePrg};
use super::super::super::party::{Party, TruncMode};
use super::super::super::share::ArithShare;
use super::super::cost::Cost;
use super::super::registry as tags;
use super::super::trunc::{trunc1, trunc_cost};
use super::gate::{
    check_bits, low_mask, open_masked, opening_cost, parse_elements, split, word_at,
};
use super::lut;
use super::signed_mul::{self, deal_row, signed_mul, RowKey};
use crate::mpc::Prg;
use crate::{Error, Result};

/// Longest row (the table's index must keep a bit below the sum's unit: `c < 16`).
pub const MAX_ROW: usize = (1 << 15) - 1;

/// The widths for rows of `len` at `F` fractional bits.
#[derive(Clone, Copy, Debug)]
struct Widths {
    /// `k = F + ceil(log2(len + 1))`: the opened width.
    bits: u32,
    /// `t`: the table's index bits.
    table_bits: u32,
    /// `k - t`: the index's lowest bit in `s`.
    shift: u32,
}

impl Widths {
    fn new(len: usize, frac_bits: u32) -> Result<Widths> {
        if len == 0 || len > MAX_ROW {
            return Err(Error::ShapeMismatch {
                op: "fss softmax normalisation",
                expected: format!("rows of 1 to {MAX_ROW} entries"),
                got: format!("rows of {len}"),
            });
        }
        let bits = frac_bits + (usize::BITS - len.leading_zeros());
        check_bits(bits)?;
        let table_bits = bits.min(16);
        Ok(Widths {
            bits,
            table_bits,
            shift: bits - table_bits,
        })
    }

    fn open_bytes(&self) -> usize {
        self.bits.div_ceil(8) as usize
    }
}

/// `T[i] = round(2^F / max(i D, 1/2))`, `D = 2^(shift - F)`, computed in integers as
/// `round(2^2F / max(i 2^shift, 2^(F-1)))`.
fn table(frac_bits: u32, w: Widths) -> Vec<u64> {
    let num = 1u128 << (2 * frac_bits);
    let floor = 1u128 << (frac_bits - 1);
    (0..1u128 << w.table_bits)
        .map(|i| {
            let d = (i << w.shift).max(floor);
            ((num + d / 2) / d) as u64
        })
        .collect()
}

/// The normalisation bundle on `rows` rows of `len`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct NormalizeKeys {
    pub rows: usize,
    pub len: usize,
    pub frac_bits: u32,
}

/// One party's material for one row.
struct RowMaterial {
    /// Share of the sum's mask `r`.
    r: u64,
    /// The lookup key at `rho`.
    dpf: DpfKey,
    /// The signed product's material.
    mul: RowKey,
}

impl NormalizeKeys {
    fn key_len(&self, w: Widths) -> Result<usize> {
        lut::key_len(w.table_bits)
    }

    fn row_len(&self, w: Widths) -> Result<usize> {
        Ok(8 + self.key_len(w)? + RowKey::bytes_len(self.len))
    }

    fn parse(&self, bytes: &[u8], party: usize, w: Widths) -> Result<Vec<RowMaterial>> {
        let k = 8 + self.key_len(w)?;
        parse_elements(
            "fss softmax normalisation bundle",
            bytes,
            self.rows,
            self.row_len(w)?,
            |c| {
                Ok(RowMaterial {
                    r: word_at(c, 0),
                    dpf: lut::parse(&c[8..k], party, w.table_bits)?,
                    mul: RowKey::parse(&c[k..], self.len),
                })
            },
        )
    }
}

impl KeyRequest for NormalizeKeys {
    fn tag(&self) -> u32 {
        tags::NORMALIZE
    }

    fn bundle_len(&self, _party: usize) -> usize {
        Widths::new(self.len, self.frac_bits)
            .and_then(|w| self.row_len(w))
            .map_or(0, |l| self.rows * l)
    }

    fn deal(&self, rng: &mut Prg) -> Result<[Vec<u8>; 2]> {
        let w = Widths::new(self.len, self.frac_bits)?;
        let g = EnginePrg::new();
        let mut out = [Vec::new(), Vec::new()];
        for _ in 0..self.rows {
            let r = rng.next_u64();
            let rho = (r >> w.shift) & low_mask(w.table_bits);
            let ([l0, l1], sigma) = lut::deal(&g, w.table_bits, rho, rng)?;
            let [s0, s1] = deal_row(sigma, self.len, rng);
            let rs = split(r, rng);
            for (b, (key, mul)) in [(l0, s0), (l1, s1)].into_iter().enumerate() {
                out[b].extend_from_slice(&rs[b].to_le_bytes());
                out[b].extend(key);
                out[b].extend(mul);
            }
        }
        Ok(out)
    }
}

/// `e / sum(e)` over the last axis for rows whose sum lies in `[1, L]` (see the module doc):
/// 2 rounds plus the session's truncation.
pub async fn normalize(p: &mut Party, e: &ArithShare) -> Result<ArithShare> {
    metered!(p, "fss_normalize", normalize_unmetered(p, e).await)
}

/// [`normalize`] under the caller's meter label (softmax in the FSS family).
pub(crate) async fn normalize_unmetered(p: &mut Party, e: &ArithShare) -> Result<ArithShare> {
    let frac_bits = p.fp().frac_bits;
    let len = e.shape().last().copied().unwrap_or(0);
    let w = Widths::new(len, frac_bits)?;
    let req = NormalizeKeys {
        rows: e.len() / len,
        len,
        frac_bits,
    };
    let bytes = p.keys(&req).await?;
    let rows = req.parse(&bytes, p.id(), w)?;
    let s = e.sum_last_keep()?;
    let s_hat = open_masked(p, &s, rows.iter().map(|r| r.r), w.open_bytes()).await?;
    let table = table(frac_bits, w);
    let g = EnginePrg::new();
    let (mut rec, mut muls) = (vec![], vec![]);
    // The keys are consumed here: each row's key meets its one masked sum only.
    for (row, sh) in rows.into_iter().zip(s_hat) {
        let j_hat = ((sh & low_mask(w.bits)) >> w.shift) & low_mask(w.table_bits);
        rec.push(lut::lookup(&g, &row.dpf, j_hat, &table)?);
        muls.push(row.mul);
    }
    let prod = signed_mul(p, &e.to_vec(), &rec, muls).await?;
    trunc1(p, ArithShare::from_vec(e.shape(), prod)?, frac_bits).await
}

/// Cost of [`normalize`] on `rows` rows of `len` (the truncation's per the session's `mode`).
pub fn cost(mode: TruncMode, rows: usize, len: usize, frac_bits: u32) -> Result<Cost> {
    let w = Widths::new(len, frac_bits)?;
    let req = NormalizeKeys {
        rows,
        len,
        frac_bits,
    };
    Ok(opening_cost(rows * w.open_bytes(), rows * req.row_len(w)?)
        + signed_mul::cost(rows, len)
        + trunc_cost(mode, rows * len))
}
