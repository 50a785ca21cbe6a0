//! The most significant bit of a shared value (1 = negative), exact for every ring element,
//! by a boolean circuit on the two shares (the A2B comparison of ABY / SecretFlow-SPU's
//! `msb_a2b`, with a Brent-Kung carry tree).
//!
//! **MSB.** With `x = x0 + x1 mod 2^64`, `msb(x) = msb(x0) ^ msb(x1) ^ c` where `c` is the carry
//! into bit 63 of `a + b`, `a = x0 mod 2^63` (held by party 0 in the clear) and
//! `b = x1 mod 2^63` (party 1). Generate/propagate bits `g = a & b`, `p = a ^ b` (`p` gets a
//! public 1 at bit 63 so the group generate over all 64 positions equals the carry out of bit 62)
//! and a Brent-Kung up-sweep combines adjacent groups, `G = G_hi ^ (P_hi & G_lo)`,
//! `P = P_hi & P_lo`, halving the width at each level. All elements are processed at once; the
//! AND gates of a level are packed densely across elements (an element uses `w` bits at width
//! `w`), so bytes shrink with the width:
//!
//! | round | gate | bits per element |
//! |---|---|---|
//! | 1 | `g = a & b`, one-sided AND (each party sends its masked operand only) | 64 |
//! | 2..6 | level of width 64, 32, 16, 8, 4: `P_hi & [G_lo, P_lo]` | 64, 32, 16, 8, 4 |
//! | 7 | last level: `P_hi & G_lo` only | 1 |
//!
//! Cost of [`msb`] on `n` elements: **7 rounds**; each way `8n + 2 * sum_w ceil(w n / 8)` bytes
//! (`w` in 64, 32, 16, 8, 4, 1: about `39.3 n`); offline `8n + sum_w ceil(w n / 8)` bytes
//! (about `23.6 n`). The result is exact for every ring element (no range condition).
//!
//! **Riding.** The seven rounds of [`msb`] carry little, and a computation that does not depend
//! on the comparison's result can travel in the same messages: `msb_riding` appends a
//! `Rider`'s payload to each of its rounds (GeLU's polynomial rides on its range
//! comparisons, so GeLU costs 8 rounds instead of 12).
//!
//! **Families.** With [`ProtocolFamily::Fss`] in the session, [`msb`] and everything built on it
//! (DReLU, ReLU, comparisons, max, the range comparisons of the approximations) use the
//! one-round DCF sign gate of [`super::fss::sign`] instead of the circuit; a rider's rounds then
//! follow it instead of sharing its rounds. The cost formulas here describe the classic family.

use super::super::correlation::{CompRing, CompRole, Correlation};
use super::super::party::{Party, ProtocolFamily};
use super::super::share::{
    bits_to_bytes, bytes_to_bits, bytes_to_words, compress_even, pack_bits, unpack_bits,
    words_to_bytes, ArithShare, BitShare,
};
use super::cost::{sym, Cost};
use super::registry;
use crate::mpc::bench::{input, BenchCase, Dims};
use crate::Result;

/// Beaver AND triples over `nbits` packed bits: `u`, `v`, `w = u & v`, all XOR-shared.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AndTriple {
    /// Bits.
    pub nbits: usize,
}

impl Correlation for AndTriple {
    fn tag(&self) -> u32 {
        registry::AND_TRIPLE
    }

    fn layout(&self) -> Vec<(CompRing, CompRole)> {
        let n = self.nbits;
        vec![
            (CompRing::Bits(n), CompRole::Free),
            (CompRing::Bits(n), CompRole::Free),
            (CompRing::Bits(n), CompRole::Dep),
        ]
    }

    fn dependent_values(&self, v: &[Vec<u64>]) -> Result<Vec<Vec<u64>>> {
        Ok(vec![v[0].iter().zip(&v[1]).map(|(u, w)| u & w).collect()])
    }
}

/// One-sided AND triples: `u` known to party 0 only, `v` to party 1 only, `w = u & v`
/// XOR-shared. For ANDs of a value party 0 holds in the clear with one party 1 holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OneSidedAnd {
    /// Bits.
    pub nbits: usize,
}

impl Correlation for OneSidedAnd {
    fn tag(&self) -> u32 {
        registry::ONE_SIDED_AND
    }

    fn layout(&self) -> Vec<(CompRing, CompRole)> {
        let n = self.nbits;
        vec![
            (CompRing::Bits(n), CompRole::P0Only),
            (CompRing::Bits(n), CompRole::P1Only),
            (CompRing::Bits(n), CompRole::Dep),
        ]
    }

