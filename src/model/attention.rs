//! Multi-head attention with every variant of the paper's Table 2 (section 3, Motivation 2).
//!
//! Per head, `Q, K, V` are `n x d_k` and `S = Q K^T / sqrt(d_k)`. Row-wise variants compute an
//! attention map `P = f(S)` row by row and output `P V`:
//!
//! | variant | row map `f(s)` |
//! |---|---|
//! | Softmax | `exp(s_j - max s) / sum_k exp(s_k - max s)` |
//! | ReLU | `ReLU(s_j) / n` |
//! | ReLU6 | `min(max(s_j, 0), 6) / n` |
//! | Sparsemax | `max(s_j - tau, 0)`, `tau` such that the row sums to 1 |
//! | Square | `s_j^2 / n` |
//! | 2Quad | `(s_j + c)^2 / (sum_k (s_k + c)^2 + eps)`, `c = 5` |
//! | ScaleAttn | `s_j / n`, i.e. `Q K^T V / (n sqrt(d_k))` (the `1/sqrt(d_k)` of section 4.3 kept) |
//! | RSAttn | `ReLU(s_j) / (sum_k ReLU(s_k) + eps)`, `eps = 1e-8` |
//!
//! The `1/n` on ReLU, ReLU6 and Square keeps un-normalised maps in the range of a normalised
//! one; the paper's Appendix C leaves that scale implicit. Two variants mix rows:
//!
//! * Linformer: `softmax(Q (E K)^T / sqrt(d_k)) (F V)` with learned `E, F` of shape `k x n`
//!   shared by the heads of a layer;
//! * XNorm (UFO-ViT): `gamma_h * xnorm_r(Q) xnorm_c(K^T V)` where `xnorm_r` scales each row of
//!   `Q` and `xnorm_c` each column of the `d_k x d_k` matrix `K^T V` to unit L2 norm
//!   (`x / sqrt(sum x^2 + eps)`), `gamma_h` learned per head.
//!
//! The search (section 4.3) uses [`RowFn::Mix`]: `alpha * RSAttn + (1 - alpha) * ScaleAttn`.

use ndarray::{s, Array1, Array2, ArrayView1, ArrayView2, ArrayViewMut1, Axis};

use super::Attention;

/// RSAttn's epsilon (section 5.1).
pub const RS_EPS: f32 = 1e-8;
/// The shift `c` of 2Quad attention (MPCFormer).
pub const TWO_QUAD_C: f32 = 5.0;
/// Epsilon inside XNorm's square root.
pub const XNORM_EPS: f32 = 1e-6;

/// What one row of an attention map computes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RowFn {
    /// A fixed row-wise variant.
    Variant(Attention),
    /// The search's relaxation: `alpha * RSAttn(s) + (1 - alpha) * ScaleAttn(s)`.
    Mix(f32),
}

/// How one head computes attention.
#[derive(Clone, Debug, PartialEq)]
pub enum HeadKind {
    /// `P = f(S)` with one [`RowFn`] per row (all equal for a head-wise plan).
    Rows(Vec<RowFn>),
    /// Linformer (low-rank keys and values).
    Linformer,
    /// XNorm (linear, normalised).
    XNorm,
}

impl HeadKind {
    /// The head kind for a whole-head variant over `n` rows.
    pub fn uniform(variant: Attention, n: usize) -> Self {
        match variant {
            Attention::Linformer => HeadKind::Linformer,
            Attention::XNorm => HeadKind::XNorm,
            v => HeadKind::Rows(vec![RowFn::Variant(v); n]),
        }
    }
}

