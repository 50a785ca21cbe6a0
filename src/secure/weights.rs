//! The model's weights as additive shares. Party 1 (the server) inputs the plaintext; party 0
//! and the dealer give only shapes. Sharing a weight costs no online round: party 1 adds it to a
//! dealer zero-sharing (see [`crate::mpc::protocols::share_input`]).

use ndarray::{ArrayD, ArrayViewD};

use crate::io::zero_params;
use crate::model::layers::fuse_mlp;
use crate::model::{Params, Plan, ViTConfig};
use crate::mpc::protocols::share_input;
use crate::mpc::{ArithShare, Party};
use crate::{Error, Result};

/// One block's shares.
#[derive(Clone, Debug)]
pub struct SharedBlock {
    /// Shares of the LayerNorm 1 gain `[C]` (`norm1.weight`).
    pub norm1_w: ArithShare,
    /// Shares of the LayerNorm 1 bias `[C]`.
    pub norm1_b: ArithShare,
    /// Shares of the Q, K, V projection `[C, 3C]` (`attn.qkv.weight`).
    pub qkv_w: ArithShare,
    /// Shares of the Q, K, V bias `[3C]`.
    pub qkv_b: ArithShare,
    /// Shares of the attention output projection `[C, C]` (`attn.proj.weight`).
    pub proj_w: ArithShare,
    /// Shares of the output projection bias `[C]`.
    pub proj_b: ArithShare,
    /// Shares of the Linformer key projection `E` `[k, n]` (Linformer heads only).
    pub linformer_e: ArithShare,
    /// Shares of the Linformer value projection `F` `[k, n]` (Linformer heads only).
    pub linformer_f: ArithShare,
    /// Shares of the XNorm gain per head `[heads]` (XNorm heads only).
    pub xnorm_gamma: ArithShare,
    /// Shares of the LayerNorm 2 gain `[C]`.
    pub norm2_w: ArithShare,
    /// Shares of the LayerNorm 2 bias `[C]`.
    pub norm2_b: ArithShare,
    /// Shares of the MLP first layer `[C, K]` (`mlp.fc1.weight`).
    pub fc1_w: ArithShare,
    /// Shares of the MLP first bias `[K]`.
    pub fc1_b: ArithShare,
    /// Shares of the MLP second layer `[K, C]` (`mlp.fc2.weight`).
    pub fc2_w: ArithShare,
    /// Shares of the MLP second bias `[C]`.
    pub fc2_b: ArithShare,
    /// MPCViT+ fused `W1 W2` and `b1 W2 + b2` when the block has linearised tokens.
    pub fused: Option<(ArithShare, ArithShare)>,
}

/// Every weight of a ViT as shares.
#[derive(Clone, Debug)]
pub struct SharedWeights {
    /// Shares of the patch embedding `[patch*patch*channels, C]` (`patch_embed.weight`).
    pub patch_w: ArithShare,
    /// Shares of the patch embedding bias `[C]`.
    pub patch_b: ArithShare,
    /// Shares of the class token `[C]`.
    pub cls_token: ArithShare,
    /// Shares of the learned position embedding `[n, C]`.
    pub pos_embed: ArithShare,
    /// Shares of the transformer blocks, in order.
    pub blocks: Vec<SharedBlock>,
    /// Shares of the final LayerNorm gain `[C]` (`norm.weight`).
    pub norm_w: ArithShare,
    /// Shares of the final LayerNorm bias `[C]`.
    pub norm_b: ArithShare,
    /// Shares of the classifier `[C, classes]` (`head.weight`).
    pub head_w: ArithShare,
    /// Shares of the classifier bias `[classes]`.
    pub head_b: ArithShare,
}

fn to_f64(t: ArrayViewD<'_, f32>) -> ArrayD<f64> {
    t.mapv(|v| v as f64)
}

/// Shares the weights of a model with config `cfg` and plan `plan`: party 1 passes
/// `Some(params)`, party 0 and the dealer `None`. Fused MPCViT+ matrices are computed by the
/// owner in plaintext and shared like any weight.
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
        return Err(Error::Config(
            "party 1 must provide the model weights".into(),
        ));
    }
    p.push_label("weights");
    let mut shared = Vec::new();
    for (name, t) in source.tensors() {
        let value = to_f64(t.view());
        let s = share_input(p, owner, mine.then_some(&value), t.shape())
            .await
            .map_err(|e| Error::Model(format!("sharing {name}: {e}")))?;
        shared.push(s);
    }
    let mut fused = Vec::new();
    for (l, b) in source.blocks.iter().enumerate() {
        let needs = (0..cfg.tokens()).any(|t| plan.is_linearised(l, t));
        fused.push(if needs {
            let (wf, bf) = fuse_mlp(
                b.fc1_w.view(),
                b.fc1_b.view(),
                b.fc2_w.view(),
                b.fc2_b.view(),
            );
            let (wf, bf) = (to_f64(wf.view().into_dyn()), to_f64(bf.view().into_dyn()));
            let ws = share_input(p, owner, mine.then_some(&wf), wf.shape()).await?;
            let bs = share_input(p, owner, mine.then_some(&bf), bf.shape()).await?;
            Some((ws, bs))
        } else {
            None
        });
    }
    p.pop_label();
    let mut it = shared.into_iter();
    let mut next = || it.next().expect("one share per tensor");
    let (patch_w, patch_b, cls_token, pos_embed) = (next(), next(), next(), next());
    let mut blocks = Vec::new();
    for f in fused {
        blocks.push(SharedBlock {
            norm1_w: next(),
            norm1_b: next(),
            qkv_w: next(),
            qkv_b: next(),
            proj_w: next(),
            proj_b: next(),
            linformer_e: next(),
            linformer_f: next(),
            xnorm_gamma: next(),
            norm2_w: next(),
            norm2_b: next(),
            fc1_w: next(),
            fc1_b: next(),
            fc2_w: next(),
            fc2_b: next(),
            fused: f,
        });
    }
    Ok(SharedWeights {
        patch_w,
        patch_b,
        cls_token,
        pos_embed,
        blocks,
        norm_w: next(),
        norm_b: next(),
        head_w: next(),
        head_b: next(),
    })
}
