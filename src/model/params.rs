//! The learned tensors of a ViT and their names in weight files.
//!
//! Linear layers compute `y = x W + b` with `W` stored as `[in, out]`. Tensor names (the
//! safetensors keys, all f32):
//!
//! | name | shape |
//! |---|---|
//! | `patch_embed.weight`, `patch_embed.bias` | `[patch*patch*channels, C]`, `[C]` |
//! | `cls_token`, `pos_embed` | `[C]`, `[n, C]` |
//! | `blocks.{i}.norm1.weight`, `.norm1.bias`, `.norm2.weight`, `.norm2.bias` | `[C]` |
//! | `blocks.{i}.attn.qkv.weight`, `.attn.qkv.bias` | `[C, 3C]`, `[3C]` (columns: Q, K, V; head h owns columns `h*d_k..(h+1)*d_k` of each) |
//! | `blocks.{i}.attn.proj.weight`, `.attn.proj.bias` | `[C, C]`, `[C]` |
//! | `blocks.{i}.attn.linformer_e`, `.attn.linformer_f` | `[k, n]` (used by Linformer heads only) |
//! | `blocks.{i}.attn.xnorm_gamma` | `[heads]` (used by XNorm heads only) |
//! | `blocks.{i}.mlp.fc1.weight`, `.mlp.fc1.bias` | `[C, K]`, `[K]` |
//! | `blocks.{i}.mlp.fc2.weight`, `.mlp.fc2.bias` | `[K, C]`, `[C]` |
//! | `norm.weight`, `norm.bias` | `[C]` |
//! | `head.weight`, `head.bias` | `[C, classes]`, `[classes]` |

use ndarray::{Array1, Array2, ArrayViewD, ArrayViewMutD};
use rand::Rng;
use rand_distr::{Distribution, Normal};

use super::ViTConfig;

/// Parameters of one transformer block.
#[derive(Clone, Debug, PartialEq)]
pub struct BlockParams {
    /// LayerNorm 1 gain `[C]` (`norm1.weight`).
    pub norm1_w: Array1<f32>,
    /// LayerNorm 1 bias `[C]`.
    pub norm1_b: Array1<f32>,
    /// Q, K, V projection `[C, 3C]` (`attn.qkv.weight`).
    pub qkv_w: Array2<f32>,
    /// Q, K, V bias `[3C]`.
    pub qkv_b: Array1<f32>,
    /// Attention output projection `[C, C]` (`attn.proj.weight`).
    pub proj_w: Array2<f32>,
    /// Output projection bias `[C]`.
    pub proj_b: Array1<f32>,
    /// Linformer key projection `E` `[k, n]` (Linformer heads only).
    pub linformer_e: Array2<f32>,
    /// Linformer value projection `F` `[k, n]` (Linformer heads only).
    pub linformer_f: Array2<f32>,
    /// XNorm gain per head `[heads]` (XNorm heads only).
    pub xnorm_gamma: Array1<f32>,
    /// LayerNorm 2 gain `[C]`.
    pub norm2_w: Array1<f32>,
    /// LayerNorm 2 bias `[C]`.
    pub norm2_b: Array1<f32>,
    /// MLP first layer `[C, K]` (`mlp.fc1.weight`).
    pub fc1_w: Array2<f32>,
    /// MLP first bias `[K]`.
    pub fc1_b: Array1<f32>,
    /// MLP second layer `[K, C]` (`mlp.fc2.weight`).
    pub fc2_w: Array2<f32>,
    /// MLP second bias `[C]`.
    pub fc2_b: Array1<f32>,
}

/// All parameters of a ViT. The same type holds gradients and optimiser moments.
#[derive(Clone, Debug, PartialEq)]
pub struct Params {
    /// Patch embedding `[patch*patch*channels, C]` (`patch_embed.weight`).
    pub patch_w: Array2<f32>,
    /// Patch embedding bias `[C]`.
    pub patch_b: Array1<f32>,
    /// The class token `[C]`.
    pub cls_token: Array1<f32>,
    /// Learned position embedding `[n, C]`.
    pub pos_embed: Array2<f32>,
    /// The transformer blocks, in order.
    pub blocks: Vec<BlockParams>,
    /// Final LayerNorm gain `[C]` (`norm.weight`).
    pub norm_w: Array1<f32>,
    /// Final LayerNorm bias `[C]`.
    pub norm_b: Array1<f32>,
    /// Classifier `[C, classes]` (`head.weight`).
    pub head_w: Array2<f32>,
    /// Classifier bias `[classes]`.
    pub head_b: Array1<f32>,
}

