//! The ViT forward pass (paper Figure 2; `ARCHITECTURE.md`), shared by inference and training.

use ndarray::{s, Array2, ArrayView4, Axis};

use super::attention::{multi_head_forward, HeadCache, HeadKind, RowFn};
use super::layers::{self, LayerNormCache};
use super::{Attention, AttentionPlan, Params, Plan, ViTConfig};
use crate::{Error, Result};

/// What one token's MLP computes (section 4.5).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum TokenMlp {
    /// `GeLU(x W1 + b1) W2 + b2`.
    Gelu,
    /// MPCViT+ linearised token: `ReLU((x W1 + b1) W2 + b2) = ReLU(x W_f + b_f)`.
    Linear,
    /// The search's relaxation: `(beta GeLU(h) + (1 - beta) h) W2 + b2` with `h = x W1 + b1`.
    Mix(f32),
}

/// A fully resolved architecture: each head's attention and each token's MLP, per layer.
#[derive(Clone, Debug, PartialEq)]
pub struct Arch {
    /// `[layer][head]`.
    pub heads: Vec<Vec<HeadKind>>,
    /// `[layer][token]`.
    pub mlp: Vec<Vec<TokenMlp>>,
}

impl Arch {
    /// Resolves a validated plan.
    pub fn from_plan(cfg: &ViTConfig, plan: &Plan) -> Self {
        let n = cfg.tokens();
        let heads = (0..cfg.depth)
            .map(|l| {
                (0..cfg.heads)
                    .map(
                        |h| match (&plan.attention, plan.attention.head_variant(l, h)) {
                            (_, Some(v)) => HeadKind::uniform(v, n),
                            (AttentionPlan::Row(rows), None) => HeadKind::Rows(
                                rows[l][h].iter().map(|v| RowFn::Variant(*v)).collect(),
                            ),
                            (_, None) => unreachable!("only row plans have mixed heads"),
                        },
                    )
                    .collect()
            })
            .collect();
        let mlp = (0..cfg.depth)
            .map(|l| {
                (0..n)
                    .map(|t| {
                        if plan.is_linearised(l, t) {
                            TokenMlp::Linear
                        } else {
                            TokenMlp::Gelu
                        }
                    })
                    .collect()
            })
            .collect();
        Arch { heads, mlp }
    }

    /// Every head uses `variant`, every token GeLU.
    pub fn uniform(cfg: &ViTConfig, variant: Attention) -> Self {
        Arch::from_plan(cfg, &Plan::uniform(cfg, variant))
    }
}

/// Everything one block's backward needs.
#[derive(Clone, Debug)]
pub struct BlockTrace {
    /// LayerNorm 1's cache.
    pub ln1: LayerNormCache,
    /// LayerNorm 1's output (the attention input).
    pub ln1_out: Array2<f32>,
    /// `[tokens, 3C]`: Q, K, V of every head.
    pub qkv: Array2<f32>,
    /// Each head's cache for its backward.
    pub heads: Vec<HeadCache>,
    /// The heads' outputs side by side, before the projection.
    pub attn_cat: Array2<f32>,
    /// LayerNorm 2's cache.
    pub ln2: LayerNormCache,
    /// LayerNorm 2's output (the MLP input).
    pub ln2_out: Array2<f32>,
    /// `x W1 + b1`.
    pub hidden_pre: Array2<f32>,
    /// The activation's output, the input of `fc2`.
    pub hidden_act: Array2<f32>,
    /// `fc2`'s output before the linearised tokens' ReLU.
    pub mlp_pre: Array2<f32>,
}

/// A forward pass's intermediate values, for backpropagation and distillation.
#[derive(Clone, Debug)]
pub struct Trace {
    /// Images in the batch.
    pub batch: usize,
    /// The patchified images, `[batch * patches, patch_len]`.
    pub patches: Array2<f32>,
    /// Each block's trace.
    pub blocks: Vec<BlockTrace>,
    /// The last block's output, `B*n x C` (the features of feature-based KD, section 4.4).
    pub features: Array2<f32>,
    /// The final LayerNorm's cache.
    pub final_ln: LayerNormCache,
    /// The normalised class tokens, `B x C`.
    pub cls_out: Array2<f32>,
}

