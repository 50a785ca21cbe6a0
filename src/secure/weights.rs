//! The model's weights for a session. Party 1 (the server) inputs the plaintext; party 0 and the
//! dealer give only shapes.
//!
//! * The matrices every image multiplies by (patch embedding, Q/K/V, output projection, MLP,
//!   MPCViT+'s fused MLP, classifier) become [`FixedOperand`]s: masked once, in one round of
//!   the set-up ([`crate::mpc::protocols::fixed_matmul`]), so an image opens only its
//!   activations.
//! * Each LayerNorm's gain and bias are folded by party 1 into the map that reads the norm
//!   (Q/K/V after LayerNorm 1, the MLP's first layer and MPCViT+'s fused MLP after LayerNorm 2,
//!   the classifier after the final norm: [`crate::model::layers::fold_layer_norm`]), so the
//!   private forward multiplies in the norm's squares' round
//!   ([`crate::mpc::protocols::layer_norm_linear`]) and no gain or norm bias is shared.
//! * Everything else (biases, the class token and position embedding,
//!   Linformer's projections, which multiply from the left, XNorm's gains) is additively
//!   shared without an online round: party 1 adds it to a dealer zero-sharing (see
//!   [`crate::mpc::protocols::share_input`]).

use ndarray::{ArrayD, ArrayView1, ArrayView2, ArrayViewD};

use crate::io::zero_params;
use crate::model::layers::{fold_layer_norm, fuse_mlp};
use crate::model::{Params, Plan, ViTConfig};
use crate::mpc::protocols::{fix_operands, share_input, FixedOperand};
use crate::mpc::{ArithShare, Party};
use crate::{Error, Result};

/// One block's shares.
#[derive(Clone, Debug)]
pub struct SharedBlock {
    /// The Q, K, V projection `[C, 3C]` (`attn.qkv.weight`) with LayerNorm 1's gain folded in.
    pub qkv_w: FixedOperand,
    /// Shares of the Q, K, V bias `[3C]` with LayerNorm 1's bias folded in.
    pub qkv_b: ArithShare,
    /// The attention output projection `[C, C]` (`attn.proj.weight`).
    pub proj_w: FixedOperand,
    /// Shares of the output projection bias `[C]`.
    pub proj_b: ArithShare,
    /// Shares of the Linformer key projection `E` `[k, n]` (Linformer heads only).
    pub linformer_e: ArithShare,
    /// Shares of the Linformer value projection `F` `[k, n]` (Linformer heads only).
    pub linformer_f: ArithShare,
    /// Shares of the XNorm gain per head `[heads]` (XNorm heads only).
    pub xnorm_gamma: ArithShare,
    /// The MLP first layer `[C, K]` (`mlp.fc1.weight`) with LayerNorm 2's gain folded in.
    pub fc1_w: FixedOperand,
    /// Shares of the MLP first bias `[K]` with LayerNorm 2's bias folded in.
    pub fc1_b: ArithShare,
    /// The MLP second layer `[K, C]` (`mlp.fc2.weight`).
    pub fc2_w: FixedOperand,
    /// Shares of the MLP second bias `[C]`.
    pub fc2_b: ArithShare,
    /// MPCViT+ fused `W1 W2` and `b1 W2 + b2` when the block has linearised tokens, with
    /// LayerNorm 2 folded in.
    pub fused: Option<(FixedOperand, ArithShare)>,
}

/// Every weight of a ViT for a session: the matrices as fixed operands, the rest as shares.
#[derive(Clone, Debug)]
pub struct SharedWeights {
    /// The patch embedding `[patch*patch*channels, C]` (`patch_embed.weight`).
    pub patch_w: FixedOperand,
    /// Shares of the patch embedding bias `[C]`.
    pub patch_b: ArithShare,
    /// Shares of the class token `[C]`.
    pub cls_token: ArithShare,
    /// Shares of the learned position embedding `[n, C]`.
    pub pos_embed: ArithShare,
    /// Shares of the transformer blocks, in order.
    pub blocks: Vec<SharedBlock>,
    /// The classifier `[C, classes]` (`head.weight`) with the final LayerNorm's gain folded in.
    pub head_w: FixedOperand,
    /// Shares of the classifier bias `[classes]` with the final LayerNorm's bias folded in.
    pub head_b: ArithShare,
}

fn to_f64(t: ArrayViewD<'_, f32>) -> ArrayD<f64> {
    t.mapv(|v| v as f64)
}

/// Prepares the weights of a model with config `cfg` and plan `plan` for a session: party 1
/// passes `Some(params)`, party 0 and the dealer `None`. Fused MPCViT+ matrices are computed by
/// the owner in plaintext and fixed like any weight. One online round (the matrices' masked
/// values, party 1 -> party 0); the rest moves offline.
pub async fn share_weights(
    p: &mut Party,
    cfg: &ViTConfig,
    plan: &Plan,
    params: Option<&Params>,
) -> Result<SharedWeights> {
    let owner = 1;
    let shapes = zero_params(cfg)?;
    if let Some(w) = params {
        crate::model::vit::check_param_shapes(cfg, w)?;
    }
    let source = params.unwrap_or(&shapes);
    let mine = p.id() == owner && !p.is_dealer();
    if mine && params.is_none() {
        return Err(Error::Usage(
            "party 1 must provide the model weights".into(),
        ));
    }
    share_all(&mut p.scoped("weights"), cfg, plan, source, mine).await
}

