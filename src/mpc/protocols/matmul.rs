//! Batched matrix products by Beaver matrix triples (`C = A B` from the dealer): open
//! `E = X - A`, `F = Y - B`, then `Z = E F [party 0] + E B + A F + C`.
//!
//! | protocol | rounds | online bytes | offline bytes |
//! |---|---|---|---|
//! | [`matmul`] `(b,m,k) x (b,k,p)` | 1 + T | `8(bmk + bkp)` each way | `8bmp` + T |
//!
//! One operand may be a plain matrix broadcast over the other's batch (weights times
//! activations): its mask is drawn once per call, not once per batch element.

use super::super::correlation::{CompRing, CompRole, Correlation};
use super::super::party::{Party, TruncMode};
use super::super::ring::matmul_acc;
use super::super::share::ArithShare;
use super::cost::{sym, Cost};
use super::input::open_words;
use super::registry;
use super::trunc::{trunc_cost, trunc_many_impl};
use crate::mpc::bench::{input, BenchCase, Dims};
use crate::{Error, Result};

/// Batched matrix triple `A` (`bx` x m x k), `B` (`by` x k x p), `C = A B` (`b` x m x p,
/// `b = max(bx, by)`, the other batch being 1 and broadcast).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MatTriple {
    /// Batch of the left operand (1 = broadcast).
    pub bx: usize,
    /// Batch of the right operand (1 = broadcast).
    pub by: usize,
    /// Rows of A.
    pub m: usize,
    /// Inner dimension.
    pub k: usize,
    /// Columns of B.
    pub p: usize,
}

impl Correlation for MatTriple {
    fn tag(&self) -> u32 {
        registry::MAT_TRIPLE
    }

    fn layout(&self) -> Vec<(CompRing, CompRole)> {
        let (bx, by, m, k, p) = (self.bx, self.by, self.m, self.k, self.p);
        vec![
            (CompRing::Arith(bx * m * k), CompRole::Free),
            (CompRing::Arith(by * k * p), CompRole::Free),
            (CompRing::Arith(bx.max(by) * m * p), CompRole::Dep),
        ]
    }

    fn dependent_values(&self, v: &[Vec<u64>]) -> Result<Vec<Vec<u64>>> {
        let (bx, by, m, k, p) = (self.bx, self.by, self.m, self.k, self.p);
        let b = bx.max(by);
        let mut c = vec![0u64; b * m * p];
        for i in 0..b {
            let ai = if bx == 1 { 0 } else { i };
            let bi = if by == 1 { 0 } else { i };
            matmul_acc(
                &v[0][ai * m * k..(ai + 1) * m * k],
                &v[1][bi * k * p..(bi + 1) * k * p],
                &mut c[i * m * p..(i + 1) * m * p],
                m,
                k,
                p,
            );
        }
        Ok(vec![c])
    }
}

/// Batched matrix product `x (.., m, k) @ y (.., k, p)`; the batch dimensions must be equal,
/// or one operand is a plain matrix broadcast over the other's batch (weights).
pub async fn matmul(p: &mut Party, x: &ArithShare, y: &ArithShare) -> Result<ArithShare> {
    metered!(
        p,
        "matmul",
        matmul_many_impl(p, &[(x, y)])
            .await
            .map(|mut v| v.remove(0))
    )
}

/// Several matrix products in one round.
pub async fn matmul_many(
    p: &mut Party,
    pairs: &[(&ArithShare, &ArithShare)],
) -> Result<Vec<ArithShare>> {
    metered!(p, "matmul", matmul_many_impl(p, pairs).await)
}

struct MatShape {
    bx: usize,
    by: usize,
    m: usize,
    k: usize,
    p: usize,
    out: Vec<usize>,
}

fn mat_shape(x: &ArithShare, y: &ArithShare) -> Result<MatShape> {
    let (xs, ys) = (x.shape(), y.shape());
    let err = || {
        Error::shape(
            "matmul",
            "(.., m, k) by (.., k, p)",
            format!("{xs:?} by {ys:?}"),
        )
    };
    if xs.len() < 2 || ys.len() < 2 {
        return Err(err());
    }
    let (m, k) = (xs[xs.len() - 2], xs[xs.len() - 1]);
    let (k2, pp) = (ys[ys.len() - 2], ys[ys.len() - 1]);
    if k != k2 {
        return Err(err());
    }
    let (xb, yb) = (&xs[..xs.len() - 2], &ys[..ys.len() - 2]);
    let batch: Vec<usize> = if xb == yb || yb.is_empty() {
        xb.to_vec()
    } else if xb.is_empty() {
        yb.to_vec()
    } else {
        return Err(err());
    };
    let mut out = batch.clone();
    out.extend([m, pp]);
    Ok(MatShape {
        bx: xb.iter().product(),
        by: yb.iter().product(),
        m,
        k,
        p: pp,
        out,
    })
}