/// Runs the ViT on `(B, C, H, W)` images with architecture `arch`, returning `B x classes`
/// logits and the trace. Shapes must already be validated (see [`ViT::forward`]).
pub fn forward_trace(
    cfg: &ViTConfig,
    params: &Params,
    arch: &Arch,
    images: ArrayView4<'_, f32>,
) -> (Array2<f32>, Trace) {
    let batch = images.dim().0;
    let n = cfg.tokens();
    let patches = layers::patchify(images, cfg.patch);
    let emb = layers::linear(patches.view(), params.patch_w.view(), params.patch_b.view());
    let mut x = layers::prepend_class_token(emb.view(), params.cls_token.view(), batch);
    layers::add_per_sequence(&mut x, params.pos_embed.view());

    let mut blocks = Vec::with_capacity(cfg.depth);
    for (l, bp) in params.blocks.iter().enumerate() {
        let (ln1_out, ln1) = layers::layer_norm(x.view(), bp.norm1_w.view(), bp.norm1_b.view());
        let qkv = layers::linear(ln1_out.view(), bp.qkv_w.view(), bp.qkv_b.view());
        let (attn_cat, heads) = multi_head_forward(
            qkv.view(),
            n,
            &arch.heads[l],
            bp.linformer_e.view(),
            bp.linformer_f.view(),
            bp.xnorm_gamma.view(),
        );
        let attn_out = layers::linear(attn_cat.view(), bp.proj_w.view(), bp.proj_b.view());
        layers::add_assign(&mut x, &attn_out);

        let (ln2_out, ln2) = layers::layer_norm(x.view(), bp.norm2_w.view(), bp.norm2_b.view());
        let hidden_pre = layers::linear(ln2_out.view(), bp.fc1_w.view(), bp.fc1_b.view());
        let mut hidden_act = hidden_pre.clone();
        let modes = &arch.mlp[l];
        for (r, mut row) in hidden_act.axis_iter_mut(Axis(0)).enumerate() {
            match modes[r % n] {
                TokenMlp::Gelu => row.mapv_inplace(layers::gelu),
                TokenMlp::Linear => {}
                TokenMlp::Mix(beta) => {
                    row.mapv_inplace(|h| beta * layers::gelu(h) + (1.0 - beta) * h)
                }
            }
        }
        let mlp_pre = layers::linear(hidden_act.view(), bp.fc2_w.view(), bp.fc2_b.view());
        let mut mlp_out = mlp_pre.clone();
        for (r, mut row) in mlp_out.axis_iter_mut(Axis(0)).enumerate() {
            if modes[r % n] == TokenMlp::Linear {
                row.mapv_inplace(|v| v.max(0.0));
            }
        }
        layers::add_assign(&mut x, &mlp_out);
        blocks.push(BlockTrace {
            ln1,
            ln1_out,
            qkv,
            heads,
            attn_cat,
            ln2,
            ln2_out,
            hidden_pre,
            hidden_act,
            mlp_pre,
        });
    }

    let cls = x.slice(s![..;n, ..]).to_owned();
    let (cls_out, final_ln) =
        layers::layer_norm(cls.view(), params.norm_w.view(), params.norm_b.view());
    let logits = layers::linear(cls_out.view(), params.head_w.view(), params.head_b.view());
    (
        logits,
        Trace {
            batch,
            patches,
            blocks,
            features: x,
            final_ln,
            cls_out,
        },
    )
}

/// Row-wise softmax of logits (class probabilities).
pub fn softmax_rows(logits: &Array2<f32>) -> Array2<f32> {
    let mut p = logits.clone();
    for mut row in p.axis_iter_mut(Axis(0)) {
        let m = row.fold(f32::NEG_INFINITY, |a, &b| a.max(b));
        row.mapv_inplace(|v| (v - m).exp());
        let z = row.sum();
        row /= z;
    }
    p
}

/// A heterogeneous ViT: config, plan and parameters, validated together.
#[derive(Clone, Debug)]
pub struct ViT {
    /// Hyper-parameters.
    pub config: ViTConfig,
    /// Attention (and GeLU) plan.
    pub plan: Plan,
    /// The learned tensors.
    pub params: Params,
    arch: Arch,
}

/// Index of the largest value (the first on ties).
pub fn argmax(values: impl Iterator<Item = f32>) -> usize {
    let mut best = (0, f32::NEG_INFINITY);
    for (i, v) in values.enumerate() {
        if v > best.1 {
            best = (i, v);
        }
    }
    best.0
}

impl ViT {
    /// Validates config, plan and parameter shapes.
    pub fn new(config: ViTConfig, plan: Plan, params: Params) -> Result<Self> {
        config.validate()?;
        plan.validate(&config)?;
        check_param_shapes(&config, &params)?;
        let arch = Arch::from_plan(&config, &plan);
        Ok(ViT {
            config,
            plan,
            params,
            arch,
        })
    }

    /// The resolved architecture of the plan.
    pub fn arch(&self) -> &Arch {
        &self.arch
    }

    /// Logits `B x classes` for `(B, C, H, W)` images with pixel values in `[0, 1]`.
    pub fn forward(&self, images: ArrayView4<'_, f32>) -> Result<Array2<f32>> {
        let c = &self.config;
        let (_, ch, h, w) = images.dim();
        if (ch, h, w) != (c.channels, c.image_size, c.image_size) {
            return Err(Error::shape(
                "forward",
                format!("images of {}x{}x{}", c.channels, c.image_size, c.image_size),
                format!("{ch}x{h}x{w}"),
            ));
        }
        Ok(forward_trace(c, &self.params, &self.arch, images).0)
    }

