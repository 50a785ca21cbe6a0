//! From XOR-shared bits to values.
//!
//! **Bits to values.** [`b2a`] opens `b ^ r` for a dealer bit `r` known in both forms:
//! 1 round, `ceil(n/8)` bytes each way, `8n` offline. [`bit_mul`] computes `b * x` in **one**
//! round by opening `c = b ^ r` and `e = x - a` together, with a dealer tuple
//! `(r, a, [r], [r a])`: `[r x] = e [r] + [r a]` and `b x = c ? x - r x : r x`;
//! `ceil(n/8) + 8n` bytes each way, `16n` offline.
//! [`select`] is `y + b (x - y)` by one [`bit_mul`]; `b2a_mul_impl` does a B2A of many bits and
//! the bit-times-value products of some of them in one round (the grid stage of
//! [`super::reciprocal`]).

use super::super::correlation::{bit, CompRing, CompRole, Correlation};
use super::super::party::Party;
use super::super::share::{
    bits_to_bytes, bytes_to_bits, bytes_to_words, words_to_bytes, ArithShare, BitShare,
};
use super::cost::{sym, Cost};
use super::registry;
use crate::mpc::bench::{input, BenchCase, Dims};
use crate::{Error, Result};

/// Random bits `r` in both forms: XOR-shared and additively shared (as integers 0/1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BitPair {
    /// Bits.
    pub n: usize,
}

impl Correlation for BitPair {
    fn tag(&self) -> u32 {
        registry::BIT_PAIR
    }

    fn layout(&self) -> Vec<(CompRing, CompRole)> {
        vec![
            (CompRing::Bits(self.n), CompRole::Free),
            (CompRing::Arith(self.n), CompRole::Dep),
        ]
    }

    fn dependent_values(&self, v: &[Vec<u64>]) -> Result<Vec<Vec<u64>>> {
        Ok(vec![(0..self.n).map(|i| bit(&v[0], i)).collect()])
    }
}

/// For bit-times-value products: random bits `r` (XOR-shared), random `a`, and additive
/// shares of `r` and of `r * a`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BitMul {
    /// Elements.
    pub n: usize,
}

impl Correlation for BitMul {
    fn tag(&self) -> u32 {
        registry::BIT_MUL
    }

    fn layout(&self) -> Vec<(CompRing, CompRole)> {
        let n = self.n;
        vec![
            (CompRing::Bits(n), CompRole::Free),
            (CompRing::Arith(n), CompRole::Free),
            (CompRing::Arith(n), CompRole::Dep),
            (CompRing::Arith(n), CompRole::Dep),
        ]
    }

    fn dependent_values(&self, v: &[Vec<u64>]) -> Result<Vec<Vec<u64>>> {
        let r: Vec<u64> = (0..self.n).map(|i| bit(&v[0], i)).collect();
        let ra = r
            .iter()
            .zip(&v[1])
            .map(|(r, a)| r.wrapping_mul(*a))
            .collect();
        Ok(vec![r, ra])
    }
}

/// Converts XOR-shared bits into additive shares of the integers 0/1 (not fixed-point: scale
/// by an encoded constant to use them as values).
pub async fn b2a(p: &mut Party, b: &BitShare) -> Result<ArithShare> {
    metered!(p, "b2a", b2a_impl(p, b).await)
}

pub(crate) async fn b2a_impl(p: &mut Party, b: &BitShare) -> Result<ArithShare> {
    let n = b.len();
    let t = p.corr(&BitPair { n }).await?;
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
    let t = p.corr(&BitMul { n }).await?;
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
        p.corr(&BitMul { n: m }).await?
    } else {
        vec![vec![]; 4]
    };
    let u = if n > m {
        p.corr(&BitPair { n: n - m }).await?
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

/// B2A of `n` bits.
pub fn b2a_cost(n: usize) -> Cost {
    sym(n.div_ceil(8), 8 * n)
}

/// Bit times value on `n` elements (also `select`).
pub fn bit_mul_cost(n: usize) -> Cost {
    sym(n.div_ceil(8) + 8 * n, 16 * n)
}

/// B2A of `n` bits of which the first `m` are also multiplied by values
/// (`super::compare::b2a_mul_impl`).
pub fn b2a_mul_cost(n: usize, m: usize) -> Cost {
    sym(
        m.div_ceil(8) + 8 * m + (n - m).div_ceil(8),
        16 * m + 8 * (n - m),
    )
}

/// Rows of the cost table ([`crate::mpc::bench`]): the bits come from an MSB that is not
/// counted.
pub(crate) const BENCH: &[BenchCase] = &[
    BenchCase::new(
        "b2a",
        Dims::Flat,
        &[input(0, Dims::Flat, -4.0, 4.0)],
        crate::program!(|p, x| {
            let b = super::msb::msb(p, &x[0]).await?;
            p.meter.reset();
            b2a(p, &b).await
        }),
    ),
    BenchCase::new(
        "select",
        Dims::Flat,
        &[
            input(0, Dims::Flat, -4.0, 4.0),
            input(1, Dims::Flat, -4.0, 4.0),
        ],
        crate::program!(|p, x| {
            let b = super::msb::msb(p, &x[0]).await?;
            p.meter.reset();
            select(p, &b, &x[0], &x[1]).await
        }),
    ),
];
