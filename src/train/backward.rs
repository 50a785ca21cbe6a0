//! Backward passes of the layers in [`crate::model::layers`] and [`crate::model::attention`].
//! Each takes the forward's cache and the gradient of the output, and returns input gradients
//! (accumulating parameter gradients where a layer has parameters).

use ndarray::{s, Array1, Array2, ArrayView1, ArrayView2, ArrayViewMut1, ArrayViewMut2, Axis};

use crate::model::attention::{row_forward, HeadCache, HeadKind, RowFn, RS_EPS, TWO_QUAD_C};
use crate::model::layers::LayerNormCache;
use crate::model::Attention;

/// Backward of `y = x W + b`: adds `x^T dy` to `dw` and column sums of `dy` to `db`, returns `dx`.
pub fn linear_backward(
    x: ArrayView2<'_, f32>,
    w: ArrayView2<'_, f32>,
    dy: ArrayView2<'_, f32>,
    mut dw: ArrayViewMut2<'_, f32>,
    mut db: ArrayViewMut1<'_, f32>,
) -> Array2<f32> {
    dw += &x.t().dot(&dy);
    db += &dy.sum_axis(Axis(0));
    dy.dot(&w.t())
}

/// Backward of LayerNorm: adds to `dg`, `db`, returns `dx`.
pub fn layer_norm_backward(
    cache: &LayerNormCache,
    g: ArrayView1<'_, f32>,
    dy: ArrayView2<'_, f32>,
    mut dg: ArrayViewMut1<'_, f32>,
    mut db: ArrayViewMut1<'_, f32>,
) -> Array2<f32> {
    dg += &(&dy * &cache.xhat).sum_axis(Axis(0));
    db += &dy.sum_axis(Axis(0));
    let c = dy.ncols() as f32;
    let mut dx = &dy * &g;
    for ((mut row, xhat), is) in dx
        .axis_iter_mut(Axis(0))
        .zip(cache.xhat.axis_iter(Axis(0)))
        .zip(&cache.inv_std)
    {
        let mean_d = row.sum() / c;
        let mean_dx = row.iter().zip(xhat).map(|(a, b)| a * b).sum::<f32>() / c;
        row.zip_mut_with(&xhat, |d, &xh| *d = (*d - mean_d - xh * mean_dx) * is);
    }
    dx
}

/// Gradient of one attention-map row: given scores `s`, map `p = f(s)` and `dp`, returns
/// `ds`; for [`RowFn::Mix`] also `d alpha`.
pub fn row_backward(
    f: RowFn,
    s: ArrayView1<'_, f32>,
    p: ArrayView1<'_, f32>,
    dp: ArrayView1<'_, f32>,
) -> (Array1<f32>, f32) {
    let n = s.len() as f32;
    let dot = |a: ArrayView1<'_, f32>, b: ArrayView1<'_, f32>| a.dot(&b);
    match f {
        RowFn::Mix(alpha) => {
            let mut rs = Array1::zeros(s.len());
            row_forward(RowFn::Variant(Attention::RsAttn), s, rs.view_mut());
            let (ds_rs, _) = row_backward(RowFn::Variant(Attention::RsAttn), s, rs.view(), dp);
            let ds = ds_rs * alpha + &(&dp * ((1.0 - alpha) / n));
            let dalpha = dp
                .iter()
                .zip(rs.iter().zip(s))
                .map(|(d, (r, sj))| d * (r - sj / n))
                .sum();
            (ds, dalpha)
        }
        RowFn::Variant(v) => {
            let ds = match v {
                Attention::Softmax => {
                    let c = dot(dp, p);
                    Array1::from_iter(p.iter().zip(dp).map(|(pj, dj)| pj * (dj - c)))
                }
                Attention::Relu => {
                    Array1::from_iter(
                        s.iter()
                            .zip(dp)
                            .map(|(sj, dj)| if *sj > 0.0 { dj / n } else { 0.0 }),
                    )
                }
                Attention::Relu6 => Array1::from_iter(s.iter().zip(dp).map(|(sj, dj)| {
                    if *sj > 0.0 && *sj < 6.0 {
                        dj / n
                    } else {
                        0.0
                    }
                })),
                Attention::Square => {
                    Array1::from_iter(s.iter().zip(dp).map(|(sj, dj)| dj * 2.0 * sj / n))
                }
                Attention::ScaleAttn => dp.mapv(|d| d / n),
                Attention::TwoQuad => {
                    let z: f32 = s
                        .iter()
                        .map(|x| (x + TWO_QUAD_C) * (x + TWO_QUAD_C))
                        .sum::<f32>()
                        + RS_EPS;
                    let c = dot(dp, p);
                    Array1::from_iter(
                        s.iter()
                            .zip(dp)
                            .map(|(sj, dj)| (dj - c) / z * 2.0 * (sj + TWO_QUAD_C)),
                    )
                }
                Attention::RsAttn => {
                    let z: f32 = s.iter().map(|x| x.max(0.0)).sum::<f32>() + RS_EPS;
                    let c = dot(dp, p);
                    Array1::from_iter(s.iter().zip(dp).map(|(sj, dj)| {
                        if *sj > 0.0 {
                            (dj - c) / z
                        } else {
                            0.0
                        }
                    }))
                }
                Attention::Sparsemax => {
                    let support: Vec<bool> = p.iter().map(|x| *x > 0.0).collect();
                    let k = support.iter().filter(|b| **b).count().max(1) as f32;
                    let mean: f32 = dp
                        .iter()
                        .zip(&support)
                        .filter(|(_, s)| **s)
                        .map(|(d, _)| d)
                        .sum::<f32>()
                        / k;
                    Array1::from_iter(
                        dp.iter()
                            .zip(&support)
                            .map(|(d, s)| if *s { d - mean } else { 0.0 }),
                    )
                }
                Attention::Linformer | Attention::XNorm => unreachable!("not a row-wise variant"),
            };
            (ds, 0.0)
        }
    }
}

