//! AdamW (Loshchilov and Hutter): Adam with weight decay decoupled from the gradient.

use crate::model::Params;

/// AdamW state and hyper-parameters. Weight decay applies to matrices only (linear weights,
/// Linformer projections), not to biases, LayerNorm gains, positions or the class token.
#[derive(Clone, Debug)]
pub struct AdamW {
    /// Decay of the first moment.
    pub beta1: f32,
    /// Decay of the second moment.
    pub beta2: f32,
    /// Added to the root of the second moment.
    pub eps: f32,
    /// Decoupled weight decay (Loshchilov and Hutter).
    pub weight_decay: f32,
    m: Params,
    v: Params,
    t: u32,
}

impl AdamW {
    /// Zero moments shaped like `params`.
    pub fn new(params: &Params, weight_decay: f32) -> Self {
        AdamW {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay,
            m: params.zeros_like(),
            v: params.zeros_like(),
            t: 0,
        }
    }

    /// The first and second moments and the step count (for a checkpoint).
    pub fn moments(&self) -> (&Params, &Params, u32) {
        (&self.m, &self.v, self.t)
    }

    /// Restores the moments and step count of a checkpoint; the shapes must be this
    /// optimiser's.
    pub fn restore(&mut self, m: &Params, v: &Params, t: u32) -> crate::Result<()> {
        m.check_shapes(&self.m)?;
        v.check_shapes(&self.v)?;
        self.m = m.clone();
        self.v = v.clone();
        self.t = t;
        Ok(())
    }

    /// One update of `params` with gradients `grads` at learning rate `lr`.
    pub fn step(&mut self, params: &mut Params, grads: &Params, lr: f32) {
        self.t += 1;
        let (b1, b2, eps, wd) = (self.beta1, self.beta2, self.eps, self.weight_decay);
        let c1 = 1.0 - b1.powi(self.t as i32);
        let c2 = 1.0 - b2.powi(self.t as i32);
        let gs = grads.tensors();
        let ms = self.m.tensors_mut();
        let vs = self.v.tensors_mut();
        for ((((name, mut p), (_, g)), (_, mut m)), (_, mut v)) in
            params.tensors_mut().into_iter().zip(gs).zip(ms).zip(vs)
        {
            let decay = if p.ndim() == 2 && name != "pos_embed" {
                wd
            } else {
                0.0
            };
            ndarray::Zip::from(&mut p)
                .and(&g)
                .and(&mut m)
                .and(&mut v)
                .for_each(|p, &g, m, v| {
                    *m = b1 * *m + (1.0 - b1) * g;
                    *v = b2 * *v + (1.0 - b2) * g * g;
                    let update = (*m / c1) / ((*v / c2).sqrt() + eps);
                    *p -= lr * (update + decay * *p);
                });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ViTConfig;
    use rand::SeedableRng;

    #[test]
    fn first_step_moves_each_weight_by_lr_against_the_gradient_sign() {
        let cfg = ViTConfig {
            image_size: 4,
            channels: 1,
            patch: 2,
            dim: 4,
            depth: 1,
            heads: 1,
            mlp_ratio: 1,
            classes: 2,
            linformer_k: 1,
        };
        let mut p = Params::init(&cfg, &mut rand_chacha::ChaCha8Rng::seed_from_u64(0));
        let before = p.clone();
        let mut g = p.zeros_like();
        g.head_b[0] = 3.0;
        g.head_b[1] = -0.5;
        let mut opt = AdamW::new(&p, 0.0);
        opt.step(&mut p, &g, 0.1);
        assert!((p.head_b[0] - (before.head_b[0] - 0.1)).abs() < 1e-5);
        assert!((p.head_b[1] - (before.head_b[1] + 0.1)).abs() < 1e-5);
        assert_eq!(p.patch_w, before.patch_w);
    }

    #[test]
    fn decay_shrinks_matrices_not_biases() {
        let cfg = ViTConfig {
            image_size: 4,
            channels: 1,
            patch: 2,
            dim: 4,
            depth: 1,
            heads: 1,
            mlp_ratio: 1,
            classes: 2,
            linformer_k: 1,
        };
        let mut p = Params::init(&cfg, &mut rand_chacha::ChaCha8Rng::seed_from_u64(0));
        p.head_b.fill(1.0);
        let before = p.clone();
        let g = p.zeros_like();
        let mut opt = AdamW::new(&p, 0.5);
        opt.step(&mut p, &g, 0.1);
        assert!((p.head_w[[0, 0]] - before.head_w[[0, 0]] * 0.95).abs() < 1e-6);
        assert_eq!(p.head_b, before.head_b);
    }
}
