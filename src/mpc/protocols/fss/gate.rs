//! The shape every FSS gate shares (Boyle et al., Eurocrypt 2021, section 4, "FSS gates"): the
//! dealer draws a uniform mask `r` per element and deals per-element material (shares of
//! values derived from `r` and an FSS key); online, the parties open `x^ = x + r` in one round
//! and evaluate each key once on its element's `x^`. This file holds that common part: the
//! mask and its derived bits, the bundle layout (a run of fixed-length elements, length
//! checked), the dealer's additive splits and the opening round.

use super::super::super::fss::{EnginePrg, KeyError, TreePrg};
use super::super::super::party::Party;
use super::super::super::share::ArithShare;
use super::super::cost::Cost;
use crate::mpc::Prg;
use crate::{Error, Result};

/// `2^bits - 1`.
pub(crate) fn low_mask(bits: u32) -> u64 {
    if bits >= 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    }
}

/// A gate's value width: 2 to 64 bits (the comparison runs on `bits - 1` of them).
pub(crate) fn check_bits(bits: u32) -> Result<()> {
    if (2..=64).contains(&bits) {
        Ok(())
    } else {
        Err(Error::out_of_range(
            "fss gate value width",
            bits,
            "2 to 64 bits",
        ))
    }
}

/// One element's mask as the dealer sees it, for `k`-bit values.
pub(crate) struct Mask {
    /// The mask, uniform in Z_2^64.
    pub r: u64,
    /// `msb_k(r)`.
    pub msb: u64,
    /// The comparison threshold `r mod 2^(k-1)`.
    pub alpha: u64,
}

impl Mask {
    pub(crate) fn draw(rng: &mut Prg, bits: u32) -> Mask {
        let r = rng.next_u64();
        let rk = r & low_mask(bits);
        Mask {
            r,
            msb: rk >> (bits - 1),
            alpha: rk & low_mask(bits - 1),
        }
    }
}

/// A party's share of `(s ^ t) u` from its shares of `t u` and of `u`, for a public bit `s`:
/// `s u + (1 - 2s) t u`. With `u = 1` (party 0's share 1, party 1's 0) it is the sign gate's
/// `msb_k(x) = msb_k(x^) ^ t`; with `u = r` it is that bit times the mask (ReLU).
pub(crate) fn xor_public(s: u64, tu: u64, u: u64) -> u64 {
    s.wrapping_mul(u)
        .wrapping_add(1u64.wrapping_sub(2 * s).wrapping_mul(tu))
}

/// Additive shares of `v` drawn by the dealer.
pub(crate) fn split(v: u64, rng: &mut Prg) -> [u64; 2] {
    let s0 = rng.next_u64();
    [s0, v.wrapping_sub(s0)]
}

/// The little-endian word at byte `at`.
pub(crate) fn word_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

/// Deals `n` elements of a gate on `bits`-bit values: `element` gets the tree PRG and a fresh
/// mask and returns both parties' bytes of one element, appended in order.
pub(crate) fn deal_elements(
    n: usize,
    bits: u32,
    rng: &mut Prg,
    mut element: impl FnMut(&EnginePrg, Mask, &mut Prg) -> Result<[Vec<u8>; 2]>,
) -> Result<[Vec<u8>; 2]> {
    check_bits(bits)?;
    let g = EnginePrg::new();
    let mut out = [Vec::new(), Vec::new()];
    for _ in 0..n {
        let mask = Mask::draw(rng, bits);
        let [a, b] = element(&g, mask, rng)?;
        out[0].extend(a);
        out[1].extend(b);
    }
    Ok(out)
}

/// Both parties' bytes of one element: the words' shares, then each party's key bytes.
pub(crate) fn element_bytes(words: &[[u64; 2]], keys: [Vec<u8>; 2]) -> [Vec<u8>; 2] {
    let [k0, k1] = keys;
    let mut out = [Vec::new(), Vec::new()];
    for (b, key) in [k0, k1].into_iter().enumerate() {
        for w in words {
            out[b].extend_from_slice(&w[b].to_le_bytes());
        }
        out[b].extend(key);
    }
    out
}

/// A party's bundle as `n` elements of `element_len` bytes, parsed by `parse`; a bundle of any
/// other length is a [`KeyError::Length`] (from a faulty or hostile dealer).
pub(crate) fn parse_elements<T>(
    kind: &'static str,
    bytes: &[u8],
    n: usize,
    element_len: usize,
    parse: impl FnMut(&[u8]) -> Result<T>,
) -> Result<Vec<T>> {
    if bytes.len() != n * element_len {
        return Err(KeyError::Length {
            kind,
            expected: n * element_len,
            got: bytes.len(),
        }
        .into());
    }
    bytes.chunks_exact(element_len).map(parse).collect()
}

/// The cost of a gate's opening round: `each` bytes each way, and `keys` bytes of bundle
/// streamed to each party.
pub(crate) fn opening_cost(each: usize, keys: usize) -> Cost {
    Cost {
        rounds: 1,
        p0_to_p1: each as u64,
        p1_to_p0: each as u64,
        offline: keys as u64,
        offline_p0: keys as u64,
    }
}

/// The one online round of every FSS gate: opens `x + r` on the low `8 open_bytes` bits
/// (`r` the party's mask shares, one per element) and returns the opened values.
pub(crate) async fn open_masked(
    p: &mut Party,
    x: &ArithShare,
    r: impl Iterator<Item = u64>,
    open_bytes: usize,
) -> Result<Vec<u64>> {
    let payload = masked_payload(x.data.iter().copied(), r, open_bytes);
    let got = p.exchange(payload.clone()).await?;
    Ok(unmask(&payload, &got, open_bytes))
}

/// A party's share of `x + r` on the low `8 open_bytes` bits, element by element (the
/// payload of an opening that travels with other bytes, [`super::range_reduced`]).
pub(crate) fn masked_payload(
    x: impl Iterator<Item = u64>,
    r: impl Iterator<Item = u64>,
    open_bytes: usize,
) -> Vec<u8> {
    let open_mask = low_mask(8 * open_bytes as u32);
    let mut payload = Vec::new();
    for (xi, ri) in x.zip(r) {
        let v = xi.wrapping_add(ri) & open_mask;
        payload.extend_from_slice(&v.to_le_bytes()[..open_bytes]);
    }
    payload
}

/// The opened values from both parties' [`masked_payload`]s (of equal length).
pub(crate) fn unmask(mine: &[u8], got: &[u8], open_bytes: usize) -> Vec<u64> {
    let open_mask = low_mask(8 * open_bytes as u32);
    let word = |b: &[u8]| {
        let mut w = [0u8; 8];
        w[..open_bytes].copy_from_slice(b);
        u64::from_le_bytes(w)
    };
    mine.chunks_exact(open_bytes)
        .zip(got.chunks_exact(open_bytes))
        .map(|(a, b)| word(a).wrapping_add(word(b)) & open_mask)
        .collect()
}