/// Backward of `y = x / sqrt(sum x^2 + eps)` row by row, given `y`, the norms and `dy`.
fn normalize_rows_backward(
    y: ArrayView2<'_, f32>,
    norms: ArrayView1<'_, f32>,
    dy: ArrayView2<'_, f32>,
) -> Array2<f32> {
    let mut dx = dy.to_owned();
    for ((mut d, yr), nrm) in dx
        .axis_iter_mut(Axis(0))
        .zip(y.axis_iter(Axis(0)))
        .zip(norms)
    {
        let c = d.dot(&yr);
        d.zip_mut_with(&yr, |dv, &yv| *dv = (*dv - yv * c) / nrm);
    }
    dx
}

/// Gradients of one head: of `q`, `k`, `v`, and of the layer's extras.
pub struct HeadGrads {
    /// Gradient with respect to `Q`.
    pub dq: Array2<f32>,
    /// Gradient with respect to `K`.
    pub dk: Array2<f32>,
    /// Gradient with respect to `V`.
    pub dv: Array2<f32>,
    /// Per-row `d alpha` for [`RowFn::Mix`] rows (zero elsewhere).
    pub dalpha: Array1<f32>,
    /// Gradient with respect to XNorm's `gamma` (0 for other variants).
    pub dgamma: f32,
}