fn normal2(rng: &mut impl Rng, rows: usize, cols: usize, std: f32) -> Array2<f32> {
    let dist = Normal::new(0.0f32, std).expect("finite std");
    Array2::from_shape_simple_fn((rows, cols), || dist.sample(rng))
}

fn normal1(rng: &mut impl Rng, len: usize, std: f32) -> Array1<f32> {
    let dist = Normal::new(0.0f32, std).expect("finite std");
    Array1::from_shape_simple_fn(len, || dist.sample(rng))
}

impl Params {
    /// Fresh parameters: truncated-free normal(0, 0.02) weights as in ViT, zero biases, unit
    /// LayerNorm gains, XNorm gains of 1, Linformer projections averaging neighbouring tokens.
    pub fn init(cfg: &ViTConfig, rng: &mut impl Rng) -> Self {
        let (c, n, k, hid) = (cfg.dim, cfg.tokens(), cfg.linformer_k, cfg.hidden());
        let std = 0.02;
        let blocks = (0..cfg.depth)
            .map(|_| BlockParams {
                norm1_w: Array1::ones(c),
                norm1_b: Array1::zeros(c),
                qkv_w: normal2(rng, c, 3 * c, std),
                qkv_b: Array1::zeros(3 * c),
                proj_w: normal2(rng, c, c, std),
                proj_b: Array1::zeros(c),
                linformer_e: normal2(rng, k, n, 1.0 / n as f32),
                linformer_f: normal2(rng, k, n, 1.0 / n as f32),
                xnorm_gamma: Array1::ones(cfg.heads),
                norm2_w: Array1::ones(c),
                norm2_b: Array1::zeros(c),
                fc1_w: normal2(rng, c, hid, std),
                fc1_b: Array1::zeros(hid),
                fc2_w: normal2(rng, hid, c, std),
                fc2_b: Array1::zeros(c),
            })
            .collect();
        Params {
            patch_w: normal2(rng, cfg.patch_len(), c, std),
            patch_b: Array1::zeros(c),
            cls_token: normal1(rng, c, std),
            pos_embed: normal2(rng, n, c, std),
            blocks,
            norm_w: Array1::ones(c),
            norm_b: Array1::zeros(c),
            head_w: normal2(rng, c, cfg.classes, std),
            head_b: Array1::zeros(cfg.classes),
        }
    }

    /// A tensor of zeros shaped like every parameter (for gradients and moments).
    pub fn zeros_like(&self) -> Self {
        let mut z = self.clone();
        z.for_each_mut(|_, mut t| t.fill(0.0));
        z
    }

    /// Every tensor with its file name, in a fixed order.
    pub fn tensors(&self) -> Vec<(String, ArrayViewD<'_, f32>)> {
        let mut out = vec![
            (
                "patch_embed.weight".to_string(),
                self.patch_w.view().into_dyn(),
            ),
            (
                "patch_embed.bias".to_string(),
                self.patch_b.view().into_dyn(),
            ),
            ("cls_token".to_string(), self.cls_token.view().into_dyn()),
            ("pos_embed".to_string(), self.pos_embed.view().into_dyn()),
        ];
        for (i, b) in self.blocks.iter().enumerate() {
            out.extend(
                b.named()
                    .into_iter()
                    .map(|(name, t)| (format!("blocks.{i}.{name}"), t)),
            );
        }
        out.extend([
            ("norm.weight".to_string(), self.norm_w.view().into_dyn()),
            ("norm.bias".to_string(), self.norm_b.view().into_dyn()),
            ("head.weight".to_string(), self.head_w.view().into_dyn()),
            ("head.bias".to_string(), self.head_b.view().into_dyn()),
        ]);
        out
    }

    /// Every tensor mutably with its file name, in the order of [`Params::tensors`].
    pub fn tensors_mut(&mut self) -> Vec<(String, ArrayViewMutD<'_, f32>)> {
        let mut out = vec![
            (
                "patch_embed.weight".to_string(),
                self.patch_w.view_mut().into_dyn(),
            ),
            (
                "patch_embed.bias".to_string(),
                self.patch_b.view_mut().into_dyn(),
            ),
            (
                "cls_token".to_string(),
                self.cls_token.view_mut().into_dyn(),
            ),
            (
                "pos_embed".to_string(),
                self.pos_embed.view_mut().into_dyn(),
            ),
        ];
        for (i, b) in self.blocks.iter_mut().enumerate() {
            out.extend(
                b.named_mut()
                    .into_iter()
                    .map(|(name, t)| (format!("blocks.{i}.{name}"), t)),
            );
        }
        out.extend([
            ("norm.weight".to_string(), self.norm_w.view_mut().into_dyn()),
            ("norm.bias".to_string(), self.norm_b.view_mut().into_dyn()),
            ("head.weight".to_string(), self.head_w.view_mut().into_dyn()),
            ("head.bias".to_string(), self.head_b.view_mut().into_dyn()),
        ]);
        out
    }

