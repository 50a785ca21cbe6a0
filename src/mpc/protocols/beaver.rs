//! Beaver multiplication (Beaver, CRYPTO 1991): with a triple `c = ab`, the parties open
//! `e = x - a` and `f = y - b` and set `z = ef [party 0] + e b + a f + c`, which is `xy` and
//! reveals only the uniformly masked `e, f`. Batched calls ([`mul_many`]) open all their operands
//! in one round; a square needs only `a` and `a^2` ([`Square`]), half the bytes.
//!
//! | protocol | rounds | online bytes | offline bytes |
//! |---|---|---|---|
//! | [`mul`] (`y` of `ny` elements broadcast to `x`) | 1 + T | `8(n + ny)` each way | `8n` + T |
//! | [`square`] | 1 + T | `8n` each way | `8n` + T |
//!
//! (`T`: the truncation, [`super::trunc`].) [`mul_open`] / [`mul_close`] split a batch into its
//! two halves so that another protocol can carry it in its own rounds
//! ([`super::msb::Rider`]).

use ndarray::{ArrayD, IxDyn, Zip};

use super::super::correlation::{CompRing, CompRole, Correlation};
use super::super::party::{Party, TruncMode};
use super::super::share::{bytes_to_words, words_to_bytes, ArithShare};
use super::cost::{sym, Cost};
use super::registry;
use super::trunc::{trunc_cost, trunc_many_impl};
use crate::mpc::bench::{input, BenchCase, Dims};
use crate::{Error, Result};

/// Element-wise Beaver triple with broadcasting: `a` (shape `x`), `b` (shape `y`, which
/// broadcasts to `x`), `c = a * broadcast(b)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Triple {
    /// Shape of the left operand.
    pub x: Vec<usize>,
    /// Shape of the right operand.
    pub y: Vec<usize>,
}

impl Correlation for Triple {
    fn tag(&self) -> u32 {
        registry::TRIPLE
    }

    fn layout(&self) -> Vec<(CompRing, CompRole)> {
        let (nx, ny) = (self.x.iter().product(), self.y.iter().product());
        vec![
            (CompRing::Arith(nx), CompRole::Free),
            (CompRing::Arith(ny), CompRole::Free),
            (CompRing::Arith(nx), CompRole::Dep),
        ]
    }

    fn dependent_values(&self, v: &[Vec<u64>]) -> Result<Vec<Vec<u64>>> {
        let (x, y) = (&self.x, &self.y);
        let a = ArrayD::from_shape_vec(IxDyn(x), v[0].clone())?;
        let b = ArrayD::from_shape_vec(IxDyn(y), v[1].clone())?;
        let bb = b.broadcast(a.raw_dim()).ok_or_else(|| {
            Error::shape(
                "beaver triple",
                format!("a shape broadcasting to {x:?}"),
                format!("{y:?}"),
            )
        })?;
        let mut c = a.clone();
        Zip::from(&mut c)
            .and(&bb)
            .for_each(|c, &b| *c = c.wrapping_mul(b));
        Ok(vec![c.iter().copied().collect()])
    }
}

/// Square pair `a`, `c = a^2` over `n` elements.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Square {
    /// Elements.
    pub n: usize,
}

impl Correlation for Square {
    fn tag(&self) -> u32 {
        registry::SQUARE
    }

    fn layout(&self) -> Vec<(CompRing, CompRole)> {
        vec![
            (CompRing::Arith(self.n), CompRole::Free),
            (CompRing::Arith(self.n), CompRole::Dep),
        ]
    }

    fn dependent_values(&self, v: &[Vec<u64>]) -> Result<Vec<Vec<u64>>> {
        Ok(vec![v[0].iter().map(|a| a.wrapping_mul(*a)).collect()])
    }
}

/// Element-wise fixed-point product `x * y` (`y` broadcast to `x`, or `x` to `y`).
pub async fn mul(p: &mut Party, x: &ArithShare, y: &ArithShare) -> Result<ArithShare> {
    metered!(
        p,
        "mul",
        mul_many_impl(p, &[(x, y)], true)
            .await
            .map(|mut v| v.remove(0))
    )
}

/// `x * x` with a square pair (half the bytes of [`mul`]).
pub async fn square(p: &mut Party, x: &ArithShare) -> Result<ArithShare> {
    metered!(
        p,
        "square",
        mul_many_impl(p, &[(x, x)], true)
            .await
            .map(|mut v| v.remove(0))
    )
}