/// Applies a row-wise variant to one row `s`, writing `p`. `variant` must be row-wise.
pub fn row_forward(f: RowFn, s: ArrayView1<'_, f32>, mut p: ArrayViewMut1<'_, f32>) {
    let n = s.len() as f32;
    match f {
        RowFn::Mix(alpha) => {
            row_forward(RowFn::Variant(Attention::RsAttn), s, p.view_mut());
            for (pj, sj) in p.iter_mut().zip(s) {
                *pj = alpha * *pj + (1.0 - alpha) * sj / n;
            }
        }
        RowFn::Variant(v) => match v {
            Attention::Softmax => {
                let m = s.fold(f32::NEG_INFINITY, |a, &b| a.max(b));
                let mut z = 0.0;
                for (pj, sj) in p.iter_mut().zip(s) {
                    *pj = (sj - m).exp();
                    z += *pj;
                }
                p /= z;
            }
            Attention::Relu => p.zip_mut_with(&s, |pj, &sj| *pj = sj.max(0.0) / n),
            Attention::Relu6 => p.zip_mut_with(&s, |pj, &sj| *pj = sj.clamp(0.0, 6.0) / n),
            Attention::Square => p.zip_mut_with(&s, |pj, &sj| *pj = sj * sj / n),
            Attention::ScaleAttn => p.zip_mut_with(&s, |pj, &sj| *pj = sj / n),
            Attention::TwoQuad => {
                p.zip_mut_with(&s, |pj, &sj| *pj = (sj + TWO_QUAD_C) * (sj + TWO_QUAD_C));
                let z = p.sum() + RS_EPS;
                p /= z;
            }
            Attention::RsAttn => {
                p.zip_mut_with(&s, |pj, &sj| *pj = sj.max(0.0));
                let z = p.sum() + RS_EPS;
                p /= z;
            }
            Attention::Sparsemax => {
                let tau = sparsemax_threshold(s);
                p.zip_mut_with(&s, |pj, &sj| *pj = (sj - tau).max(0.0));
            }
            Attention::Linformer | Attention::XNorm => {
                unreachable!("row_forward called with a variant that is not row-wise")
            }
        },
    }
}

/// The sparsemax threshold `tau` (Martins and Astudillo, Algorithm 1): sort descending, find
/// the largest `k` with `1 + k z_k > sum_{j<=k} z_j`, then `tau = (sum_{j<=k} z_j - 1) / k`.
pub fn sparsemax_threshold(s: ArrayView1<'_, f32>) -> f32 {
    let mut z: Vec<f32> = s.to_vec();
    z.sort_by(|a, b| b.total_cmp(a));
    let (mut cum, mut best_cum, mut best_k) = (0.0f32, z[0], 1usize);
    for (i, &zk) in z.iter().enumerate() {
        cum += zk;
        let k = (i + 1) as f32;
        if 1.0 + k * zk > cum {
            best_k = i + 1;
            best_cum = cum;
        }
    }
    (best_cum - 1.0) / best_k as f32
}

/// What a head's backward needs.
#[derive(Clone, Debug)]
pub enum HeadCache {
    /// Row-wise variants: the scores `S` and the map `P`.
    Rows {
        /// The scores `S = Q K^T / sqrt(d_k)`.
        s: Array2<f32>,
        /// The map `P = f(S)`.
        p: Array2<f32>,
    },
    /// Linformer: projected keys `E K`, values `F V` and the map `P`.
    Linformer {
        /// `E K`.
        kp: Array2<f32>,
        /// `F V`.
        vp: Array2<f32>,
        /// `softmax(Q (E K)^T / sqrt(d_k))`.
        p: Array2<f32>,
    },
    /// XNorm: normalised `Q` and `K^T V` with their norms.
    XNorm {
        /// `Q` with each row normalised.
        qn: Array2<f32>,
        /// The norms of `Q`'s rows.
        q_norm: Array1<f32>,
        /// `K^T V` with each column normalised.
        kvn: Array2<f32>,
        /// The norms of `K^T V`'s columns.
        kv_norm: Array1<f32>,
    },
}

/// Layer-level tensors some variants use.
#[derive(Clone, Copy, Debug)]
pub struct AttentionExtras<'a> {
    /// Linformer's `E` and `F` (`k x n`).
    pub linformer_e: ArrayView2<'a, f32>,
    /// Linformer's `F` (`k x n`).
    pub linformer_f: ArrayView2<'a, f32>,
    /// XNorm's `gamma` for this head.
    pub xnorm_gamma: f32,
}

