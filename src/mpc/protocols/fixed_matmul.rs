//! Products with a fixed operand: the server's weight matrices are masked once per session and
//! every image then opens only its activations (issue #11, deliverable 3). The Beaver matrix
//! triple of [`super::matmul`] with its right factor `B` kept for the whole session: the form of
//! SecureML's "linear layers with a fixed weight" preprocessing (Mohassel and Zhang, S&P 2017,
//! section 4.1), where the masked weight `W - B` is opened once and `B` reused with fresh `A`.
//!
//! | protocol | rounds | online bytes | offline bytes |
//! |---|---|---|---|
//! | [`fix_operands`] (set-up, all weights) | 1 | `8 sum(kp)` party 1 -> party 0 | 0 |
//! | [`matmul_fixed_many`] `(b, m, k) x W(k, p)` | 1 + T | `8 sum(bmk)` each way | `8 sum(bmp)` + T |
//! | [`input_matmul_fixed`] party 0's `(b, m, k)` | 1 + T | `8bmk` party 0 -> party 1 | `8bmp` + T |
//!
//! **Set-up.** Party 1 draws `B` from its dealer seed ([`FixedMask`], role `P1Only`: party 1
//! and the dealer know it, party 0 holds nothing, no byte moves) and sends `F = W - B` to party
//! 0. Both then hold `F`; party 1 and the dealer hold `B`.
//!
//! **Each product** `X W` with `X` shared: a fresh [`FixedTriple`] `(A, C = A B)`, open
//! `E = X - A`, and `Z = E F [party 0] + E B [party 1] + A F + C` (the sum is `(E + A)(F + B)`).
//! When `X` is party 0's own input (the image's patches), `A` is party 0's alone (`P0Only`), so
//! party 0 sends `E` and party 1 sends nothing: the input's one round is the product's round
//! ([`input_matmul_fixed`]) and the patches are never shared on their own.
//!
//! **What each party receives, and why it reveals nothing** (semi-honest, the dealer colluding
//! with neither party). Party 0: `F = W - B` once, with `B` uniform and unknown to it, so `F` is
//! uniform whatever `W`; per product party 1's half of `E`, `x1 - a1` with `a1` fresh and
//! uniform from party 1's dealer seed. Party 1: per product `x0 - a0` (or the whole `X - A`),
//! with `a0` (or `A`) fresh from party 0's seed; its correction `C - c0` is masked by party 0's
//! uniform `c0`. `B` is reused but never opened again: every opening after `F` is masked by a
//! fresh `A`, so a simulator draws `F` and every `E` uniform and independent. A triple reused
//! for two products would open `X1 - A` and `X2 - A`, whose difference is `X1 - X2`: the
//! message audit (`tests/native_simulation.rs`) checks for exactly that pattern.
//!
//! Products, truncation and the input domain are those of [`super::matmul`]: the result is
//! truncated by the session's truncation protocol, exact to one ulp.

use ndarray::ArrayD;

use super::super::correlation::{CompRing, CompRole, Correlation};
use super::super::party::{Party, TruncMode};
use super::super::ring::matmul_acc;
use super::super::share::{bytes_to_words, words_to_bytes, ArithShare};
use super::cost::{sym, Cost};
use super::registry;
use super::trunc::{trunc_cost, trunc_many_impl};
use crate::{Error, Result};

/// The session mask `B` of one fixed operand: `n` words party 1 draws from its dealer seed
/// (party 0 holds zero), so the dealer knows it and no byte moves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FixedMask {
    /// Elements.
    pub n: usize,
}

impl Correlation for FixedMask {
    fn tag(&self) -> u32 {
        registry::FIXED_MASK
    }

    fn layout(&self) -> Vec<(CompRing, CompRole)> {
        vec![(CompRing::Arith(self.n), CompRole::P1Only)]
    }

    fn dependent_values(&self, _: &[Vec<u64>]) -> Result<Vec<Vec<u64>>> {
        Ok(Vec::new())
    }
}

/// A triple for one product with a fixed operand: `A` (`bx` x m x k, fresh) and
/// `C = A B` (`bx` x m x p), `B` the operand's session mask (`k` x `p`, broadcast).
#[derive(Clone, PartialEq, Eq)]
pub struct FixedTriple<'a> {
    /// Batch of the left operand.
    pub bx: usize,
    /// Rows of A.
    pub m: usize,
    /// Inner dimension.
    pub k: usize,
    /// Columns of B.
    pub p: usize,
    /// `Free` (both parties hold a share of `A`) or `P0Only` (party 0's input: `A` is its own).
    pub a_role: CompRole,
    /// `B`, known to party 1 and the dealer (the dealer computes `C` from it); empty at party 0,
    /// which never computes a dependent value.
    pub mask: &'a [u64],
}