/// Several fixed-point products in one round (a pair whose two operands are the same object
/// is a square).
pub async fn mul_many(
    p: &mut Party,
    pairs: &[(&ArithShare, &ArithShare)],
) -> Result<Vec<ArithShare>> {
    metered!(p, "mul", mul_many_impl(p, pairs, true).await)
}

/// Ring products without truncation (e.g. an integer times a fixed-point value).
pub async fn mul_ring_many(
    p: &mut Party,
    pairs: &[(&ArithShare, &ArithShare)],
) -> Result<Vec<ArithShare>> {
    metered!(p, "mul", mul_many_impl(p, pairs, false).await)
}

pub(crate) async fn mul_many_impl(
    p: &mut Party,
    pairs: &[(&ArithShare, &ArithShare)],
    truncate: bool,
) -> Result<Vec<ArithShare>> {
    let (pending, payload) = mul_open(p, pairs).await?;
    let got = p.exchange(payload).await?;
    let out = mul_close(p, pending, &got)?;
    if truncate {
        let f = p.fp().frac_bits;
        trunc_many_impl(p, out, f).await
    } else {
        Ok(out)
    }
}

/// One product of a [`MulPending`]: the shapes of its (oriented) operands, whether it is a
/// square, and its Beaver correlation.
struct PendingProduct {
    x_shape: Vec<usize>,
    y_shape: Vec<usize>,
    square: bool,
    triple: Vec<Vec<u64>>,
}

/// The state of a batch of Beaver products between the opening and the peer's answer.
pub(crate) struct MulPending {
    products: Vec<PendingProduct>,
    mine: Vec<u64>,
}

/// First half of [`mul_many_impl`]: fetches the triples and returns this party's masked
/// operands `e = x - a`, `f = y - b` as the round's payload. The products are not truncated.
pub(crate) async fn mul_open(
    p: &mut Party,
    pairs: &[(&ArithShare, &ArithShare)],
) -> Result<(MulPending, Vec<u8>)> {
    // Orient each pair so that the right operand broadcasts to the left one.
    let mut ops: Vec<(&ArithShare, &ArithShare, bool)> = Vec::with_capacity(pairs.len());
    for &(x, y) in pairs {
        let sq = std::ptr::eq(x, y);
        if sq || y.data.broadcast(x.data.raw_dim()).is_some() {
            ops.push((x, y, sq));
        } else if x.data.broadcast(y.data.raw_dim()).is_some() {
            ops.push((y, x, false));
        } else {
            return Err(Error::shape(
                "mul",
                format!("a shape broadcasting with {:?}", x.shape()),
                format!("{:?}", y.shape()),
            ));
        }
    }
    let mut triples = Vec::with_capacity(ops.len());
    for &(x, y, sq) in &ops {
        let req = if sq {
            p.corr(&Square { n: x.len() }).await?
        } else {
            p.corr(&Triple {
                x: x.shape().to_vec(),
                y: y.shape().to_vec(),
            })
            .await?
        };
        triples.push(req);
    }
    // Open e = x - a and f = y - b for every pair.
    let mut mine = Vec::new();
    for (&(x, y, sq), t) in ops.iter().zip(&triples) {
        mine.extend(x.data.iter().zip(&t[0]).map(|(x, a)| x.wrapping_sub(*a)));
        if !sq {
            mine.extend(y.data.iter().zip(&t[1]).map(|(y, b)| y.wrapping_sub(*b)));
        }
    }
    let products = ops
        .iter()
        .zip(triples)
        .map(|(&(x, y, square), triple)| PendingProduct {
            x_shape: x.shape().to_vec(),
            y_shape: y.shape().to_vec(),
            square,
            triple,
        })
        .collect();
    let payload = words_to_bytes(&mine);
    Ok((MulPending { products, mine }, payload))
}

