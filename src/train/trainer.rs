//! The training loop, step by step so that a CLI, a test or a browser worker can drive it and
//! report progress between steps without blocking.

use ndarray::{Array2, ArrayView2, ArrayView4};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::checkpoint::{Checkpoint, ResumeState, RngState};
use super::config::{os_seed, TrainConfig};
use super::loss::{correct, cross_entropy};
use super::schedule::Cosine;
use super::{backward, AdamW, Grads};
use crate::data::Dataset;
use crate::model::vit::{forward_trace, Arch, Trace};
use crate::model::{Params, Plan, ViT, ViTConfig};
use crate::{Error, Result};

/// Loss and accuracy of one step.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepStats {
    /// Mean loss of the step.
    pub loss: f32,
    /// Correctly classified images.
    pub correct: usize,
    /// Images in the step.
    pub images: usize,
    /// Learning rate used.
    pub lr: f32,
    /// Epoch (0-based).
    pub epoch: usize,
    /// Step (0-based, over the whole run).
    pub step: usize,
}

/// What a loss function returns: the loss, `d loss / d logits` and optionally
/// `d loss / d features` (the last block's output, for feature distillation).
pub struct LossGrad {
    /// The loss.
    pub loss: f32,
    /// Gradient with respect to the logits.
    pub dlogits: Array2<f32>,
    /// Gradient with respect to the features, if the loss uses them.
    pub dfeatures: Option<Array2<f32>>,
}

/// A mini-batch as the loss sees it: the (augmented) images, labels, the forward's logits and
/// trace.
pub struct Batch<'a> {
    /// The batch's images.
    pub images: ArrayView4<'a, f32>,
    /// Their labels.
    pub labels: &'a [u8],
    /// The model's logits.
    pub logits: ArrayView2<'a, f32>,
    /// The forward trace (features for distillation).
    pub trace: &'a Trace,
}

/// Plain cross-entropy as a [`LossGrad`].
pub fn ce_loss(batch: &Batch<'_>) -> LossGrad {
    let (loss, dlogits) = cross_entropy(batch.logits, batch.labels);
    LossGrad {
        loss,
        dlogits,
        dfeatures: None,
    }
}

/// A model being trained: parameters, architecture, optimiser, schedule and data order.
pub struct Trainer {
    /// Hyper-parameters.
    pub config: ViTConfig,
    /// Attention (and GeLU) plan.
    pub plan: Plan,
    /// The plan resolved per layer and head.
    pub arch: Arch,
    /// The weights being trained.
    pub params: Params,
    /// Training settings.
    pub train: TrainConfig,
    opt: AdamW,
    schedule: Cosine,
    rng: ChaCha8Rng,
    order: Vec<usize>,
    cursor: usize,
    step: usize,
    steps_per_epoch: usize,
}

impl Trainer {
    /// A fresh model for `plan`, to be trained on a dataset of `train_len` images.
    pub fn new(
        config: ViTConfig,
        plan: Plan,
        train: TrainConfig,
        train_len: usize,
    ) -> Result<Self> {
        let seed = match train.seed {
            Some(s) => s,
            None => os_seed()?,
        };
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        config.validate()?;
        let params = Params::init(&config, &mut rng);
        Self::with_params(config, plan, params, train, train_len, rng)
    }

    /// Continues from existing parameters (fine-tuning or resuming).
    pub fn with_params(
        config: ViTConfig,
        plan: Plan,
        params: Params,
        train: TrainConfig,
        train_len: usize,
        rng: ChaCha8Rng,
    ) -> Result<Self> {
        train.validate()?;
        if train_len == 0 {
            return Err(Error::Data("the training set is empty".into()));
        }
        let vit = ViT::new(config, plan, params)?;
        let steps_per_epoch = train_len.div_ceil(train.batch_size);
        let total = steps_per_epoch * train.epochs;
        let schedule = Cosine {
            base: train.lr,
            min: train.min_lr,
            warmup: ((train.warmup_epochs * steps_per_epoch as f32) as usize).max(1),
            total,
        };
        let arch = vit.arch().clone();
        let ViT {
            config,
            plan,
            params,
            ..
        } = vit;
        let opt = AdamW::new(&params, train.weight_decay);
        Ok(Trainer {
            config,
            plan,
            arch,
            params,
            train,
            opt,
            schedule,
            rng,
            order: Vec::new(),
            cursor: 0,
            step: 0,
            steps_per_epoch,
        })
    }

    /// Steps per epoch.
    pub fn steps_per_epoch(&self) -> usize {
        self.steps_per_epoch
    }

    /// Steps in the whole run.
    pub fn total_steps(&self) -> usize {
        self.steps_per_epoch * self.train.epochs
    }

    /// Steps taken so far.
    pub fn step_count(&self) -> usize {
        self.step
    }

    /// Whether every epoch has run.
    pub fn done(&self) -> bool {
        self.step >= self.total_steps()
    }