/// Backward of [`crate::model::attention::head_forward`]. Adds Linformer's `dE`, `dF` into
/// `de`, `df`.
#[allow(clippy::too_many_arguments)]
pub fn head_backward(
    kind: &HeadKind,
    cache: &HeadCache,
    q: ArrayView2<'_, f32>,
    k: ArrayView2<'_, f32>,
    v: ArrayView2<'_, f32>,
    linformer_e: ArrayView2<'_, f32>,
    linformer_f: ArrayView2<'_, f32>,
    gamma: f32,
    dout: ArrayView2<'_, f32>,
    mut de: ArrayViewMut2<'_, f32>,
    mut df: ArrayViewMut2<'_, f32>,
) -> HeadGrads {
    let n = q.nrows();
    let scale = 1.0 / (q.ncols() as f32).sqrt();
    let mut dalpha = Array1::zeros(n);
    match (kind, cache) {
        (HeadKind::Rows(rows), HeadCache::Rows { s, p }) => {
            let dp = dout.dot(&v.t());
            let dv = p.t().dot(&dout);
            let mut ds = Array2::zeros(s.raw_dim());
            for (i, f) in rows.iter().enumerate() {
                let (dsi, da) = row_backward(*f, s.row(i), p.row(i), dp.row(i));
                ds.row_mut(i).assign(&dsi);
                dalpha[i] = da;
            }
            ds *= scale;
            HeadGrads {
                dq: ds.dot(&k),
                dk: ds.t().dot(&q),
                dv,
                dalpha,
                dgamma: 0.0,
            }
        }
        (HeadKind::Linformer, HeadCache::Linformer { kp, vp, p }) => {
            let dp = dout.dot(&vp.t());
            let dvp = p.t().dot(&dout);
            let mut ds = Array2::zeros(p.raw_dim());
            for i in 0..p.nrows() {
                let (dsi, _) = row_backward(
                    RowFn::Variant(Attention::Softmax),
                    p.row(i),
                    p.row(i),
                    dp.row(i),
                );
                ds.row_mut(i).assign(&dsi);
            }
            ds *= scale;
            let dq = ds.dot(kp);
            let dkp = ds.t().dot(&q);
            de += &dkp.dot(&k.t());
            df += &dvp.dot(&v.t());
            HeadGrads {
                dq,
                dk: linformer_e.t().dot(&dkp),
                dv: linformer_f.t().dot(&dvp),
                dalpha,
                dgamma: 0.0,
            }
        }
        (
            HeadKind::XNorm,
            HeadCache::XNorm {
                qn,
                q_norm,
                kvn,
                kv_norm,
            },
        ) => {
            let raw = qn.dot(kvn);
            let dgamma = (&raw * &dout).sum();
            let dqn = dout.dot(&kvn.t()) * gamma;
            let dkvn = qn.t().dot(&dout) * gamma;
            let dq = normalize_rows_backward(qn.view(), q_norm.view(), dqn.view());
            // Columns of K^T V were normalised as rows of its transpose.
            let dkv = normalize_rows_backward(kvn.t(), kv_norm.view(), dkvn.t()).reversed_axes();
            HeadGrads {
                dq,
                dk: v.dot(&dkv.t()),
                dv: k.dot(&dkv),
                dalpha,
                dgamma,
            }
        }
        _ => unreachable!("head kind and cache disagree"),
    }
}

/// Gradients of the multi-head attention core.
pub struct MultiHeadGrads {
    /// `B*n x 3C`.
    pub dqkv: Array2<f32>,
    /// `[head][row]`, summed over the batch.
    pub dalpha: Array2<f32>,
    /// `[head]`.
    pub dgamma: Array1<f32>,
}

/// Backward of [`crate::model::attention::multi_head_forward`].
#[allow(clippy::too_many_arguments)]
pub fn multi_head_backward(
    qkv: ArrayView2<'_, f32>,
    n: usize,
    kinds: &[HeadKind],
    caches: &[HeadCache],
    linformer_e: ArrayView2<'_, f32>,
    linformer_f: ArrayView2<'_, f32>,
    xnorm_gamma: ArrayView1<'_, f32>,
    dcat: ArrayView2<'_, f32>,
    mut de: ArrayViewMut2<'_, f32>,
    mut df: ArrayViewMut2<'_, f32>,
) -> MultiHeadGrads {
    let c = qkv.ncols() / 3;
    let heads = kinds.len();
    let dk = c / heads;
    let batch = qkv.nrows() / n;
    let mut dqkv = Array2::zeros(qkv.raw_dim());
    let mut dalpha = Array2::zeros((heads, n));
    let mut dgamma = Array1::zeros(heads);
    for b in 0..batch {
        let rows = b * n..(b + 1) * n;
        let seq = qkv.slice(s![rows.clone(), ..]);
        for (h, kind) in kinds.iter().enumerate() {
            let (qc, kc, vc) = (
                h * dk..(h + 1) * dk,
                c + h * dk..c + (h + 1) * dk,
                2 * c + h * dk..2 * c + (h + 1) * dk,
            );
            let g = head_backward(
                kind,
                &caches[b * heads + h],
                seq.slice(s![.., qc.clone()]),
                seq.slice(s![.., kc.clone()]),
                seq.slice(s![.., vc.clone()]),
                linformer_e,
                linformer_f,
                xnorm_gamma[h],
                dcat.slice(s![rows.clone(), h * dk..(h + 1) * dk]),
                de.view_mut(),
                df.view_mut(),
            );
            dqkv.slice_mut(s![rows.clone(), qc]).assign(&g.dq);
            dqkv.slice_mut(s![rows.clone(), kc]).assign(&g.dk);
            dqkv.slice_mut(s![rows.clone(), vc]).assign(&g.dv);
            let mut da = dalpha.row_mut(h);
            da += &g.dalpha;
            dgamma[h] += g.dgamma;
        }
    }
    MultiHeadGrads {
        dqkv,
        dalpha,
        dgamma,
    }
}