    /// Visits every tensor with its file name, in the order of [`Params::tensors`].
    pub fn for_each(&self, mut f: impl FnMut(&str, ArrayViewD<'_, f32>)) {
        for (name, t) in self.tensors() {
            f(&name, t);
        }
    }

    /// Visits every tensor mutably with its file name, in the order of [`Params::tensors`].
    pub fn for_each_mut(&mut self, mut f: impl FnMut(&str, ArrayViewMutD<'_, f32>)) {
        for (name, t) in self.tensors_mut() {
            f(&name, t);
        }
    }

    /// Total number of scalars.
    pub fn count(&self) -> usize {
        let mut n = 0;
        self.for_each(|_, t| n += t.len());
        n
    }
}

impl BlockParams {
    fn named(&self) -> [(&'static str, ArrayViewD<'_, f32>); 15] {
        [
            ("norm1.weight", self.norm1_w.view().into_dyn()),
            ("norm1.bias", self.norm1_b.view().into_dyn()),
            ("attn.qkv.weight", self.qkv_w.view().into_dyn()),
            ("attn.qkv.bias", self.qkv_b.view().into_dyn()),
            ("attn.proj.weight", self.proj_w.view().into_dyn()),
            ("attn.proj.bias", self.proj_b.view().into_dyn()),
            ("attn.linformer_e", self.linformer_e.view().into_dyn()),
            ("attn.linformer_f", self.linformer_f.view().into_dyn()),
            ("attn.xnorm_gamma", self.xnorm_gamma.view().into_dyn()),
            ("norm2.weight", self.norm2_w.view().into_dyn()),
            ("norm2.bias", self.norm2_b.view().into_dyn()),
            ("mlp.fc1.weight", self.fc1_w.view().into_dyn()),
            ("mlp.fc1.bias", self.fc1_b.view().into_dyn()),
            ("mlp.fc2.weight", self.fc2_w.view().into_dyn()),
            ("mlp.fc2.bias", self.fc2_b.view().into_dyn()),
        ]
    }

    fn named_mut(&mut self) -> [(&'static str, ArrayViewMutD<'_, f32>); 15] {
        [
            ("norm1.weight", self.norm1_w.view_mut().into_dyn()),
            ("norm1.bias", self.norm1_b.view_mut().into_dyn()),
            ("attn.qkv.weight", self.qkv_w.view_mut().into_dyn()),
            ("attn.qkv.bias", self.qkv_b.view_mut().into_dyn()),
            ("attn.proj.weight", self.proj_w.view_mut().into_dyn()),
            ("attn.proj.bias", self.proj_b.view_mut().into_dyn()),
            ("attn.linformer_e", self.linformer_e.view_mut().into_dyn()),
            ("attn.linformer_f", self.linformer_f.view_mut().into_dyn()),
            ("attn.xnorm_gamma", self.xnorm_gamma.view_mut().into_dyn()),
            ("norm2.weight", self.norm2_w.view_mut().into_dyn()),
            ("norm2.bias", self.norm2_b.view_mut().into_dyn()),
            ("mlp.fc1.weight", self.fc1_w.view_mut().into_dyn()),
            ("mlp.fc1.bias", self.fc1_b.view_mut().into_dyn()),
            ("mlp.fc2.weight", self.fc2_w.view_mut().into_dyn()),
            ("mlp.fc2.bias", self.fc2_b.view_mut().into_dyn()),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn names_are_unique_and_ordered_the_same_both_ways() {
        let cfg = ViTConfig::demo();
        let mut p = Params::init(&cfg, &mut ChaCha8Rng::seed_from_u64(1));
        let mut names = Vec::new();
        p.for_each(|n, _| names.push(n.to_string()));
        let mut names_mut = Vec::new();
        p.for_each_mut(|n, _| names_mut.push(n.to_string()));
        assert_eq!(names, names_mut);
        let mut sorted = names.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), names.len());
        assert_eq!(names.len(), 4 + 15 * cfg.depth + 4);
        assert!(p.count() > 100_000);
    }
}