pub(crate) async fn matmul_many_impl(
    p: &mut Party,
    pairs: &[(&ArithShare, &ArithShare)],
) -> Result<Vec<ArithShare>> {
    let mut shapes = Vec::with_capacity(pairs.len());
    for &(x, y) in pairs {
        shapes.push(mat_shape(x, y)?);
    }
    let mut triples = Vec::with_capacity(pairs.len());
    for s in &shapes {
        triples.push(
            p.corr(&MatTriple {
                bx: s.bx,
                by: s.by,
                m: s.m,
                k: s.k,
                p: s.p,
            })
            .await?,
        );
    }
    let mut mine = Vec::new();
    for (&(x, y), t) in pairs.iter().zip(&triples) {
        mine.extend(x.data.iter().zip(&t[0]).map(|(x, a)| x.wrapping_sub(*a)));
        mine.extend(y.data.iter().zip(&t[1]).map(|(y, b)| y.wrapping_sub(*b)));
    }
    let opened = open_words(p, mine).await?;
    let id = p.id();
    let mut at = 0;
    let mut out = Vec::with_capacity(pairs.len());
    for ((&(x, y), t), s) in pairs.iter().zip(&triples).zip(&shapes) {
        let e = &opened[at..at + x.len()];
        at += x.len();
        let f = &opened[at..at + y.len()];
        at += y.len();
        let (a, b) = (&t[0], &t[1]);
        let mut z = t[2].clone();
        let batch = s.bx.max(s.by);
        let (mk, kp, mp) = (s.m * s.k, s.k * s.p, s.m * s.p);
        for i in 0..batch {
            let xi = if s.bx == 1 { 0 } else { i };
            let yi = if s.by == 1 { 0 } else { i };
            let zi = &mut z[i * mp..(i + 1) * mp];
            let ei = &e[xi * mk..(xi + 1) * mk];
            let fi = &f[yi * kp..(yi + 1) * kp];
            matmul_acc(ei, &b[yi * kp..(yi + 1) * kp], zi, s.m, s.k, s.p);
            matmul_acc(&a[xi * mk..(xi + 1) * mk], fi, zi, s.m, s.k, s.p);
            if id == 0 {
                matmul_acc(ei, fi, zi, s.m, s.k, s.p);
            }
        }
        out.push(ArithShare::from_vec(&s.out, z)?);
    }
    let f = p.fp().frac_bits;
    trunc_many_impl(p, out, f).await
}

/// One matrix product `(bx, m, k) x (by, k, p)` (a batch of 1 is broadcast).
pub fn matmul_cost(mode: TruncMode, bx: usize, by: usize, m: usize, k: usize, p: usize) -> Cost {
    let b = bx.max(by);
    sym(8 * (bx * m * k + by * k * p), 8 * b * m * p) + trunc_cost(mode, b * m * p)
}

/// Several matrix products `(bx, by, m, k, p)` in one round ([`super::arith::matmul_many`]).
pub fn matmul_batch_cost(mode: TruncMode, ops: &[(usize, usize, usize, usize, usize)]) -> Cost {
    let (mut each, mut out) = (0, 0);
    for &(bx, by, m, k, p) in ops {
        each += 8 * (bx * m * k + by * k * p);
        out += bx.max(by) * m * p;
    }
    sym(each, 8 * out) + trunc_cost(mode, out)
}

/// Rows of the cost table ([`crate::mpc::bench`]).
pub(crate) const BENCH: &[BenchCase] = &[BenchCase::new(
    "matmul",
    Dims::Mat,
    &[
        input(0, Dims::Mat, -1.0, 1.0),
        input(1, Dims::Mat, -1.0, 1.0),
    ],
    crate::program!(|p, x| matmul(p, &x[0], &x[1]).await),
)];
