//! LayerNorm's `d / sqrt(v)` and the attention maps' row division `q / s` in **three online
//! rounds** (the division adds an exact truncation): a range reduction to `[1, 4)` in the
//! opening round, a lookup table on the reduced value, and two products (Boyle et al.,
//! Eurocrypt 2021, section 4: a degree-1 spline gate from one DCF key at public offsets; Pika,
//! PETS 2022, for the table; SIGMA, PETS 2024, section 5, normalises LayerNorm's variance by its
//! leading power of two before its rsqrt table the same way).
//!
//! **Domain and error.** `v` in `[2^-F, 4^10)` (ring values `1 <= v < 2^(F+20)`: `var + eps`,
//! or a row sum plus `eps`, with `eps` raised to one unit, as the classic family's domain);
//! for the division also `|q| <= s`. Each row's `v` lies in one interval `[4^i, 4^(i+1))`,
//! `0 <= i < I = ceil((F + 20) / 2)`; the reduced `m = v 4^-i` in `[1, 4)` indexes a table at
//! step `2^-11` (off by at most one entry with the mask's carry), so `v^-1/2` is within a
//! relative `2^-12 / m` (2.4e-4) and `1 / v` within `2^-11 / m` (4.9e-4), plus the table's
//! rounding and the truncations' ulps.
//!
//! **Protocol.** Per row the dealer draws a mask `r` and deals a ReLU element on `k = F + 22`
//! bits ([`super::relu`]: a DCF with payload `(1 - 2 msb r, (1 - 2 msb r) r)` and shares of `r`,
//! `msb r`, `r msb r`), a second mask `r'` with a lookup key at its index bits, and two
//! product rows ([`super::signed_mul`]; the first with `sigma = 1`, a Beaver broadcast triple).
//! * Round 1 opens `v^ = v + r` (8 bytes). The key at the public offsets `v^ - 4^i` gives
//!   shares of `t_i = [v < 4^i]` and `t_i r` for `i = 1 .. I - 1` (one key, one opening, many
//!   points: the view is `v^` alone), so the one-hot `o_i = t_(i+1) - t_i` and
//!   `o_i v = o_i v^ - o_i r` are linear in them: `z = sum_i 4^(I-1-i) o_i v = m 4^(I-1)` in
//!   `[4^(I-1), 4^I)` is local, and so is the row's factor `c = sum_i o_i c_i`:
//!   `c_i = 2^(floor(F/2) - i)` in fixed point for rsqrt, the integer `4^(I-1-i)` for the
//!   division (so `q c = q 4^(I-1-i)` is exact and below `4^I`).
//! * Round 2 opens `z^ = z + r' mod 2^(2I)` and, in the same message, the product `d c`.
//! * Round 3 multiplies `d c` by the looked-up `sigma T[j]` (`T[0]`: the wrap at `j = 2^13`,
//!   `m = 4`), removing the sign: `T[j] = round(2^F 2^((F mod 2)/2) / sqrt(j 2^-11))` for rsqrt
//!   (each product then truncated by `F` in the session's mode), `T[j] = round(2^F / (j
//!   2^-11))` for the division, whose product (below `2^(2I + F)`) is truncated exactly by
//!   `2 (I - 1)` bits (one round: the local protocol's failure chance grows with the value).
//!
//! **Cost** ([`cost`]) for `rows` rows of `c`: 3 rounds plus two truncations (rsqrt) or one
//! exact truncation (division); `8 rows + ceil(2I/8) rows + 16 (rows c + rows)` bytes each way;
//! offline per party and row `relu element (k) + 8 + lut::key_len(13) + 16 (3 + 3c)` bytes.
//!
//! **Security.** The view of a party is its bundle (random-looking keys, uniform shares), two
//! masked openings under fresh uniform masks (`v^`, `z^`) and the products' uniform openings.
//! The DCF key is evaluated at public offsets of the one `v^` (computable by a simulator from
//! `v^`), the lookup key once at `j^`: no key meets a second masked value.

use super::super::super::fss::deal::KeyRequest;
use super::super::super::fss::dpf::DpfKey;
use super::super::super::fss::{EnginePrg, KeyError, TreePrg};
use super::super::super::party::{Party, TruncMode};
use super::super::super::share::ArithShare;
use super::super::cost::Cost;
use super::super::registry as tags;
use super::super::trunc::{trunc1, trunc_cost, trunc_exact1};
use super::gate::{
    deal_elements, low_mask, masked_payload, open_masked, opening_cost, split, unmask, word_at,
};
use super::lut;
use super::relu::ElementKey as ReluElement;
use super::signed_mul::{self, deal_row, signed_mul, RowKey};
use crate::mpc::Prg;
use crate::{Error, Result};