impl std::fmt::Debug for FixedTriple<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The mask is a secret of party 1: never printed.
        f.debug_struct("FixedTriple")
            .field("bx", &self.bx)
            .field("m", &self.m)
            .field("k", &self.k)
            .field("p", &self.p)
            .field("a_role", &self.a_role)
            .finish_non_exhaustive()
    }
}

impl Correlation for FixedTriple<'_> {
    fn tag(&self) -> u32 {
        match self.a_role {
            CompRole::P0Only => registry::FIXED_INPUT_TRIPLE,
            _ => registry::FIXED_TRIPLE,
        }
    }

    fn layout(&self) -> Vec<(CompRing, CompRole)> {
        vec![
            (CompRing::Arith(self.bx * self.m * self.k), self.a_role),
            (CompRing::Arith(self.bx * self.m * self.p), CompRole::Dep),
        ]
    }

    fn dependent_values(&self, v: &[Vec<u64>]) -> Result<Vec<Vec<u64>>> {
        let (bx, m, k, p) = (self.bx, self.m, self.k, self.p);
        if self.mask.len() != k * p {
            return Err(Error::Protocol(format!(
                "fixed-operand triple: the session mask has {} words, a {k} x {p} operand needs {}",
                self.mask.len(),
                k * p
            )));
        }
        let mut c = vec![0u64; bx * m * p];
        for i in 0..bx {
            matmul_acc(
                &v[0][i * m * k..(i + 1) * m * k],
                self.mask,
                &mut c[i * m * p..(i + 1) * m * p],
                m,
                k,
                p,
            );
        }
        Ok(vec![c])
    }
}

/// A weight matrix `W` (`k` x `p`) after the session set-up: both parties hold `F = W - B`,
/// party 1 (and the dealer's run) also holds `B`.
#[derive(Clone)]
pub struct FixedOperand {
    rows: usize,
    cols: usize,
    opened: Vec<u64>,
    mask: Vec<u64>,
}

impl std::fmt::Debug for FixedOperand {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FixedOperand")
            .field("rows", &self.rows)
            .field("cols", &self.cols)
            .finish_non_exhaustive()
    }
}

impl FixedOperand {
    /// `[k, p]`.
    pub fn shape(&self) -> [usize; 2] {
        [self.rows, self.cols]
    }
}

fn matrix_dims(what: &'static str, shape: &[usize]) -> Result<(usize, usize)> {
    match *shape {
        [k, p] => Ok((k, p)),
        _ => Err(Error::shape(what, "a matrix (k, p)", format!("{shape:?}"))),
    }
}

/// The owner's value of an operand, which must be there and have the declared shape.
fn owned_value<'a>(
    op: &'static str,
    what: &str,
    shape: &[usize],
    value: Option<&'a ArrayD<f64>>,
) -> Result<&'a ArrayD<f64>> {
    let v = value.ok_or_else(|| Error::shape(op, what, "none (the owner must supply it)"))?;
    if v.shape() != shape {
        return Err(Error::shape(
            op,
            format!("the declared {shape:?}"),
            format!("{:?}", v.shape()),
        ));
    }
    Ok(v)
}

/// Masks party 1's weight matrices for the session in one round: party 1 passes
/// `Some(value)` for each, party 0 and the dealer's run `None`; all give the shapes.
pub async fn fix_operands(
    p: &mut Party,
    weights: &[(&[usize], Option<&ArrayD<f64>>)],
) -> Result<Vec<FixedOperand>> {
    metered!(p, "fix_operands", fix_operands_impl(p, weights).await)
}

async fn fix_operands_impl(
    p: &mut Party,
    weights: &[(&[usize], Option<&ArrayD<f64>>)],
) -> Result<Vec<FixedOperand>> {
    let owner = p.id() == 1 && !p.is_dealer();
    let fp = p.fp();
    let mut masks = Vec::with_capacity(weights.len());
    let mut sent = Vec::new();
    for &(shape, value) in weights {
        let (k, c) = matrix_dims("fix_operands", shape)?;
        let mask = p.corr(&FixedMask { n: k * c }).await?.remove(0);
        if owner {
            let v = owned_value("fix_operands", "party 1's weight", shape, value)?;
            for (x, b) in v.iter().zip(&mask) {
                sent.push(fp.try_encode(*x)?.wrapping_sub(*b));
            }
        }
        masks.push((k, c, mask));
    }
    let total: usize = masks.iter().map(|(k, c, _)| k * c).sum();
    let opened = if p.id() == 1 {
        if !owner {
            sent = vec![0u64; total];
        }
        p.round(Some(words_to_bytes(&sent)), None).await?;
        sent
    } else {
        let got = p.round(None, Some(8 * total)).await?.expect("payload");
        bytes_to_words(&got, total)?
    };
    let mut at = 0;
    Ok(masks
        .into_iter()
        .map(|(k, c, mask)| {
            let f = opened[at..at + k * c].to_vec();
            at += k * c;
            FixedOperand {
                rows: k,
                cols: c,
                opened: f,
                // Party 0 drew zeros for a `P1Only` component: nothing to keep.
                mask: if p.id() == 1 { mask } else { Vec::new() },
            }
        })
        .collect())
}