    /// Class probabilities for one image given as `channels * size * size` values in `[0, 1]`.
    pub fn classify(&self, pixels: &[f32]) -> Result<Vec<f32>> {
        let c = &self.config;
        c.check_image(pixels.len())?;
        let img = ArrayView4::from_shape((1, c.channels, c.image_size, c.image_size), pixels)?;
        let logits = self.forward(img)?;
        Ok(softmax_rows(&logits).row(0).to_vec())
    }
}

/// Checks every tensor's shape against the config, naming the first that differs.
pub fn check_param_shapes(cfg: &ViTConfig, params: &Params) -> Result<()> {
    let mut rng = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(0);
    params.check_shapes(&Params::init(cfg, &mut rng))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::GeluPlan;
    use ndarray::Array4;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn small() -> ViTConfig {
        ViTConfig::tiny()
    }

    #[test]
    fn forward_shapes_and_probabilities() {
        let cfg = small();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for v in Attention::ALL {
            let vit = ViT::new(
                cfg.clone(),
                Plan::uniform(&cfg, v),
                Params::init(&cfg, &mut rng),
            )
            .unwrap();
            let imgs = Array4::from_shape_simple_fn((3, 1, 8, 8), || rng.gen::<f32>());
            let logits = vit.forward(imgs.view()).unwrap();
            assert_eq!(logits.dim(), (3, 3));
            assert!(logits.iter().all(|x| x.is_finite()), "{v:?}");
            let p = vit
                .classify(imgs.slice(s![0, .., .., ..]).to_owned().as_slice().unwrap())
                .unwrap();
            assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        }
    }

    #[test]
    fn batch_rows_are_independent() {
        let cfg = small();
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let vit = ViT::new(
            cfg.clone(),
            Plan::uniform(&cfg, Attention::Softmax),
            Params::init(&cfg, &mut rng),
        )
        .unwrap();
        let imgs = Array4::from_shape_simple_fn((4, 1, 8, 8), || rng.gen::<f32>());
        let all = vit.forward(imgs.view()).unwrap();
        for b in 0..4 {
            let one = vit.forward(imgs.slice(s![b..b + 1, .., .., ..])).unwrap();
            let err = (&one.row(0) - &all.row(b)).mapv(f32::abs).sum();
            assert!(err < 1e-5);
        }
    }

    #[test]
    fn wrong_input_size_is_an_error() {
        let cfg = small();
        let vit = ViT::new(
            cfg.clone(),
            Plan::uniform(&cfg, Attention::Softmax),
            Params::init(&cfg, &mut ChaCha8Rng::seed_from_u64(0)),
        )
        .unwrap();
        assert!(matches!(
            vit.classify(&[0.0; 10]),
            Err(Error::ShapeMismatch { op: "image", .. })
        ));
        let imgs = Array4::zeros((1, 1, 9, 9));
        assert_err!(vit.forward(imgs.view()), crate::Error::ShapeMismatch { .. });
    }

    #[test]
    fn wrong_param_shape_is_named() {
        let cfg = small();
        let mut p = Params::init(&cfg, &mut ChaCha8Rng::seed_from_u64(0));
        p.blocks[1].fc1_w = Array2::zeros((3, 3));
        let err = ViT::new(cfg.clone(), Plan::uniform(&cfg, Attention::Softmax), p).unwrap_err();
        assert!(err.to_string().contains("blocks.1.mlp.fc1.weight"), "{err}");
    }

    #[test]
    fn fused_token_equals_unfused_linear_path() {
        let cfg = small();
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let params = Params::init(&cfg, &mut rng);
        let mut lin = vec![vec![false; cfg.tokens()]; cfg.depth];
        lin[1][2] = true;
        lin[0][0] = true;
        let plan = Plan {
            attention: AttentionPlan::uniform(&cfg, Attention::RsAttn),
            gelu: Some(GeluPlan { linearised: lin }),
        };
        let vit = ViT::new(cfg.clone(), plan, params).unwrap();
        let imgs = Array4::from_shape_simple_fn((2, 1, 8, 8), || rng.gen::<f32>());
        let (_, trace) = forward_trace(&cfg, &vit.params, vit.arch(), imgs.view());
        let bp = &vit.params.blocks[1];
        let (wf, bf) = layers::fuse_mlp(
            bp.fc1_w.view(),
            bp.fc1_b.view(),
            bp.fc2_w.view(),
            bp.fc2_b.view(),
        );
        let n = cfg.tokens();
        for b in 0..2 {
            let r = b * n + 2;
            let x = trace.blocks[1].ln2_out.row(r);
            let fused = x.dot(&wf) + &bf;
            let unfused = trace.blocks[1].mlp_pre.row(r);
            let err = (&fused - &unfused)
                .mapv(f32::abs)
                .fold(0.0f32, |a, &b| a.max(b));
            assert!(err < 1e-5, "fused vs unfused: {err}");
        }
    }
}
