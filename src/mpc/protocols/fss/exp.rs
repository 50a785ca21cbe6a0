//! `e^x` for `x <= 0` in **two online rounds** from one masked opening: a lookup table on the
//! top bits of `-x` (Pika, PETS 2022; SIGMA, PETS 2024, section 4, builds its exponential the
//! same way from a masked index), a sign gate for the clip to 0 beyond the table, and one signed
//! product that applies the clip and removes the lookup's sign. Softmax's exponentials
//! (`x - max(x) <= 0`) come here in the FSS family; the public classic
//! [`crate::mpc::protocols::exp::exp`] also takes positive inputs and stays as it is.
//!
//! **Domain and error.** `-2^(k-1-F) < x <= 0` with `k = max(32, F + 5)` (above -32768 at
//! `F = 16`); outside it `-x` is read mod `2^k`. With `q = min(F, 9)` fractional bits of index
//! (`2^13` entries of step `2^-q`, covering `[0, 16)` at `F = 16`) the error is below
//! `e^x (e^(2^-q) - 1) + 2^-(F+1)` (2.0e-3 absolute and relative at `F = 16`); where the clip
//! applies (`-x >= (2^13 - 1) 2^-q`) the output is 0 and the error `e^x` (below 1.2e-7).
//!
//! **Protocol.** With `y = -x` (local) and the mask `r`, the parties open `y^ = y + r mod 2^k`
//! (round 1, `ceil(k/8)` bytes each way). Then, locally:
//! * the clip bit `[y < c]`, `c = (2^13 - 1) 2^(F-q)`, is the sign of `y - c`, whose masked value
//!   is the public `y^ - c`: the sign gate of [`super::sign`] on the same mask;
//! * the index `j^ = (y^ >> (F - q)) mod 2^13` equals `j + c0 + rho` with `j = floor(y 2^(q-F))`,
//!   `rho = (r >> (F - q)) mod 2^13` (the lookup's index mask, dealt as such) and `c0` the carry
//!   of the low `F - q` bits (0 or 1). The lookup ([`super::lut`]) returns shares of
//!   `sigma T[j + c0]`, `T[i] = round(e^(-i 2^-q) 2^F)`; `|y - (j + c0) 2^(q-F)| < 2^-q` either
//!   way, and below the clip `j + c0 <= 2^13 - 1` (no wrap to `T[0]`).
//!
//! Round 2 is the signed product `[y < c] T[j + c0]` ([`super::signed_mul`], element-wise).
//! The maximum of a softmax row has `y = 0`, so its exponential is exactly `T[0] = 1` (the row
//! sum is at least 1, which the normalisation's table relies on, [`super::normalize`]).
//!
//! **Cost** ([`cost`]) on `n` elements: 2 rounds, `n (ceil(k/8) + 16)` bytes each way; offline
//! per party `n (16 + dcf::key_len(k - 1) + lut::key_len(13) + 48)` bytes (978 at `F = 16`).
//!
//! **Security.** The sign gate's and the lookup's arguments ([`super::sign`], [`super::lut`])
//! with one mask: the opened `y^` is uniform (one uniform `r`), the DCF and DPF keys are dealt
//! from independent randomness and each is simulated by random bytes, and the shares of `r`,
//! `msb_k(r)` and the product material are uniform; the product's openings are uniform
//! ([`super::signed_mul`]). Every key is evaluated once, on its element's one opened value.

use super::super::super::fss::dcf::{self, DcfKey};
use super::super::super::fss::deal::KeyRequest;
use super::super::super::fss::dpf::DpfKey;
use super::super::super::fss::{EnginePrg, TreePrg};
use super::super::super::party::Party;
use super::super::super::share::ArithShare;
use super::super::cost::Cost;
use super::super::registry as tags;
use super::gate::{
    deal_elements, element_bytes, low_mask, open_masked, opening_cost, parse_elements, word_at,
};
use super::lut;
use super::sign::{deal_sign, eval_sign};
use super::signed_mul::{self, deal_row, signed_mul, RowKey};
use crate::mpc::Prg;
use crate::Result;

/// Index bits of the table (`2^13` entries).
pub(crate) const TABLE_BITS: u32 = 13;

/// The widths of the gate at `F` fractional bits.
#[derive(Clone, Copy, Debug)]
struct Widths {
    /// `k`: the opened width.
    bits: u32,
    /// `q`: fractional bits of the table's index.
    step_log: u32,
    /// `F - q`: the index's lowest bit in `y`.
    shift: u32,
}

impl Widths {
    fn new(frac_bits: u32) -> Widths {
        let step_log = frac_bits.min(9);
        Widths {
            bits: 32.max(frac_bits + 5),
            step_log,
            shift: frac_bits - step_log,
        }
    }

    fn open_bytes(&self) -> usize {
        self.bits.div_ceil(8) as usize
    }

    /// The clip threshold `c = (2^13 - 1) 2^(F-q)` on `y = -x`, in ring units.
    fn clip(&self) -> u64 {
        low_mask(TABLE_BITS) << self.shift
    }
}

