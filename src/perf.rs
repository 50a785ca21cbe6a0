//! Plaintext speed benchmarks that run unchanged natively and in wasm, so the CLI can report
//! wasm / native ratios measured in one run (issue: wasm size, forward time, training speed).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::data::Dataset;
use crate::model::ViT;
use crate::mpc::network::now_s;
use crate::train::{Augment, TrainConfig, Trainer};
use crate::Result;

/// Plaintext timings of one model on this machine and runtime.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlainBench {
    /// Mean forward time of a single image (batch 1), milliseconds.
    pub forward_ms: f64,
    /// Training throughput (forward, backward, AdamW) at batch 64, single thread.
    pub train_images_per_s: f64,
}

/// Times `forward_iters` single-image forwards and `train_steps` training steps of batch 64 on
/// random images (values do not change the work done).
pub fn plaintext(vit: &ViT, forward_iters: usize, train_steps: usize) -> Result<PlainBench> {
    let cfg = &vit.config;
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let image: Vec<f32> = (0..cfg.input_len()).map(|_| rng.gen()).collect();
    vit.classify(&image)?;
    let t0 = now_s();
    for _ in 0..forward_iters {
        vit.classify(&image)?;
    }
    let forward_ms = (now_s() - t0) * 1000.0 / forward_iters.max(1) as f64;

    let n = 64 * train_steps.max(1);
    let labels: Vec<u8> = (0..n)
        .map(|_| rng.gen_range(0..cfg.classes as u8))
        .collect();
    let pixels: Vec<u8> = (0..n * cfg.input_len()).map(|_| rng.gen()).collect();
    let data = Dataset::new(
        "bench",
        cfg.image_size,
        cfg.image_size,
        cfg.channels,
        cfg.classes,
        labels,
        pixels,
    )?;
    let tc = TrainConfig {
        epochs: 1,
        batch_size: 64,
        augment: Augment::NONE,
        seed: Some(1),
        ..TrainConfig::default_for("bench")
    };
    let mut trainer = Trainer::with_params(
        cfg.clone(),
        vit.plan.clone(),
        vit.params.clone(),
        tc,
        n,
        ChaCha8Rng::seed_from_u64(2),
    )?;
    trainer.step(&data)?;
    let t0 = now_s();
    let mut images = 0;
    for _ in 1..train_steps.max(2) {
        images += trainer.step(&data)?.images;
    }
    let train_images_per_s = images as f64 / (now_s() - t0).max(1e-9);
    Ok(PlainBench {
        forward_ms,
        train_images_per_s,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Attention, Params, Plan, ViTConfig};

    #[test]
    fn bench_runs_and_reports_positive_figures() {
        let cfg = ViTConfig {
            dim: 8,
            depth: 1,
            linformer_k: 2,
            ..ViTConfig::tiny()
        };
        let vit = ViT::new(
            cfg.clone(),
            Plan::uniform(&cfg, Attention::Softmax),
            Params::init(&cfg, &mut ChaCha8Rng::seed_from_u64(0)),
        )
        .unwrap();
        let b = plaintext(&vit, 3, 3).unwrap();
        assert!(b.forward_ms > 0.0 && b.train_images_per_s > 0.0);
    }
}
