//! Whole-head attention that is not a row map, on shares: ScaleAttn with the paper's
//! re-association (section 3.1), Linformer and XNorm. Inputs are batched over heads: `q, k, v`
//! of shape `(h, n, d)` (any leading batch dims). Row-wise variants (`P = f(S)`) are
//! [`super::attention::attention_map`]; `S = Q K^T / sqrt(d)` and `P V` are matrix products.

use crate::mpc::bench::{input, BenchCase, Dims};
use crate::mpc::party::{Party, TruncMode};
use crate::mpc::protocols::beaver::{mul_cost, mul_many_impl};
use crate::mpc::protocols::cost::Cost;
use crate::mpc::protocols::l2_normalize::{l2_normalize_cost, l2_normalize_impl};
use crate::mpc::protocols::matmul::{matmul_batch_cost, matmul_cost, matmul_many_impl};
use crate::mpc::protocols::metered;
use crate::mpc::protocols::softmax::{softmax, softmax_cost};
use crate::mpc::protocols::trunc::{trunc_cost, trunc_many_impl};
use crate::mpc::share::ArithShare;
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
            let steps = ScaleAttnSteps::new(q.clone(), k, v.clone(), scale)?;
            let (a, b) = steps.first();
            let first = matmul_many_impl(p, &[(a, b)]).await?.remove(0);
            let scaled = steps.scaled(p, first);
            let f = p.fp().frac_bits;
            let scaled = trunc_many_impl(p, vec![scaled], f).await?.remove(0);
            let (a, b) = steps.second(scaled);
            Ok(matmul_many_impl(p, &[(&a, &b)]).await?.remove(0))
        }
        .await
    )
}

/// [`scale_attn`] cut at its rounds, so that a layer's row-map heads can share them: the
/// private forward runs the first product beside their `Q K^T`, the scaling's truncation beside
/// theirs and the second product beside their `P V` (two rounds fewer per mixed layer).
pub(crate) struct ScaleAttnSteps {
    q: ArithShare,
    kt: ArithShare,
    v: ArithShare,
    scale: f64,
    reassociates: bool,
}

impl ScaleAttnSteps {
    /// The steps for `(h, n, d)` queries and keys and `(h, n, dv)` values.
    pub(crate) fn new(
        q: ArithShare,
        k: &ArithShare,
        v: ArithShare,
        scale: f64,
    ) -> Result<ScaleAttnSteps> {
        let (n, d) = dims(&q)?;
        let (_, dv) = dims(&v)?;
        Ok(ScaleAttnSteps {
            q,
            kt: k.transpose_last2()?,
            v,
            scale,
            reassociates: scale_attn_reassociates(n, d, dv),
        })
    }

    /// The first product's operands: `K^T, V` when re-associated, else `Q, K^T`.
    pub(crate) fn first(&self) -> (&ArithShare, &ArithShare) {
        if self.reassociates {
            (&self.kt, &self.v)
        } else {
            (&self.q, &self.kt)
        }
    }

    /// The first product times the fixed-point scale, still to be truncated by `F` bits.
    pub(crate) fn scaled(&self, p: &Party, first: ArithShare) -> ArithShare {
        first.mul_int(p.fp().encode(self.scale))
    }

    /// The second product's operands from the truncated, scaled first product.
    pub(crate) fn second(self, scaled: ArithShare) -> (ArithShare, ArithShare) {
        if self.reassociates {
            (self.q, scaled)
        } else {
            (scaled, self.v)
        }
    }
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

/// ScaleAttn on `(h, n, d)` inputs with values of width `dv`.
pub fn scale_attn_cost(mode: TruncMode, h: usize, n: usize, d: usize, dv: usize) -> Cost {
    if scale_attn_reassociates(n, d, dv) {
        matmul_cost(mode, h, h, d, n, dv)
            + trunc_cost(mode, h * d * dv)
            + matmul_cost(mode, h, h, n, d, dv)
    } else {
        matmul_cost(mode, h, h, n, d, n)
            + trunc_cost(mode, h * n * n)
            + matmul_cost(mode, h, h, n, n, dv)
    }
}

/// Linformer on `(h, n, d)` inputs with `(kl, n)` projections.
pub fn linformer_cost(mode: TruncMode, h: usize, n: usize, d: usize, kl: usize) -> Cost {
    matmul_batch_cost(mode, &[(1, h, kl, n, d), (1, h, kl, n, d)])
        + matmul_cost(mode, h, h, n, d, kl)
        + trunc_cost(mode, h * n * kl)
        + softmax_cost(mode, h * n, kl)
        + matmul_cost(mode, h, h, n, kl, d)
}

/// XNorm attention on `(h, n, d)` inputs.
pub fn xnorm_cost(mode: TruncMode, h: usize, n: usize, d: usize) -> Cost {
    matmul_cost(mode, h, h, d, n, d)
        + l2_normalize_cost(mode, h * n + h * d, d)
        + matmul_cost(mode, h, h, n, d, d)
        + mul_cost(mode, h * n * d, h)
}

/// Rows of the cost table ([`super::bench`]): one head of `L` tokens and width `L / 4`.
pub(crate) const BENCH: &[BenchCase] = &[
    BenchCase::new(
        "scale_attn",
        Dims::Head,
        &[
            input(0, Dims::Head, -1.0, 1.0),
            input(0, Dims::Head, -1.0, 1.0),
            input(0, Dims::Head, -1.0, 1.0),
        ],
        crate::program!(|p, x| {
            let (n, d) = (x[0].shape()[1] as f64, x[0].shape()[2] as f64);
            scale_attn(p, &x[0], &x[1], &x[2], 1.0 / (n * d.sqrt())).await
        }),
    ),
    BenchCase::new(
        "xnorm attention",
        Dims::Head,
        &[
            input(0, Dims::Head, -1.0, 1.0),
            input(0, Dims::Head, -1.0, 1.0),
            input(0, Dims::Head, -1.0, 1.0),
            input(1, Dims::One, 0.5, 1.5),
        ],
        crate::program!(|p, x| xnorm(p, &x[0], &x[1], &x[2], &x[3], 1e-6).await),
    ),
    BenchCase::new(
        "linformer attention",
        Dims::Head,
        &[
            input(0, Dims::Head, -1.0, 1.0),
            input(0, Dims::Head, -1.0, 1.0),
            input(0, Dims::Head, -1.0, 1.0),
            input(1, Dims::Proj, -0.3, 0.3),
            input(1, Dims::Proj, -0.3, 0.3),
        ],
        crate::program!(|p, x| {
            let d = x[0].shape()[2] as f64;
            linformer(p, &x[0], &x[1], &x[2], &x[3], &x[4], 1.0 / d.sqrt()).await
        }),
    ),
];
