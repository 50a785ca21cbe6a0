//! Arithmetic protocols: input sharing, reveal, local linear operations, truncation, and Beaver
//! multiplication (element-wise, squares, batched matrix products).
//!
//! Costs below are for `n` elements, "each way" meaning each party sends that many payload
//! bytes (the joint cost of a symmetric round is twice that). `T(n)` denotes the truncation of
//! `n` elements: 0 rounds in [`TruncMode::Local`], 1 round / `8n` bytes each way / `16n` bytes
//! offline in [`TruncMode::Exact`]. The exact formulas are in [`super::cost`] and asserted by
//! the tests.
//!
//! | protocol | rounds | online bytes | offline bytes |
//! |---|---|---|---|
//! | [`share_input`] by party 0 | 1 | `8n` party 0 -> party 1 | 0 |
//! | [`share_input`] by party 1 | 0 | 0 | `8n` |
//! | [`reveal`] | 1 | `8n` each way | 0 |
//! | [`reveal_to`] | 1 | `8n` one way | 0 |
//! | [`trunc`] | T | T | T |
//! | [`mul`] (`y` of `ny` elements broadcast to `x`) | 1 + T | `8(n + ny)` each way | `8n` + T |
//! | [`square`] | 1 + T | `8n` each way | `8n` + T |
//! | [`matmul`] `(b,m,k) x (b,k,p)` | 1 + T | `8(bmk + bkp)` each way | `8bmp` + T |
//!
//! Multiplication (Beaver, CRYPTO 1991): with a triple `c = ab`, the parties open `e = x - a`
//! and `f = y - b` and set `z = ef [party 0] + e b + a f + c`, which is `xy` and reveals only
//! the uniformly masked `e, f`. Batched calls ([`mul_many`], [`matmul_many`]) open all their
//! operands in one round.

use ndarray::ArrayD;

use super::super::dealer::CorrRequest;
use super::super::party::{Party, TruncMode};
use super::super::ring::{matmul_acc, trunc_share_local};
use super::super::share::{bytes_to_words, flatten_all, unflatten_all, words_to_bytes, ArithShare};
use crate::{Error, Result};

macro_rules! metered {
    ($p:ident, $name:literal, $e:expr) => {{
        $p.meter.begin($name);
        let r = $e;
        $p.meter.end();
        r
    }};
}
pub(crate) use metered;

/// Shares a fixed-point input owned by party `owner`: the owner passes `Some(value)`, the
/// other party (and the dealer's run) `None`; both give the shape.
///
/// Party 0 masks with its private PRG and sends `x - r` (1 round, `8n` bytes); party 1 adds its
/// input to a dealer zero-sharing, whose party-1 half the dealer sends offline (0 rounds online,
/// `8n` bytes offline) - the form used for model weights.
pub async fn share_input(
    p: &mut Party,
    owner: usize,
    value: Option<&ArrayD<f64>>,
    shape: &[usize],
) -> Result<ArithShare> {
    let enc = match value {
        Some(v) => {
            let fp = p.fp();
            let mut out = Vec::with_capacity(v.len());
            for &x in v.iter() {
                out.push(fp.try_encode(x)?);
            }
            Some(ArrayD::from_shape_vec(v.raw_dim(), out).expect("same length"))
        }
        None => None,
    };
    metered!(
        p,
        "share_input",
        share_input_ring_impl(p, owner, enc.as_ref(), shape).await
    )
}

/// [`share_input`] for values already encoded in the ring.
pub async fn share_input_ring(
    p: &mut Party,
    owner: usize,
    value: Option<&ArrayD<u64>>,
    shape: &[usize],
) -> Result<ArithShare> {
    metered!(
        p,
        "share_input",
        share_input_ring_impl(p, owner, value, shape).await
    )
}

async fn share_input_ring_impl(
    p: &mut Party,
    owner: usize,
    value: Option<&ArrayD<u64>>,
    shape: &[usize],
) -> Result<ArithShare> {
    if owner > 1 {
        return Err(Error::Config(format!(
            "input owner must be 0 or 1, got {owner}"
        )));
    }
    let n: usize = shape.iter().product();
    let mine = p.id() == owner && !p.is_dealer();
    let x: Vec<u64> = if mine {
        let v = value.ok_or_else(|| {
            Error::shape(
                "share_input",
                "the owner's input",
                "none (the owner must supply it)",
            )
        })?;
        if v.shape() != shape {
            return Err(Error::shape(
                "share_input",
                format!("the declared {shape:?}"),
                format!("{:?}", v.shape()),
            ));
        }
        v.iter().copied().collect()
    } else {
        vec![0u64; n]
    };
    if owner == 0 {
        if p.id() == 0 {
            let r = p.local_words(n)?;
            let masked: Vec<u64> = x.iter().zip(&r).map(|(x, r)| x.wrapping_sub(*r)).collect();
            p.round(Some(words_to_bytes(&masked)), None).await?;
            ArithShare::from_vec(shape, r)
        } else {
            let got = p.round(None, Some(8 * n)).await?.expect("payload");
            ArithShare::from_vec(shape, bytes_to_words(&got, n)?)
        }
    } else {
        let parts = p.corr(CorrRequest::InputMask { n }).await?;
        let s: Vec<u64> = if p.id() == 1 {
            x.iter()
                .zip(&parts[0])
                .map(|(x, m)| x.wrapping_add(*m))
                .collect()
        } else {
            parts[0].clone()
        };
        ArithShare::from_vec(shape, s)
    }
}

