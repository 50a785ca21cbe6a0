//! Backpropagation through the whole ViT, reversing [`crate::model::vit::forward_trace`].

use ndarray::{s, Array2, Array3, ArrayView2, ArrayViewMut1, Axis};

use super::backward::{layer_norm_backward, linear_backward, multi_head_backward};
use crate::model::attention::HeadKind;
use crate::model::layers::{gelu, gelu_grad};
use crate::model::vit::{Arch, BlockTrace, TokenMlp, Trace};
use crate::model::{BlockParams, Params, ViTConfig};

/// Gradients of a loss with respect to everything trainable.
#[derive(Clone, Debug)]
pub struct Grads {
    /// Same layout as the parameters.
    pub params: Params,
    /// `d loss / d alpha` per `[layer, head, row]` for rows using [`crate::model::attention::RowFn::Mix`].
    pub alpha: Array3<f32>,
    /// `d loss / d beta` per `[layer, token]` for tokens using [`TokenMlp::Mix`].
    pub beta: Array2<f32>,
}

/// Backpropagates `dlogits` (`B x classes`) and optionally a gradient on the last block's
/// features (`B*n x C`, for feature distillation) through the forward recorded in `trace`.
pub fn backward(
    cfg: &ViTConfig,
    params: &Params,
    arch: &Arch,
    trace: &Trace,
    dlogits: ArrayView2<'_, f32>,
    dfeatures: Option<ArrayView2<'_, f32>>,
) -> Grads {
    let n = cfg.tokens();
    let batch = trace.batch;
    let mut g = params.zeros_like();
    let mut dalpha_all = Array3::zeros((cfg.depth, cfg.heads, n));
    let mut dbeta_all = Array2::zeros((cfg.depth, n));

    let dcls_out = linear_backward(
        trace.cls_out.view(),
        params.head_w.view(),
        dlogits,
        g.head_w.view_mut(),
        g.head_b.view_mut(),
    );
    let dcls = layer_norm_backward(
        &trace.final_ln,
        params.norm_w.view(),
        dcls_out.view(),
        g.norm_w.view_mut(),
        g.norm_b.view_mut(),
    );
    let mut dx = match dfeatures {
        Some(df) => df.to_owned(),
        None => Array2::zeros(trace.features.raw_dim()),
    };
    {
        let mut cls_rows = dx.slice_mut(s![..;n, ..]);
        cls_rows += &dcls;
    }

    for l in (0..cfg.depth).rev() {
        let bp = &params.blocks[l];
        let bt = &trace.blocks[l];
        let gb = &mut g.blocks[l];
        let mut dbeta = dbeta_all.row_mut(l);
        dx += &mlp_backward(bp, bt, gb, &arch.mlp[l], n, &dx, dbeta.view_mut());
        let (dx1, dalpha) = attention_backward(bp, bt, gb, &arch.heads[l], n, &dx);
        dalpha_all.slice_mut(s![l, .., ..]).assign(&dalpha);
        dx += &dx1;
    }

    // Embedding: x = [cls; patches W + b] + pos.
    let patches = cfg.patches();
    let mut demb = Array2::zeros((batch * patches, cfg.dim));
    for b in 0..batch {
        let seq = dx.slice(s![b * n..(b + 1) * n, ..]);
        g.pos_embed += &seq;
        g.cls_token += &seq.row(0);
        demb.slice_mut(s![b * patches..(b + 1) * patches, ..])
            .assign(&seq.slice(s![1.., ..]));
    }
    g.patch_w += &trace.patches.t().dot(&demb);
    g.patch_b += &demb.sum_axis(Axis(0));
    Grads {
        params: g,
        alpha: dalpha_all,
        beta: dbeta_all,
    }
}

/// One block's MLP backward (`x += act(ln2 W1 + b1) W2 + b2`, with ReLU after fc2 on
/// linearised tokens): the gradient it adds to the residual stream `dx`; `dbeta` collects the
/// MPCViT+ mix gradients of this layer's tokens.
fn mlp_backward(
    bp: &BlockParams,
    bt: &BlockTrace,
    gb: &mut BlockParams,
    modes: &[TokenMlp],
    n: usize,
    dx: &Array2<f32>,
    mut dbeta: ArrayViewMut1<'_, f32>,
) -> Array2<f32> {
    let mut dpre = dx.clone();
    for (r, mut row) in dpre.axis_iter_mut(Axis(0)).enumerate() {
        if modes[r % n] == TokenMlp::Linear {
            row.zip_mut_with(&bt.mlp_pre.row(r), |d, &y| {
                if y <= 0.0 {
                    *d = 0.0
                }
            });
        }
    }
    let mut dact = linear_backward(
        bt.hidden_act.view(),
        bp.fc2_w.view(),
        dpre.view(),
        gb.fc2_w.view_mut(),
        gb.fc2_b.view_mut(),
    );
    for (r, mut row) in dact.axis_iter_mut(Axis(0)).enumerate() {
        let h = bt.hidden_pre.row(r);
        match modes[r % n] {
            TokenMlp::Gelu => row.zip_mut_with(&h, |d, &hv| *d *= gelu_grad(hv)),
            TokenMlp::Linear => {}
            TokenMlp::Mix(beta) => {
                let db: f32 = row.iter().zip(h).map(|(d, &hv)| d * (gelu(hv) - hv)).sum();
                dbeta[r % n] += db;
                row.zip_mut_with(&h, |d, &hv| *d *= beta * gelu_grad(hv) + (1.0 - beta));
            }
        }
    }
    let dln2 = linear_backward(
        bt.ln2_out.view(),
        bp.fc1_w.view(),
        dact.view(),
        gb.fc1_w.view_mut(),
        gb.fc1_b.view_mut(),
    );
    layer_norm_backward(
        &bt.ln2,
        bp.norm2_w.view(),
        dln2.view(),
        gb.norm2_w.view_mut(),
        gb.norm2_b.view_mut(),
    )
}

