//! The ViT forward pass on shares, mirroring [`crate::model::vit::forward_trace`] for one image.
//! Every protocol call is labelled `layer L / attention|mlp / ...` for the cost report.

use std::collections::BTreeMap;

use serde::Serialize;

use super::attention::attention_map;
use super::weights::{SharedBlock, SharedWeights};
use crate::model::attention::{HeadKind, RowFn, XNORM_EPS};
use crate::model::layers::{patchify, LN_EPS};
use crate::model::vit::{Arch, TokenMlp};
use crate::model::{Attention, ViTConfig};
use crate::mpc::protocols::trunc::trunc_many;
use crate::mpc::protocols::{
    gelu, gelu_relu, input_matmul_fixed, layer_norm_linear, matmul_fixed, matmul_many, relu,
    FixedOperand, FoldedLinear,
};
use crate::mpc::{ArithShare, Party};
use crate::secure::heads::{linformer, xnorm, ScaleAttnSteps};
use crate::{Error, Result};

/// `x W + b` on shares, `W` a fixed operand.
async fn linear(
    p: &mut Party,
    x: &ArithShare,
    w: &FixedOperand,
    b: &ArithShare,
) -> Result<ArithShare> {
    matmul_fixed(p, x, w).await?.add(b)
}

/// `LN(x) W + b` with the norm's gain and bias folded into `w` and `b` by the weights' set-up
/// ([`crate::secure::weights`]): the product rides in the norm's squares' round.
async fn norm_linear(
    p: &mut Party,
    x: &ArithShare,
    w: &FixedOperand,
    b: &ArithShare,
) -> Result<ArithShare> {
    let map = FoldedLinear { rows: None, w, b };
    let mut out = layer_norm_linear(p, x, &[map], LN_EPS as f64).await?;
    Ok(out.remove(0))
}

/// The patch embedding `patches W + b` of party 0's image, in the round that inputs it: party 0
/// patchifies its image (a public rearrangement) and masks the patches once, for the product
/// ([`input_matmul_fixed`]); party 1 and the dealer pass `None`. `image` is
/// `channels * size * size` values in `[0, 1]`.
async fn embed_image(
    p: &mut Party,
    cfg: &ViTConfig,
    w: &SharedWeights,
    image: Option<&[f32]>,
) -> Result<ArithShare> {
    let shape = [cfg.patches(), cfg.patch_len()];
    let patches = match image {
        Some(px) => {
            cfg.check_image(px.len())?;
            let img = ndarray::ArrayView4::from_shape(
                (1, cfg.channels, cfg.image_size, cfg.image_size),
                px,
            )?;
            Some(patchify(img, cfg.patch).mapv(|v| v as f64).into_dyn())
        }
        None => None,
    };
    input_matmul_fixed(p, patches.as_ref(), &shape, &w.patch_w)
        .await?
        .add(&w.patch_b)
}

/// Writes the rows of `src` back to positions `rows` of `dst` (axis 0).
fn scatter_rows(dst: &mut ArithShare, rows: &[usize], src: &ArithShare) -> Result<()> {
    for (i, &r) in rows.iter().enumerate() {
        let row = src.slice_axis(0, i, i + 1)?;
        dst.data
            .index_axis_mut(ndarray::Axis(0), r)
            .assign(&row.data.index_axis(ndarray::Axis(0), 0));
    }
    Ok(())
}

/// Splits `qkv` (`n x 3C`) into Q, K, V of shape `(heads, n, d_k)`.
fn split_heads(qkv: &ArithShare, n: usize, heads: usize, dk: usize) -> Result<[ArithShare; 3]> {
    let t = qkv.reshape(&[n, 3, heads, dk])?.permute(&[1, 2, 0, 3])?;
    let part = |i: usize| t.slice_axis(0, i, i + 1)?.reshape(&[heads, n, dk]);
    Ok([part(0)?, part(1)?, part(2)?])
}

/// Heads `hs` of a `(heads, n, d)` tensor.
fn heads_of(x: &ArithShare, hs: &[usize]) -> Result<ArithShare> {
    x.select_rows(hs)
}