/// `(batch, m, k)` of `x (.., m, k)` against a `k` x `p` operand.
fn left_dims(what: &'static str, x: &[usize], w: &FixedOperand) -> Result<(usize, usize, usize)> {
    let err = || {
        Error::shape(
            what,
            format!("(.., m, {}) by ({}, {})", w.rows, w.rows, w.cols),
            format!("{x:?}"),
        )
    };
    if x.len() < 2 || x[x.len() - 1] != w.rows {
        return Err(err());
    }
    let m = x[x.len() - 2];
    Ok((x[..x.len() - 2].iter().product(), m, w.rows))
}

fn out_shape(x: &[usize], w: &FixedOperand) -> Vec<usize> {
    let mut s = x[..x.len() - 1].to_vec();
    s.push(w.cols);
    s
}

/// Adds `e F` (party 0 only: the opened operand's public part), `e B` (party 1 only) and
/// `a F` to `z`, batch by batch: `z` starts as the triple's `C`.
fn accumulate(
    id: usize,
    w: &FixedOperand,
    e: &[u64],
    a: Option<&[u64]>,
    z: &mut [u64],
    b: usize,
    m: usize,
) {
    let (k, c) = (w.rows, w.cols);
    for i in 0..b {
        let zi = &mut z[i * m * c..(i + 1) * m * c];
        let ei = &e[i * m * k..(i + 1) * m * k];
        let own = if id == 0 { &w.opened } else { &w.mask };
        matmul_acc(ei, own, zi, m, k, c);
        if let Some(a) = a {
            matmul_acc(&a[i * m * k..(i + 1) * m * k], &w.opened, zi, m, k, c);
        }
    }
}

/// Several products `x (.., m, k) @ W` with fixed operands, in one round.
pub async fn matmul_fixed_many(
    p: &mut Party,
    pairs: &[(&ArithShare, &FixedOperand)],
) -> Result<Vec<ArithShare>> {
    metered!(p, "matmul_fixed", matmul_fixed_many_impl(p, pairs).await)
}

/// One product `x (.., m, k) @ W` with a fixed operand.
pub async fn matmul_fixed(p: &mut Party, x: &ArithShare, w: &FixedOperand) -> Result<ArithShare> {
    matmul_fixed_many(p, &[(x, w)])
        .await
        .map(|mut v| v.remove(0))
}

async fn matmul_fixed_many_impl(
    p: &mut Party,
    pairs: &[(&ArithShare, &FixedOperand)],
) -> Result<Vec<ArithShare>> {
    let (pending, payload) = fixed_open(p, pairs).await?;
    let got = p.exchange(payload).await?;
    let out = fixed_close(p.id(), pending, &got)?;
    let f = p.fp().frac_bits;
    trunc_many_impl(p, out, f).await
}

/// One product of a [`fixed_open`]: its operand, output shape, `(batch, m)` and triple.
struct PendingFixed<'a> {
    w: &'a FixedOperand,
    shape: Vec<usize>,
    batch: usize,
    m: usize,
    triple: Vec<Vec<u64>>,
}

/// The products of a [`fixed_open`] between the opening and the peer's answer.
pub(crate) struct FixedPending<'a> {
    products: Vec<PendingFixed<'a>>,
    mine: Vec<u64>,
}