/// The table's index bits (`m` in `[1, 4)` at step `2^-11`).
const TABLE_BITS: u32 = 13;

/// What the gate computes from the row's value `v`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Power {
    /// `d / sqrt(v)` (LayerNorm).
    InvSqrt,
    /// `q / v` for `|q| <= v` (the attention maps' row division).
    Inv,
}

/// The widths at `F` fractional bits.
#[derive(Clone, Copy, Debug)]
struct Widths {
    power: Power,
    frac_bits: u32,
    /// `I`: the intervals `[4^i, 4^(i+1))` of the domain.
    intervals: u32,
    /// `k`: the width the comparisons read.
    bits: u32,
}

impl Widths {
    fn new(power: Power, frac_bits: u32) -> Widths {
        Widths {
            power,
            frac_bits,
            intervals: (frac_bits + 20).div_ceil(2),
            bits: frac_bits + 22,
        }
    }

    /// `z`'s width `2I` and its opening's bytes.
    fn z_bits(&self) -> u32 {
        2 * self.intervals
    }

    fn z_bytes(&self) -> usize {
        self.z_bits().div_ceil(8) as usize
    }

    /// The index's lowest bit in `z`.
    fn shift(&self) -> u32 {
        self.z_bits() - TABLE_BITS
    }

    /// The row factor's term `c_i` (module doc): `round(2^(F + floor(F/2) - i))`, the
    /// fixed-point `2^(floor(F/2) - i)`, for rsqrt; `4^(I-1-i)` for the division.
    fn factor(&self, i: u32) -> u64 {
        match self.power {
            Power::InvSqrt => 2f64
                .powi((self.frac_bits + self.frac_bits / 2) as i32 - i as i32)
                .round() as u64,
            Power::Inv => 1u64 << (2 * (self.intervals - 1 - i)),
        }
    }

    fn lut_len(&self) -> usize {
        lut::key_len(TABLE_BITS).expect("13-bit tables are within the DPF's domain")
    }
}

/// The table of `m^-1/2` or `1 / m` at `m = j 2^-11` (module doc); `T[0]` is the value at
/// `j = 2^13`.
fn table(w: Widths) -> Vec<u64> {
    let f = w.frac_bits;
    let unit = 2f64.powi(f as i32);
    (0..1u64 << TABLE_BITS)
        .map(|j| {
            let m = if j == 0 { 4.0 } else { j as f64 / 2048.0 };
            let t = match w.power {
                Power::InvSqrt => unit * 2f64.powf((f % 2) as f64 / 2.0) / m.sqrt(),
                Power::Inv => unit / m,
            };
            t.round() as u64
        })
        .collect()
}

/// The bundle on rows of `lens[r]` entries each (one value `v` per row).
#[derive(Clone, Debug)]
pub(crate) struct RangeKeys {
    pub power: Power,
    pub lens: Vec<usize>,
    pub frac_bits: u32,
}

/// One party's material for one row.
struct RowMaterial {
    /// The range reduction's comparisons (at many offsets of one opening).
    relu: ReluElement,
    /// Share of `z`'s mask `r'`.
    z_mask: u64,
    dpf: DpfKey,
    /// `d s` (`sigma = 1`), then `(d s) T`.
    scale_mul: RowKey,
    table_mul: RowKey,
}

impl RangeKeys {
    fn row_len(w: Widths, len: usize) -> usize {
        ReluElement::len(w.bits) + 8 + w.lut_len() + 2 * RowKey::bytes_len(len)
    }

    fn parse(&self, bytes: &[u8], party: usize, w: Widths) -> Result<Vec<RowMaterial>> {
        let expected = self.bundle_len(party);
        if bytes.len() != expected {
            return Err(KeyError::Length {
                kind: "fss range-reduced bundle",
                expected,
                got: bytes.len(),
            }
            .into());
        }
        let a = ReluElement::len(w.bits);
        let b = a + 8 + w.lut_len();
        let mut at = 0;
        let mut rows = Vec::with_capacity(self.lens.len());
        for &len in &self.lens {
            let k = &bytes[at..at + Self::row_len(w, len)];
            at += k.len();
            let c = b + RowKey::bytes_len(len);
            rows.push(RowMaterial {
                relu: ReluElement::parse(&k[..a], party, w.bits)?,
                z_mask: word_at(k, a),
                dpf: lut::parse(&k[a + 8..b], party, TABLE_BITS)?,
                scale_mul: RowKey::parse(&k[b..c], len),
                table_mul: RowKey::parse(&k[c..], len),
            });
        }
        Ok(rows)
    }
}

