//! Whole-head attention building blocks that are not row maps: ScaleAttn with the paper's
//! re-association, Linformer and XNorm. Inputs are batched over heads: `q, k, v` of shape
//! `(h, n, d)` (any leading batch dims). Row-wise variants (`P = f(S)`) are mapped
//! onto [`super::approx`] by `secure::attention::attention_map`; `S = Q K^T / sqrt(d)` and `P V` are [`super::arith::matmul`]s.

use super::super::party::Party;
use super::super::share::ArithShare;
use super::approx::{l2_normalize_impl, softmax};
use super::arith::{matmul_many_impl, metered, mul_many_impl, trunc_many_impl};
use crate::{Error, Result};

async fn scale1(p: &mut Party, v: ArithShare, c: f64) -> Result<ArithShare> {
    let fp = p.fp();
    Ok(
        trunc_many_impl(p, vec![v.mul_int(fp.encode(c))], fp.frac_bits)
            .await?
            .remove(0),
    )
}

fn dims(x: &ArithShare) -> Result<(usize, usize)> {
    let s = x.shape();
    if s.len() < 2 {
        return Err(Error::shape("attention", "(.., n, d)", format!("{s:?}")));
    }
    Ok((s[s.len() - 2], s[s.len() - 1]))
}

/// Whether `scale_attn` re-associates as `Q (K^T V)` (cheaper when `d * dv < n * n`, counting
/// the opened operands of the second product).
pub fn scale_attn_reassociates(n: usize, d: usize, dv: usize) -> bool {
    // Q (K^T V): opens K^T, V then Q, KV: 2 n d + n dv + d dv words per head.
    // (Q K^T) V: opens Q, K^T then S, V: 2 n d + n n + n dv words per head.
    d * dv < n * n
}

/// ScaleAttn: `scale * Q K^T V` computed as `Q ((scale K^T V))` when cheaper (section 3 of the
/// paper, `1/n` folded into `scale` by the caller: the model uses `scale = 1 / (n sqrt(d))`).
/// 2 rounds (+ T for each product and the scaling).
pub async fn scale_attn(
    p: &mut Party,
    q: &ArithShare,
    k: &ArithShare,
    v: &ArithShare,
    scale: f64,
) -> Result<ArithShare> {
    metered!(
        p,
        "scale_attn",
        async {
            let (n, d) = dims(q)?;
            let (_, dv) = dims(v)?;
            let kt = k.transpose_last2()?;
            if scale_attn_reassociates(n, d, dv) {
                let kv = matmul_many_impl(p, &[(&kt, v)]).await?.remove(0);
                let kv = scale1(p, kv, scale).await?;
                Ok(matmul_many_impl(p, &[(q, &kv)]).await?.remove(0))
            } else {
                let s = matmul_many_impl(p, &[(q, &kt)]).await?.remove(0);
                let s = scale1(p, s, scale).await?;
                Ok(matmul_many_impl(p, &[(&s, v)]).await?.remove(0))
            }
        }
        .await
    )
}

/// Linformer: `softmax(Q (E K)^T * scale) (F V)` with shared `E, F` of shape `(kl, n)` (one
/// round for both projections).
pub async fn linformer(
    p: &mut Party,
    q: &ArithShare,
    k: &ArithShare,
    v: &ArithShare,
    e: &ArithShare,
    f: &ArithShare,
    scale: f64,
) -> Result<ArithShare> {
    metered!(
        p,
        "linformer",
        async {
            let proj = matmul_many_impl(p, &[(e, k), (f, v)]).await?;
            let ekt = proj[0].transpose_last2()?;
            let s = matmul_many_impl(p, &[(q, &ekt)]).await?.remove(0);
            let s = scale1(p, s, scale).await?;
            let pm = softmax(p, &s).await?;
            Ok(matmul_many_impl(p, &[(&pm, &proj[1])]).await?.remove(0))
        }
        .await
    )
}

/// XNorm (UFO-ViT) as the model computes it: `gamma_h * xnorm_r(Q) xnorm_c(K^T V)`, rows of `Q`
/// and columns of `K^T V` scaled to unit L2 norm (`x / sqrt(sum x^2 + eps)`) in one batched
/// normalisation; `gamma` of shape `(h,)` broadcast per head (3-D inputs `(h, n, d)`).
pub async fn xnorm(
    p: &mut Party,
    q: &ArithShare,
    k: &ArithShare,
    v: &ArithShare,
    gamma: &ArithShare,
    eps: f64,
) -> Result<ArithShare> {
    metered!(
        p,
        "xnorm",
        async {
            if q.shape().len() != 3 || k.shape() != q.shape() || v.shape() != q.shape() {
                return Err(Error::shape(
                    "xnorm",
                    "equal (h, n, d) inputs",
                    format!("{:?} {:?} {:?}", q.shape(), k.shape(), v.shape()),
                ));
            }
            let (h, n, d) = (q.shape()[0], q.shape()[1], q.shape()[2]);
            let kv = matmul_many_impl(p, &[(&k.transpose_last2()?, v)])
                .await?
                .remove(0);
            let kvt = kv.transpose_last2()?; // rows = columns of K^T V
            let rows =
                ArithShare::concat(0, &[&q.reshape(&[h * n, d])?, &kvt.reshape(&[h * d, d])?])?;
            let normed = l2_normalize_impl(p, &rows, eps).await?;
            let qn = normed.slice_axis(0, 0, h * n)?.reshape(&[h, n, d])?;
            let kvn = normed
                .slice_axis(0, h * n, h * n + h * d)?
                .reshape(&[h, d, d])?
                .transpose_last2()?;
            let out = matmul_many_impl(p, &[(&qn, &kvn)]).await?.remove(0);
            let g = gamma.reshape(&[h, 1, 1])?;
            Ok(mul_many_impl(p, &[(&out, &g)], true).await?.remove(0))
        }
        .await
    )
}
