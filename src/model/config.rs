//! The ViT hyper-parameters (paper section 5.1; DESIGN section 3).

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Shape of a Vision Transformer: patch embedding, class token and learned positions, `depth`
/// pre-norm blocks (LayerNorm, multi-head attention, LayerNorm, MLP with GeLU), final LayerNorm
/// and a linear head.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViTConfig {
    /// Side of the square input image, in pixels.
    pub image_size: usize,
    /// Input channels (1 for the digit and clothing datasets).
    pub channels: usize,
    /// Side of a square patch; must divide `image_size`.
    pub patch: usize,
    /// Embedding width C.
    pub dim: usize,
    /// Number of transformer blocks L.
    pub depth: usize,
    /// Attention heads N per block; must divide `dim`.
    pub heads: usize,
    /// MLP hidden width is `mlp_ratio * dim` (2 or 4 in the paper).
    pub mlp_ratio: usize,
    /// Output classes.
    pub classes: usize,
    /// Projected sequence length k of Linformer attention (its E and F are k x n).
    #[serde(default = "default_linformer_k")]
    pub linformer_k: usize,
}

fn default_linformer_k() -> usize {
    8
}

impl ViTConfig {
    /// The demo config the shipped models use: 28x28 grey images, patch 7 (16 patches + class
    /// token = 17 tokens), width 64, 4 blocks of 4 heads, MLP ratio 2, 10 classes.
    pub fn demo() -> Self {
        ViTConfig {
            image_size: 28,
            channels: 1,
            patch: 7,
            dim: 64,
            depth: 4,
            heads: 4,
            mlp_ratio: 2,
            classes: 10,
            linformer_k: 8,
        }
    }

    /// A minimal valid config (8x8 grey input, patch 4 = 5 tokens, width 16, 2 blocks of 2
    /// heads, 3 classes) for tests and examples, where speed matters more than accuracy.
    pub fn tiny() -> Self {
        ViTConfig {
            image_size: 8,
            channels: 1,
            patch: 4,
            dim: 16,
            depth: 2,
            heads: 2,
            mlp_ratio: 2,
            classes: 3,
            linformer_k: 3,
        }
    }

    /// The paper's CIFAR ViT: depth 7, 4 heads, width 256, patch 4 on 32x32 (65 tokens).
    pub fn paper_cifar() -> Self {
        ViTConfig {
            image_size: 32,
            channels: 3,
            patch: 4,
            dim: 256,
            depth: 7,
            heads: 4,
            mlp_ratio: 2,
            classes: 10,
            linformer_k: 16,
        }
    }

    /// The paper's Tiny-ImageNet ViT: depth 9, 12 heads, width 192, patch 4 on 64x64.
    pub fn paper_tiny_imagenet() -> Self {
        ViTConfig {
            image_size: 64,
            channels: 3,
            patch: 4,
            dim: 192,
            depth: 9,
            heads: 12,
            mlp_ratio: 2,
            classes: 200,
            linformer_k: 64,
        }
    }

    /// Patches per image side.
    pub fn grid(&self) -> usize {
        self.image_size / self.patch
    }

    /// Number of patches (tokens without the class token).
    pub fn patches(&self) -> usize {
        self.grid() * self.grid()
    }

    /// Sequence length n: patches plus the class token.
    pub fn tokens(&self) -> usize {
        self.patches() + 1
    }

    /// Width of one head, d_k = C / N.
    pub fn head_dim(&self) -> usize {
        self.dim / self.heads
    }

    /// Values in one flattened patch (patch * patch * channels).
    pub fn patch_len(&self) -> usize {
        self.patch * self.patch * self.channels
    }

    /// MLP hidden width K.
    pub fn hidden(&self) -> usize {
        self.dim * self.mlp_ratio
    }

    /// Pixels in one input image (channels * size * size).
    pub fn input_len(&self) -> usize {
        self.channels * self.image_size * self.image_size
    }

    /// Checks that an input of `len` values fits this model ([`ViTConfig::input_len`]).
    pub fn check_image(&self, len: usize) -> Result<()> {
        if len == self.input_len() {
            return Ok(());
        }
        Err(Error::Shape(format!(
            "the image has {len} values; the model expects {} ({} channel(s) of {}x{})",
            self.input_len(),
            self.channels,
            self.image_size,
            self.image_size
        )))
    }

    /// Checks that the numbers describe a buildable ViT.
    pub fn validate(&self) -> Result<()> {
        let nonzero = [
            ("image_size", self.image_size),
            ("channels", self.channels),
            ("patch", self.patch),
            ("dim", self.dim),
            ("depth", self.depth),
            ("heads", self.heads),
            ("mlp_ratio", self.mlp_ratio),
            ("classes", self.classes),
            ("linformer_k", self.linformer_k),
        ];
        for (name, value) in nonzero {
            if value == 0 {
                return Err(Error::Config(format!("{name} must be positive")));
            }
        }
        if !self.image_size.is_multiple_of(self.patch) {
            return Err(Error::Config(format!(
                "patch {} does not divide image_size {}",
                self.patch, self.image_size
            )));
        }
        if !self.dim.is_multiple_of(self.heads) {
            return Err(Error::Config(format!(
                "heads {} does not divide dim {}",
                self.heads, self.dim
            )));
        }
        if self.image_size > 1024 || self.dim > 4096 || self.depth > 64 || self.heads > 64 {
            return Err(Error::Config(
                "config is larger than this crate supports".into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_and_paper_configs_are_valid() {
        for c in [
            ViTConfig::demo(),
            ViTConfig::paper_cifar(),
            ViTConfig::paper_tiny_imagenet(),
        ] {
            c.validate().unwrap();
        }
        assert_eq!(ViTConfig::paper_cifar().tokens(), 65);
        assert_eq!(ViTConfig::demo().tokens(), 17);
    }

    #[test]
    fn bad_configs_are_rejected() {
        let mut c = ViTConfig::demo();
        c.patch = 5;
        assert!(matches!(c.validate(), Err(Error::Config(_))));
        let mut c = ViTConfig::demo();
        c.heads = 3;
        assert!(c.validate().is_err());
        let mut c = ViTConfig::demo();
        c.depth = 0;
        assert!(c.validate().is_err());
    }
}
