//! Comparison and everything built on it: MSB (A2B with a log-depth carry circuit), bit
//! conversion (B2A), bit-times-value products (select), ReLU, ReLU6, comparisons and max.
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
//! **Bits to values.** [`b2a`] opens `b ^ r` for a dealer bit `r` known in both forms:
//! 1 round, `ceil(n/8)` bytes each way, `8n` offline. [`bit_mul`] computes `b * x` in **one**
//! round by opening `c = b ^ r` and `e = x - a` together, with a dealer tuple
//! `(r, a, [r], [r a])`: `[r x] = e [r] + [r a]` and `b x = c ? x - r x : r x`;
//! `ceil(n/8) + 8n` bytes each way, `16n` offline. [`relu`] = [`msb`] + [`bit_mul`]: 8 rounds.
//!
//! **Riding.** The seven rounds of [`msb`] carry little, and a computation that does not depend
//! on the comparison's result can travel in the same messages: `msb_riding` appends a
//! `Rider`'s payload to each of its rounds (GeLU's polynomial rides on its range
//! comparisons, so GeLU costs 8 rounds instead of 12).
//!
//! **Families.** With [`ProtocolFamily::Fss`] in the session, [`msb`] and everything built on it
//! (DReLU, ReLU, comparisons, max, the range comparisons of the approximations) use the
//! one-round DCF sign gate of [`super::fss::sign`] instead of the circuit; a rider's rounds then
//! follow it instead of sharing its rounds. The cost formulas of [`super::cost`] describe the
//! classic family.

use super::super::dealer::CorrRequest;
use super::super::party::{Party, ProtocolFamily};
use super::super::share::{
    bits_to_bytes, bytes_to_bits, bytes_to_words, compress_even, pack_bits, unpack_bits,
    words_to_bytes, ArithShare, BitShare,
};
use super::arith::{add_const, metered};
use crate::{Error, Result};

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
    let t = p.corr(CorrRequest::AndTriple { nbits }).await?;
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
    let t = p.corr(CorrRequest::OneSidedAnd { nbits: 64 * n }).await?;
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

/// Converts XOR-shared bits into additive shares of the integers 0/1 (not fixed-point: scale
/// by an encoded constant to use them as values).
pub async fn b2a(p: &mut Party, b: &BitShare) -> Result<ArithShare> {
    metered!(p, "b2a", b2a_impl(p, b).await)
}

pub(crate) async fn b2a_impl(p: &mut Party, b: &BitShare) -> Result<ArithShare> {
    let n = b.len();
    let t = p.corr(CorrRequest::BitPair { n }).await?;
    let c: Vec<u64> = b.words.iter().zip(&t[0]).map(|(a, r)| a ^ r).collect();
    let got = p.exchange(bits_to_bytes(&c, n)).await?;
    let c2 = bytes_to_bits(&got, n)?;
    let id = p.id();
    let v: Vec<u64> = (0..n)
        .map(|i| {
            let ci = ((c[i / 64] ^ c2[i / 64]) >> (i % 64)) & 1;
            let r = t[1][i];
            if ci == 1 {
                (if id == 0 { 1u64 } else { 0 }).wrapping_sub(r)
            } else {
                r
            }
        })
        .collect();
    ArithShare::from_vec(&b.shape, v)
}

/// `b * x` for XOR-shared bits `b` and a shared tensor `x` with as many elements (one round).
pub async fn bit_mul(p: &mut Party, b: &BitShare, x: &ArithShare) -> Result<ArithShare> {
    metered!(p, "bit_mul", bit_mul_impl(p, b, x).await)
}

