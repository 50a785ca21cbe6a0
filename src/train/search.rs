//! MPC-aware differentiable architecture search (paper sections 4.2-4.3, and 4.5 for GeLU).
//!
//! Each searched unit (a layer, a head or a row of a head's attention map) computes
//! `alpha * RSAttn(S) V + (1 - alpha) * ScaleAttn(Q, K, V) / sqrt(d_k)` (see
//! [`crate::model::attention::RowFn::Mix`]). Weights and `alpha` are trained together
//! (one-level) on `CE + lambda * sum_ij alpha_ij * Lat(ATTN_ij)`, where `Lat` is the measured
//! latency of the unit's RSAttn under secure computation. `alpha` starts at 1 and is clamped to
//! `[0, 1]` after every step. MPCViT+ adds `beta` per (layer, token):
//! `(beta GeLU(h) + (1 - beta) h) W2`, penalised by `eta * sum beta * Lat(GeLU)`.

use ndarray::s;
use serde::{Deserialize, Serialize};

use super::checkpoint::{Checkpoint, SearchState, VecAdamState};
use super::config::{Granularity, SearchConfig};
use super::trainer::{ce_loss, Batch, LossGrad, StepStats, Trainer};
use crate::data::Dataset;
use crate::model::attention::{HeadKind, RowFn};
use crate::model::vit::{Arch, TokenMlp};
use crate::model::{Attention, AttentionPlan, GeluPlan, Plan, ViTConfig};
use crate::{Error, Result};

/// Adam without weight decay for a flat vector.
#[derive(Clone, Debug)]
struct VecAdam {
    m: Vec<f32>,
    v: Vec<f32>,
    t: i32,
}

impl VecAdam {
    fn new(n: usize) -> Self {
        VecAdam {
            m: vec![0.0; n],
            v: vec![0.0; n],
            t: 0,
        }
    }

    fn state(&self) -> VecAdamState {
        VecAdamState {
            m: self.m.clone(),
            v: self.v.clone(),
            t: self.t,
        }
    }

    fn from_state(s: &VecAdamState) -> Self {
        VecAdam {
            m: s.m.clone(),
            v: s.v.clone(),
            t: s.t,
        }
    }

    fn step(&mut self, x: &mut [f32], g: &[f32], lr: f32) {
        self.t += 1;
        let (b1, b2) = (0.9f32, 0.999f32);
        let (c1, c2) = (1.0 - b1.powi(self.t), 1.0 - b2.powi(self.t));
        for i in 0..x.len() {
            self.m[i] = b1 * self.m[i] + (1.0 - b1) * g[i];
            self.v[i] = b2 * self.v[i] + (1.0 - b2) * g[i] * g[i];
            x[i] -= lr * (self.m[i] / c1) / ((self.v[i] / c2).sqrt() + 1e-8);
            x[i] = x[i].clamp(0.0, 1.0);
        }
    }
}

/// A search in progress: the supernet's trainer plus `alpha` (and `beta`).
pub struct Search {
    /// The supernet's trainer.
    pub trainer: Trainer,
    /// The search's settings.
    pub config: SearchConfig,
    /// One per unit, in [`Granularity::unit`] order.
    pub alphas: Vec<f32>,
    /// `[layer * tokens + token]` when searching GeLU.
    pub betas: Option<Vec<f32>>,
    alpha_opt: VecAdam,
    beta_opt: VecAdam,
}

/// One search step's report.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SearchStats {
    /// The training step's statistics.
    pub step: StepStats,
    /// `lambda * sum alpha Lat (+ eta * sum beta Lat)`.
    pub penalty: f32,
}

impl Search {
    /// Wraps a trainer whose plan is ignored: every head becomes a searched mix.
    pub fn new(trainer: Trainer, config: SearchConfig) -> Result<Self> {
        if !(config.lambda >= 0.0 && config.alpha_lr > 0.0) {
            return Err(Error::out_of_range(
                "search (lambda, alpha_lr)",
                format!("({}, {})", config.lambda, config.alpha_lr),
                "lambda >= 0 and alpha_lr > 0",
            ));
        }
        let cfg = &trainer.config;
        let units = config.granularity.units(cfg);
        let tokens = cfg.depth * cfg.tokens();
        let betas = config.gelu.map(|_| vec![1.0; tokens]);
        let mut s = Search {
            alphas: vec![1.0; units],
            betas,
            alpha_opt: VecAdam::new(units),
            beta_opt: VecAdam::new(tokens),
            trainer,
            config,
        };
        s.trainer.arch = s.arch();
        Ok(s)
    }