/// Multi-head attention of one layer: `(n, C)` normalised tokens to the concatenated head
/// outputs `(n, C)` (before the output projection). Heads are grouped by what they compute so
/// that each group shares its rounds.
async fn attention(
    p: &mut Party,
    cfg: &ViTConfig,
    kinds: &[HeadKind],
    w: &SharedBlock,
    qkv: &ArithShare,
) -> Result<ArithShare> {
    let (n, heads, dk) = (cfg.tokens(), cfg.heads, cfg.head_dim());
    let [q, k, v] = split_heads(qkv, n, heads, dk)?;
    let scale_qk = 1.0 / (dk as f64).sqrt();
    let mut out = ArithShare::zeros(&[heads, n, dk]);

    // Whole-head kinds.
    let mut scale_heads = Vec::new();
    let mut lin_heads = Vec::new();
    let mut xnorm_heads = Vec::new();
    let mut map_heads = Vec::new();
    for (h, kind) in kinds.iter().enumerate() {
        match kind {
            HeadKind::Linformer => lin_heads.push(h),
            HeadKind::XNorm => xnorm_heads.push(h),
            HeadKind::Rows(rows) => {
                if rows.iter().any(|r| matches!(r, RowFn::Mix(_))) {
                    return Err(Error::Unsupported(
                        "a searched (relaxed) head cannot run privately: binarise the plan first"
                            .into(),
                    ));
                }
                if rows
                    .iter()
                    .all(|r| *r == RowFn::Variant(Attention::ScaleAttn))
                {
                    scale_heads.push(h);
                } else {
                    map_heads.push(h);
                }
            }
        }
    }
    if !lin_heads.is_empty() {
        let mut p = p.scoped("linformer heads");
        let (qs, ks, vs) = (
            heads_of(&q, &lin_heads)?,
            heads_of(&k, &lin_heads)?,
            heads_of(&v, &lin_heads)?,
        );
        let o = linformer(
            &mut p,
            &qs,
            &ks,
            &vs,
            &w.linformer_e,
            &w.linformer_f,
            scale_qk,
        )
        .await?;
        scatter_rows(&mut out, &lin_heads, &o)?;
    }
    if !xnorm_heads.is_empty() {
        let mut p = p.scoped("xnorm heads");
        let (qs, ks, vs) = (
            heads_of(&q, &xnorm_heads)?,
            heads_of(&k, &xnorm_heads)?,
            heads_of(&v, &xnorm_heads)?,
        );
        let gamma = w.xnorm_gamma.select_rows(&xnorm_heads)?;
        let o = xnorm(&mut p, &qs, &ks, &vs, &gamma, XNORM_EPS as f64).await?;
        scatter_rows(&mut out, &xnorm_heads, &o)?;
    }
    scale_and_map_heads(p, kinds, [&q, &k, &v], &scale_heads, &map_heads, &mut out).await?;
    out.permute(&[1, 0, 2])?.reshape(&[n, heads * dk])
}

