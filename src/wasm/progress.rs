//! What a trainer or search handle reports after each slice of steps: loss and accuracy
//! averaged over the slice, and the training speed so far.

use serde::Serialize;

use crate::mpc::network::now_s;
use crate::train::StepStats;

/// Running totals of one slice of steps, and of the whole run's busy time.
#[derive(Default)]
pub(crate) struct Tally {
    loss: f64,
    correct: usize,
    images: usize,
    lr: f32,
    epoch: usize,
    /// Images and seconds spent in steps since the run started.
    pub run_images: usize,
    pub run_seconds: f64,
}

impl Tally {
    /// Runs `step` (one training step) and counts it.
    pub(crate) fn time<E>(&mut self, step: impl FnOnce() -> Result<StepStats, E>) -> Result<(), E> {
        let t0 = now_s();
        let s = step()?;
        self.run_seconds += now_s() - t0;
        self.run_images += s.images;
        self.loss += s.loss as f64 * s.images as f64;
        self.correct += s.correct;
        self.images += s.images;
        self.lr = s.lr;
        self.epoch = s.epoch;
        Ok(())
    }

    /// Training images per second of step time over the whole run.
    pub(crate) fn images_per_sec(&self) -> f64 {
        self.run_images as f64 / self.run_seconds.max(1e-9)
    }

    /// The slice's averages (then starts a new slice).
    pub(crate) fn slice(&mut self, step: usize, total: usize) -> Progress {
        let n = self.images.max(1) as f64;
        let p = Progress {
            step,
            total,
            epoch: self.epoch,
            loss: self.loss / n,
            accuracy: self.correct as f64 / n,
            lr: self.lr,
            images_per_sec: self.images_per_sec(),
        };
        (self.loss, self.correct, self.images) = (0.0, 0, 0);
        p
    }
}

/// Progress after a slice: `step` of `total` steps done; loss (with any penalty) and training
/// accuracy averaged over the slice's images.
#[derive(Serialize)]
pub(crate) struct Progress {
    pub step: usize,
    pub total: usize,
    pub epoch: usize,
    pub loss: f64,
    pub accuracy: f64,
    pub lr: f32,
    pub images_per_sec: f64,
}