/// Opens `x` to both parties (ring elements). 1 round, `8n` bytes each way.
pub async fn reveal_ring(p: &mut Party, x: &ArithShare) -> Result<ArrayD<u64>> {
    metered!(
        p,
        "reveal",
        async {
            let got = p.exchange(words_to_bytes(&x.to_vec())).await?;
            let other = bytes_to_words(&got, x.len())?;
            let v: Vec<u64> = x
                .data
                .iter()
                .zip(&other)
                .map(|(a, b)| a.wrapping_add(*b))
                .collect();
            Ok(ArrayD::from_shape_vec(x.data.raw_dim(), v).expect("same length"))
        }
        .await
    )
}

/// Opens `x` to both parties as fixed-point numbers.
pub async fn reveal(p: &mut Party, x: &ArithShare) -> Result<ArrayD<f64>> {
    let fp = p.fp();
    Ok(fp.decode_array(&reveal_ring(p, x).await?))
}

/// Opens `x` to party `to` only (`Some` there, `None` at the other party). 1 round, `8n` bytes
/// one way.
pub async fn reveal_to(p: &mut Party, x: &ArithShare, to: usize) -> Result<Option<ArrayD<f64>>> {
    if to > 1 {
        return Err(Error::Config(format!("reveal to party {to}")));
    }
    let fp = p.fp();
    metered!(
        p,
        "reveal_to",
        async {
            if p.id() == to {
                let got = p.round(None, Some(8 * x.len())).await?.expect("payload");
                let other = bytes_to_words(&got, x.len())?;
                let v: Vec<u64> = x
                    .data
                    .iter()
                    .zip(&other)
                    .map(|(a, b)| a.wrapping_add(*b))
                    .collect();
                let a = ArrayD::from_shape_vec(x.data.raw_dim(), v).expect("same length");
                Ok(Some(fp.decode_array(&a)))
            } else {
                p.round(Some(words_to_bytes(&x.to_vec())), None).await?;
                Ok(None)
            }
        }
        .await
    )
}

/// `x + c` for a public tensor `c` (broadcast). Local.
pub fn add_public(p: &Party, x: &ArithShare, c: &ArrayD<f64>) -> Result<ArithShare> {
    x.add_public_ring(&p.fp().encode_array(c), p.id())
}

/// `x + c` for a public scalar. Local.
pub fn add_const(p: &Party, x: &ArithShare, c: f64) -> ArithShare {
    x.add_scalar_ring(p.fp().encode(c), p.id())
}

/// Element-wise `x * c` for a public tensor `c` (broadcast), truncated. Local in
/// [`TruncMode::Local`] (T otherwise).
pub async fn mul_public(p: &mut Party, x: &ArithShare, c: &ArrayD<f64>) -> Result<ArithShare> {
    let enc = p.fp().encode_array(c);
    let prod = x.mul_public_ring(&enc)?;
    let f = p.fp().frac_bits;
    metered!(
        p,
        "mul_public",
        trunc_many_impl(p, vec![prod], f)
            .await
            .map(|mut v| v.remove(0))
    )
}

/// `x * c` for a public scalar, truncated (see [`mul_public`]).
pub async fn scale(p: &mut Party, x: &ArithShare, c: f64) -> Result<ArithShare> {
    let prod = x.mul_int(p.fp().encode(c));
    let f = p.fp().frac_bits;
    metered!(
        p,
        "scale",
        trunc_many_impl(p, vec![prod], f)
            .await
            .map(|mut v| v.remove(0))
    )
}

/// Divides by `2^bits` (rounding), through the session's truncation protocol.
pub async fn trunc(p: &mut Party, x: &ArithShare, bits: u32) -> Result<ArithShare> {
    metered!(
        p,
        "trunc",
        trunc_many_impl(p, vec![x.clone()], bits)
            .await
            .map(|mut v| v.remove(0))
    )
}

/// Truncates several tensors by `bits` in one round (or none in local mode).
pub async fn trunc_many(p: &mut Party, xs: Vec<ArithShare>, bits: u32) -> Result<Vec<ArithShare>> {
    metered!(p, "trunc", trunc_many_impl(p, xs, bits).await)
}