/// One block's attention backward (`x += proj(MHA(ln1 Wqkv + bqkv))`): the gradient it adds
/// to the residual stream `dx`, and `d loss / d alpha` per `[head, row]`.
fn attention_backward(
    bp: &BlockParams,
    bt: &BlockTrace,
    gb: &mut BlockParams,
    heads: &[HeadKind],
    n: usize,
    dx: &Array2<f32>,
) -> (Array2<f32>, Array2<f32>) {
    let dcat = linear_backward(
        bt.attn_cat.view(),
        bp.proj_w.view(),
        dx.view(),
        gb.proj_w.view_mut(),
        gb.proj_b.view_mut(),
    );
    let mh = multi_head_backward(
        bt.qkv.view(),
        n,
        heads,
        &bt.heads,
        bp.linformer_e.view(),
        bp.linformer_f.view(),
        bp.xnorm_gamma.view(),
        dcat.view(),
        gb.linformer_e.view_mut(),
        gb.linformer_f.view_mut(),
    );
    gb.xnorm_gamma += &mh.dgamma;
    let dln1 = linear_backward(
        bt.ln1_out.view(),
        bp.qkv_w.view(),
        mh.dqkv.view(),
        gb.qkv_w.view_mut(),
        gb.qkv_b.view_mut(),
    );
    let dx1 = layer_norm_backward(
        &bt.ln1,
        bp.norm1_w.view(),
        dln1.view(),
        gb.norm1_w.view_mut(),
        gb.norm1_b.view_mut(),
    );
    (dx1, mh.dalpha)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::attention::{HeadKind, RowFn};
    use crate::model::vit::forward_trace;
    use crate::model::Attention;
    use crate::train::loss::cross_entropy;
    use ndarray::{Array4, ArrayViewMutD};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn small() -> ViTConfig {
        ViTConfig {
            dim: 8,
            ..ViTConfig::tiny()
        }
    }

    /// Loss = CE(logits) + <w, features>, so both gradient inputs are exercised.
    fn loss(
        cfg: &ViTConfig,
        p: &Params,
        arch: &Arch,
        x: &Array4<f32>,
        y: &[u8],
        fw: &Array2<f32>,
    ) -> f64 {
        let (logits, tr) = forward_trace(cfg, p, arch, x.view());
        let (ce, _) = cross_entropy(logits.view(), y);
        ce as f64 + (&tr.features * fw).sum() as f64
    }

    fn perturb(p: &Params, dir: &Params, h: f32) -> Params {
        let mut out = p.clone();
        let mut dirs = Vec::new();
        dir.for_each(|_, t| dirs.push(t.to_owned()));
        let mut i = 0;
        out.for_each_mut(|_, mut t: ArrayViewMutD<'_, f32>| {
            t.scaled_add(h, &dirs[i]);
            i += 1;
        });
        out
    }

    fn dot(a: &Params, b: &Params) -> f64 {
        let mut av = Vec::new();
        a.for_each(|_, t| av.extend(t.iter().copied()));
        let mut i = 0;
        let mut sum = 0.0f64;
        b.for_each(|_, t| {
            for v in t.iter() {
                sum += (*v as f64) * (av[i] as f64);
                i += 1;
            }
        });
        sum
    }

    /// Directional finite differences `(L(p + h u) - L(p - h u)) / 2h` against `<grad, u>`
    /// for random directions `u`, for an architecture.
    pub(super) fn check(arch: &Arch, seed: u64) {
        let cfg = small();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut p = Params::init(&cfg, &mut rng);
        // Larger weights than the init so every path carries signal.
        p.for_each_mut(|_, mut t| t.mapv_inplace(|v| v * 4.0 + rng.gen_range(-0.05..0.05)));
        let x = Array4::from_shape_simple_fn((2, 1, 8, 8), || rng.gen::<f32>());
        let y = [0u8, 2];
        let fw =
            Array2::from_shape_simple_fn((2 * cfg.tokens(), cfg.dim), || rng.gen_range(-0.1..0.1));
        let (logits, tr) = forward_trace(&cfg, &p, arch, x.view());
        let (_, dlogits) = cross_entropy(logits.view(), &y);
        let g = backward(&cfg, &p, arch, &tr, dlogits.view(), Some(fw.view()));
        // RSAttn rows whose ReLU-sum is near zero are almost discontinuous, so a finite
        // difference there says nothing; only directions where steps h and h/2 agree count.
        let fd_at = |dir: &Params, h: f32| {
            (loss(&cfg, &perturb(&p, dir, h), arch, &x, &y, &fw)
                - loss(&cfg, &perturb(&p, dir, -h), arch, &x, &y, &fw))
                / (2.0 * h as f64)
        };
        let (mut checked, mut tried) = (0, 0);
        while checked < 4 {
            tried += 1;
            assert!(tried < 40, "{arch:?}: no well-conditioned direction found");
            let mut dir = p.zeros_like();
            dir.for_each_mut(|_, mut t| t.mapv_inplace(|_| rng.gen_range(-1.0..1.0)));
            let (fd, fd_half) = (fd_at(&dir, 2e-4), fd_at(&dir, 1e-4));
            if (fd - fd_half).abs() > 0.01 * fd.abs().max(1.0) {
                continue;
            }
            let an = dot(&g.params, &dir);
            let rel = (fd_half - an).abs() / (fd_half.abs().max(an.abs()).max(1e-2));
            assert!(
                rel < 2e-2,
                "{arch:?}: finite difference {fd_half} vs analytic {an}"
            );
            checked += 1;
        }
    }

    #[test]
    fn whole_model_gradient_for_every_variant() {
        let cfg = small();
        for (i, v) in Attention::ALL.into_iter().enumerate() {
            check(&Arch::uniform(&cfg, v), 100 + i as u64);
        }
    }

    #[test]
    fn gradient_with_rows_linear_tokens_and_mixes() {
        let cfg = small();
        let n = cfg.tokens();
        let mut arch = Arch::uniform(&cfg, Attention::RsAttn);
        arch.heads[0][1] = HeadKind::Rows(
            (0..n)
                .map(|r| {
                    if r % 2 == 0 {
                        RowFn::Variant(Attention::ScaleAttn)
                    } else {
                        RowFn::Mix(0.3)
                    }
                })
                .collect(),
        );
        arch.heads[1][0] = HeadKind::Rows(vec![RowFn::Mix(0.7); n]);
        arch.mlp[0][1] = TokenMlp::Linear;
        arch.mlp[1][2] = TokenMlp::Mix(0.4);
        arch.mlp[1][0] = TokenMlp::Linear;
        check(&arch, 7);
    }

    #[test]
    fn alpha_and_beta_gradients_match_finite_differences() {
        let cfg = small();
        let n = cfg.tokens();
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let mut p = Params::init(&cfg, &mut rng);
        p.for_each_mut(|_, mut t| t.mapv_inplace(|v| v * 10.0));
        let x = Array4::from_shape_simple_fn((2, 1, 8, 8), || rng.gen::<f32>());
        let y = [1u8, 0];
        let fw = Array2::zeros((2 * n, cfg.dim));
        let build = |alpha: f32, beta: f32| {
            let mut arch = Arch::uniform(&cfg, Attention::RsAttn);
            arch.heads[1][1] = HeadKind::Rows(vec![RowFn::Mix(alpha); n]);
            arch.mlp[0][3] = TokenMlp::Mix(beta);
            arch
        };
        let arch = build(0.6, 0.5);
        let (logits, tr) = forward_trace(&cfg, &p, &arch, x.view());
        let (_, dl) = cross_entropy(logits.view(), &y);
        let g = backward(&cfg, &p, &arch, &tr, dl.view(), None);
        let h = 1e-2;
        let fd_a = (loss(&cfg, &p, &build(0.6 + h, 0.5), &x, &y, &fw)
            - loss(&cfg, &p, &build(0.6 - h, 0.5), &x, &y, &fw))
            / (2.0 * h as f64);
        let an_a: f32 = g.alpha.slice(s![1, 1, ..]).sum();
        assert!(
            (fd_a - an_a as f64).abs() < 2e-2 * fd_a.abs().max(1e-3),
            "alpha: {fd_a} vs {an_a}"
        );
        let fd_b = (loss(&cfg, &p, &build(0.6, 0.5 + h), &x, &y, &fw)
            - loss(&cfg, &p, &build(0.6, 0.5 - h), &x, &y, &fw))
            / (2.0 * h as f64);
        let an_b = g.beta[[0, 3]];
        assert!(
            (fd_b - an_b as f64).abs() < 2e-2 * fd_b.abs().max(1e-3),
            "beta: {fd_b} vs {an_b}"
        );
    }
}
