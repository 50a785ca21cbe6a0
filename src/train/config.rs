//! The settings of a training run ([`TrainConfig`]) and of an architecture search
//! ([`SearchConfig`], paper sections 4.2-4.5): plain data that the trainer, the search, their
//! checkpoints, the CLI and the page's workers all read, kept apart from the code that runs
//! them so that a checkpoint depends on settings, not on its owners.

use serde::{Deserialize, Serialize};

use super::augment::Augment;
use crate::model::ViTConfig;
use crate::{Error, Result};

/// Hyper-parameters of one training run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Passes over the training set.
    pub epochs: usize,
    /// Images per step.
    pub batch_size: usize,
    /// Peak learning rate after warm-up.
    pub lr: f32,
    /// Learning rate at the end of the cosine.
    pub min_lr: f32,
    /// Warm-up length in epochs (fractional allowed).
    pub warmup_epochs: f32,
    /// AdamW's decoupled weight decay.
    pub weight_decay: f32,
    /// Training augmentation.
    pub augment: Augment,
    /// Fixes initialisation, shuffling and augmentation; `None` draws a seed from the OS.
    pub seed: Option<u64>,
}

impl TrainConfig {
    /// Defaults that train the demo ViT well on 28x28 grey images.
    pub fn default_for(dataset: &str) -> Self {
        TrainConfig {
            epochs: 10,
            batch_size: 128,
            lr: 2e-3,
            min_lr: 2e-5,
            warmup_epochs: 0.5,
            weight_decay: 0.05,
            augment: Augment::for_dataset(dataset),
            seed: None,
        }
    }

    /// Rejects settings that cannot train.
    pub fn validate(&self) -> Result<()> {
        if self.epochs == 0 || self.batch_size == 0 {
            return Err(Error::out_of_range(
                "epochs, batch_size",
                format!("{}, {}", self.epochs, self.batch_size),
                "both positive",
            ));
        }
        if !(self.lr > 0.0 && self.lr.is_finite()) || self.min_lr < 0.0 || self.weight_decay < 0.0 {
            return Err(Error::out_of_range(
                "lr, min_lr, weight_decay",
                format!("{}, {}, {}", self.lr, self.min_lr, self.weight_decay),
                "lr > 0, min_lr >= 0, weight_decay >= 0",
            ));
        }
        self.augment.validate()
    }
}

/// A seed from the operating system's CSPRNG.
pub fn os_seed() -> Result<u64> {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b).map_err(|e| Error::Randomness(e.to_string()))?;
    Ok(u64::from_le_bytes(b))
}

/// What one architecture parameter `alpha` governs (Figure 5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Granularity {
    /// One alpha per layer.
    Layer,
    /// One alpha per head.
    Head,
    /// One alpha per attention-map row.
    Row,
}

impl Granularity {
    /// Number of units for `cfg`.
    pub fn units(self, cfg: &ViTConfig) -> usize {
        match self {
            Granularity::Layer => cfg.depth,
            Granularity::Head => cfg.depth * cfg.heads,
            Granularity::Row => cfg.depth * cfg.heads * cfg.tokens(),
        }
    }

    /// The unit of row `r` of head `h` in layer `l`.
    pub fn unit(self, cfg: &ViTConfig, l: usize, h: usize, r: usize) -> usize {
        match self {
            Granularity::Layer => l,
            Granularity::Head => l * cfg.heads + h,
            Granularity::Row => (l * cfg.heads + h) * cfg.tokens() + r,
        }
    }
}

/// Latency (seconds, for a network profile) of the operations the search trades off, taken
/// from the secure protocol's cost meter.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct UnitLatency {
    /// One head's RSAttn map (all its rows) beyond what ScaleAttn costs.
    pub rs_attn_head: f64,
    /// One token's GeLU (all hidden units) beyond the linearised path.
    pub gelu_token: f64,
}

impl UnitLatency {
    /// Latency of one unit's RSAttn at `granularity`.
    pub fn attention_unit(&self, cfg: &ViTConfig, g: Granularity) -> f64 {
        match g {
            Granularity::Layer => self.rs_attn_head * cfg.heads as f64,
            Granularity::Head => self.rs_attn_head,
            Granularity::Row => self.rs_attn_head / cfg.tokens() as f64,
        }
    }
}

/// MPCViT+ GeLU search settings (section 4.5).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct GeluSearch {
    /// Weight of the GeLU latency penalty; the paper balances `lambda / eta = Lat(ATTN) / Lat(GeLU)`.
    pub eta: f32,
    /// Binarisation threshold: a token is linearised where `beta <= sigma`.
    pub sigma: f32,
}

/// Search hyper-parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SearchConfig {
    /// Layer, head or row units.
    pub granularity: Granularity,
    /// Weight of the attention latency penalty.
    pub lambda: f32,
    /// Learning rate of the architecture parameters (Adam, no weight decay).
    pub alpha_lr: f32,
    /// Each unit's measured latency (the penalty's weights).
    pub latency: UnitLatency,
    /// Also search GeLU vs linear per token (MPCViT+), when set.
    pub gelu: Option<GeluSearch>,
}