pub(crate) async fn trunc_many_impl(
    p: &mut Party,
    xs: Vec<ArithShare>,
    bits: u32,
) -> Result<Vec<ArithShare>> {
    match trunc_open(p, xs, bits).await? {
        TruncStep::Done(out) => Ok(out),
        TruncStep::Open(pending, payload) => {
            let got = p.exchange(payload).await?;
            trunc_close(p, pending, &got)
        }
    }
}

/// Either the truncated values (local mode, nothing to truncate) or the round the exact
/// protocol still needs: its pending state and this party's payload.
pub(crate) enum TruncStep {
    Done(Vec<ArithShare>),
    Open(TruncPending, Vec<u8>),
}

/// The state of an exact truncation between its opening and the peer's answer.
pub(crate) struct TruncPending {
    shapes: Vec<Vec<usize>>,
    bits: u32,
    c_mine: Vec<u64>,
    r_msb: Vec<u64>,
    r_mid: Vec<u64>,
}

/// First half of [`trunc_many_impl`]: local truncation finishes here; exact truncation fetches
/// its correlation and returns the masked values to open.
pub(crate) async fn trunc_open(p: &mut Party, xs: Vec<ArithShare>, bits: u32) -> Result<TruncStep> {
    if bits == 0 || xs.iter().all(|x| x.is_empty()) {
        return Ok(TruncStep::Done(xs));
    }
    if bits >= 62 {
        return Err(Error::Config(format!("cannot truncate by {bits} bits")));
    }
    let id = p.id();
    match p.config().trunc {
        TruncMode::Local => Ok(TruncStep::Done(
            xs.into_iter()
                .map(|x| ArithShare::new(x.data.mapv(|v| trunc_share_local(v, bits, id))))
                .collect(),
        )),
        TruncMode::Exact => {
            let shapes: Vec<Vec<usize>> = xs.iter().map(|x| x.shape().to_vec()).collect();
            let refs: Vec<&ArithShare> = xs.iter().collect();
            let flat = flatten_all(&refs);
            let n = flat.len();
            let parts = p.corr(CorrRequest::TruncPair { n, bits }).await?;
            let [r, r_msb, r_mid]: [Vec<u64>; 3] = parts
                .try_into()
                .map_err(|_| Error::Protocol("a truncation pair has three parts".into()))?;
            // b = x + 2^62 + 2^(bits-1) has msb 0 for |x| < 2^62; open c = b + r.
            let offset = (1u64 << 62).wrapping_add(1u64 << (bits - 1));
            let c_mine: Vec<u64> = flat
                .iter()
                .zip(&r)
                .map(|(x, r)| {
                    let b = if id == 0 { x.wrapping_add(offset) } else { *x };
                    b.wrapping_add(*r)
                })
                .collect();
            let payload = words_to_bytes(&c_mine);
            let pending = TruncPending {
                shapes,
                bits,
                c_mine,
                r_msb,
                r_mid,
            };
            Ok(TruncStep::Open(pending, payload))
        }
    }
}

/// Second half of [`trunc_many_impl`] in exact mode, from the peer's payload.
pub(crate) fn trunc_close(p: &Party, t: TruncPending, got: &[u8]) -> Result<Vec<ArithShare>> {
    let id = p.id();
    let n = t.c_mine.len();
    let bits = t.bits;
    let c_other = bytes_to_words(got, n)?;
    let out: Vec<u64> = (0..n)
        .map(|i| {
            let c = t.c_mine[i].wrapping_add(c_other[i]);
            let c_msb = c >> 63;
            let c_mid = (c << 1) >> (bits + 1);
            // carry of the low 63 bits = msb(c) xor msb(r), arithmetically.
            let mut carry = t.r_msb[i].wrapping_mul(1u64.wrapping_sub(2 * c_msb));
            if id == 0 {
                carry = carry.wrapping_add(c_msb);
            }
            let mut y = carry
                .wrapping_mul(1u64 << (63 - bits))
                .wrapping_sub(t.r_mid[i]);
            if id == 0 {
                y = y.wrapping_add(c_mid).wrapping_sub(1u64 << (62 - bits));
            }
            y
        })
        .collect();
    unflatten_all(&out, &t.shapes)
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
            CorrRequest::Square { n: x.len() }
        } else {
            CorrRequest::Triple {
                x: x.shape().to_vec(),
                y: y.shape().to_vec(),
            }
        };
        triples.push(p.corr(req).await?);
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
            ndarray::Zip::from(&mut z)
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
            ndarray::Zip::from(&mut z)
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
            p.corr(CorrRequest::MatTriple {
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
    let got = p.exchange(words_to_bytes(&mine)).await?;
    let other = bytes_to_words(&got, mine.len())?;
    let opened: Vec<u64> = mine
        .iter()
        .zip(&other)
        .map(|(a, b)| a.wrapping_add(*b))
        .collect();
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
