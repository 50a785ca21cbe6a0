//! The sign of a shared value in **one online round** from a DCF key: MSB, DReLU and comparisons
//! (Boyle et al., "Function Secret Sharing for Mixed-Mode and Fixed-Point Secure Computation",
//! Eurocrypt 2021, section 4.1, "DReLU"/"sign" from one DCF; SIGMA, PETS 2024, section 3, for the
//! reduced bit width).
//!
//! **Domain.** Inputs are `k`-bit two's-complement values, `2 <= k <= 64`: the result is exact
//! for every `x` with `-2^(k-1) <= x < 2^(k-1)` (for `k = 64`, every ring element, like the
//! classic [`crate::mpc::protocols::msb::msb`]); outside it, `x` is read mod `2^k`. No
//! approximation, no failure probability.
//!
//! **Protocol.** The dealer draws a mask `r` (uniform in Z_2^64), shares it additively, and
//! deals a DCF on `k - 1` bits with threshold `alpha = r mod 2^(k-1)` and payload
//! `beta = 1 - 2 msb_k(r)`, plus additive shares of `msb_k(r)`. Online, the parties open
//! `x^ = x + r mod 2^k` (one round, `ceil(k / 8)` bytes per element each way). With
//! `a = x^ mod 2^(k-1)`, `msb_k(x) = msb_k(x^) ^ msb_k(r) ^ [a < alpha]` (the borrow out of the
//! low `k - 1` bits of `x^ - r`), and `msb_k(r) ^ [a < alpha] = msb_k(r) + beta [a < alpha]` is
//! exactly the DCF output plus the shares of `msb_k(r)`; xoring with the public `msb_k(x^)` is
//! local. The result comes as additive shares of the bit in Z_2^64 (so it is already
//! arithmetic: no B2A round) and, by its low bit, as XOR shares.
//!
//! **Cost** ([`cost`]) on `n` elements: 1 round, `n ceil(k/8)` bytes each way; offline, each
//! party receives `n (16 + dcf::key_len(k - 1))` bytes (1,572 per element at `k = 64`).
//!
//! **Security** (semi-honest, dealer colluding with neither party; Eurocrypt 2021 theorem 4.1,
//! "FSS gates"): party `b` receives its key bundle and the peer's masked share. The bundle is a
//! DCF key (simulated by random bytes, [`crate::mpc::fss::dcf`]) and additive shares of `r` and
//! `msb_k(r)` (uniform); the opened `x^ = x + r` is uniform because `r` is uniform and the party
//! knows only its own share of it. So a simulator given nothing samples a random key, random
//! shares and a random `x^`: the view reveals nothing about `x`. The dealer receives nothing
//! online. A key is bound to one mask and evaluated on the one opened value of its element;
//! the bundle is taken from the dealer once and consumed by value, so no key meets two masked
//! inputs (which would reveal their difference).

use super::super::super::fss::dcf::{self, DcfKey};
use super::super::super::fss::deal::KeyRequest;
use super::super::super::fss::{EnginePrg, TreePrg};
use super::super::super::party::Party;
use super::super::super::share::{ArithShare, BitShare};
use super::super::cost::Cost;
use super::super::linear::add_const;
use super::super::registry as tags;
use super::gate::opening_cost;
use super::gate::{
    check_bits, deal_elements, element_bytes, low_mask, open_masked, parse_elements, split,
    word_at, xor_public, Mask,
};
use crate::mpc::Prg;
use crate::Result;

/// The bundle of the sign gate on `n` elements of `bits`-bit values.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SignKeys {
    pub n: usize,
    pub bits: u32,
}

/// One party's material for one element.
struct ElementKey {
    /// Share of the mask `r`.
    r: u64,
    /// Share of `msb_k(r)`.
    m: u64,
    dcf: DcfKey,
}

impl SignKeys {
    fn element_len(&self) -> usize {
        16 + dcf::key_len(self.bits - 1)
    }

    /// The party's elements from its bytes (exact length, every DCF key checked).
    fn parse(&self, bytes: &[u8], party: usize) -> Result<Vec<ElementKey>> {
        parse_elements(
            "fss sign bundle",
            bytes,
            self.n,
            self.element_len(),
            |chunk| {
                Ok(ElementKey {
                    r: word_at(chunk, 0),
                    m: word_at(chunk, 8),
                    dcf: DcfKey::from_bytes(&chunk[16..], party, self.bits - 1)?,
                })
            },
        )
    }
}

impl KeyRequest for SignKeys {
    fn tag(&self) -> u32 {
        tags::SIGN
    }

    fn bundle_len(&self, _party: usize) -> usize {
        self.n * self.element_len()
    }

    fn deal(&self, rng: &mut Prg) -> Result<[Vec<u8>; 2]> {
        deal_elements(self.n, self.bits, rng, |g, mask, rng| {
            let ([k0, k1], words) = deal_sign(g, &mask, self.bits, rng)?;
            Ok(element_bytes(&words, [k0.to_bytes(), k1.to_bytes()]))
        })
    }
}

/// The dealer's half of one sign gate on `bits`-bit values masked by `mask`: the DCF pair on
/// `bits - 1` bits (threshold `r mod 2^(k-1)`, payload `1 - 2 msb_k(r)`) and the shares of
/// `r` and `msb_k(r)`. Gates that open `x + r` for more than a sign (the FSS exp) deal it too.
pub(crate) fn deal_sign(
    g: &EnginePrg,
    mask: &Mask,
    bits: u32,
    rng: &mut Prg,
) -> Result<([DcfKey; 2], [[u64; 2]; 2])> {
    let beta = 1u64.wrapping_sub(2 * mask.msb);
    let keys = dcf::gen(g, bits - 1, mask.alpha, beta, rng)?;
    Ok((keys, [split(mask.r, rng), split(mask.msb, rng)]))
}

