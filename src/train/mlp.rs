//! The simple reference of issue #13: a two-layer perceptron (input, one hidden ReLU layer of
//! `hidden` units, softmax output) trained with plain minibatch SGD with momentum on the same
//! data and augmentation as the ViT. A model far simpler than the ViT that the ViT should
//! never generalise worse than. Not a shipped model: it exists to be measured against.

use ndarray::{Array1, Array2, Array4, Axis};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

use super::loss::{correct, cross_entropy};
use super::Augment;
use crate::data::Dataset;
use crate::{Error, Result};

/// Settings of a reference run.
#[derive(Clone, Debug)]
pub struct MlpConfig {
    /// Hidden units.
    pub hidden: usize,
    /// Passes over the training set.
    pub epochs: usize,
    /// Images per step.
    pub batch_size: usize,
    /// SGD learning rate.
    pub lr: f32,
    /// SGD momentum.
    pub momentum: f32,
    /// Training augmentation.
    pub augment: Augment,
    /// Seed of initialisation, data order and augmentation.
    pub seed: u64,
}

/// A trained perceptron.
pub struct Mlp {
    w1: Array2<f32>,
    b1: Array1<f32>,
    w2: Array2<f32>,
    b2: Array1<f32>,
}

impl Mlp {
    /// He-initialised weights for `inputs -> hidden -> classes`.
    fn init(inputs: usize, hidden: usize, classes: usize, rng: &mut impl Rng) -> Result<Self> {
        let he = |fan_in: usize| {
            Normal::new(0.0f32, (2.0 / fan_in as f32).sqrt())
                .map_err(|e| Error::out_of_range("initial weight std", e, "finite"))
        };
        let (n1, n2) = (he(inputs)?, he(hidden)?);
        Ok(Mlp {
            w1: Array2::from_shape_fn((inputs, hidden), |_| n1.sample(rng)),
            b1: Array1::zeros(hidden),
            w2: Array2::from_shape_fn((hidden, classes), |_| n2.sample(rng)),
            b2: Array1::zeros(classes),
        })
    }

    /// Logits of a batch `(B, C, H, W)`.
    pub fn forward(&self, images: &Array4<f32>) -> Result<Array2<f32>> {
        let x = flat(images)?;
        let h = (x.dot(&self.w1) + &self.b1).mapv(|v| v.max(0.0));
        Ok(h.dot(&self.w2) + &self.b2)
    }

    /// Accuracy on every image of `data`.
    pub fn accuracy(&self, data: &Dataset) -> Result<f64> {
        let idx: Vec<usize> = (0..data.len()).collect();
        let mut right = 0;
        for chunk in idx.chunks(512) {
            let logits = self.forward(&data.to_input(chunk)?)?;
            let labels: Vec<u8> = chunk.iter().map(|&i| data.labels[i]).collect();
            right += correct(logits.view(), &labels);
        }
        Ok(right as f64 / data.len().max(1) as f64)
    }

    /// Trains a perceptron on `data` with `cfg`.
    pub fn train(data: &Dataset, cfg: &MlpConfig) -> Result<Self> {
        if data.is_empty() || cfg.epochs == 0 || cfg.batch_size == 0 || cfg.hidden == 0 {
            return Err(Error::out_of_range(
                "reference (images, epochs, batch size, hidden units)",
                format!(
                    "({}, {}, {}, {})",
                    data.len(),
                    cfg.epochs,
                    cfg.batch_size,
                    cfg.hidden
                ),
                "each positive",
            ));
        }
        cfg.augment.validate()?;
        let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
        let inputs = data.image_len();
        let mut m = Mlp::init(inputs, cfg.hidden, data.classes, &mut rng)?;
        let mut vel = (
            Array2::zeros(m.w1.dim()),
            Array1::zeros(m.b1.dim()),
            Array2::zeros(m.w2.dim()),
            Array1::zeros(m.b2.dim()),
        );
        let mut order: Vec<usize> = (0..data.len()).collect();
        let steps = cfg.epochs * data.len().div_ceil(cfg.batch_size);
        let mut step = 0;
        for _ in 0..cfg.epochs {
            order.shuffle(&mut rng);
            for chunk in order.chunks(cfg.batch_size) {
                let mut images = data.to_input(chunk)?;
                cfg.augment.apply(&mut images, &mut rng);
                let labels: Vec<u8> = chunk.iter().map(|&i| data.labels[i]).collect();
                let x = flat(&images)?;
                let pre = x.dot(&m.w1) + &m.b1;
                let h = pre.mapv(|v| v.max(0.0));
                let logits = h.dot(&m.w2) + &m.b2;
                let (_, dz) = cross_entropy(logits.view(), &labels);
                let dw2 = h.t().dot(&dz);
                let db2 = dz.sum_axis(Axis(0));
                let mut dh = dz.dot(&m.w2.t());
                dh.zip_mut_with(&pre, |g, &p| {
                    if p <= 0.0 {
                        *g = 0.0
                    }
                });
                let dw1 = x.t().dot(&dh);
                let db1 = dh.sum_axis(Axis(0));
                // Linear decay to zero keeps plain SGD stable without a tuned schedule.
                let lr = cfg.lr * (1.0 - step as f32 / steps as f32);
                let mu = cfg.momentum;
                vel.0 = &vel.0 * mu - &dw1 * lr;
                vel.1 = &vel.1 * mu - &db1 * lr;
                vel.2 = &vel.2 * mu - &dw2 * lr;
                vel.3 = &vel.3 * mu - &db2 * lr;
                m.w1 += &vel.0;
                m.b1 += &vel.1;
                m.w2 += &vel.2;
                m.b2 += &vel.3;
                step += 1;
            }
        }
        Ok(m)
    }
}

/// `(B, C, H, W)` as `(B, C*H*W)`.
fn flat(images: &Array4<f32>) -> Result<Array2<f32>> {
    let (b, c, h, w) = images.dim();
    images
        .to_shape((b, c * h * w))
        .map(|v| v.to_owned())
        .map_err(Error::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Class 0: a bright left half, class 1: a bright right half, with noise.
    fn halves(n: usize, seed: u64) -> Dataset {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut labels = Vec::new();
        let mut pixels = Vec::new();
        for i in 0..n {
            let y = (i % 2) as u8;
            for p in 0..36 {
                let left = p % 6 < 3;
                let on = left == (y == 0);
                pixels.push(if on {
                    rng.gen_range(120..=255)
                } else {
                    rng.gen_range(0..100)
                });
            }
            labels.push(y);
        }
        Dataset::new("halves", 6, 6, 1, 2, labels, pixels).unwrap()
    }

    #[test]
    fn learns_a_separable_task_deterministically() {
        let cfg = MlpConfig {
            hidden: 8,
            epochs: 5,
            batch_size: 16,
            lr: 0.05,
            momentum: 0.9,
            augment: Augment::NONE,
            seed: 3,
        };
        let data = halves(200, 1);
        let a = Mlp::train(&data, &cfg).unwrap();
        let b = Mlp::train(&data, &cfg).unwrap();
        assert_eq!(a.w1, b.w1);
        assert!(a.accuracy(&halves(100, 2)).unwrap() > 0.95);
        let bad = MlpConfig { hidden: 0, ..cfg };
        assert_err!(Mlp::train(&data, &bad), crate::Error::OutOfRange { .. });
    }
}