impl KeyRequest for RangeKeys {
    fn tag(&self) -> u32 {
        match self.power {
            Power::InvSqrt => tags::RSQRT,
            Power::Inv => tags::DIVIDE,
        }
    }

    fn bundle_len(&self, _party: usize) -> usize {
        let w = Widths::new(self.power, self.frac_bits);
        self.lens.iter().map(|&len| Self::row_len(w, len)).sum()
    }

    fn deal(&self, rng: &mut Prg) -> Result<[Vec<u8>; 2]> {
        let w = Widths::new(self.power, self.frac_bits);
        let mut lens = self.lens.iter();
        deal_elements(self.lens.len(), w.bits, rng, |g, mask, rng| {
            let len = *lens.next().expect("one length per element");
            let [e0, e1] = ReluElement::deal(g, mask, w.bits, rng)?;
            let z_mask = rng.next_u64();
            let rho = (z_mask >> w.shift()) & low_mask(TABLE_BITS);
            let ([l0, l1], sigma) = lut::deal(g, TABLE_BITS, rho, rng)?;
            let zs = split(z_mask, rng);
            let [a0, a1] = deal_row(1, len, rng);
            let [b0, b1] = deal_row(sigma, len, rng);
            Ok([
                [e0, zs[0].to_le_bytes().to_vec(), l0, a0, b0].concat(),
                [e1, zs[1].to_le_bytes().to_vec(), l1, a1, b1].concat(),
            ])
        })
    }
}

/// `d / sqrt(v)` ([`Power::InvSqrt`]) or `d / v` ([`Power::Inv`], `|d| <= v`) with `v` one
/// value per row of `d` (shape `(.., 1)` against `(.., c)`), for `v` in `[2^-F, 4^10)`: 3 rounds
/// plus the truncations (see the module doc).
pub(crate) async fn power_mul(
    p: &mut Party,
    d: &ArithShare,
    v: &ArithShare,
    power: Power,
) -> Result<ArithShare> {
    power_mul_groups(p, &[d], v, power)
        .await
        .map(|mut out| out.remove(0))
}

/// [`power_mul`] on groups of rows of different lengths in the same rounds: `v` holds one value
/// per row of the groups' rows taken in order (group 0's rows first), as LayerNorm folded into
/// two maps of different widths needs ([`super::super::layer_norm::layer_norm_linear`]).
pub(crate) async fn power_mul_groups(
    p: &mut Party,
    groups: &[&ArithShare],
    v: &ArithShare,
    power: Power,
) -> Result<Vec<ArithShare>> {
    let mut lens = Vec::with_capacity(v.len());
    for d in groups {
        let len = d.shape().last().copied().unwrap_or(0);
        if len == 0 {
            return Err(Error::shape(
                "fss range-reduced division",
                "non-empty rows",
                format!("{:?}", d.shape()),
            ));
        }
        lens.extend(std::iter::repeat_n(len, d.len() / len));
    }
    if lens.len() != v.len() {
        return Err(Error::ShapeMismatch {
            op: "fss range-reduced division",
            expected: format!("one value per row ({} rows)", lens.len()),
            got: format!("{:?}", v.shape()),
        });
    }
    let w = Widths::new(power, p.fp().frac_bits);
    let req = RangeKeys {
        power,
        lens,
        frac_bits: w.frac_bits,
    };
    let bytes = p.keys(&req).await?;
    let id = p.id();
    let rows = req.parse(&bytes, id, w)?;
    let v_hat = open_masked(p, v, rows.iter().map(|r| r.relu.r), 8).await?;
    let (g, one) = (EnginePrg::new(), u64::from(id == 0));
    let (mut z, mut c) = (vec![], vec![]);
    for (row, &vh) in rows.iter().zip(&v_hat) {
        let (zi, ci) = reduce(&g, &row.relu, vh, w, one)?;
        z.push(zi);
        c.push(ci);
    }
    let mut payload = masked_payload(z.into_iter(), rows.iter().map(|r| r.z_mask), w.z_bytes());
    let (mut scale_muls, mut table_muls, mut dpfs) = (vec![], vec![], vec![]);
    for row in rows {
        scale_muls.push(row.scale_mul);
        table_muls.push(row.table_mul);
        dpfs.push(row.dpf);
    }
    let d: Vec<u64> = groups.iter().flat_map(|d| d.data.iter().copied()).collect();
    let shape = [d.len()];
    let (pending, product) = signed_mul::open(&d, &c, scale_muls)?;
    let cut = payload.len();
    payload.extend(product);
    let got = p.exchange(payload.clone()).await?;
    let z_hat = unmask(&payload[..cut], &got[..cut], w.z_bytes());
    let dc = ArithShare::from_vec(&shape, signed_mul::close(pending, &got[cut..])?)?;
    let dc = match power {
        Power::InvSqrt => trunc1(p, dc, w.frac_bits).await?,
        Power::Inv => dc,
    };
    let table = table(w);
    let t = dpfs
        .iter()
        .zip(z_hat)
        .map(|(k, zh)| {
            let j_hat = ((zh & low_mask(w.z_bits())) >> w.shift()) & low_mask(TABLE_BITS);
            lut::lookup(&g, k, j_hat, &table)
        })
        .collect::<Result<Vec<u64>>>()?;
    let y = ArithShare::from_vec(&shape, signed_mul(p, &dc.to_vec(), &t, table_muls).await?)?;
    let y = match power {
        Power::InvSqrt => trunc1(p, y, w.frac_bits).await?,
        Power::Inv => trunc_exact1(p, y, 2 * (w.intervals - 1)).await?,
    };
    let mut at = 0;
    let mut out = Vec::with_capacity(groups.len());
    for d in groups {
        out.push(y.slice_axis(0, at, at + d.len())?.reshape(d.shape())?);
        at += d.len();
    }
    Ok(out)
}