pub(crate) async fn bit_mul_impl(
    p: &mut Party,
    b: &BitShare,
    x: &ArithShare,
) -> Result<ArithShare> {
    let n = x.len();
    if b.len() != n {
        return Err(Error::shape(
            "bit_mul",
            format!("{n} bits"),
            format!("{} bits", b.len()),
        ));
    }
    let t = p.corr(CorrRequest::BitMul { n }).await?;
    let (r, a, rr, ra) = (&t[0], &t[1], &t[2], &t[3]);
    let c: Vec<u64> = b.words.iter().zip(r).map(|(b, r)| b ^ r).collect();
    let xs = x.to_vec();
    let e: Vec<u64> = xs.iter().zip(a).map(|(x, a)| x.wrapping_sub(*a)).collect();
    let nb = n.div_ceil(8);
    let mut payload = bits_to_bytes(&c, n);
    payload.extend(words_to_bytes(&e));
    let got = p.exchange(payload).await?;
    let c2 = bytes_to_bits(&got[..nb], n)?;
    let e2 = bytes_to_words(&got[nb..], n)?;
    let v: Vec<u64> = (0..n)
        .map(|i| {
            let ci = ((c[i / 64] ^ c2[i / 64]) >> (i % 64)) & 1;
            let ei = e[i].wrapping_add(e2[i]);
            let rx = ei.wrapping_mul(rr[i]).wrapping_add(ra[i]);
            if ci == 1 {
                xs[i].wrapping_sub(rx)
            } else {
                rx
            }
        })
        .collect();
    ArithShare::from_vec(x.shape(), v)
}

/// `b ? x : y` element-wise (one round: `y + b (x - y)`).
pub async fn select(
    p: &mut Party,
    b: &BitShare,
    x: &ArithShare,
    y: &ArithShare,
) -> Result<ArithShare> {
    metered!(
        p,
        "select",
        async {
            let d = x.sub(y)?;
            bit_mul_impl(p, b, &d).await?.add(y)
        }
        .await
    )
}

/// Bits `[x >= 0]`.
pub async fn drelu(p: &mut Party, x: &ArithShare) -> Result<BitShare> {
    let id = p.id();
    metered!(p, "drelu", msb_impl(p, x).await.map(|m| m.not(id)))
}

/// Bits `[x < y]` (valid when `|x - y| < 2^63` in the ring).
pub async fn lt(p: &mut Party, x: &ArithShare, y: &ArithShare) -> Result<BitShare> {
    metered!(p, "lt", async { msb_impl(p, &x.sub(y)?).await }.await)
}

/// Bits `[x < c]` for a public constant.
pub async fn lt_const(p: &mut Party, x: &ArithShare, c: f64) -> Result<BitShare> {
    let d = add_const(p, x, -c);
    metered!(p, "lt", msb_impl(p, &d).await)
}

/// `max(x, 0)`: 8 rounds.
pub async fn relu(p: &mut Party, x: &ArithShare) -> Result<ArithShare> {
    metered!(p, "relu", relu_impl(p, x).await)
}

pub(crate) async fn relu_impl(p: &mut Party, x: &ArithShare) -> Result<ArithShare> {
    let id = p.id();
    let m = msb_impl(p, x).await?;
    bit_mul_impl(p, &m.not(id), x).await
}

/// `min(max(x, 0), 6)` = `relu(x) - relu(x - 6)`, both halves in the same 8 rounds.
pub async fn relu6(p: &mut Party, x: &ArithShare) -> Result<ArithShare> {
    metered!(
        p,
        "relu6",
        async {
            let n = x.len();
            let flat = x.reshape(&[n])?;
            let shifted = add_const(p, &flat, -6.0);
            let both = ArithShare::concat(0, &[&flat, &shifted])?;
            let r = relu_impl(p, &both).await?;
            r.slice_axis(0, 0, n)?
                .sub(&r.slice_axis(0, n, 2 * n)?)?
                .reshape(x.shape())
        }
        .await
    )
}

/// Maximum along the last axis (kept with length 1), by a tournament tree: `ceil(log2 L)`
/// levels of `max(a, b) = b + relu(a - b)`, each 8 rounds on `rows * floor(len / 2)` elements.
pub async fn max_last(p: &mut Party, x: &ArithShare) -> Result<ArithShare> {
    metered!(p, "max", max_last_impl(p, x).await)
}

