//! Latencies of the units the search trades off, measured on the real protocols (paper section
//! 4.3: "realistic inference latency", not a proxy).

use super::session::infer_local;
use crate::model::{Attention, AttentionPlan, GeluPlan, Params, Plan, ViT, ViTConfig};
use crate::mpc::{NetworkProfile, SessionConfig, SessionSeeds};
use crate::train::search::UnitLatency;
use crate::Result;

/// Runs the private forward of a one-block copy of `cfg` four times (all RSAttn / all
/// ScaleAttn heads, all GeLU / all linearised tokens) and returns per-head and per-token
/// latency differences under `profile`. Weights are random: cost does not depend on values.
pub fn unit_latency(cfg: &ViTConfig, profile: &NetworkProfile) -> Result<UnitLatency> {
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
            SessionConfig::default(),
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