/// A row's shares of `z = m 4^(I-1)` and of its factor `c` from its opened `v^` (the range
/// reduction of the module doc; local).
fn reduce(g: &EnginePrg, key: &ReluElement, v_hat: u64, w: Widths, one: u64) -> Result<(u64, u64)> {
    let top = w.intervals;
    // t_i = [v < 4^i] and t_i r: t_0 = 0 (v >= 1), t_I = 1 (v < 4^I, the domain).
    let mut t = vec![(0u64, 0u64)];
    for i in 1..top {
        t.push(key.sign_at(g, v_hat.wrapping_sub(1u64 << (2 * i)), w.bits, one)?);
    }
    t.push((one, key.r));
    let (mut z, mut c) = (0u64, 0u64);
    for i in 0..top as usize {
        let o = t[i + 1].0.wrapping_sub(t[i].0);
        let o_r = t[i + 1].1.wrapping_sub(t[i].1);
        let o_v = o.wrapping_mul(v_hat).wrapping_sub(o_r);
        z = z.wrapping_add(o_v << (2 * (top as usize - 1 - i)));
        c = c.wrapping_add(o.wrapping_mul(w.factor(i as u32)));
    }
    Ok((z, c))
}

/// Cost of [`power_mul`] on `rows` rows of `len` (rsqrt's truncations per the session's
/// `mode`; the division's is exact).
pub(crate) fn cost(power: Power, mode: TruncMode, rows: usize, len: usize, frac_bits: u32) -> Cost {
    cost_groups(power, mode, &[(rows, len)], frac_bits)
}

/// Cost of [`power_mul_groups`] on groups of `(rows, len)`.
pub(crate) fn cost_groups(
    power: Power,
    mode: TruncMode,
    groups: &[(usize, usize)],
    frac_bits: u32,
) -> Cost {
    let w = Widths::new(power, frac_bits);
    let lens = groups
        .iter()
        .flat_map(|&(rows, len)| std::iter::repeat_n(len, rows))
        .collect();
    let keys = RangeKeys {
        power,
        lens,
        frac_bits,
    }
    .bundle_len(0);
    let rows: usize = groups.iter().map(|g| g.0).sum();
    let n: usize = groups.iter().map(|&(r, l)| r * l).sum();
    let z = opening_cost(rows * w.z_bytes(), 0);
    let product = signed_mul::cost_elements(rows, n);
    let both = Cost {
        rounds: 1,
        ..z + product
    };
    let truncs = match power {
        Power::InvSqrt => trunc_cost(mode, n) * 2,
        Power::Inv => trunc_cost(TruncMode::Exact, n),
    };
    opening_cost(8 * rows, keys) + both + product + truncs
}