/// First half of [`matmul_fixed_many`]: fetches a fresh [`FixedTriple`] per product and returns
/// this party's `x - a` as the round's payload, so that a caller can send it in the same message
/// as another protocol's opening (LayerNorm's squares: [`super::layer_norm::layer_norm_linear`]).
pub(crate) async fn fixed_open<'a>(
    p: &mut Party,
    pairs: &[(&ArithShare, &'a FixedOperand)],
) -> Result<(FixedPending<'a>, Vec<u8>)> {
    let mut products = Vec::with_capacity(pairs.len());
    let mut mine = Vec::new();
    for &(x, w) in pairs {
        let (b, m, k) = left_dims("matmul_fixed", x.shape(), w)?;
        let req = FixedTriple {
            bx: b,
            m,
            k,
            p: w.cols,
            a_role: CompRole::Free,
            mask: &w.mask,
        };
        let t = p.corr(&req).await?;
        mine.extend(x.data.iter().zip(&t[0]).map(|(x, a)| x.wrapping_sub(*a)));
        products.push(PendingFixed {
            w,
            shape: out_shape(x.shape(), w),
            batch: b,
            m,
            triple: t,
        });
    }
    let payload = words_to_bytes(&mine);
    Ok((FixedPending { products, mine }, payload))
}

/// Second half of [`matmul_fixed_many`], from the peer's `x - a`: the products at scale `2F`
/// (untruncated).
pub(crate) fn fixed_close(
    id: usize,
    pending: FixedPending<'_>,
    got: &[u8],
) -> Result<Vec<ArithShare>> {
    let FixedPending { products, mine } = pending;
    let other = bytes_to_words(got, mine.len())?;
    let mut at = 0;
    let mut out = Vec::with_capacity(products.len());
    for PendingFixed {
        w,
        shape,
        batch,
        m,
        triple: mut t,
    } in products
    {
        let n = t[0].len();
        let e: Vec<u64> = mine[at..at + n]
            .iter()
            .zip(&other[at..at + n])
            .map(|(a, b)| a.wrapping_add(*b))
            .collect();
        at += n;
        let mut z = t.remove(1);
        accumulate(id, w, &e, Some(&t[0]), &mut z, batch, m);
        out.push(ArithShare::from_vec(&shape, z)?);
    }
    Ok(out)
}

/// Party 0's private input `x` (shape `shape`, `(.., m, k)`) times a fixed operand, in the one
/// round that shares the input: party 0 passes `Some(x)`, party 1 and the dealer's run `None`.
/// `x` is never shared on its own; only the product is.
pub async fn input_matmul_fixed(
    p: &mut Party,
    x: Option<&ArrayD<f64>>,
    shape: &[usize],
    w: &FixedOperand,
) -> Result<ArithShare> {
    metered!(
        p,
        "input_matmul_fixed",
        input_matmul_fixed_impl(p, x, shape, w).await
    )
}

async fn input_matmul_fixed_impl(
    p: &mut Party,
    x: Option<&ArrayD<f64>>,
    shape: &[usize],
    w: &FixedOperand,
) -> Result<ArithShare> {
    let (b, m, k) = left_dims("input_matmul_fixed", shape, w)?;
    let n = b * m * k;
    let encoded = if p.id() == 0 {
        let v = owned_value("input_matmul_fixed", "party 0's input", shape, x)?;
        let fp = p.fp();
        v.iter()
            .map(|&x| fp.try_encode(x))
            .collect::<Result<Vec<u64>>>()?
    } else {
        Vec::new()
    };
    let req = FixedTriple {
        bx: b,
        m,
        k,
        p: w.cols,
        a_role: CompRole::P0Only,
        mask: &w.mask,
    };
    let mut t = p.corr(&req).await?;
    let mut z = t.remove(1);
    if p.id() == 0 {
        let e: Vec<u64> = encoded
            .iter()
            .zip(&t[0])
            .map(|(x, a)| x.wrapping_sub(*a))
            .collect();
        p.round(Some(words_to_bytes(&e)), None).await?;
        accumulate(0, w, &e, Some(&t[0]), &mut z, b, m);
    } else {
        let got = p.round(None, Some(8 * n)).await?.expect("payload");
        let e = bytes_to_words(&got, n)?;
        // Party 1's share of `A` is zero: only `e B`.
        accumulate(1, w, &e, None, &mut z, b, m);
    }
    let out = ArithShare::from_vec(&out_shape(shape, w), z)?;
    let f = p.fp().frac_bits;
    trunc_many_impl(p, vec![out], f)
        .await
        .map(|mut v| v.remove(0))
}

/// The session set-up of fixed operands with `words` elements in all.
pub fn fix_operands_cost(words: usize) -> Cost {
    Cost {
        rounds: 1,
        p1_to_p0: 8 * words as u64,
        ..Cost::default()
    }
}

/// Several products `(b, m, k, p)` with fixed operands in one round.
pub fn matmul_fixed_cost(mode: TruncMode, ops: &[(usize, usize, usize, usize)]) -> Cost {
    let (mut each, mut out) = (0, 0);
    for &(b, m, k, p) in ops {
        each += 8 * b * m * k;
        out += b * m * p;
    }
    sym(each, 8 * out) + trunc_cost(mode, out)
}

/// Party 0's `(b, m, k)` input times a `k` x `p` fixed operand.
pub fn input_matmul_fixed_cost(mode: TruncMode, b: usize, m: usize, k: usize, p: usize) -> Cost {
    Cost {
        rounds: 1,
        p0_to_p1: 8 * (b * m * k) as u64,
        offline: 8 * (b * m * p) as u64,
        ..Cost::default()
    } + trunc_cost(mode, b * m * p)
}