    fn dependent_values(&self, v: &[Vec<u64>]) -> Result<Vec<Vec<u64>>> {
        Ok(vec![v[0].iter().zip(&v[1]).map(|(u, w)| u & w).collect()])
    }
}

/// The widths (bits per element) of the AND rounds after the first, in order.
pub const MSB_LEVEL_WIDTHS: [u32; 6] = [64, 32, 16, 8, 4, 1];

/// Rounds of an independent computation carried in the messages of a longer protocol (see
/// [`msb_riding`]): the two share their rounds instead of adding them up. Both parties (and the
/// dealer's run) must prepare the same rounds in the same order; payloads are symmetric (the
/// same length at both parties), so the peer's message splits at this party's lengths.
pub(crate) trait Rider {
    /// Fetches the correlations of the rider's next round and returns its payload, or `None`
    /// when it has no round left.
    async fn prepare(&mut self, p: &mut Party) -> Result<Option<Vec<u8>>>;
    /// Takes the peer's payload of the round just prepared.
    fn absorb(&mut self, p: &Party, got: &[u8]) -> Result<()>;
    /// Runs the remaining rounds alone (when the carrying protocol ended first).
    async fn run_rest(&mut self, p: &mut Party) -> Result<()> {
        while let Some(payload) = self.prepare(p).await? {
            let got = p.exchange(payload).await?;
            self.absorb(p, &got)?;
        }
        Ok(())
    }
}

/// No rider.
pub(crate) struct NoRider;

impl Rider for NoRider {
    async fn prepare(&mut self, _: &mut Party) -> Result<Option<Vec<u8>>> {
        Ok(None)
    }
    fn absorb(&mut self, _: &Party, _: &[u8]) -> Result<()> {
        Ok(())
    }
}

/// A symmetric round carrying `payload` and, behind it, the rider's next round if it has one;
/// returns the peer's `payload` part.
async fn exchange_riding(
    p: &mut Party,
    payload: Vec<u8>,
    rider: &mut impl Rider,
) -> Result<Vec<u8>> {
    let Some(extra) = rider.prepare(p).await? else {
        return p.exchange(payload).await;
    };
    let n = payload.len();
    let mut all = payload;
    all.extend(extra);
    let mut got = p.exchange(all).await?;
    let rest = got.split_off(n);
    rider.absorb(p, &rest)?;
    Ok(got)
}

/// Packed AND of XOR-shared `x` and `y` (each `n` values of `w` bits) with Beaver bit triples.
async fn and_packed(
    p: &mut Party,
    x: &[u64],
    y: &[u64],
    w: u32,
    rider: &mut impl Rider,
) -> Result<Vec<u64>> {
    let n = x.len();
    let nbits = n * w as usize;
    let (xp, yp) = (pack_bits(x, w), pack_bits(y, w));
    let t = p.corr(&AndTriple { nbits }).await?;
    let (u, v, tw) = (&t[0], &t[1], &t[2]);
    let d: Vec<u64> = xp.iter().zip(u).map(|(a, b)| a ^ b).collect();
    let e: Vec<u64> = yp.iter().zip(v).map(|(a, b)| a ^ b).collect();
    let mut payload = bits_to_bytes(&d, nbits);
    payload.extend(bits_to_bytes(&e, nbits));
    let nb = nbits.div_ceil(8);
    let got = exchange_riding(p, payload, rider).await?;
    let d2 = bytes_to_bits(&got[..nb], nbits)?;
    let e2 = bytes_to_bits(&got[nb..], nbits)?;
    let id = p.id();
    let z: Vec<u64> = (0..xp.len())
        .map(|i| {
            let (dd, ee) = (d[i] ^ d2[i], e[i] ^ e2[i]);
            let mut z = tw[i] ^ (dd & v[i]) ^ (ee & u[i]);
            if id == 0 {
                z ^= dd & ee;
            }
            z
        })
        .collect();
    Ok(unpack_bits(&z, w, n))
}

/// XOR shares of the most significant bit of each element (1 = negative as a signed value).
pub async fn msb(p: &mut Party, x: &ArithShare) -> Result<BitShare> {
    metered!(p, "msb", msb_impl(p, x).await)
}

pub(crate) async fn msb_impl(p: &mut Party, x: &ArithShare) -> Result<BitShare> {
    msb_riding(p, x, &mut NoRider).await
}

