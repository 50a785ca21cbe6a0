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
//!
//! One type, generic over the element, holds the weights (`Params<f32>`, the default), their
//! gradients and AdamW's moments; [`Params::map`] derives one from another. Each struct's
//! fields, their file names and their order are written once, in [`param_struct!`], which
//! generates the named views (shared and mutable) and the map from that one list, so no code
//! depends on an order written twice. The secure side does not hold a `Params<Share>`: it shares
//! the folded inference map built from these tensors (`secure::weights`), not the tensors.

use ndarray::{Array1, Array2, ArrayViewD, ArrayViewMutD};
use rand::Rng;
use rand_distr::{Distribution, Normal};

use super::ViTConfig;
use crate::{Error, Result};

/// Declares a parameter struct generic over its element `T` (default `f32`) from one list of
/// `field: Array1 | Array2 = "file name"` entries, optionally followed by `[blocks]`, a
/// `Vec<BlockParams>` field and more entries (the order of the weight file's table above),
/// and generates from that list:
/// * `tensors` / `tensors_mut`: every tensor with its file name, in list order;
/// * `map`: the same structure with `f` applied to every element.
macro_rules! param_struct {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( $(#[$fmeta:meta])* $field:ident : $arr:ident = $file:literal, )*
            $( [blocks]
               $(#[$bmeta:meta])* $blocks:ident : Vec<$block:ident>,
               $( $(#[$ameta:meta])* $afield:ident : $aarr:ident = $afile:literal, )*
            )?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq)]
        pub struct $name<T = f32> {
            $( $(#[$fmeta])* pub $field: $arr<T>, )*
            $(
                $(#[$bmeta])* pub $blocks: Vec<$block<T>>,
                $( $(#[$ameta])* pub $afield: $aarr<T>, )*
            )?
        }

        impl<T> $name<T> {
            /// Every tensor with its file name, in file order.
            pub fn tensors(&self) -> Vec<(String, ArrayViewD<'_, T>)> {
                #[allow(unused_mut)]
                let mut out = vec![$( ($file.to_string(), self.$field.view().into_dyn()), )*];
                $(
                    for (i, b) in self.$blocks.iter().enumerate() {
                        out.extend(
                            b.tensors()
                                .into_iter()
                                .map(|(name, t)| (format!("blocks.{i}.{name}"), t)),
                        );
                    }
                    out.extend([$( ($afile.to_string(), self.$afield.view().into_dyn()), )*]);
                )?
                out
            }

            /// Every tensor mutably with its file name, in the order of `tensors`.
            pub fn tensors_mut(&mut self) -> Vec<(String, ArrayViewMutD<'_, T>)> {
                #[allow(unused_mut)]
                let mut out =
                    vec![$( ($file.to_string(), self.$field.view_mut().into_dyn()), )*];
                $(
                    for (i, b) in self.$blocks.iter_mut().enumerate() {
                        out.extend(
                            b.tensors_mut()
                                .into_iter()
                                .map(|(name, t)| (format!("blocks.{i}.{name}"), t)),
                        );
                    }
                    out.extend(
                        [$( ($afile.to_string(), self.$afield.view_mut().into_dyn()), )*],
                    );
                )?
                out
            }

            /// The same tensors with `f` applied to every element (gradients and moments are
            /// `map`s of the weights; so is a cast to another element type).
            pub fn map<U>(&self, mut f: impl FnMut(&T) -> U) -> $name<U> {
                $name {
                    $( $field: self.$field.map(&mut f), )*
                    $(
                        $blocks: self.$blocks.iter().map(|b| b.map(&mut f)).collect(),
                        $( $afield: self.$afield.map(&mut f), )*
                    )?
                }
            }
        }
    };
}

param_struct! {
    /// Parameters of one transformer block.
    pub struct BlockParams {
        /// LayerNorm 1 gain `[C]`.
        norm1_w: Array1 = "norm1.weight",
        /// LayerNorm 1 bias `[C]`.
        norm1_b: Array1 = "norm1.bias",
        /// Q, K, V projection `[C, 3C]`.
        qkv_w: Array2 = "attn.qkv.weight",
        /// Q, K, V bias `[3C]`.
        qkv_b: Array1 = "attn.qkv.bias",
        /// Attention output projection `[C, C]`.
        proj_w: Array2 = "attn.proj.weight",
        /// Output projection bias `[C]`.
        proj_b: Array1 = "attn.proj.bias",
        /// Linformer key projection `E` `[k, n]` (Linformer heads only).
        linformer_e: Array2 = "attn.linformer_e",
        /// Linformer value projection `F` `[k, n]` (Linformer heads only).
        linformer_f: Array2 = "attn.linformer_f",
        /// XNorm gain per head `[heads]` (XNorm heads only).
        xnorm_gamma: Array1 = "attn.xnorm_gamma",
        /// LayerNorm 2 gain `[C]`.
        norm2_w: Array1 = "norm2.weight",
        /// LayerNorm 2 bias `[C]`.
        norm2_b: Array1 = "norm2.bias",
        /// MLP first layer `[C, K]`.
        fc1_w: Array2 = "mlp.fc1.weight",
        /// MLP first bias `[K]`.
        fc1_b: Array1 = "mlp.fc1.bias",
        /// MLP second layer `[K, C]`.
        fc2_w: Array2 = "mlp.fc2.weight",
        /// MLP second bias `[C]`.
        fc2_b: Array1 = "mlp.fc2.bias",
    }
}

param_struct! {
    /// All parameters of a ViT; with `T = f32` the weights, their gradients or AdamW's moments.
    pub struct Params {
        /// Patch embedding `[patch*patch*channels, C]`.
        patch_w: Array2 = "patch_embed.weight",
        /// Patch embedding bias `[C]`.
        patch_b: Array1 = "patch_embed.bias",
        /// The class token `[C]`.
        cls_token: Array1 = "cls_token",
        /// Learned position embedding `[n, C]`.
        pos_embed: Array2 = "pos_embed",
        [blocks]
        /// The transformer blocks, in order.
        blocks: Vec<BlockParams>,
        /// Final LayerNorm gain `[C]`.
        norm_w: Array1 = "norm.weight",
        /// Final LayerNorm bias `[C]`.
        norm_b: Array1 = "norm.bias",
        /// Classifier `[C, classes]`.
        head_w: Array2 = "head.weight",
        /// Classifier bias `[classes]`.
        head_b: Array1 = "head.bias",
    }
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
    /// This is the one source of the tensors' shapes for a config.
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
}

impl<T> Params<T> {
    /// Visits every tensor with its file name, in the order of [`Params::tensors`].
    pub fn for_each(&self, mut f: impl FnMut(&str, ArrayViewD<'_, T>)) {
        for (name, t) in self.tensors() {
            f(&name, t);
        }
    }

    /// Visits every tensor mutably with its file name, in the order of [`Params::tensors`].
    pub fn for_each_mut(&mut self, mut f: impl FnMut(&str, ArrayViewMutD<'_, T>)) {
        for (name, t) in self.tensors_mut() {
            f(&name, t);
        }
    }

    /// Total number of scalars.
    pub fn count(&self) -> usize {
        self.tensors().iter().map(|(_, t)| t.len()).sum()
    }

    /// Every tensor's file name and shape, in the order of [`Params::tensors`].
    pub fn shapes(&self) -> Vec<(String, Vec<usize>)> {
        let views = self.tensors();
        views
            .into_iter()
            .map(|(name, t)| (name, t.shape().to_vec()))
            .collect()
    }

    /// Checks that these tensors have exactly the names and shapes of `want` (for instance
    /// [`Params::init`] of a config), naming the first that differs.
    pub fn check_shapes<U>(&self, want: &Params<U>) -> Result<()> {
        if self.blocks.len() != want.blocks.len() {
            return Err(Error::shape(
                "model blocks",
                want.blocks.len(),
                self.blocks.len(),
            ));
        }
        let first_difference = want
            .shapes()
            .into_iter()
            .zip(self.shapes())
            .find(|(w, g)| w != g);
        match first_difference {
            None => Ok(()),
            Some(((tensor, expected), (_, got))) => Err(Error::TensorShape {
                tensor,
                expected,
                got,
            }),
        }
    }
}

impl<T: Clone + Default> Params<T> {
    /// The same shapes filled with `T::default()` (zero for numbers: gradients and moments).
    pub fn zeros_like(&self) -> Self {
        self.map(|_| T::default())
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
        // The file table's order: embedding, blocks, final norm and head.
        assert_eq!(names[0], "patch_embed.weight");
        assert_eq!(names[4], "blocks.0.norm1.weight");
        assert_eq!(names[names.len() - 1], "head.bias");
    }

    #[test]
    fn map_keeps_names_and_shapes_and_changes_the_elements() {
        let cfg = ViTConfig::tiny();
        let p = Params::init(&cfg, &mut ChaCha8Rng::seed_from_u64(2));
        let doubled: Params<f64> = p.map(|&v| 2.0 * v as f64);
        assert_eq!(doubled.shapes(), p.shapes());
        for ((_, a), (_, b)) in p.tensors().into_iter().zip(doubled.tensors()) {
            assert!(a.iter().zip(b.iter()).all(|(&x, &y)| y == 2.0 * x as f64));
        }
        let zeros = p.zeros_like();
        assert_eq!(zeros.shapes(), p.shapes());
        assert!(zeros
            .tensors()
            .iter()
            .all(|(_, t)| t.iter().all(|&v| v == 0.0)));
    }

    #[test]
    fn check_shapes_names_the_first_tensor_that_differs() {
        let cfg = ViTConfig::tiny();
        let want = Params::init(&cfg, &mut ChaCha8Rng::seed_from_u64(3));
        assert!(want.zeros_like().check_shapes(&want).is_ok());
        let mut bad = want.clone();
        bad.blocks[0].fc1_b = Array1::zeros(bad.blocks[0].fc1_b.len() + 1);
        match bad.check_shapes(&want) {
            Err(Error::TensorShape {
                tensor,
                expected,
                got,
            }) => {
                assert_eq!(tensor, "blocks.0.mlp.fc1.bias");
                assert_eq!(got, vec![expected[0] + 1]);
            }
            other => panic!("expected a tensor shape error, got {other:?}"),
        }
        let mut shallow = want.clone();
        shallow.blocks.pop();
        assert!(matches!(
            shallow.check_shapes(&want),
            Err(Error::ShapeMismatch {
                op: "model blocks",
                ..
            })
        ));
    }
}
