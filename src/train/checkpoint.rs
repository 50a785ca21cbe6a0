//! Resumable training: everything a run needs to continue exactly where it stopped, taken at an
//! epoch boundary. A resumed run is bit-for-bit the run that was not interrupted (tested below):
//! the weights, AdamW's moments and step count, the data-order / augmentation PRG's position,
//! and for a search (paper section 4.2) the architecture parameters `alpha` / `beta` with their
//! own Adam moments. [`crate::io::checkpoint`] stores it as files.

use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::config::{SearchConfig, TrainConfig};
use crate::model::Params;
use crate::{Error, Result};

/// Value of [`ResumeState::format`].
pub const FORMAT: &str = "mpcvit-resume/1";

/// The position of a [`ChaCha8Rng`] (seed, stream, word position).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RngState {
    /// The ChaCha seed.
    pub seed: [u8; 32],
    /// Words drawn from the stream so far.
    pub stream: u64,
    /// `u128` as a decimal string (JSON numbers cannot hold it).
    pub word_pos: String,
}

impl RngState {
    /// Where `rng` stands.
    pub fn of(rng: &ChaCha8Rng) -> Self {
        RngState {
            seed: rng.get_seed(),
            stream: rng.get_stream(),
            word_pos: rng.get_word_pos().to_string(),
        }
    }

    /// A generator at this position.
    pub fn to_rng(&self) -> Result<ChaCha8Rng> {
        use rand::SeedableRng;
        let pos: u128 = self
            .word_pos
            .parse()
            .map_err(|_| Error::Checkpoint(format!("bad PRG position '{}'", self.word_pos)))?;
        let mut rng = ChaCha8Rng::from_seed(self.seed);
        rng.set_stream(self.stream);
        rng.set_word_pos(pos);
        Ok(rng)
    }
}

/// Adam moments of a flat vector (the architecture parameters).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VecAdamState {
    /// First moments.
    pub m: Vec<f32>,
    /// Second moments.
    pub v: Vec<f32>,
    /// Steps taken.
    pub t: i32,
}

/// The architecture parameters of a search and their optimiser.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SearchState {
    /// Granularity, lambda, latencies and GeLU search the run was started with.
    pub config: SearchConfig,
    /// Architecture weights of the attention units.
    pub alphas: Vec<f32>,
    /// Architecture weights of the GeLU tokens, when searched.
    pub betas: Option<Vec<f32>>,
    /// Adam state of `alphas`.
    pub alpha_adam: VecAdamState,
    /// Adam state of `betas`.
    pub beta_adam: VecAdamState,
}

/// The small part of a checkpoint (JSON).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResumeState {
    /// Format tag, checked on load.
    pub format: String,
    /// The settings the run was started with; a resumed run must use the same ones.
    pub train: TrainConfig,
    /// Optimisation steps taken (a whole number of epochs).
    pub steps: usize,
    /// AdamW steps taken.
    pub adam_steps: u32,
    /// The data order and augmentation stream.
    pub rng: RngState,
    /// The search's own state, for a search checkpoint.
    pub search: Option<SearchState>,
    /// Training images processed and seconds spent in steps so far (for the speed record).
    pub images_seen: usize,
    /// Training time so far (excluding pauses), for the resumed progress.
    pub busy_seconds: f64,
}

/// A whole checkpoint: the state, the weights and AdamW's first and second moments.
#[derive(Clone, Debug)]
pub struct Checkpoint {
    /// Counters and streams.
    pub state: ResumeState,
    /// The weights.
    pub params: Params,
    /// AdamW first moments.
    pub adam_m: Params,
    /// AdamW second moments.
    pub adam_v: Params,
}

