//! The MPC-aware differentiable search (paper sections 4.2-4.3) for the page's trainer worker:
//! a supernet whose every unit (layer, head or row) mixes RSAttn and ScaleAttn with a learned
//! `alpha`, penalised by the unit's latency measured on the real protocol; then top-k
//! binarisation with a budget `mu`. The plan it returns is retrained by a
//! [`super::TrainerHandle`] with distillation (section 4.4).

use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;

use super::progress::{Progress, Tally};
use super::{js_err, to_js};
use crate::data::Dataset;
use crate::model::{Attention, Plan, ViTConfig};
use crate::mpc::{NetworkProfile, SessionConfig};
use crate::secure::{plan_cost_measured, unit_latency};
use crate::train::config::{Granularity, SearchConfig, UnitLatency};
use crate::train::search::Search;
use crate::train::{TrainConfig, Trainer};

/// The search settings the page sends.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SearchArgs {
    granularity: Granularity,
    /// Weight of the latency penalty, per second of latency.
    lambda: f32,
    /// Learning rate of the architecture parameters.
    #[serde(default = "default_alpha_lr")]
    alpha_lr: f32,
    /// `wan` (default) or `lan`: the profile whose latency the penalty uses.
    #[serde(default)]
    profile: Option<String>,
    /// Per-unit latencies; measured on the real protocol for this config when absent.
    #[serde(default)]
    latency: Option<UnitLatency>,
}

fn default_alpha_lr() -> f32 {
    0.01
}

/// A search in progress over a dataset held in wasm memory.
#[wasm_bindgen]
pub struct SearchHandle {
    search: Search,
    data: Dataset,
    tally: Tally,
    profile: NetworkProfile,
}

#[derive(Serialize)]
struct SearchProgress {
    #[serde(flatten)]
    progress: Progress,
    /// One per unit in layer-major order (`[layer][head]` or `[layer][head][row]` flattened).
    alphas: Vec<f32>,
    /// `lambda * sum alpha * Lat`, part of `loss`.
    penalty: f32,
}

/// A binarised plan and what it costs privately.
#[derive(Serialize)]
struct Binarised {
    mu: f32,
    per_layer: bool,
    plan: Plan,
    /// Units kept as RSAttn, of `units`.
    rsattn_units: usize,
    units: usize,
    /// The manifest-style cost of one private inference under this plan, measured now.
    cost: serde_json::Value,
}

#[wasm_bindgen]
impl SearchHandle {
    /// `config` (`ViTConfig`) and `train` (`TrainConfig`) are JSON; `search` is JSON
    /// `{granularity: "layer"|"head"|"row", lambda, alpha_lr?, profile?: "wan"|"lan",
    /// latency?: {rs_attn_head, gelu_token}}`; `dataset` is the compact binary form.
    #[wasm_bindgen(constructor)]
    pub fn new(
        config: &str,
        train: &str,
        search: &str,
        dataset: &[u8],
    ) -> Result<SearchHandle, JsError> {
        let config: ViTConfig = serde_json::from_str(config).map_err(js_err)?;
        let train: TrainConfig = serde_json::from_str(train).map_err(js_err)?;
        let args: SearchArgs = serde_json::from_str(search).map_err(js_err)?;
        let data = Dataset::from_bytes(dataset).map_err(js_err)?;
        config.validate().map_err(js_err)?;
        let profile =
            NetworkProfile::from_name(args.profile.as_deref().unwrap_or("wan")).map_err(js_err)?;
        let latency = match args.latency {
            Some(l) if l.rs_attn_head >= 0.0 && l.gelu_token >= 0.0 => l,
            Some(_) => return Err(JsError::new("latencies must be non-negative")),
            None => unit_latency(&config, &profile, SessionConfig::default()).map_err(js_err)?,
        };
        let plan = Plan::uniform(&config, Attention::RsAttn);
        let trainer = Trainer::new(config, plan, train, data.len()).map_err(js_err)?;
        let search = Search::new(
            trainer,
            SearchConfig {
                granularity: args.granularity,
                lambda: args.lambda,
                alpha_lr: args.alpha_lr,
                latency,
                gelu: None,
            },
        )
        .map_err(js_err)?;
        Ok(SearchHandle {
            search,
            data,
            tally: Tally::default(),
            profile,
        })
    }

    /// Runs up to `n` joint steps of weights and alphas: `{step, total, epoch, loss, accuracy,
    /// lr, images_per_sec, alphas, penalty}` (loss and accuracy averaged over the steps run).
    pub fn step(&mut self, n: usize) -> Result<JsValue, JsError> {
        let mut penalty = self.search.penalty();
        for _ in 0..n {
            if self.search.trainer.done() {
                break;
            }
            let (search, data) = (&mut self.search, &self.data);
            self.tally
                .time(|| {
                    search.step(data).map(|s| {
                        penalty = s.penalty;
                        s.step
                    })
                })
                .map_err(js_err)?;
        }
        let t = &self.search.trainer;
        let p = SearchProgress {
            progress: self.tally.slice(t.step_count(), t.total_steps()),
            alphas: self.search.alphas.clone(),
            penalty,
        };
        to_js(&p)
    }

    /// Whether every step of the search has been taken.
    #[wasm_bindgen(getter)]
    pub fn done(&self) -> bool {
        self.search.trainer.done()
    }

    /// The current alphas, one per unit (layer-major).
    pub fn alphas(&self) -> Vec<f32> {
        self.search.alphas.clone()
    }

    /// `{rs_attn_head, gelu_token, profile}`: the per-unit latencies (seconds) the penalty uses.
    pub fn latency(&self) -> Result<JsValue, JsError> {
        let l = self.search.config.latency;
        to_js(&serde_json::json!({
            "rs_attn_head": l.rs_attn_head,
            "gelu_token": l.gelu_token,
            "profile": self.profile.name,
        }))
    }

    /// Binarises the alphas with budget `mu` in [0, 1] (section 4.3): the global top-k, or with
    /// `per_layer` the same budget in every layer (the paper's uniform baseline). Returns
    /// `{mu, per_layer, plan, rsattn_units, units, cost}` where `cost` (rounds, bytes, LAN / WAN
    /// estimates) is measured by running the real protocol on the plan.
    pub fn binarise(&self, mu: f32, per_layer: bool) -> Result<JsValue, JsError> {
        if !(0.0..=1.0).contains(&mu) {
            return Err(JsError::new(&format!("mu = {mu} is not in [0, 1]")));
        }
        let plan = if per_layer {
            self.search.plan_per_layer(mu)
        } else {
            self.search.plan(mu)
        };
        let cfg = &self.search.trainer.config;
        let cost = plan_cost_measured(cfg, &plan, SessionConfig::default()).map_err(js_err)?;
        // Every unit covers the same number of attention rows.
        let units = self.search.config.granularity.units(cfg);
        let kept = plan.attention.fraction(cfg, Attention::RsAttn) * units as f64;
        let b = Binarised {
            mu,
            per_layer,
            rsattn_units: kept.round() as usize,
            units,
            cost: cost.manifest_value(),
            plan,
        };
        to_js(&b)
    }
}
