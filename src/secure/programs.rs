//! The three programs of one private inference, as each participant runs them, whatever carries
//! their messages (an in-memory channel, Web Worker `MessagePort`s, TCP):
//!
//! * [`client`] (party 0): shares its image, runs the forward, learns the logits;
//! * [`server`] (party 1): shares its weights, runs the forward, learns nothing;
//! * [`dealer`]: runs the server's program on shapes only, generating every correlation in
//!   order and streaming party 1's corrections ahead of time (`ARCHITECTURE.md`, "One private inference").
//!
//! Before the programs start, the dealer gives each party its seed (`mpc::setup`).

use super::forward::{forward, forward_observed, Stage};
use super::weights::{share_weights, SharedWeights};
use crate::model::vit::Arch;
use crate::model::{Plan, ViT, ViTConfig};
use crate::mpc::protocols::reveal_to;
use crate::mpc::{ArithShare, Party};
use crate::{Error, Result};

/// Party 0: classifies `image` (`channels * size * size` values in `[0, 1]`) with the server's
/// model of public shape `cfg` and plan `plan`; returns the logits.
pub async fn client(
    p: &mut Party,
    cfg: &ViTConfig,
    plan: &Plan,
    image: &[f32],
) -> Result<Vec<f64>> {
    client_observed(p, cfg, plan, image, &mut |_| {}).await
}

/// [`client`], telling `on_stage` where the inference is (weight sharing, then each stage of
/// the forward); the page turns these into a "layer k of L" indicator.
pub async fn client_observed(
    p: &mut Party,
    cfg: &ViTConfig,
    plan: &Plan,
    image: &[f32],
    on_stage: &mut dyn FnMut(Stage),
) -> Result<Vec<f64>> {
    plan.validate(cfg)?;
    let arch = Arch::from_plan(cfg, plan);
    on_stage(Stage::Weights);
    let w = share_weights(p, cfg, plan, None).await?;
    let logits = forward_observed(p, cfg, &arch, &w, Some(image), on_stage).await?;
    reveal_logits(p, &logits).await
}

/// Party 0's part of one inference once the weights are shared.
pub async fn client_infer(
    p: &mut Party,
    cfg: &ViTConfig,
    arch: &Arch,
    w: &SharedWeights,
    image: &[f32],
) -> Result<Vec<f64>> {
    let logits = forward(p, cfg, arch, w, Some(image)).await?;
    reveal_logits(p, &logits).await
}

/// Party 0 opens the shared logits (only it learns them).
pub(crate) async fn reveal_logits(p: &mut Party, logits: &ArithShare) -> Result<Vec<f64>> {
    let plain = reveal_to(p, logits, 0)
        .await?
        .ok_or_else(|| Error::Protocol("party 0 received no logits".into()))?;
    Ok(plain.iter().copied().collect())
}

/// Party 1: serves one inference with `vit`.
pub async fn server(p: &mut Party, vit: &ViT) -> Result<()> {
    let w = share_weights(p, &vit.config, &vit.plan, Some(&vit.params)).await?;
    blind_infer(p, &vit.config, vit.arch(), &w).await
}

/// The dealer: party 1's program on shapes only.
pub async fn dealer(p: &mut Party, cfg: &ViTConfig, plan: &Plan) -> Result<()> {
    plan.validate(cfg)?;
    let w = share_weights(p, cfg, plan, None).await?;
    blind_infer(p, cfg, &Arch::from_plan(cfg, plan), &w).await
}

/// Party 1's (or the dealer's) part of one inference once the weights are shared.
pub async fn blind_infer(
    p: &mut Party,
    cfg: &ViTConfig,
    arch: &Arch,
    w: &SharedWeights,
) -> Result<()> {
    let logits = forward(p, cfg, arch, w, None).await?;
    if reveal_to(p, &logits, 0).await?.is_some() {
        return Err(Error::Protocol("only party 0 may learn the logits".into()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Attention, Params};
    use crate::mpc::exec::block_on_local;
    use crate::mpc::setup::{join_dealer, start_dealer};
    use crate::mpc::transport::mem_pair;
    use crate::mpc::SessionConfig;
    use rand::{Rng, SeedableRng};

    /// The three programs with a separate dealer, as the workers run them: the dealer streams
    /// corrections to party 1 ahead of time over its own channel.
    #[test]
    fn client_server_and_dealer_programs_agree_with_plaintext() {
        let cfg = ViTConfig {
            depth: 1,
            linformer_k: 2,
            ..ViTConfig::tiny()
        };
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(4);
        let mut params = Params::init(&cfg, &mut rng);
        params.for_each_mut(|_, mut t| {
            if t.ndim() == 2 {
                t.mapv_inplace(|_| rng.gen_range(-0.5..0.5));
            }
        });
        let heads = vec![vec![Attention::RsAttn, Attention::ScaleAttn]];
        let plan = Plan {
            attention: crate::model::AttentionPlan::Head(heads),
            gelu: None,
        };
        let vit = ViT::new(cfg.clone(), plan.clone(), params).unwrap();
        let image: Vec<f32> = (0..64).map(|_| rng.gen()).collect();
        let (d_to_p0, p0_from_d) = mem_pair();
        let (d_to_p1, p1_from_d) = mem_pair();
        let (t0, t1) = mem_pair();
        let sc = SessionConfig::default();
        let mut d = start_dealer(sc, Box::new(d_to_p0), Box::new(d_to_p1)).unwrap();
        let join = |id, t, from_dealer| block_on_local(join_dealer(id, sc, t, from_dealer));
        let mut p0 = join(0, Box::new(t0), Box::new(p0_from_d)).unwrap().unwrap();
        let mut p1 = join(1, Box::new(t1), Box::new(p1_from_d)).unwrap().unwrap();
        // The dealer runs first and to completion: its traffic is offline.
        block_on_local(dealer(&mut d, &cfg, &plan))
            .unwrap()
            .unwrap();
        let (logits, ()) = crate::mpc::exec::run_joined(
            client(&mut p0, &cfg, &plan, &image),
            server(&mut p1, &vit),
        )
        .unwrap();
        let want = vit
            .forward(ndarray::ArrayView4::from_shape((1, 1, 8, 8), &image).unwrap())
            .unwrap();
        for (a, b) in want.iter().zip(&logits) {
            assert!((*a as f64 - b).abs() < 0.05, "{want:?} vs {logits:?}");
        }
    }
}