    /// The indices of the next mini-batch, reshuffling at each epoch start.
    fn next_batch(&mut self, len: usize) -> Vec<usize> {
        if self.cursor == 0 || self.order.len() != len {
            self.order = (0..len).collect();
            self.order.shuffle(&mut self.rng);
            self.cursor = 0;
        }
        let end = (self.cursor + self.train.batch_size).min(len);
        let batch = self.order[self.cursor..end].to_vec();
        self.cursor = if end == len { 0 } else { end };
        batch
    }

    /// One optimisation step on the next mini-batch of `data` with cross-entropy.
    pub fn step(&mut self, data: &Dataset) -> Result<StepStats> {
        self.step_with(data, ce_loss).map(|(s, _)| s)
    }

    /// One optimisation step with a custom loss (distillation, search penalties). Returns the
    /// stats and the gradients (whose `alpha`/`beta` parts a search uses).
    pub fn step_with(
        &mut self,
        data: &Dataset,
        loss_fn: impl FnOnce(&Batch<'_>) -> LossGrad,
    ) -> Result<(StepStats, Grads)> {
        check_dataset(&self.config, data)?;
        let epoch = self.step / self.steps_per_epoch;
        let indices = self.next_batch(data.len());
        let mut images = data.to_input(&indices)?;
        self.train.augment.apply(&mut images, &mut self.rng);
        let labels: Vec<u8> = indices.iter().map(|&i| data.labels[i]).collect();
        let (logits, trace) = forward_trace(&self.config, &self.params, &self.arch, images.view());
        let lg = loss_fn(&Batch {
            images: images.view(),
            labels: &labels,
            logits: logits.view(),
            trace: &trace,
        });
        if !lg.loss.is_finite() {
            return Err(Error::Diverged {
                step: self.step,
                loss: lg.loss,
            });
        }
        let grads = backward(
            &self.config,
            &self.params,
            &self.arch,
            &trace,
            lg.dlogits.view(),
            lg.dfeatures.as_ref().map(|f| f.view()),
        );
        let lr = self.schedule.lr(self.step);
        self.opt.step(&mut self.params, &grads.params, lr);
        self.step += 1;
        let stats = StepStats {
            loss: lg.loss,
            correct: correct(logits.view(), &labels),
            images: labels.len(),
            lr,
            epoch,
            step: self.step,
        };
        Ok((stats, grads))
    }

    /// A checkpoint of the run (see [`super::checkpoint`]); only at an epoch boundary, where
    /// the next data order is drawn from the saved PRG.
    pub fn checkpoint(&self) -> Result<Checkpoint> {
        if self.cursor != 0 || !self.step.is_multiple_of(self.steps_per_epoch) {
            return Err(Error::Checkpoint(format!(
                "a checkpoint is taken at the end of an epoch, not at step {}",
                self.step
            )));
        }
        let (m, v, t) = self.opt.moments();
        Ok(Checkpoint {
            state: ResumeState {
                format: super::checkpoint::FORMAT.into(),
                train: self.train.clone(),
                steps: self.step,
                adam_steps: t,
                rng: RngState::of(&self.rng),
                search: None,
                images_seen: 0,
                busy_seconds: 0.0,
            },
            params: self.params.clone(),
            adam_m: m.clone(),
            adam_v: v.clone(),
        })
    }

    /// Continues the run of `ck`, which must have been made with this trainer's settings
    /// (seed included) for a dataset of the same size.
    pub fn restore(&mut self, ck: &Checkpoint) -> Result<()> {
        let st = &ck.state;
        if st.format != super::checkpoint::FORMAT {
            return Err(Error::Checkpoint(format!(
                "checkpoint format '{}', expected '{}'",
                st.format,
                super::checkpoint::FORMAT
            )));
        }
        if st.train != self.train {
            return Err(Error::Checkpoint(format!(
                "the checkpoint was made with different training settings ({}), not these ({})",
                serde_json::to_string(&st.train)?,
                serde_json::to_string(&self.train)?
            )));
        }
        if st.steps > self.total_steps() || !st.steps.is_multiple_of(self.steps_per_epoch) {
            return Err(Error::Checkpoint(format!(
                "the checkpoint is at step {}, which is not the end of an epoch of this run \
                 ({} steps per epoch; was the training set the same?)",
                st.steps, self.steps_per_epoch
            )));
        }
        // Shapes and architecture are checked by building the model.
        let vit = ViT::new(self.config.clone(), self.plan.clone(), ck.params.clone())?;
        self.opt.restore(&ck.adam_m, &ck.adam_v, st.adam_steps)?;
        self.params = vit.params;
        self.rng = st.rng.to_rng()?;
        self.step = st.steps;
        self.cursor = 0;
        self.order.clear();
        Ok(())
    }

    /// The model as trained so far.
    pub fn model(&self) -> Result<ViT> {
        ViT::new(self.config.clone(), self.plan.clone(), self.params.clone())
    }
}

fn check_dataset(cfg: &ViTConfig, data: &Dataset) -> Result<()> {
    data.check_image_shape(
        "dataset",
        &format!("'{}'", data.name),
        cfg.channels,
        cfg.image_size,
    )?;
    if data.classes > cfg.classes {
        return Err(Error::shape(
            "dataset",
            format!("at most the model's {} classes", cfg.classes),
            format!("{} classes", data.classes),
        ));
    }
    Ok(())
}

/// Accuracy and mean loss of a model on a dataset.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// `correct / images`.
    pub accuracy: f64,
    /// Correctly classified images.
    pub correct: usize,
    /// Images evaluated.
    pub images: usize,
    /// Mean cross-entropy.
    pub loss: f64,
}