/// The ScaleAttn heads and the row-map heads of one layer (`q, k, v` of shape `(heads, n, dk)`),
/// written into `out`. When a layer has both, they share rounds: ScaleAttn's first product runs
/// with the maps' `Q K^T`, the two scalings truncate together and ScaleAttn's second product
/// runs with the maps' `P V` ([`ScaleAttnSteps`]), so a mixed layer of the paper's head-wise
/// plans (section 4.2) pays the map heads' rounds only: its ScaleAttn heads add bytes, not
/// rounds.
async fn scale_and_map_heads(
    p: &mut Party,
    kinds: &[HeadKind],
    [q, k, v]: [&ArithShare; 3],
    scale_heads: &[usize],
    map_heads: &[usize],
    out: &mut ArithShare,
) -> Result<()> {
    if scale_heads.is_empty() && map_heads.is_empty() {
        return Ok(());
    }
    let (n, dk) = (q.shape()[1], q.shape()[2]);
    let scale_qk = 1.0 / (dk as f64).sqrt();
    let p = &mut *p.scoped(match (scale_heads.is_empty(), map_heads.is_empty()) {
        (false, true) => "scale heads",
        (true, false) => "map heads",
        _ => "scale + map heads",
    });
    let steps = if scale_heads.is_empty() {
        None
    } else {
        Some(ScaleAttnSteps::new(
            heads_of(q, scale_heads)?,
            &heads_of(k, scale_heads)?,
            heads_of(v, scale_heads)?,
            scale_qk / n as f64,
        )?)
    };
    let maps = if map_heads.is_empty() {
        None
    } else {
        Some((
            heads_of(q, map_heads)?,
            heads_of(k, map_heads)?.transpose_last2()?,
            heads_of(v, map_heads)?,
        ))
    };
    // Round 1: ScaleAttn's first product beside the maps' scores.
    let mut firsts = Vec::new();
    if let Some(st) = &steps {
        firsts.push(st.first());
    }
    if let Some((qm, ktm, _)) = &maps {
        firsts.push((qm, ktm));
    }
    let mut products = matmul_many(p, &firsts).await?.into_iter();
    let mut scaled = Vec::new();
    if let Some(st) = &steps {
        scaled.push(st.scaled(p, products.next().expect("one product per group")));
    }
    if maps.is_some() {
        let s = products.next().expect("one product per group");
        scaled.push(s.mul_int(p.fp().encode(scale_qk)));
    }
    let f = p.fp().frac_bits;
    let mut scaled = trunc_many(p, scaled, f).await?.into_iter();
    let scale_second = steps.map(|st| st.second(scaled.next().expect("one scaling per group")));
    let pm = match scaled.next() {
        Some(s) => Some(map_rows(p, kinds, map_heads, n, &s).await?),
        None => None,
    };
    // Last round: ScaleAttn's second product beside the maps' P V.
    let mut seconds = Vec::new();
    if let Some((a, b)) = &scale_second {
        seconds.push((a, b));
    }
    if let (Some(pm), Some((_, _, vm))) = (&pm, &maps) {
        seconds.push((pm, vm));
    }
    let outputs = matmul_many(p, &seconds).await?;
    // The outputs come in the order the groups were pushed: ScaleAttn first, then the maps.
    let groups = [
        (scale_second.is_some(), scale_heads),
        (pm.is_some(), map_heads),
    ];
    let present = groups.iter().filter(|(on, _)| *on).map(|(_, hs)| hs);
    for (hs, o) in present.zip(&outputs) {
        scatter_rows(out, hs, o)?;
    }
    Ok(())
}

/// The row maps of the map heads `map_heads` on their scaled scores `s` (`(heads, n, n)`):
/// rows of every head flattened to `(heads * n, n)` and grouped by variant, one group per
/// protocol run, under a label per variant.
async fn map_rows(
    p: &mut Party,
    kinds: &[HeadKind],
    map_heads: &[usize],
    n: usize,
    s: &ArithShare,
) -> Result<ArithShare> {
    let flat = s.reshape(&[map_heads.len() * n, n])?;
    let mut groups: BTreeMap<&'static str, (Attention, Vec<usize>)> = BTreeMap::new();
    for (i, &h) in map_heads.iter().enumerate() {
        let HeadKind::Rows(rows) = &kinds[h] else {
            unreachable!("map heads are row-wise")
        };
        for (r, f) in rows.iter().enumerate() {
            let RowFn::Variant(a) = f else {
                unreachable!("mixes rejected by attention")
            };
            groups
                .entry(a.name())
                .or_insert((*a, Vec::new()))
                .1
                .push(i * n + r);
        }
    }
    let mut pm = ArithShare::zeros(&[map_heads.len() * n, n]);
    for (name, (variant, rows)) in groups {
        let mut p = p.scoped(name);
        let sr = if rows.len() == flat.shape()[0] {
            flat.clone()
        } else {
            flat.select_rows(&rows)?
        };
        let m = attention_map(&mut p, variant, &sr).await?;
        scatter_rows(&mut pm, &rows, &m)?;
    }
    pm.reshape(&[map_heads.len(), n, n])
}

