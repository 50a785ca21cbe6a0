//! ReLU in **one online round** from a DCF key with a two-word payload, and select in one
//! (Boyle et al., "Function Secret Sharing for Mixed-Mode and Fixed-Point Secure Computation",
//! Eurocrypt 2021, section 4: ReLU as a two-piece degree-1 spline gate, whose coefficients for
//! the masked input come out of the comparison's payload).
//!
//! **Domain.** `bits`-bit values as in [`super::sign`]: exact for
//! `-2^(bits-1) <= x < 2^(bits-1)` (every ring element at 64 bits); no approximation.
//!
//! **Protocol.** The dealer draws a mask `r` (uniform in Z_2^64), writes `m = msb_k(r)`,
//! `alpha = r mod 2^(k-1)`, and deals a DCF on `k - 1` bits with threshold `alpha` and the
//! payload `(1 - 2m, (1 - 2m) r)`, plus additive shares of `r`, `m` and `m r`. Online, the
//! parties open `x^ = x + r` in full (one round, 8 bytes per element each way). With
//! `a = x^ mod 2^(k-1)`, `s = msb_k(x^)` (public) and `c = [a < alpha]` (the borrow of the low
//! bits, [`super::sign`]), `msb_k(x) = s ^ t` with `t = m ^ c = m + (1 - 2m) c`, so
//! `d = [x >= 0] = (1 - s) - (1 - 2s) t` and
//! `d r = (1 - s) r - (1 - 2s) t r`, where `t = m + DCF_1(a)` and `t r = m r + DCF_2(a)`:
//! both are linear in dealt shares once `s` is public. Then `relu(x) = d x = d x^ - d r` is
//! local (`x^` is public): no second round.
//! Cost ([`relu_cost`]): 1 round, `8n` bytes each way, offline per party
//! `n (24 + dcf::key_len_wide(bits - 1, 2))` (2,092 bytes per element at 64 bits).
//!
//! **Select.** `b ? x : y = y + b (x - y)` for XOR-shared `b` is the one-round bit-times-value
//! product of [`crate::mpc::protocols::b2a::bit_mul`] (open `b ^ rho` and `x - y - a`); it
//! is already at the one-round floor, so both families share it ([`select`]).
//!
//! **Security** (Eurocrypt 2021 theorem 4.1, "FSS gates"). Party `b` receives its bundle and
//! the peer's masked share. The bundle is a DCF key (simulated by random bytes,
//! [`crate::mpc::fss::dcf`]: it hides `alpha` and both payload words) and additive shares of
//! `r`, `m` and `m r` (each uniform alone); the opened `x^ = x + r` is uniform because `r` is
//! uniform and unknown to either party. A simulator samples a random key, random shares and a
//! random `x^`. The dealer receives nothing online. Each element's key is evaluated once, on
//! its one opened value, and the bundle is consumed by value.

use super::super::super::fss::dcf::{self, DcfKey};
use super::super::super::fss::deal::KeyRequest;
use super::super::super::fss::{EnginePrg, TreePrg};
use super::super::super::party::Party;
use super::super::super::share::ArithShare;
use super::super::b2a::bit_mul_cost;
use super::super::cost::Cost;
use super::super::registry as tags;
use super::gate::opening_cost;
use super::gate::{
    check_bits, deal_elements, element_bytes, low_mask, open_masked, parse_elements, split,
    word_at, xor_public, Mask,
};
use crate::mpc::Prg;
use crate::Result;

/// The ReLU bundle on `n` elements of `bits`-bit values.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ReluKeys {
    pub n: usize,
    pub bits: u32,
}

/// One party's material for one element (also the first part of a GeLU element,
/// [`super::gelu`]).
pub(super) struct ElementKey {
    /// Shares of `r`, `msb_k(r)` and `msb_k(r) r`.
    pub(super) r: u64,
    m: u64,
    mr: u64,
    /// Payload `(1 - 2m, (1 - 2m) r)` below `alpha = r mod 2^(k-1)`.
    dcf: DcfKey,
}

impl ElementKey {
    /// Bytes of one element on `bits`-bit values.
    pub(super) fn len(bits: u32) -> usize {
        24 + dcf::key_len_wide(bits - 1, 2)
    }

    /// Parses one element from exactly [`ElementKey::len`] bytes (its DCF key checked).
    pub(super) fn parse(chunk: &[u8], party: usize, bits: u32) -> Result<ElementKey> {
        Ok(ElementKey {
            r: word_at(chunk, 0),
            m: word_at(chunk, 8),
            mr: word_at(chunk, 16),
            dcf: DcfKey::from_bytes_wide(&chunk[24..], party, bits - 1, 2)?,
        })
    }