/// `T[i] = round(e^(-i 2^-q) 2^F)`.
fn table(frac_bits: u32, w: Widths) -> Vec<u64> {
    let (scale, step) = (2f64.powi(frac_bits as i32), 2f64.powi(-(w.step_log as i32)));
    (0..1u64 << TABLE_BITS)
        .map(|i| ((-(i as f64) * step).exp() * scale).round() as u64)
        .collect()
}

/// The exp bundle on `n` elements at `frac_bits` fractional bits.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ExpKeys {
    pub n: usize,
    pub frac_bits: u32,
}

/// One party's material for one element.
struct ElementKey {
    /// Shares of `r` and `msb_k(r)`.
    r: u64,
    m: u64,
    /// The clip's sign key on `k - 1` bits.
    dcf: DcfKey,
    /// The lookup key at `rho`.
    dpf: DpfKey,
    /// The signed product's material (a row of one).
    mul: RowKey,
}

impl ExpKeys {
    fn widths(&self) -> Widths {
        Widths::new(self.frac_bits)
    }

    fn dcf_len(&self) -> usize {
        dcf::key_len(self.widths().bits - 1)
    }

    fn element_len(&self) -> usize {
        16 + self.dcf_len() + lut_key_len() + RowKey::bytes_len(1)
    }

    fn parse(&self, bytes: &[u8], party: usize) -> Result<Vec<ElementKey>> {
        let bits = self.widths().bits;
        let (d, l) = (16 + self.dcf_len(), 16 + self.dcf_len() + lut_key_len());
        parse_elements("fss exp bundle", bytes, self.n, self.element_len(), |c| {
            Ok(ElementKey {
                r: word_at(c, 0),
                m: word_at(c, 8),
                dcf: DcfKey::from_bytes(&c[16..d], party, bits - 1)?,
                dpf: lut::parse(&c[d..l], party, TABLE_BITS)?,
                mul: RowKey::parse(&c[l..], 1),
            })
        })
    }
}

/// Bytes of one lookup key on the `2^13`-entry table.
fn lut_key_len() -> usize {
    lut::key_len(TABLE_BITS).expect("13-bit tables are within the DPF's domain")
}

impl KeyRequest for ExpKeys {
    fn tag(&self) -> u32 {
        tags::EXP
    }

    fn bundle_len(&self, _party: usize) -> usize {
        self.n * self.element_len()
    }

    fn deal(&self, rng: &mut Prg) -> Result<[Vec<u8>; 2]> {
        let w = self.widths();
        deal_elements(self.n, w.bits, rng, |g, mask, rng| {
            let ([d0, d1], words) = deal_sign(g, &mask, w.bits, rng)?;
            let rho = (mask.r >> w.shift) & low_mask(TABLE_BITS);
            let ([l0, l1], sigma) = lut::deal(g, TABLE_BITS, rho, rng)?;
            let [s0, s1] = deal_row(sigma, 1, rng);
            let keys = [
                [d0.to_bytes(), l0, s0].concat(),
                [d1.to_bytes(), l1, s1].concat(),
            ];
            Ok(element_bytes(&words, keys))
        })
    }
}

/// `e^x` for `x <= 0` (see the module doc for the domain and the error): 2 rounds.
pub async fn exp_nonpositive(p: &mut Party, x: &ArithShare) -> Result<ArithShare> {
    metered!(p, "fss_exp", exp_nonpositive_unmetered(p, x).await)
}

/// [`exp_nonpositive`] under the caller's meter label (softmax in the FSS family).
pub(crate) async fn exp_nonpositive_unmetered(p: &mut Party, x: &ArithShare) -> Result<ArithShare> {
    let frac_bits = p.fp().frac_bits;
    let req = ExpKeys {
        n: x.len(),
        frac_bits,
    };
    let w = req.widths();
    let bytes = p.keys(&req).await?;
    let id = p.id();
    let elems = req.parse(&bytes, id)?;
    let y = x.neg();
    let y_hat = open_masked(p, &y, elems.iter().map(|e| e.r), w.open_bytes()).await?;
    let table = table(frac_bits, w);
    let g = EnginePrg::new();
    let one = u64::from(id == 0);
    let (mut clip, mut entry, mut rows) = (vec![], vec![], vec![]);
    // The keys are consumed here: each element's keys meet its one masked input only.
    for (e, yh) in elems.into_iter().zip(y_hat) {
        clip.push(eval_sign(
            &g,
            &e.dcf,
            e.m,
            yh.wrapping_sub(w.clip()),
            w.bits,
            one,
        )?);
        let j_hat = (yh >> w.shift) & low_mask(TABLE_BITS);
        entry.push(lut::lookup(&g, &e.dpf, j_hat, &table)?);
        rows.push(e.mul);
    }
    let out = signed_mul(p, &clip, &entry, rows).await?;
    ArithShare::from_vec(x.shape(), out)
}

/// Cost of [`exp_nonpositive`] on `n` elements at `frac_bits` fractional bits.
pub fn cost(n: usize, frac_bits: u32) -> Cost {
    let req = ExpKeys { n, frac_bits };
    opening_cost(n * req.widths().open_bytes(), req.bundle_len(0)) + signed_mul::cost(n, 1)
}