/// Normalises each row of `x` to unit L2 norm, returning the norms.
pub fn normalize_rows(x: &mut Array2<f32>) -> Array1<f32> {
    let mut norms = Array1::zeros(x.nrows());
    for (mut row, nrm) in x.axis_iter_mut(Axis(0)).zip(norms.iter_mut()) {
        *nrm = (row.iter().map(|v| v * v).sum::<f32>() + XNORM_EPS).sqrt();
        row /= *nrm;
    }
    norms
}

/// One head's attention output (`n x d_k`) and its cache.
pub fn head_forward(
    kind: &HeadKind,
    q: ArrayView2<'_, f32>,
    k: ArrayView2<'_, f32>,
    v: ArrayView2<'_, f32>,
    extras: AttentionExtras<'_>,
) -> (Array2<f32>, HeadCache) {
    let scale = 1.0 / (q.ncols() as f32).sqrt();
    match kind {
        HeadKind::Rows(rows) => {
            let mut s = q.dot(&k.t());
            s *= scale;
            let mut p = Array2::zeros(s.raw_dim());
            for (i, f) in rows.iter().enumerate() {
                row_forward(*f, s.row(i), p.row_mut(i));
            }
            let out = p.dot(&v);
            (out, HeadCache::Rows { s, p })
        }
        HeadKind::Linformer => {
            let kp = extras.linformer_e.dot(&k);
            let vp = extras.linformer_f.dot(&v);
            let mut s = q.dot(&kp.t());
            s *= scale;
            let mut p = Array2::zeros(s.raw_dim());
            for i in 0..s.nrows() {
                row_forward(RowFn::Variant(Attention::Softmax), s.row(i), p.row_mut(i));
            }
            let out = p.dot(&vp);
            (out, HeadCache::Linformer { kp, vp, p })
        }
        HeadKind::XNorm => {
            let mut qn = q.to_owned();
            let q_norm = normalize_rows(&mut qn);
            // Columns of K^T V are the rows of V^T K.
            let mut kvn_t = v.t().dot(&k);
            let kv_norm = normalize_rows(&mut kvn_t);
            let kvn = kvn_t.reversed_axes();
            let mut out = qn.dot(&kvn);
            out *= extras.xnorm_gamma;
            (
                out,
                HeadCache::XNorm {
                    qn,
                    q_norm,
                    kvn,
                    kv_norm,
                },
            )
        }
    }
}