/// LayerNorm 2 and the MLP of one layer on `(n, C)` tokens: GeLU tokens run `GeLU(LN(x) W1 +
/// b1) W2 + b2`, linearised tokens `ReLU(LN(x) W_f + b_f)` (MPCViT+, section 4.5), the norm
/// folded into `W1` and `W_f` ([`layer_norm_linear`]). When a layer has both, they share
/// rounds: `x W1` and `x W_f` ride in the norm's rounds together, and the ReLU rides in GeLU's
/// comparison and first bit-product rounds ([`gelu_relu`]), so linearising tokens saves bytes
/// and compute without adding rounds.
async fn mlp(
    p: &mut Party,
    modes: &[TokenMlp],
    w: &SharedBlock,
    x: &ArithShare,
) -> Result<ArithShare> {
    let gelu_rows: Vec<usize> = (0..modes.len())
        .filter(|&t| modes[t] == TokenMlp::Gelu)
        .collect();
    let lin_rows: Vec<usize> = (0..modes.len())
        .filter(|&t| modes[t] == TokenMlp::Linear)
        .collect();
    if gelu_rows.len() + lin_rows.len() != modes.len() {
        return Err(Error::Unsupported(
            "a searched (relaxed) GeLU cannot run privately: binarise the plan first".into(),
        ));
    }
    if lin_rows.is_empty() {
        let p = &mut *p.scoped("gelu tokens");
        let h = norm_linear(p, x, &w.fc1_w, &w.fc1_b).await?;
        let h = gelu(p, &h).await?;
        return linear(p, &h, &w.fc2_w, &w.fc2_b).await;
    }
    let (wf, bf) = w
        .fused
        .as_ref()
        .ok_or_else(|| Error::Unsupported("linearised tokens without fused weights".into()))?;
    if gelu_rows.is_empty() {
        let p = &mut *p.scoped("linear tokens");
        let pre = norm_linear(p, x, wf, bf).await?;
        return relu(p, &pre).await;
    }
    let p = &mut *p.scoped("gelu + linear tokens");
    let maps = [
        FoldedLinear {
            rows: Some(&gelu_rows),
            w: &w.fc1_w,
            b: &w.fc1_b,
        },
        FoldedLinear {
            rows: Some(&lin_rows),
            w: wf,
            b: bf,
        },
    ];
    let mut pre = layer_norm_linear(p, x, &maps, LN_EPS as f64).await?;
    let lin_pre = pre.remove(1);
    let (h, lin) = gelu_relu(p, &pre.remove(0), &lin_pre).await?;
    let y = linear(p, &h, &w.fc2_w, &w.fc2_b).await?;
    let mut out = ArithShare::zeros(x.shape());
    scatter_rows(&mut out, &gelu_rows, &y)?;
    scatter_rows(&mut out, &lin_rows, &lin)?;
    Ok(out)
}

/// Where a private inference is, for progress displays: a control signal that carries no
/// share and no value, only the public position in the (public) architecture.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "stage", rename_all = "lowercase")]
pub enum Stage {
    /// The server's weights are being masked and shared (once per session).
    Weights,
    /// Patch embedding of the client's image (its input round).
    Embed,
    /// Block `layer` (0-based) of `layers` has started.
    Layer {
        /// The block, 0-based.
        layer: usize,
        /// Blocks in the model.
        layers: usize,
    },
    /// Final norm, head and the reveal of the logits.
    Head,
}

/// The private forward: party 0's image (`None` at party 1 and in the dealer's run) to shared
/// logits `(1, classes)`.
pub async fn forward(
    p: &mut Party,
    cfg: &ViTConfig,
    arch: &Arch,
    w: &SharedWeights,
    image: Option<&[f32]>,
) -> Result<ArithShare> {
    forward_observed(p, cfg, arch, w, image, &mut |_| {}).await
}

/// [`forward`], telling `on_stage` as each stage (embedding, every block, the head) starts.
pub async fn forward_observed(
    p: &mut Party,
    cfg: &ViTConfig,
    arch: &Arch,
    w: &SharedWeights,
    image: Option<&[f32]>,
    on_stage: &mut dyn FnMut(Stage),
) -> Result<ArithShare> {
    on_stage(Stage::Embed);
    let emb = embed_image(&mut p.scoped("embed"), cfg, w, image).await?;
    let cls = w.cls_token.reshape(&[1, cfg.dim])?;
    let mut x = ArithShare::concat(0, &[&cls, &emb])?.add(&w.pos_embed)?;
    for (l, b) in w.blocks.iter().enumerate() {
        on_stage(Stage::Layer {
            layer: l,
            layers: w.blocks.len(),
        });
        let mut layer = p.scoped(format!("layer {l}"));
        {
            let p = &mut *layer.scoped("attention");
            let qkv = norm_linear(p, &x, &b.qkv_w, &b.qkv_b).await?;
            let a = attention(p, cfg, &arch.heads[l], b, &qkv).await?;
            let a = linear(p, &a, &b.proj_w, &b.proj_b).await?;
            x = x.add(&a)?;
        }
        let m = mlp(&mut layer.scoped("mlp"), &arch.mlp[l], b, &x).await?;
        x = x.add(&m)?;
    }
    on_stage(Stage::Head);
    let cls = x.slice_axis(0, 0, 1)?;
    norm_linear(&mut p.scoped("head"), &cls, &w.head_w, &w.head_b).await
}