    /// The relaxed architecture for the current `alpha`, `beta`.
    pub fn arch(&self) -> Arch {
        let cfg = &self.trainer.config;
        let n = cfg.tokens();
        let g = self.config.granularity;
        let heads = (0..cfg.depth)
            .map(|l| {
                (0..cfg.heads)
                    .map(|h| {
                        HeadKind::Rows(
                            (0..n)
                                .map(|r| RowFn::Mix(self.alphas[g.unit(cfg, l, h, r)]))
                                .collect(),
                        )
                    })
                    .collect()
            })
            .collect();
        let mlp = (0..cfg.depth)
            .map(|l| {
                (0..n)
                    .map(|t| match &self.betas {
                        Some(b) => TokenMlp::Mix(b[l * n + t]),
                        None => TokenMlp::Gelu,
                    })
                    .collect()
            })
            .collect();
        Arch { heads, mlp }
    }

    /// The latency penalty for the current parameters.
    pub fn penalty(&self) -> f32 {
        let cfg = &self.trainer.config;
        let lat = self
            .config
            .latency
            .attention_unit(cfg, self.config.granularity) as f32;
        let mut p = self.config.lambda * lat * self.alphas.iter().sum::<f32>();
        if let (Some(b), Some(gs)) = (&self.betas, self.config.gelu) {
            p += gs.eta * self.config.latency.gelu_token as f32 * b.iter().sum::<f32>();
        }
        p
    }

    /// One joint step of weights and architecture parameters with cross-entropy.
    pub fn step(&mut self, data: &Dataset) -> Result<SearchStats> {
        self.step_with(data, ce_loss)
    }