impl Checkpoint {
    /// Epochs completed, given the run's steps per epoch.
    pub fn epochs_done(&self, steps_per_epoch: usize) -> usize {
        self.state.steps / steps_per_epoch.max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Dataset;
    use crate::model::{Attention, Plan, ViTConfig};
    use crate::train::config::{GeluSearch, Granularity, UnitLatency};
    use crate::train::search::Search;
    use crate::train::Trainer;
    use rand::{Rng, SeedableRng};

    fn toy(n: usize) -> Dataset {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let labels: Vec<u8> = (0..n).map(|_| rng.gen_range(0..2)).collect();
        let pixels: Vec<u8> = (0..n * 64).map(|_| rng.gen()).collect();
        Dataset::new("toy", 8, 8, 1, 2, labels, pixels).unwrap()
    }

    fn cfg() -> ViTConfig {
        ViTConfig {
            depth: 2,
            classes: 2,
            linformer_k: 2,
            ..ViTConfig::tiny()
        }
    }

    fn train_cfg() -> TrainConfig {
        let mut t = TrainConfig::default_for("toy");
        t.epochs = 3;
        t.batch_size = 16;
        t.seed = Some(9);
        t.augment.max_shift = 1;
        t
    }

    #[test]
    fn rng_state_round_trips() {
        let mut a = ChaCha8Rng::seed_from_u64(3);
        let _: [u64; 7] = a.gen();
        let mut b = RngState::of(&a).to_rng().unwrap();
        assert_eq!(a.gen::<u64>(), b.gen::<u64>());
        let bad = RngState {
            word_pos: "x".into(),
            ..RngState::of(&a)
        };
        assert_err!(bad.to_rng(), crate::Error::Checkpoint(_));
    }

    #[test]
    fn a_resumed_run_is_the_uninterrupted_run() {
        let data = toy(40);
        let plan = Plan::uniform(&cfg(), Attention::Softmax);
        let mut whole = Trainer::new(cfg(), plan.clone(), train_cfg(), data.len()).unwrap();
        while !whole.done() {
            whole.step(&data).unwrap();
        }
        let mut first = Trainer::new(cfg(), plan.clone(), train_cfg(), data.len()).unwrap();
        for _ in 0..first.steps_per_epoch() {
            first.step(&data).unwrap();
        }
        // Mid-epoch is refused: the data order would be lost.
        let mut mid = Trainer::new(cfg(), plan.clone(), train_cfg(), data.len()).unwrap();
        mid.step(&data).unwrap();
        assert_err!(mid.checkpoint(), crate::Error::Checkpoint(_));

        let ck = first.checkpoint().unwrap();
        assert_eq!(ck.epochs_done(first.steps_per_epoch()), 1);
        // A fresh trainer (different initial weights) restored from the checkpoint.
        let mut other = train_cfg();
        other.seed = Some(9);
        let mut resumed = Trainer::new(cfg(), plan.clone(), other, data.len()).unwrap();
        resumed.restore(&ck).unwrap();
        while !resumed.done() {
            resumed.step(&data).unwrap();
        }
        assert_eq!(resumed.params, whole.params);

        // Different settings are rejected.
        let mut changed = train_cfg();
        changed.lr = 1e-3;
        let mut wrong = Trainer::new(cfg(), plan, changed, data.len()).unwrap();
        let e = wrong.restore(&ck).unwrap_err().to_string();
        assert!(e.contains("different training settings"), "{e}");
    }

    #[test]
    fn a_resumed_search_is_the_uninterrupted_search() {
        let data = toy(32);
        let make = || {
            let t = Trainer::new(
                cfg(),
                Plan::uniform(&cfg(), Attention::RsAttn),
                train_cfg(),
                data.len(),
            )
            .unwrap();
            Search::new(
                t,
                SearchConfig {
                    granularity: Granularity::Head,
                    lambda: 0.5,
                    alpha_lr: 0.05,
                    latency: UnitLatency {
                        rs_attn_head: 0.2,
                        gelu_token: 0.01,
                    },
                    gelu: Some(GeluSearch {
                        eta: 0.5,
                        sigma: 0.5,
                    }),
                },
            )
            .unwrap()
        };
        let mut whole = make();
        while !whole.trainer.done() {
            whole.step(&data).unwrap();
        }
        let mut first = make();
        for _ in 0..first.trainer.steps_per_epoch() {
            first.step(&data).unwrap();
        }
        let ck = first.checkpoint().unwrap();
        assert!(ck.state.search.is_some());
        let mut resumed = make();
        resumed.restore(&ck).unwrap();
        while !resumed.trainer.done() {
            resumed.step(&data).unwrap();
        }
        assert_eq!(resumed.alphas, whole.alphas);
        assert_eq!(resumed.betas, whole.betas);
        assert_eq!(resumed.trainer.params, whole.trainer.params);
        // A plain training checkpoint cannot resume a search.
        let mut plain = Trainer::new(
            cfg(),
            Plan::uniform(&cfg(), Attention::RsAttn),
            train_cfg(),
            data.len(),
        )
        .unwrap();
        for _ in 0..plain.steps_per_epoch() {
            plain.step(&data).unwrap();
        }
        let mut s = make();
        assert_err!(
            s.restore(&plain.checkpoint().unwrap()),
            crate::Error::Checkpoint(_)
        );
    }
}