    /// Deals one element for the mask `mask`: both parties' bytes.
    pub(super) fn deal(
        g: &EnginePrg,
        Mask { r, msb, alpha }: Mask,
        bits: u32,
        rng: &mut Prg,
    ) -> Result<[Vec<u8>; 2]> {
        let sign = 1u64.wrapping_sub(2 * msb);
        let beta = [sign, sign.wrapping_mul(r)];
        let [k0, k1] = dcf::gen_wide(g, bits - 1, alpha, &beta, rng)?;
        let words = [
            split(r, rng),
            split(msb, rng),
            split(msb.wrapping_mul(r), rng),
        ];
        Ok(element_bytes(&words, [k0.to_bytes(), k1.to_bytes()]))
    }

    /// The party's share of `relu(x)` from the opened `x^ = x + r` (all 64 bits); `one` is
    /// its share of 1.
    pub(super) fn relu(&self, g: &EnginePrg, xh: u64, bits: u32, one: u64) -> Result<u64> {
        let (msb, msb_r) = self.sign_at(g, xh, bits, one)?;
        let (d, dr) = (one.wrapping_sub(msb), self.r.wrapping_sub(msb_r));
        Ok(d.wrapping_mul(xh).wrapping_sub(dr))
    }

    /// The party's shares of `t = msb_k(x + c)` and of `t r` from `x^ + c` for a public `c`.
    /// With `c = 0` it is ReLU's sign; other offsets of the same opening leave the view
    /// unchanged, so the key may answer several such points (Boyle et al.'s
    /// interval-containment and spline gates evaluate one key at public offsets alike).
    pub(super) fn sign_at(
        &self,
        g: &EnginePrg,
        xh_c: u64,
        bits: u32,
        one: u64,
    ) -> Result<(u64, u64)> {
        let xk = xh_c & low_mask(bits);
        let s = xk >> (bits - 1);
        let [c1, c2] = dcf::eval_wide(g, &self.dcf, xk & low_mask(bits - 1))?;
        // s is public: msb_k(x) = s ^ t and msb_k(x) r are linear in the shares of t, t r.
        Ok((
            xor_public(s, self.m.wrapping_add(c1), one),
            xor_public(s, self.mr.wrapping_add(c2), self.r),
        ))
    }
}

impl ReluKeys {
    /// The party's elements from its bytes (exact length, every DCF key checked).
    fn parse(&self, bytes: &[u8], party: usize) -> Result<Vec<ElementKey>> {
        let len = ElementKey::len(self.bits);
        parse_elements("fss relu bundle", bytes, self.n, len, |chunk| {
            ElementKey::parse(chunk, party, self.bits)
        })
    }
}

impl KeyRequest for ReluKeys {
    fn tag(&self) -> u32 {
        tags::RELU
    }

    fn bundle_len(&self, _party: usize) -> usize {
        self.n * ElementKey::len(self.bits)
    }

    fn deal(&self, rng: &mut Prg) -> Result<[Vec<u8>; 2]> {
        deal_elements(self.n, self.bits, rng, |g, mask, rng| {
            ElementKey::deal(g, mask, self.bits, rng)
        })
    }
}

/// `max(x, 0)` for values exact over all of Z_2^64 (1 round).
pub async fn relu(p: &mut Party, x: &ArithShare) -> Result<ArithShare> {
    relu_within(p, x, 64).await
}

/// `max(x, 0)` for `bits`-bit values (1 round).
pub async fn relu_within(p: &mut Party, x: &ArithShare, bits: u32) -> Result<ArithShare> {
    metered!(p, "fss_relu", relu_unmetered(p, x, bits).await)
}

/// [`relu_within`] without a meter label of its own (the classic family's
/// [`crate::mpc::protocols::relu::relu`] calls it under its own labels in the FSS family).
pub(crate) async fn relu_unmetered(p: &mut Party, x: &ArithShare, bits: u32) -> Result<ArithShare> {
    check_bits(bits)?;
    let req = ReluKeys { n: x.len(), bits };
    let bytes = p.keys(&req).await?;
    let id = p.id();
    let elems = req.parse(&bytes, id)?;
    let xhat = open_masked(p, x, elems.iter().map(|e| e.r), 8).await?;
    let g = EnginePrg::new();
    let one = u64::from(id == 0);
    // The keys are consumed here: each element's key meets its one masked input only.
    let out = elems
        .into_iter()
        .zip(xhat)
        .map(|(e, xh)| e.relu(&g, xh, bits, one))
        .collect::<Result<Vec<u64>>>()?;
    ArithShare::from_vec(x.shape(), out)
}

/// `b ? x : y` element-wise: already one round in the classic family, so both share it.
pub use super::super::b2a::select;

/// Cost of [`relu_within`] on `n` elements of `bits`-bit values.
pub fn relu_cost(n: usize, bits: u32) -> Cost {
    opening_cost(8 * n, ReluKeys { n, bits }.bundle_len(0))
}

/// Cost of [`select`] on `n` elements.
pub fn select_cost(n: usize) -> Cost {
    bit_mul_cost(n)
}