/// A party's additive share of `msb_k(x)` from the opened `x^ = x + r` (read mod `2^k`), its
/// share `m` of `msb_k(r)` and its DCF key; `one` is the party's share of 1.
pub(crate) fn eval_sign(
    g: &EnginePrg,
    dcf: &DcfKey,
    m: u64,
    xhat: u64,
    bits: u32,
    one: u64,
) -> Result<u64> {
    let xk = xhat & low_mask(bits);
    let below = dcf::eval(g, dcf, xk & low_mask(bits - 1))?;
    Ok(xor_public(xk >> (bits - 1), below.wrapping_add(m), one))
}

/// The sign gate's online round: fetches the bundle, opens `x + r` (mod `2^k`, in `ceil(k/8)`
/// bytes) and evaluates each element's DCF once. Returns additive shares of `msb_k(x)` as 0/1
/// integers.
pub(crate) async fn sign_round(p: &mut Party, x: &ArithShare, bits: u32) -> Result<Vec<u64>> {
    check_bits(bits)?;
    let req = SignKeys { n: x.len(), bits };
    let bytes = p.keys(&req).await?;
    let id = p.id();
    let elems = req.parse(&bytes, id)?;
    let xhat = open_masked(p, x, elems.iter().map(|e| e.r), bits.div_ceil(8) as usize).await?;
    let g = EnginePrg::new();
    // The keys are consumed here: each element's key meets its one masked input only.
    elems
        .into_iter()
        .zip(xhat)
        .map(|(e, xh)| eval_sign(&g, &e.dcf, e.m, xh, bits, u64::from(id == 0)))
        .collect()
}

/// XOR shares from additive shares of 0/1 values (their low bits).
pub(crate) fn low_bits(v: &[u64], shape: &[usize]) -> BitShare {
    let bools: Vec<bool> = v.iter().map(|w| w & 1 == 1).collect();
    BitShare::from_bools(&bools, shape)
}

/// `1 - b` on additive shares of bits.
pub(crate) fn not_arith(v: &[u64], party: usize) -> Vec<u64> {
    v.iter()
        .map(|w| (if party == 0 { 1u64 } else { 0 }).wrapping_sub(*w))
        .collect()
}

/// XOR shares of `msb(x)` (1 = negative) for `x` exact over all of Z_2^64.
pub async fn msb(p: &mut Party, x: &ArithShare) -> Result<BitShare> {
    msb_within(p, x, 64).await
}

/// XOR shares of `msb_k(x)` for `bits`-bit values (`-2^(bits-1) <= x < 2^(bits-1)`).
pub async fn msb_within(p: &mut Party, x: &ArithShare, bits: u32) -> Result<BitShare> {
    metered!(
        p,
        "fss_msb",
        async { msb_unmetered(p, x, bits).await }.await
    )
}

/// Additive shares of the integers `[x >= 0]` (0/1, not fixed point) for `bits`-bit values:
/// DReLU already in arithmetic form, one round.
pub async fn drelu_values(p: &mut Party, x: &ArithShare, bits: u32) -> Result<ArithShare> {
    metered!(
        p,
        "fss_drelu",
        async {
            let m = sign_round(p, x, bits).await?;
            ArithShare::from_vec(x.shape(), not_arith(&m, p.id()))
        }
        .await
    )
}

/// XOR shares of `[x >= 0]`, exact over all of Z_2^64.
pub async fn drelu(p: &mut Party, x: &ArithShare) -> Result<BitShare> {
    let v = drelu_values(p, x, 64).await?;
    Ok(low_bits(&v.to_vec(), x.shape()))
}

/// Bits `[x < y]` (valid when `|x - y| < 2^63` in the ring).
pub async fn lt(p: &mut Party, x: &ArithShare, y: &ArithShare) -> Result<BitShare> {
    metered!(p, "fss_lt", async { msb_inner(p, &x.sub(y)?).await }.await)
}

/// Bits `[x < c]` for a public fixed-point constant (valid when `|x - c| < 2^63` in the ring).
pub async fn lt_const(p: &mut Party, x: &ArithShare, c: f64) -> Result<BitShare> {
    let d = add_const(p, x, -c);
    metered!(p, "fss_lt", msb_inner(p, &d).await)
}

async fn msb_inner(p: &mut Party, x: &ArithShare) -> Result<BitShare> {
    msb_unmetered(p, x, 64).await
}

/// XOR shares of `msb_k(x)` without a meter label of its own (the classic family's
/// [`crate::mpc::protocols::msb::msb`] calls it under its own labels in the FSS family).
pub(crate) async fn msb_unmetered(p: &mut Party, x: &ArithShare, bits: u32) -> Result<BitShare> {
    let m = sign_round(p, x, bits).await?;
    Ok(low_bits(&m, x.shape()))
}

/// Cost of the sign gate on `n` elements of `bits`-bit values (every function of this file).
pub fn cost(n: usize, bits: u32) -> Cost {
    let keys = SignKeys { n, bits }.bundle_len(0);
    opening_cost(n * bits.div_ceil(8) as usize, keys)
}