/// [`msb_impl`] carrying the rider's rounds in its own (up to 7); the rider's remaining rounds,
/// if any, run after it.
pub(crate) async fn msb_riding(
    p: &mut Party,
    x: &ArithShare,
    rider: &mut impl Rider,
) -> Result<BitShare> {
    if p.config().family == ProtocolFamily::Fss {
        // One round on a DCF key instead of seven; the rider's rounds then run alone.
        let bits = super::fss::sign::msb_unmetered(p, x, 64).await?;
        rider.run_rest(p).await?;
        return Ok(bits);
    }
    const LOW63: u64 = u64::MAX >> 1;
    let n = x.len();
    let id = p.id();
    let s: Vec<u64> = x.to_vec();
    let low: Vec<u64> = s.iter().map(|v| v & LOW63).collect();
    // Round 1: g = a & b with a one-sided AND (u known to party 0, v to party 1).
    let t = p.corr(&OneSidedAnd { nbits: 64 * n }).await?;
    let mask = if id == 0 { &t[0] } else { &t[1] };
    let d_mine: Vec<u64> = low.iter().zip(mask).map(|(a, m)| a ^ m).collect();
    let got = exchange_riding(p, words_to_bytes(&d_mine), rider).await?;
    let other = bytes_to_words(&got, n)?;
    let mut g: Vec<u64> = (0..n)
        .map(|i| {
            if id == 0 {
                // d = d_mine, e = other: z0 = w0 ^ (u & e) ^ (d & e).
                t[2][i] ^ (t[0][i] & other[i]) ^ (d_mine[i] & other[i])
            } else {
                // d = other: z1 = w1 ^ (d & v).
                t[2][i] ^ (other[i] & t[1][i])
            }
        })
        .collect();
    let mut pr: Vec<u64> = low
        .iter()
        .map(|&v| if id == 0 { v | (1u64 << 63) } else { v })
        .collect();
    let mut w = 64u32;
    while w > 1 {
        let h = w / 2;
        let go: Vec<u64> = g.iter().map(|&v| compress_even(v >> 1)).collect();
        let ge: Vec<u64> = g.iter().map(|&v| compress_even(v)).collect();
        let po: Vec<u64> = pr.iter().map(|&v| compress_even(v >> 1)).collect();
        if w > 2 {
            let pe: Vec<u64> = pr.iter().map(|&v| compress_even(v)).collect();
            let xs: Vec<u64> = po.iter().map(|&v| v | (v << h)).collect();
            let ys: Vec<u64> = ge.iter().zip(&pe).map(|(&a, &b)| a | (b << h)).collect();
            let z = and_packed(p, &xs, &ys, w, rider).await?;
            let lo = (1u64 << h) - 1;
            g = go.iter().zip(&z).map(|(&a, &z)| a ^ (z & lo)).collect();
            pr = z.iter().map(|&z| z >> h).collect();
        } else {
            let z = and_packed(p, &po, &ge, 1, rider).await?;
            g = go.iter().zip(&z).map(|(&a, &z)| a ^ z).collect();
        }
        w = h;
    }
    let bits: Vec<bool> = (0..n).map(|i| ((s[i] >> 63) ^ (g[i] & 1)) == 1).collect();
    rider.run_rest(p).await?;
    Ok(BitShare::from_bools(&bits, x.shape()))
}

/// MSB of `n` elements (7 rounds).
pub fn msb_cost(n: usize) -> Cost {
    msb_rounds(n)
        .into_iter()
        .fold(Cost::default(), |a, c| a + c)
}

/// The rounds of [`msb`], one [`Cost`] each.
pub(crate) fn msb_rounds(n: usize) -> Vec<Cost> {
    let mut r = vec![sym(8 * n, 8 * n)];
    for w in MSB_LEVEL_WIDTHS {
        let nb = (w as usize * n).div_ceil(8);
        r.push(sym(2 * nb, nb));
    }
    r
}

/// A protocol whose rounds carry a rider's rounds (`super::compare::Rider`): bytes add up,
/// rounds are the longer of the two.
pub(crate) fn riding_cost(main: &[Cost], rider: &[Cost]) -> Cost {
    let all = main
        .iter()
        .chain(rider)
        .fold(Cost::default(), |a, &c| a + c);
    Cost {
        rounds: main.len().max(rider.len()) as u64,
        ..all
    }
}

/// Rows of the cost table ([`crate::mpc::bench`]).
pub(crate) const BENCH: &[BenchCase] = &[BenchCase::new(
    "msb",
    Dims::Flat,
    &[input(0, Dims::Flat, -4.0, 4.0)],
    crate::program!(|p, x| {
        msb(p, &x[0]).await?;
        Ok(x[0].clone())
    }),
)];