async fn share_all(
    p: &mut Party,
    cfg: &ViTConfig,
    plan: &Plan,
    source: &Params,
    mine: bool,
) -> Result<SharedWeights> {
    let owner = 1;
    let additive = async |p: &mut Party, name: &str, t: ArrayViewD<'_, f32>| {
        let value = to_f64(t);
        share_input(p, owner, mine.then_some(&value), value.shape())
            .await
            .map_err(|e| Error::Model(format!("sharing {name}: {e}")))
    };
    // Each norm folded into the maps that read it, by the owner in plaintext (zero shapes at
    // party 0 and the dealer).
    let fold = |g, beta, (w, b): (ArrayView2<'_, f32>, ArrayView1<'_, f32>)| {
        fold_layer_norm(g, beta, w, b)
    };
    // Matrices in the order they are listed; `fused` marks the blocks with linearised tokens.
    let mut matrices: Vec<ArrayD<f64>> = vec![to_f64(source.patch_w.view().into_dyn())];
    let mut folded_biases = Vec::new();
    for (l, b) in source.blocks.iter().enumerate() {
        let (n1, n1b, n2, n2b) = (
            b.norm1_w.view(),
            b.norm1_b.view(),
            b.norm2_w.view(),
            b.norm2_b.view(),
        );
        let qkv = fold(n1, n1b, (b.qkv_w.view(), b.qkv_b.view()));
        let fc1 = fold(n2, n2b, (b.fc1_w.view(), b.fc1_b.view()));
        for w in [qkv.0.view(), b.proj_w.view(), fc1.0.view(), b.fc2_w.view()] {
            matrices.push(to_f64(w.into_dyn()));
        }
        let needs = (0..cfg.tokens()).any(|t| plan.is_linearised(l, t));
        let fused = needs.then(|| {
            let (wf, bf) = fuse_mlp(
                b.fc1_w.view(),
                b.fc1_b.view(),
                b.fc2_w.view(),
                b.fc2_b.view(),
            );
            fold(n2, n2b, (wf.view(), bf.view()))
        });
        if let Some((wf, _)) = &fused {
            matrices.push(to_f64(wf.view().into_dyn()));
        }
        folded_biases.push((qkv.1, fc1.1, fused.map(|f| f.1)));
    }
    let head = fold(
        source.norm_w.view(),
        source.norm_b.view(),
        (source.head_w.view(), source.head_b.view()),
    );
    matrices.push(to_f64(head.0.view().into_dyn()));
    let requests: Vec<(&[usize], Option<&ArrayD<f64>>)> = matrices
        .iter()
        .map(|m| (m.shape(), mine.then_some(m)))
        .collect();
    let mut fixed = fix_operands(p, &requests).await?.into_iter();
    let mut next_fixed = || fixed.next().expect("one operand per matrix");

    let patch_w = next_fixed();
    let patch_b = additive(p, "patch_embed.bias", source.patch_b.view().into_dyn()).await?;
    let cls_token = additive(p, "cls_token", source.cls_token.view().into_dyn()).await?;
    let pos_embed = additive(p, "pos_embed", source.pos_embed.view().into_dyn()).await?;
    let mut blocks = Vec::new();
    for (b, (qkv_b, fc1_b, fused_b)) in source.blocks.iter().zip(folded_biases) {
        let (qkv_w, proj_w, fc1_w, fc2_w) =
            (next_fixed(), next_fixed(), next_fixed(), next_fixed());
        let fused = match fused_b {
            Some(bf) => {
                let bf = additive(p, "the fused MLP bias", bf.view().into_dyn()).await?;
                Some((next_fixed(), bf))
            }
            None => None,
        };
        blocks.push(SharedBlock {
            qkv_w,
            qkv_b: additive(p, "attn.qkv.bias", qkv_b.view().into_dyn()).await?,
            proj_w,
            proj_b: additive(p, "attn.proj.bias", b.proj_b.view().into_dyn()).await?,
            linformer_e: additive(p, "linformer E", b.linformer_e.view().into_dyn()).await?,
            linformer_f: additive(p, "linformer F", b.linformer_f.view().into_dyn()).await?,
            xnorm_gamma: additive(p, "xnorm gamma", b.xnorm_gamma.view().into_dyn()).await?,
            fc1_w,
            fc1_b: additive(p, "mlp.fc1.bias", fc1_b.view().into_dyn()).await?,
            fc2_w,
            fc2_b: additive(p, "mlp.fc2.bias", b.fc2_b.view().into_dyn()).await?,
            fused,
        });
    }
    Ok(SharedWeights {
        patch_w,
        patch_b,
        cls_token,
        pos_embed,
        blocks,
        head_w: next_fixed(),
        head_b: additive(p, "head.bias", head.1.view().into_dyn()).await?,
    })
}