/// Multi-head attention before the output projection: splits `qkv` (`B*n x 3C`) into heads,
/// runs each head's kind, and concatenates heads back into `B*n x C`.
/// `kinds[h]` is head `h`'s kind; caches are returned in `(batch, head)` order.
pub fn multi_head_forward<'a>(
    qkv: ArrayView2<'_, f32>,
    n: usize,
    kinds: &[HeadKind],
    linformer_e: ArrayView2<'a, f32>,
    linformer_f: ArrayView2<'a, f32>,
    xnorm_gamma: ArrayView1<'_, f32>,
) -> (Array2<f32>, Vec<HeadCache>) {
    let c = qkv.ncols() / 3;
    let heads = kinds.len();
    let dk = c / heads;
    let batch = qkv.nrows() / n;
    let mut out = Array2::zeros((qkv.nrows(), c));
    let mut caches = Vec::with_capacity(batch * heads);
    for b in 0..batch {
        let rows = s![b * n..(b + 1) * n, ..];
        let seq = qkv.slice(rows);
        for (h, kind) in kinds.iter().enumerate() {
            let q = seq.slice(s![.., h * dk..(h + 1) * dk]);
            let k = seq.slice(s![.., c + h * dk..c + (h + 1) * dk]);
            let v = seq.slice(s![.., 2 * c + h * dk..2 * c + (h + 1) * dk]);
            let extras = AttentionExtras {
                linformer_e,
                linformer_f,
                xnorm_gamma: xnorm_gamma[h],
            };
            let (o, cache) = head_forward(kind, q, k, v, extras);
            out.slice_mut(s![b * n..(b + 1) * n, h * dk..(h + 1) * dk])
                .assign(&o);
            caches.push(cache);
        }
    }
    (out, caches)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    pub(crate) fn random(rng: &mut impl Rng, r: usize, c: usize, scale: f32) -> Array2<f32> {
        Array2::from_shape_simple_fn((r, c), || rng.gen_range(-scale..scale))
    }

    /// The textbook formula of each variant, written with plain loops over indices.
    fn naive(
        variant: Attention,
        q: &Array2<f32>,
        k: &Array2<f32>,
        v: &Array2<f32>,
        e: &Array2<f32>,
        f: &Array2<f32>,
        gamma: f32,
    ) -> Array2<f32> {
        let (n, d) = q.dim();
        let sc = 1.0 / (d as f32).sqrt();
        let dot = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
        let qr: Vec<Vec<f32>> = (0..n).map(|i| q.row(i).to_vec()).collect();
        let kr: Vec<Vec<f32>> = (0..n).map(|i| k.row(i).to_vec()).collect();
        let mut out = Array2::zeros((n, d));
        match variant {
            Attention::Linformer => {
                let kk = e.nrows();
                let kp: Vec<Vec<f32>> = (0..kk)
                    .map(|r| {
                        (0..d)
                            .map(|c| (0..n).map(|j| e[[r, j]] * k[[j, c]]).sum())
                            .collect()
                    })
                    .collect();
                let vp: Vec<Vec<f32>> = (0..kk)
                    .map(|r| {
                        (0..d)
                            .map(|c| (0..n).map(|j| f[[r, j]] * v[[j, c]]).sum())
                            .collect()
                    })
                    .collect();
                for i in 0..n {
                    let sc_row: Vec<f32> = (0..kk).map(|r| dot(&qr[i], &kp[r]) * sc).collect();
                    let m = sc_row.iter().cloned().fold(f32::MIN, f32::max);
                    let z: f32 = sc_row.iter().map(|x| (x - m).exp()).sum();
                    for c in 0..d {
                        out[[i, c]] = (0..kk).map(|r| (sc_row[r] - m).exp() / z * vp[r][c]).sum();
                    }
                }
            }
            Attention::XNorm => {
                let mut kv = vec![vec![0.0f32; d]; d];
                for a in 0..d {
                    for b in 0..d {
                        kv[a][b] = (0..n).map(|j| k[[j, a]] * v[[j, b]]).sum();
                    }
                }
                let col_norm: Vec<f32> = (0..d)
                    .map(|b| ((0..d).map(|a| kv[a][b] * kv[a][b]).sum::<f32>() + XNORM_EPS).sqrt())
                    .collect();
                for i in 0..n {
                    let qn = (dot(&qr[i], &qr[i]) + XNORM_EPS).sqrt();
                    for b in 0..d {
                        out[[i, b]] = gamma
                            * (0..d)
                                .map(|a| qr[i][a] / qn * kv[a][b] / col_norm[b])
                                .sum::<f32>();
                    }
                }
            }
            _ => {
                for i in 0..n {
                    let srow: Vec<f32> = (0..n).map(|j| dot(&qr[i], &kr[j]) * sc).collect();
                    let nf = n as f32;
                    let p: Vec<f32> = match variant {
                        Attention::Softmax => {
                            let z: f32 = srow.iter().map(|x| x.exp()).sum();
                            srow.iter().map(|x| x.exp() / z).collect()
                        }
                        Attention::Relu => srow.iter().map(|x| x.max(0.0) / nf).collect(),
                        Attention::Relu6 => srow
                            .iter()
                            .map(|&x| {
                                if x <= 0.0 {
                                    0.0
                                } else if x >= 6.0 {
                                    6.0 / nf
                                } else {
                                    x / nf
                                }
                            })
                            .collect(),
                        Attention::Square => srow.iter().map(|x| x * x / nf).collect(),
                        Attention::ScaleAttn => srow.iter().map(|x| x / nf).collect(),
                        Attention::TwoQuad => {
                            let z: f32 =
                                srow.iter().map(|x| (x + 5.0) * (x + 5.0)).sum::<f32>() + 1e-8;
                            srow.iter().map(|x| (x + 5.0) * (x + 5.0) / z).collect()
                        }
                        Attention::RsAttn => {
                            let z: f32 = srow.iter().map(|x| x.max(0.0)).sum::<f32>() + 1e-8;
                            srow.iter().map(|x| x.max(0.0) / z).collect()
                        }
                        Attention::Sparsemax => {
                            // Brute force: tau is the root of sum_j max(s_j - tau, 0) = 1, by bisection.
                            let (mut lo, mut hi) = (
                                srow.iter().cloned().fold(f32::MAX, f32::min) - 1.0,
                                srow.iter().cloned().fold(f32::MIN, f32::max),
                            );
                            for _ in 0..100 {
                                let mid = 0.5 * (lo + hi);
                                let total: f32 = srow.iter().map(|x| (x - mid).max(0.0)).sum();
                                if total > 1.0 {
                                    lo = mid
                                } else {
                                    hi = mid
                                }
                            }
                            srow.iter()
                                .map(|x| (x - 0.5 * (lo + hi)).max(0.0))
                                .collect()
                        }
                        _ => unreachable!(),
                    };
                    for c in 0..d {
                        out[[i, c]] = (0..n).map(|j| p[j] * v[[j, c]]).sum();
                    }
                }
            }
        }
        out
    }

    #[test]
    fn every_variant_matches_its_naive_formula() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let (n, d, kk) = (9, 6, 4);
        for trial in 0..20 {
            let scale = if trial % 2 == 0 { 1.0 } else { 3.0 };
            let q = random(&mut rng, n, d, scale);
            let k = random(&mut rng, n, d, scale);
            let v = random(&mut rng, n, d, 1.0);
            let e = random(&mut rng, kk, n, 0.5);
            let f = random(&mut rng, kk, n, 0.5);
            let gamma = rng.gen_range(0.5..2.0);
            for variant in Attention::ALL {
                let extras = AttentionExtras {
                    linformer_e: e.view(),
                    linformer_f: f.view(),
                    xnorm_gamma: gamma,
                };
                let (got, _) = head_forward(
                    &HeadKind::uniform(variant, n),
                    q.view(),
                    k.view(),
                    v.view(),
                    extras,
                );
                let want = naive(variant, &q, &k, &v, &e, &f, gamma);
                let err = (&got - &want).mapv(f32::abs).fold(0.0f32, |a, &b| a.max(b));
                assert!(err < 1e-4, "{variant:?} trial {trial}: max error {err}");
            }
        }
    }

    #[test]
    fn normalised_variants_rows_sum_to_one() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let s = random(&mut rng, 5, 11, 4.0);
        for v in [
            Attention::Softmax,
            Attention::Sparsemax,
            Attention::RsAttn,
            Attention::TwoQuad,
        ] {
            for i in 0..5 {
                let mut p = Array1::zeros(11);
                row_forward(RowFn::Variant(v), s.row(i), p.view_mut());
                if v == Attention::RsAttn && s.row(i).iter().all(|x| *x <= 0.0) {
                    continue;
                }
                assert!((p.sum() - 1.0).abs() < 1e-5, "{v:?}");
                assert!(p.iter().all(|x| *x >= 0.0));
            }
        }
    }

    #[test]
    fn mix_interpolates_rsattn_and_scale() {
        let s = ndarray::arr1(&[1.0f32, -2.0, 0.5, 3.0]);
        let mut rs = Array1::zeros(4);
        let mut sc = Array1::zeros(4);
        let mut mix = Array1::zeros(4);
        row_forward(RowFn::Variant(Attention::RsAttn), s.view(), rs.view_mut());
        row_forward(
            RowFn::Variant(Attention::ScaleAttn),
            s.view(),
            sc.view_mut(),
        );
        row_forward(RowFn::Mix(0.3), s.view(), mix.view_mut());
        let want = &rs * 0.3 + &sc * 0.7;
        assert!((&mix - &want).mapv(f32::abs).sum() < 1e-6);
        row_forward(RowFn::Mix(1.0), s.view(), mix.view_mut());
        assert!((&mix - &rs).mapv(f32::abs).sum() < 1e-7);
    }

    #[test]
    fn rsattn_all_negative_row_is_zero_not_nan() {
        let s = ndarray::arr1(&[-1.0f32, -2.0, -0.5]);
        let mut p = Array1::zeros(3);
        row_forward(RowFn::Variant(Attention::RsAttn), s.view(), p.view_mut());
        assert!(p.iter().all(|x| *x == 0.0));
    }
}