    /// One joint step with a custom task loss (the latency penalty is added here).
    pub fn step_with(
        &mut self,
        data: &Dataset,
        loss_fn: impl FnOnce(&Batch<'_>) -> LossGrad,
    ) -> Result<SearchStats> {
        self.trainer.arch = self.arch();
        let penalty = self.penalty();
        let (mut stats, grads) = self.trainer.step_with(data, loss_fn)?;
        stats.loss += penalty;
        let cfg = self.trainer.config.clone();
        let g = self.config.granularity;
        let lat = self.config.latency.attention_unit(&cfg, g) as f32;
        let mut dalpha = vec![self.config.lambda * lat; self.alphas.len()];
        for l in 0..cfg.depth {
            for h in 0..cfg.heads {
                for (r, d) in grads.alpha.slice(s![l, h, ..]).iter().enumerate() {
                    dalpha[g.unit(&cfg, l, h, r)] += d;
                }
            }
        }
        let lr = self.config.alpha_lr;
        self.alpha_opt.step(&mut self.alphas, &dalpha, lr);
        if let (Some(betas), Some(gs)) = (&mut self.betas, self.config.gelu) {
            let gl = gs.eta * self.config.latency.gelu_token as f32;
            let dbeta: Vec<f32> = grads.beta.iter().map(|d| d + gl).collect();
            self.beta_opt.step(betas, &dbeta, lr);
        }
        Ok(SearchStats {
            step: stats,
            penalty,
        })
    }

    /// A checkpoint of the search: the supernet's (see [`Trainer::checkpoint`]) plus `alpha`,
    /// `beta` and their Adam moments.
    pub fn checkpoint(&self) -> Result<Checkpoint> {
        let mut ck = self.trainer.checkpoint()?;
        ck.state.search = Some(SearchState {
            config: self.config.clone(),
            alphas: self.alphas.clone(),
            betas: self.betas.clone(),
            alpha_adam: self.alpha_opt.state(),
            beta_adam: self.beta_opt.state(),
        });
        Ok(ck)
    }

    /// Continues the search of `ck` (same settings and search space).
    pub fn restore(&mut self, ck: &Checkpoint) -> Result<()> {
        let s = ck.state.search.as_ref().ok_or_else(|| {
            Error::Checkpoint("the checkpoint is of a training run, not of a search".into())
        })?;
        if s.config != self.config {
            return Err(Error::Checkpoint(format!(
                "the checkpoint's search settings ({}) differ from these ({})",
                serde_json::to_string(&s.config)?,
                serde_json::to_string(&self.config)?
            )));
        }
        if s.alphas.len() != self.alphas.len()
            || s.betas.as_ref().map(Vec::len) != self.betas.as_ref().map(Vec::len)
            || s.alpha_adam.m.len() != self.alphas.len()
            || s.beta_adam.m.len() != self.beta_opt.m.len()
        {
            return Err(Error::Checkpoint(
                "the checkpoint's search space (granularity, GeLU search) differs from this one"
                    .into(),
            ));
        }
        self.trainer.restore(ck)?;
        self.alphas = s.alphas.clone();
        self.betas = s.betas.clone();
        self.alpha_opt = VecAdam::from_state(&s.alpha_adam);
        self.beta_opt = VecAdam::from_state(&s.beta_adam);
        self.trainer.arch = self.arch();
        Ok(())
    }

    /// The binarised plan: top-k `alpha` with budget `mu` (and `beta > sigma` keeps GeLU).
    pub fn plan(&self, mu: f32) -> Plan {
        let cfg = &self.trainer.config;
        let keep = binarize_top_k(&self.alphas, mu);
        let mut plan = plan_from_mask(cfg, self.config.granularity, &keep);
        if let (Some(b), Some(gs)) = (&self.betas, self.config.gelu) {
            plan.gelu = Some(gelu_plan(cfg, b, gs.sigma));
        }
        plan
    }

    /// The per-layer uniform baseline plan (section 5.4): budget `mu` in every layer (see
    /// [`binarize_per_layer`]), with the same GeLU plan as [`Search::plan`].
    pub fn plan_per_layer(&self, mu: f32) -> Plan {
        let cfg = &self.trainer.config;
        let g = self.config.granularity;
        let mut plan = plan_from_mask(cfg, g, &binarize_per_layer(cfg, g, &self.alphas, mu));
        if let (Some(b), Some(gs)) = (&self.betas, self.config.gelu) {
            plan.gelu = Some(gelu_plan(cfg, b, gs.sigma));
        }
        plan
    }
}

/// Top-k binarisation (section 4.3): with `k = round(mu * units)`, find the k-th largest
/// `alpha*` and keep RSAttn where `alpha >= alpha*`. `k = 0` keeps none.
pub fn binarize_top_k(alphas: &[f32], mu: f32) -> Vec<bool> {
    let k = (mu.clamp(0.0, 1.0) * alphas.len() as f32).round() as usize;
    if k == 0 {
        return vec![false; alphas.len()];
    }
    let mut sorted = alphas.to_vec();
    sorted.sort_by(|a, b| b.total_cmp(a));
    let threshold = sorted[k - 1];
    alphas.iter().map(|a| *a >= threshold).collect()
}

/// The per-layer uniform baseline the paper compares against (section 5.4): the same budget
/// `mu` in every layer, the top `round(mu * units_per_layer)` alphas of each layer kept.
pub fn binarize_per_layer(cfg: &ViTConfig, g: Granularity, alphas: &[f32], mu: f32) -> Vec<bool> {
    let per = g.units(cfg) / cfg.depth;
    alphas
        .chunks(per)
        .flat_map(|layer| binarize_top_k(layer, mu))
        .collect()
}

/// Builds a plan from a keep-RSAttn mask over units (ScaleAttn elsewhere).
pub fn plan_from_mask(cfg: &ViTConfig, g: Granularity, keep: &[bool]) -> Plan {
    let pick = |k: bool| {
        if k {
            Attention::RsAttn
        } else {
            Attention::ScaleAttn
        }
    };
    let attention = match g {
        Granularity::Layer => AttentionPlan::Layer(keep.iter().map(|k| pick(*k)).collect()),
        Granularity::Head => AttentionPlan::Head(
            keep.chunks(cfg.heads)
                .map(|l| l.iter().map(|k| pick(*k)).collect())
                .collect(),
        ),
        Granularity::Row => AttentionPlan::Row(
            keep.chunks(cfg.heads * cfg.tokens())
                .map(|l| {
                    l.chunks(cfg.tokens())
                        .map(|h| h.iter().map(|k| pick(*k)).collect())
                        .collect()
                })
                .collect(),
        ),
    };
    Plan {
        attention,
        gelu: None,
    }
}

/// Thresholds `beta` (section 5.5): a token is linearised where `beta <= sigma`.
pub fn gelu_plan(cfg: &ViTConfig, betas: &[f32], sigma: f32) -> GeluPlan {
    GeluPlan {
        linearised: betas
            .chunks(cfg.tokens())
            .map(|l| l.iter().map(|b| *b <= sigma).collect())
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Plan;
    use crate::train::config::{GeluSearch, UnitLatency};
    use crate::train::{Augment, TrainConfig};
    use rand::{Rng, SeedableRng};

    #[test]
    fn top_k_keeps_the_mu_fraction_with_largest_alpha() {
        let a = [0.9, 0.1, 0.5, 0.7, 0.3, 0.2, 0.8, 0.4, 0.6, 0.0];
        let keep = binarize_top_k(&a, 0.3);
        assert_eq!(
            keep,
            vec![true, false, false, true, false, false, true, false, false, false]
        );
        assert_eq!(binarize_top_k(&a, 0.0), vec![false; 10]);
        assert_eq!(binarize_top_k(&a, 1.0), vec![true; 10]);
        // Ties at the threshold are all kept, as the rule 1(alpha >= alpha*) says.
        assert_eq!(
            binarize_top_k(&[0.5, 0.5, 0.1], 0.34),
            vec![true, true, false]
        );
    }

    #[test]
    fn per_layer_baseline_spreads_the_budget() {
        let cfg = ViTConfig {
            dim: 8,
            heads: 4,
            classes: 2,
            linformer_k: 2,
            ..ViTConfig::tiny()
        };
        let a = [0.9, 0.8, 0.7, 0.6, 0.1, 0.2, 0.3, 0.4];
        assert_eq!(
            binarize_top_k(&a, 0.5),
            vec![true, true, true, true, false, false, false, false]
        );
        assert_eq!(
            binarize_per_layer(&cfg, Granularity::Head, &a, 0.5),
            vec![true, true, false, false, false, false, true, true]
        );
        let plan = plan_from_mask(
            &cfg,
            Granularity::Head,
            &binarize_per_layer(&cfg, Granularity::Head, &a, 0.5),
        );
        plan.validate(&cfg).unwrap();
        assert_eq!(plan.attention.variant(1, 3, 0), Attention::RsAttn);
        assert_eq!(plan.attention.variant(0, 3, 0), Attention::ScaleAttn);
    }

    fn toy() -> Dataset {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(4);
        let mut labels = Vec::new();
        let mut pixels = Vec::new();
        for _ in 0..64 {
            let y = rng.gen_range(0..2u8);
            labels.push(y);
            pixels.extend((0..64).map(|i| {
                if (i < 32) == (y == 0) {
                    200u8
                } else {
                    rng.gen_range(0..40)
                }
            }));
        }
        Dataset::new("toy", 8, 8, 1, 2, labels, pixels).unwrap()
    }

    fn search(lambda: f32, g: Granularity, gelu: Option<GeluSearch>) -> Search {
        let cfg = ViTConfig {
            dim: 8,
            classes: 2,
            linformer_k: 2,
            ..ViTConfig::tiny()
        };
        let mut tc = TrainConfig::default_for("toy");
        tc.seed = Some(3);
        tc.batch_size = 16;
        tc.augment = Augment::NONE;
        let t = Trainer::new(cfg.clone(), Plan::uniform(&cfg, Attention::RsAttn), tc, 64).unwrap();
        Search::new(
            t,
            SearchConfig {
                granularity: g,
                lambda,
                alpha_lr: 0.05,
                latency: UnitLatency {
                    rs_attn_head: 1.0,
                    gelu_token: 0.5,
                },
                gelu,
            },
        )
        .unwrap()
    }

    #[test]
    fn alphas_start_at_one_stay_clamped_and_a_strong_penalty_drives_them_down() {
        let data = toy();
        for g in [Granularity::Layer, Granularity::Head, Granularity::Row] {
            let mut s = search(
                100.0,
                g,
                Some(GeluSearch {
                    eta: 100.0,
                    sigma: 0.5,
                }),
            );
            assert!(s.alphas.iter().all(|a| *a == 1.0));
            for _ in 0..40 {
                s.step(&data).unwrap();
                assert!(s.alphas.iter().all(|a| (0.0..=1.0).contains(a)));
                assert!(s
                    .betas
                    .as_ref()
                    .unwrap()
                    .iter()
                    .all(|b| (0.0..=1.0).contains(b)));
            }
            assert!(s.alphas.iter().all(|a| *a < 0.2), "{g:?}: {:?}", s.alphas);
            let plan = s.plan(0.5);
            plan.validate(&s.trainer.config).unwrap();
            assert!(plan
                .gelu
                .as_ref()
                .unwrap()
                .linearised
                .iter()
                .flatten()
                .all(|l| *l));
        }
    }

    #[test]
    fn without_penalty_the_task_gradient_moves_alphas() {
        let data = toy();
        let mut s = search(0.0, Granularity::Head, None);
        for _ in 0..20 {
            s.step(&data).unwrap();
        }
        assert!(
            s.alphas.iter().any(|a| *a < 1.0),
            "task gradient never moved alpha: {:?}",
            s.alphas
        );
        assert!(s.penalty() == 0.0);
    }
}