pub(crate) async fn max_last_impl(p: &mut Party, x: &ArithShare) -> Result<ArithShare> {
    let nd = x.data.ndim();
    if nd == 0 || x.shape()[nd - 1] == 0 {
        return Err(Error::shape(
            "max over the last axis",
            "a non-empty last axis",
            format!("{:?}", x.shape()),
        ));
    }
    let ax = nd - 1;
    let mut cur = x.clone();
    while cur.shape()[ax] > 1 {
        let len = cur.shape()[ax];
        let h = len / 2;
        let a = cur.slice_axis(ax, 0, h)?;
        let b = cur.slice_axis(ax, h, 2 * h)?;
        let r = relu_impl(p, &a.sub(&b)?).await?;
        let m = b.add(&r)?;
        cur = if len % 2 == 1 {
            ArithShare::concat(ax, &[&m, &cur.slice_axis(ax, 2 * h, len)?])?
        } else {
            m
        };
    }
    Ok(cur)
}

/// One round giving both additive shares of all `n` bits of `b` (as [`b2a`]) and the products
/// `b[i] * x[i]` for the first `x.len()` bits (as [`bit_mul`]): the bit-times-value tuple's
/// opened `c = b ^ r` and shared `[r]` are a B2A of `b` as well. Bytes each way
/// `ceil(m/8) + 8m + ceil((n - m)/8)` for `m = x.len()`; offline `16m + 8(n - m)`.
pub(crate) async fn b2a_mul_impl(
    p: &mut Party,
    b: &BitShare,
    x: &ArithShare,
) -> Result<(ArithShare, ArithShare)> {
    let (n, m) = (b.len(), x.len());
    if m > n {
        return Err(Error::shape(
            "select",
            format!("at most {n} values"),
            format!("{m} values"),
        ));
    }
    let id = p.id();
    let (bm, br) = (b.range(0, m), b.range(m, n));
    let t = if m > 0 {
        p.corr(CorrRequest::BitMul { n: m }).await?
    } else {
        vec![vec![]; 4]
    };
    let u = if n > m {
        p.corr(CorrRequest::BitPair { n: n - m }).await?
    } else {
        vec![vec![]; 2]
    };
    let cm: Vec<u64> = bm.words.iter().zip(&t[0]).map(|(b, r)| b ^ r).collect();
    let cr: Vec<u64> = br.words.iter().zip(&u[0]).map(|(b, r)| b ^ r).collect();
    let xs = x.to_vec();
    let e: Vec<u64> = xs
        .iter()
        .zip(&t[1])
        .map(|(x, a)| x.wrapping_sub(*a))
        .collect();
    let (nbm, nbr) = (m.div_ceil(8), (n - m).div_ceil(8));
    let mut payload = bits_to_bytes(&cm, m);
    payload.extend(words_to_bytes(&e));
    payload.extend(bits_to_bytes(&cr, n - m));
    let got = p.exchange(payload).await?;
    let cm2 = bytes_to_bits(&got[..nbm], m)?;
    let e2 = bytes_to_words(&got[nbm..nbm + 8 * m], m)?;
    let cr2 = bytes_to_bits(&got[nbm + 8 * m..nbm + 8 * m + nbr], n - m)?;
    let bit = |c: u64, r: u64| {
        if c == 1 {
            (if id == 0 { 1u64 } else { 0 }).wrapping_sub(r)
        } else {
            r
        }
    };
    let mut arith = Vec::with_capacity(n);
    let mut prod = Vec::with_capacity(m);
    for i in 0..m {
        let ci = ((cm[i / 64] ^ cm2[i / 64]) >> (i % 64)) & 1;
        arith.push(bit(ci, t[2][i]));
        let ei = e[i].wrapping_add(e2[i]);
        let rx = ei.wrapping_mul(t[2][i]).wrapping_add(t[3][i]);
        prod.push(if ci == 1 { xs[i].wrapping_sub(rx) } else { rx });
    }
    for i in 0..n - m {
        let ci = ((cr[i / 64] ^ cr2[i / 64]) >> (i % 64)) & 1;
        arith.push(bit(ci, u[1][i]));
    }
    Ok((
        ArithShare::from_vec(&[n], arith)?,
        ArithShare::from_vec(&[m], prod)?,
    ))
}
