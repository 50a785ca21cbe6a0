//! The ViT hyper-parameters (paper section 5.1).

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
        Err(Error::shape(
            "image",
            format!(
                "{} values ({} channel(s) of {}x{})",
                self.input_len(),
                self.channels,
                self.image_size,
                self.image_size
            ),
            format!("{len} values"),
        ))
    }

    /// Checks that the numbers describe a buildable ViT of a size this crate supports: every
    /// field positive and at most its documented maximum ([`MAX_IMAGE_SIZE`], ...), `patch`
    /// dividing `image_size`, `heads` dividing `dim`, then the derived sizes ([`MAX_TOKENS`],
    /// [`MAX_PARAMETERS`], [`MAX_ATTENTION_SCORES`], [`MAX_PRIVATE_BYTES`]). Fields are
    /// checked before anything is derived from them, so no size computed here (or by the
    /// accessors once this passed) can overflow or divide by zero, and a config from a file or
    /// a peer is rejected before anything is allocated for it.
    pub fn validate(&self) -> Result<()> {
        let fields = [
            ("image_size", self.image_size, MAX_IMAGE_SIZE),
            ("channels", self.channels, MAX_CHANNELS),
            ("patch", self.patch, MAX_IMAGE_SIZE),
            ("dim", self.dim, MAX_DIM),
            ("depth", self.depth, MAX_DEPTH),
            ("heads", self.heads, MAX_HEADS),
            ("mlp_ratio", self.mlp_ratio, MAX_MLP_RATIO),
            ("classes", self.classes, MAX_CLASSES),
            ("linformer_k", self.linformer_k, MAX_TOKENS),
        ];
        for (name, value, max) in fields {
            if value == 0 {
                return Err(Error::Config(format!("{name} must be positive")));
            }
            if value > max {
                return Err(Error::Config(format!(
                    "{name} = {value} exceeds the supported maximum {max}"
                )));
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
        let derived = [
            ("tokens", self.tokens() as u64, MAX_TOKENS as u64),
            ("parameters", self.parameter_count(), MAX_PARAMETERS),
            (
                "attention scores per layer (heads x tokens^2)",
                self.attention_scores(),
                MAX_ATTENTION_SCORES,
            ),
            (
                "estimated bytes of a private inference",
                self.private_bytes_estimate(),
                MAX_PRIVATE_BYTES,
            ),
        ];
        for (name, value, max) in derived {
            if value > max {
                return Err(Error::Config(format!(
                    "{name} = {value} exceeds the supported maximum {max}"
                )));
            }
        }
        Ok(())
    }

    /// Number of learned values (every tensor of [`crate::model::Params`], the Linformer and
    /// XNorm ones included). Meaningful once the fields are bounded (see [`Self::validate`]);
    /// computed in `u64` so it cannot overflow then.
    pub fn parameter_count(&self) -> u64 {
        let [c, n, k, hid, heads] = [
            self.dim,
            self.tokens(),
            self.linformer_k,
            self.hidden(),
            self.heads,
        ]
        .map(|v| v as u64);
        let block = 4 * c // two LayerNorms
            + 3 * c * c + 3 * c // qkv
            + c * c + c // proj
            + 2 * k * n // Linformer E, F
            + heads // XNorm gains
            + c * hid + hid // fc1
            + hid * c + c; // fc2
        let outer = self.patch_len() as u64 * c + c // patch embedding
            + c + n * c // class token, positions
            + 2 * c // final LayerNorm
            + c * self.classes as u64 + self.classes as u64; // head
        outer + self.depth as u64 * block
    }

    /// Attention scores `S` of one layer: `heads x tokens x tokens`, the largest activation of
    /// every variant but Linformer and XNorm.
    pub fn attention_scores(&self) -> u64 {
        let n = self.tokens() as u64;
        self.heads as u64 * n * n
    }

    /// Upper estimate of the bytes one party allocates at its peak during a private inference:
    /// [`PRIVATE_PARAMETER_WORDS`] 8-byte words per parameter (the weights as ring shares,
    /// their masks while they are shared, the MPCViT+ fused matrices) plus
    /// [`PRIVATE_WORKING_COPIES`] 8-byte copies of the largest activation (the attention
    /// scores, the MLP's hidden layer or the `qkv` output): a protocol call holds its inputs,
    /// the Beaver masks, the openings and, in a comparison, the bit-sliced intermediate layers
    /// at once. `tests/native_fuzz.rs` measures the real peak with a counting allocator, on a
    /// parameter-dominated and an attention-dominated model, and checks it stays below this.
    pub fn private_bytes_estimate(&self) -> u64 {
        let n = self.tokens() as u64;
        let largest = self
            .attention_scores()
            .max(n * self.hidden() as u64)
            .max(n * 3 * self.dim as u64)
            .max(n * self.linformer_k as u64 * self.heads as u64);
        8 * (PRIVATE_PARAMETER_WORDS * self.parameter_count() + PRIVATE_WORKING_COPIES * largest)
    }
}

/// Largest accepted `image_size` (pixels per side).
pub const MAX_IMAGE_SIZE: usize = 512;
/// Largest accepted `channels` (grey, RGB or RGBA).
pub const MAX_CHANNELS: usize = 4;
/// Largest accepted embedding width `dim` (ViT-Large's).
pub const MAX_DIM: usize = 1024;
/// Largest accepted `depth` (ViT-Large has 24 blocks).
pub const MAX_DEPTH: usize = 32;
/// Largest accepted `heads`.
pub const MAX_HEADS: usize = 32;
/// Largest accepted `mlp_ratio` (the paper uses 2 and 4).
pub const MAX_MLP_RATIO: usize = 8;
/// Largest accepted `classes` (ImageNet-1k's).
pub const MAX_CLASSES: usize = 1000;
/// Largest sequence length (a 32 x 32 grid of patches plus the class token); also the
/// largest `linformer_k`.
pub const MAX_TOKENS: usize = 32 * 32 + 1;
/// Most learned values: 2^25 (128 MiB as f32, 256 MiB as ring shares).
pub const MAX_PARAMETERS: u64 = 1 << 25;
/// Most attention scores per layer (`heads x tokens^2`): 2^24, 128 MiB as ring shares.
pub const MAX_ATTENTION_SCORES: u64 = 1 << 24;
/// Most bytes [`ViTConfig::private_bytes_estimate`] may reach: 2 GiB per party.
pub const MAX_PRIVATE_BYTES: u64 = 1 << 31;
/// Copies of the largest activation [`ViTConfig::private_bytes_estimate`] counts.
pub const PRIVATE_WORKING_COPIES: u64 = 64;
/// 8-byte words per parameter [`ViTConfig::private_bytes_estimate`] counts.
pub const PRIVATE_PARAMETER_WORDS: u64 = 4;

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

    fn config_error(c: &ViTConfig) -> String {
        match c.validate() {
            Err(Error::Config(m)) => m,
            other => panic!("{c:?}: expected Error::Config, got {other:?}"),
        }
    }

    type Field = fn(&mut ViTConfig) -> &mut usize;

    const FIELDS: [(&str, Field); 9] = [
        ("image_size", |c| &mut c.image_size),
        ("channels", |c| &mut c.channels),
        ("patch", |c| &mut c.patch),
        ("dim", |c| &mut c.dim),
        ("depth", |c| &mut c.depth),
        ("heads", |c| &mut c.heads),
        ("mlp_ratio", |c| &mut c.mlp_ratio),
        ("classes", |c| &mut c.classes),
        ("linformer_k", |c| &mut c.linformer_k),
    ];

    #[test]
    fn every_field_rejects_zero_and_absurd_values_by_name() {
        for (name, field) in FIELDS {
            for (value, want) in [
                (0, format!("{name} must be positive")),
                (usize::MAX, format!("{name} = {} exceeds", usize::MAX)),
                (1 << 40, format!("{name} = {} exceeds", 1u64 << 40)),
            ] {
                let mut c = ViTConfig::paper_tiny_imagenet();
                *field(&mut c) = value;
                let e = config_error(&c);
                assert!(e.contains(&want), "{name} = {value}: {e}");
            }
        }
    }

    #[test]
    fn derived_sizes_are_bounded() {
        // Each field within its maximum, the product not.
        let many_tokens = ViTConfig {
            image_size: 512,
            patch: 8,
            ..ViTConfig::paper_tiny_imagenet()
        };
        assert!(config_error(&many_tokens).contains("tokens = 4097 exceeds"));
        let huge = ViTConfig {
            dim: 1024,
            depth: 32,
            heads: 16,
            mlp_ratio: 8,
            ..ViTConfig::paper_tiny_imagenet()
        };
        assert!(config_error(&huge).contains("parameters = "));
        let wide_attention = ViTConfig {
            image_size: 512,
            patch: 16,
            dim: 256,
            heads: 32,
            depth: 1,
            ..ViTConfig::paper_tiny_imagenet()
        };
        assert!(config_error(&wide_attention).contains("attention scores per layer"));
        let heavy = ViTConfig {
            image_size: 512,
            patch: 16,
            channels: 4,
            dim: 960,
            heads: 15,
            depth: 2,
            mlp_ratio: 4,
            ..ViTConfig::paper_tiny_imagenet()
        };
        assert!(heavy.parameter_count() <= MAX_PARAMETERS);
        assert!(heavy.attention_scores() <= MAX_ATTENTION_SCORES);
        assert!(config_error(&heavy).contains("estimated bytes of a private inference"));
    }

    #[test]
    fn parameter_count_matches_the_tensors() {
        use rand::SeedableRng;
        for c in [
            ViTConfig::tiny(),
            ViTConfig::demo(),
            ViTConfig::paper_cifar(),
        ] {
            let p = crate::model::Params::init(&c, &mut rand_chacha::ChaCha8Rng::seed_from_u64(0));
            assert_eq!(c.parameter_count(), p.count() as u64, "{c:?}");
        }
    }

    #[test]
    fn bad_configs_are_rejected() {
        let mut c = ViTConfig::demo();
        c.patch = 5;
        assert!(matches!(c.validate(), Err(Error::Config(_))));
        let mut c = ViTConfig::demo();
        c.heads = 3;
        assert_err!(c.validate(), crate::Error::Config(_));
        let mut c = ViTConfig::demo();
        c.depth = 0;
        assert_err!(c.validate(), crate::Error::Config(m) if m.contains("depth"));
    }
}
