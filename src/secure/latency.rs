//! Latencies of the units the search trades off, measured on the real protocols (paper section
//! 4.3: "realistic inference latency", not a proxy), and the measured cost of a whole plan (what
//! binarisation with a budget mu buys, section 4.3).

use super::session::{infer_local, CostSummary};
use crate::model::{Attention, AttentionPlan, GeluPlan, Params, Plan, ViT, ViTConfig};
use crate::mpc::{NetworkProfile, SessionConfig, SessionSeeds};
use crate::train::config::UnitLatency;
use crate::Result;

/// Runs the private forward of a one-block copy of `cfg` four times (all RSAttn / all
/// ScaleAttn heads, all GeLU / all linearised tokens) and returns per-head and per-token
/// latency differences under `profile` with the protocols of `session`. Weights are random:
/// cost does not depend on values.
pub fn unit_latency(
    cfg: &ViTConfig,
    profile: &NetworkProfile,
    session: SessionConfig,
) -> Result<UnitLatency> {
    let mut one = cfg.clone();
    one.depth = 1;
    let params = Params::init(
        &one,
        &mut <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(0),
    );
    let image = vec![0.5f32; one.input_len()];
    let cost = |attention: Attention, linear: bool| -> Result<f64> {
        let gelu = linear.then(|| GeluPlan {
            linearised: vec![vec![true; one.tokens()]; 1],
        });
        let plan = Plan {
            attention: AttentionPlan::uniform(&one, attention),
            gelu,
        };
        let vit = ViT::new(one.clone(), plan, params.clone())?;
        let r = infer_local(
            &vit,
            &[&image],
            session,
            Some(SessionSeeds::insecure_fixed(1)),
        )?;
        let layer = r[0].report.with_label_prefix("layer 0");
        Ok(layer.estimate_network(profile))
    };
    let rs = cost(Attention::RsAttn, false)?;
    let sc = cost(Attention::ScaleAttn, false)?;
    let lin = cost(Attention::RsAttn, true)?;
    Ok(UnitLatency {
        rs_attn_head: ((rs - sc) / cfg.heads as f64).max(0.0),
        gelu_token: ((rs - lin) / cfg.tokens() as f64).max(0.0),
    })
}

/// The cost of one private inference of `vit` (weight sharing excluded), measured by running
/// the real protocol once with both parties in this thread on a mid-grey image: rounds and
/// bytes depend only on the shape, the plan and the `session`'s protocols, compute time is
/// this machine's.
pub fn measure_cost(vit: &ViT, session: SessionConfig) -> Result<CostSummary> {
    let image = vec![0.5f32; vit.config.input_len()];
    let mut r = infer_local(vit, &[&image], session, None)?;
    Ok(r.remove(0).cost)
}

/// [`measure_cost`] of `plan` (any granularity, with or without a GeLU plan) on the shape
/// `cfg`, with random weights.
pub fn plan_cost_measured(
    cfg: &ViTConfig,
    plan: &Plan,
    session: SessionConfig,
) -> Result<CostSummary> {
    let params = Params::init(
        cfg,
        &mut <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(0),
    );
    measure_cost(&ViT::new(cfg.clone(), plan.clone(), params)?, session)
}