/// Second half of [`mul_many_impl`], from the peer's masked operands: the products at scale
/// `2F` (untruncated).
pub(crate) fn mul_close(p: &Party, m: MulPending, got: &[u8]) -> Result<Vec<ArithShare>> {
    let mine = m.mine;
    let other = bytes_to_words(got, mine.len())?;
    let opened: Vec<u64> = mine
        .iter()
        .zip(&other)
        .map(|(a, b)| a.wrapping_add(*b))
        .collect();
    let id = p.id();
    let mut at = 0;
    let mut out = Vec::with_capacity(m.products.len());
    for pp in &m.products {
        let (sq, t) = (pp.square, &pp.triple);
        let n: usize = pp.x_shape.iter().product();
        let e = ArithShare::from_vec(&pp.x_shape, opened[at..at + n].to_vec())?;
        at += n;
        let a = ArithShare::from_vec(&pp.x_shape, t[0].clone())?;
        let z = if sq {
            // x^2 = e^2 + 2ea + a^2.
            let c = ArithShare::from_vec(&pp.x_shape, t[1].clone())?;
            let mut z = c.data.clone();
            Zip::from(&mut z)
                .and(&e.data)
                .and(&a.data)
                .for_each(|z, &e, &a| {
                    let mut v = z.wrapping_add(e.wrapping_mul(a).wrapping_mul(2));
                    if id == 0 {
                        v = v.wrapping_add(e.wrapping_mul(e));
                    }
                    *z = v;
                });
            z
        } else {
            let ny: usize = pp.y_shape.iter().product();
            let f = ArithShare::from_vec(&pp.y_shape, opened[at..at + ny].to_vec())?;
            at += ny;
            let b = ArithShare::from_vec(&pp.y_shape, t[1].clone())?;
            let c = ArithShare::from_vec(&pp.x_shape, t[2].clone())?;
            let shape_err = || {
                Error::shape(
                    "mul",
                    format!("a shape broadcasting to {:?}", pp.x_shape),
                    format!("{:?}", pp.y_shape),
                )
            };
            let fb = f.data.broadcast(e.data.raw_dim()).ok_or_else(shape_err)?;
            let bb = b.data.broadcast(e.data.raw_dim()).ok_or_else(shape_err)?;
            let mut z = c.data.clone();
            Zip::from(&mut z)
                .and(&e.data)
                .and(&a.data)
                .and(&fb)
                .and(&bb)
                .for_each(|z, &e, &a, &f, &b| {
                    let mut v = z
                        .wrapping_add(e.wrapping_mul(b))
                        .wrapping_add(a.wrapping_mul(f));
                    if id == 0 {
                        v = v.wrapping_add(e.wrapping_mul(f));
                    }
                    *z = v;
                });
            z
        };
        out.push(ArithShare::new(z));
    }
    Ok(out)
}

/// One product through [`mul_many_impl`], truncated.
pub(crate) async fn mul1(p: &mut Party, x: &ArithShare, y: &ArithShare) -> Result<ArithShare> {
    Ok(mul_many_impl(p, &[(x, y)], true).await?.remove(0))
}

/// One square through [`mul_many_impl`], truncated.
pub(crate) async fn square1(p: &mut Party, x: &ArithShare) -> Result<ArithShare> {
    Ok(mul_many_impl(p, &[(x, x)], true).await?.remove(0))
}

/// One operand pair of a batched multiplication: `Some(ny)` for a product with a right operand
/// of `ny` elements, `None` for a square.
pub type MulOperand = (usize, Option<usize>);

/// One round of products ([`super::arith::mul_many`]) followed by their truncation.
pub fn mul_batch_cost(mode: TruncMode, ops: &[MulOperand]) -> Cost {
    let mut each = 0;
    let mut off = 0;
    let mut n_out = 0;
    for &(n, ny) in ops {
        each += 8 * (n + ny.unwrap_or(0));
        off += 8 * n;
        n_out += n;
    }
    sym(each, off) + trunc_cost(mode, n_out)
}

/// `x * y` with `x` of `n` and `y` of `ny` elements.
pub fn mul_cost(mode: TruncMode, n: usize, ny: usize) -> Cost {
    mul_batch_cost(mode, &[(n, Some(ny))])
}

/// `x * x` on `n` elements.
pub fn square_cost(mode: TruncMode, n: usize) -> Cost {
    mul_batch_cost(mode, &[(n, None)])
}

/// Rows of the cost table ([`crate::mpc::bench`]).
pub(crate) const BENCH: &[BenchCase] = &[
    BenchCase::new(
        "mul",
        Dims::Flat,
        &[
            input(0, Dims::Flat, -4.0, 4.0),
            input(1, Dims::Flat, -4.0, 4.0),
        ],
        crate::program!(|p, x| mul(p, &x[0], &x[1]).await),
    ),
    BenchCase::new(
        "square",
        Dims::Flat,
        &[input(0, Dims::Flat, -4.0, 4.0)],
        crate::program!(|p, x| square(p, &x[0]).await),
    ),
];