/// Evaluates `vit` on every image of `data`, `batch` images at a time.
pub fn evaluate(vit: &ViT, data: &Dataset, batch: usize) -> Result<Evaluation> {
    check_dataset(&vit.config, data)?;
    let (mut right, mut loss) = (0usize, 0.0f64);
    let idx: Vec<usize> = (0..data.len()).collect();
    for chunk in idx.chunks(batch.max(1)) {
        let images = data.to_input(chunk)?;
        let labels: Vec<u8> = chunk.iter().map(|&i| data.labels[i]).collect();
        let logits = vit.forward(images.view())?;
        right += correct(logits.view(), &labels);
        loss += cross_entropy(logits.view(), &labels).0 as f64 * chunk.len() as f64;
    }
    let n = data.len().max(1);
    Ok(Evaluation {
        accuracy: right as f64 / n as f64,
        correct: right,
        images: data.len(),
        loss: loss / n as f64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Attention;
    use crate::train::Augment;
    use rand::Rng;

    /// Two classes a tiny ViT can separate: a bright blob top-left or bottom-right.
    fn toy(n: usize, seed: u64) -> Dataset {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut labels = Vec::new();
        let mut pixels = Vec::new();
        for _ in 0..n {
            let y = rng.gen_range(0..2u8);
            let mut img = vec![0u8; 64];
            let (oy, ox) = if y == 0 { (0, 0) } else { (4, 4) };
            for r in 0..3 {
                for c in 0..3 {
                    img[(oy + r + rng.gen_range(0..2)) * 8 + ox + c] = rng.gen_range(150..=255);
                }
            }
            labels.push(y);
            pixels.extend(img);
        }
        Dataset::new("toy", 8, 8, 1, 2, labels, pixels).unwrap()
    }

    fn cfg() -> ViTConfig {
        ViTConfig {
            depth: 1,
            classes: 2,
            linformer_k: 2,
            ..ViTConfig::tiny()
        }
    }

    #[test]
    fn learns_a_separable_toy_task_and_is_deterministic() {
        let data = toy(256, 1);
        let test = toy(128, 2);
        let mut train = TrainConfig::default_for("toy");
        train.epochs = 6;
        train.batch_size = 32;
        train.seed = Some(9);
        train.augment = Augment::NONE;
        let run = || {
            let mut t = Trainer::new(
                cfg(),
                Plan::uniform(&cfg(), Attention::RsAttn),
                train.clone(),
                data.len(),
            )
            .unwrap();
            while !t.done() {
                t.step(&data).unwrap();
            }
            t
        };
        let a = run();
        let b = run();
        assert_eq!(a.params, b.params, "same seed, same result");
        let eval = evaluate(&a.model().unwrap(), &test, 50).unwrap();
        assert!(eval.accuracy > 0.95, "accuracy {}", eval.accuracy);
    }

    #[test]
    fn a_non_finite_loss_stops_training_with_a_diverged_error() {
        let data = toy(20, 1);
        let c = cfg();
        let mut tc = TrainConfig::default_for("toy");
        tc.seed = Some(1);
        let mut t = Trainer::new(c.clone(), Plan::uniform(&c, Attention::Softmax), tc, 20).unwrap();
        // The cross-entropy clamps its probabilities, so a NaN comes from a loss (or a
        // distillation term) that produced one: the trainer must stop, not step on NaN.
        let nan_loss = |b: &Batch<'_>| LossGrad {
            loss: f32::NAN,
            dlogits: Array2::zeros(b.logits.raw_dim()),
            dfeatures: None,
        };
        let e = t.step_with(&data, nan_loss).unwrap_err();
        assert!(matches!(e, Error::Diverged { step: 0, .. }), "{e}");
        assert!(e.to_string().contains("lower the learning rate"), "{e}");
        assert_eq!(t.step_count(), 0, "no step was taken");
    }

    #[test]
    fn wrong_dataset_shape_and_bad_config_are_errors() {
        let data = toy(10, 1);
        let mut c = cfg();
        c.image_size = 16;
        let mut tc = TrainConfig::default_for("toy");
        tc.seed = Some(1);
        let mut t = Trainer::new(
            c.clone(),
            Plan::uniform(&c, Attention::Softmax),
            tc.clone(),
            10,
        )
        .unwrap();
        assert!(matches!(
            t.step(&data),
            Err(Error::ShapeMismatch { op: "dataset", .. })
        ));
        tc.batch_size = 0;
        assert_err!(
            Trainer::new(cfg(), Plan::uniform(&cfg(), Attention::Softmax), tc, 10),
            crate::Error::OutOfRange { .. }
        );
    }
}
