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
    pub norm1_w: ArithShare,
    pub norm1_b: ArithShare,
    pub qkv_w: ArithShare,
    pub qkv_b: ArithShare,
    pub proj_w: ArithShare,
    pub proj_b: ArithShare,
    pub linformer_e: ArithShare,
    pub linformer_f: ArithShare,
    pub xnorm_gamma: ArithShare,
    pub norm2_w: ArithShare,
    pub norm2_b: ArithShare,
    pub fc1_w: ArithShare,
    pub fc1_b: ArithShare,
    pub fc2_w: ArithShare,
    pub fc2_b: ArithShare,
    /// MPCViT+ fused `W1 W2` and `b1 W2 + b2` when the block has linearised tokens.
    pub fused: Option<(ArithShare, ArithShare)>,
}

/// Every weight of a ViT as shares.
#[derive(Clone, Debug)]
pub struct SharedWeights {
    pub patch_w: ArithShare,
    pub patch_b: ArithShare,
    pub cls_token: ArithShare,
    pub pos_embed: ArithShare,
    pub blocks: Vec<SharedBlock>,
    pub norm_w: ArithShare,
    pub norm_b: ArithShare,
    pub head_w: ArithShare,
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
