//! The paper-config cost table (paper Table 2 and Figure 7 settings): every attention variant
//! and MPCViT head-wise plans on the paper's CIFAR and Tiny-ImageNet ViTs, random weights.
//!
//! Rounds and bytes depend only on shapes, so each *distinct* block (its attention variants and
//! how many heads use each) is run privately once as a one-block model and its cost is counted
//! for every layer that has that shape; the embedding, input sharing and head are measured
//! once. Rounds and bytes are therefore exact for the whole model (a test checks the sum
//! against a full run); compute time is measured on those same runs and multiplied likewise.
//! A full private forward of the Tiny-ImageNet ViT (257 tokens, 9 blocks) for each of the 14
//! plans would take many minutes on a small machine; the per-block runs take about a minute
//! for both configs.
//!
//! Every row carries the estimates with and without the measured compute
//! (`rounds x RTT + bytes / bandwidth [+ compute]`).

use std::collections::BTreeMap;

use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde::Serialize;

use super::session::infer_local;
use crate::model::{Attention, AttentionPlan, Params, Plan, ViT, ViTConfig};
use crate::mpc::{NetworkProfile, ProtocolFamily, SessionConfig, SessionSeeds, Stats};
use crate::Result;

/// One row of the table.
#[derive(Clone, Debug, Serialize)]
pub struct PaperRow {
    /// The paper config (`cifar`, `tiny-imagenet`).
    pub config: String,
    /// The attention variant or MPCViT plan measured.
    pub model: String,
    /// Online rounds of one private inference.
    pub rounds: u64,
    /// Online megabytes, both directions.
    pub online_mb: f64,
    /// Dealer megabytes (offline).
    pub offline_mb: f64,
    /// Measured local compute (slower party), summed over the model's blocks.
    pub compute_s: f64,
    /// LAN estimate (network and compute), in seconds.
    pub lan_s: f64,
    /// WAN estimate (network and compute), in seconds.
    pub wan_s: f64,
    /// LAN estimate without local compute (rounds x RTT + bytes / bandwidth).
    pub lan_network_s: f64,
    /// WAN estimate without local compute (rounds x RTT + bytes / bandwidth).
    pub wan_network_s: f64,
    /// The protocol family measured (absent in older tables: classic).
    #[serde(default)]
    pub protocols: ProtocolFamily,
}

fn add(a: &mut Stats, b: &Stats, times: u64) {
    a.rounds += b.rounds * times;
    a.sent += b.sent * times;
    a.recv += b.recv * times;
    a.offline_sent += b.offline_sent * times;
    a.offline_recv += b.offline_recv * times;
    a.compute_s += b.compute_s * times as f64;
}

/// The private cost of `plan` (head-wise) on `cfg` with the protocols of `session`, from
/// one-block runs.
pub fn plan_cost(cfg: &ViTConfig, plan: &AttentionPlan, session: SessionConfig) -> Result<Stats> {
    let mut one = cfg.clone();
    one.depth = 1;
    let params = Params::init(&one, &mut rand_chacha::ChaCha8Rng::seed_from_u64(0));
    let image = vec![0.5f32; one.input_len()];
    let mut shapes: BTreeMap<Vec<&'static str>, (Vec<Attention>, u64)> = BTreeMap::new();
    for l in 0..cfg.depth {
        let mut heads: Vec<Attention> = (0..cfg.heads).map(|h| plan.variant(l, h, 0)).collect();
        heads.sort_by_key(|a| a.name());
        shapes
            .entry(heads.iter().map(|a| a.name()).collect())
            .or_insert((heads, 0))
            .1 += 1;
    }
    let mut total = Stats::default();
    let mut outer_done = false;
    for (heads, count) in shapes.into_values() {
        let vit = ViT::new(
            one.clone(),
            Plan {
                attention: AttentionPlan::Head(vec![heads]),
                gelu: None,
            },
            params.clone(),
        )?;
        let r = infer_local(
            &vit,
            &[&image],
            session,
            Some(SessionSeeds::insecure_fixed(1)),
        )?
        .remove(0);
        add(&mut total, &r.report.with_label_prefix("layer 0"), count);
        if !outer_done {
            // Input sharing, embedding, head and the final reveal: everything but the
            // once-per-session weight sharing and the block itself.
            let mut outer = r.report.total();
            for part in ["weights", "layer 0"] {
                let s = r.report.with_label_prefix(part);
                outer.rounds -= s.rounds;
                outer.sent -= s.sent;
                outer.recv -= s.recv;
                outer.offline_sent -= s.offline_sent;
                outer.offline_recv -= s.offline_recv;
                outer.compute_s -= s.compute_s;
            }
            add(&mut total, &outer, 1);
            outer_done = true;
        }
    }
    Ok(total)
}

fn row(config: &str, model: String, s: &Stats, protocols: ProtocolFamily) -> PaperRow {
    let (lan, wan) = (NetworkProfile::lan(), NetworkProfile::wan());
    PaperRow {
        config: config.into(),
        model,
        rounds: s.rounds,
        online_mb: s.online_bytes() as f64 / 1e6,
        offline_mb: s.offline_bytes() as f64 / 1e6,
        compute_s: s.compute_s,
        lan_s: s.estimate(&lan),
        wan_s: s.estimate(&wan),
        lan_network_s: s.estimate_network(&lan),
        wan_network_s: s.estimate_network(&wan),
        protocols,
    }
}

/// Every variant (uniform plans), then MPCViT head-wise plans with `round(mu * L * H)` random
/// RSAttn heads (fixed seed), the rest ScaleAttn; every row with the protocols of `session`.
pub fn paper_table(
    name: &str,
    cfg: &ViTConfig,
    mus: &[f64],
    session: SessionConfig,
) -> Result<Vec<PaperRow>> {
    let mut rows = Vec::new();
    for v in Attention::ALL {
        rows.push(row(
            name,
            v.name().to_string(),
            &plan_cost(cfg, &AttentionPlan::uniform(cfg, v), session)?,
            session.family,
        ));
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    for &mu in mus {
        let units = cfg.depth * cfg.heads;
        let mut keep: Vec<bool> = (0..units)
            .map(|i| i < (mu * units as f64).round() as usize)
            .collect();
        keep.shuffle(&mut rng);
        let heads = keep
            .chunks(cfg.heads)
            .map(|l| {
                l.iter()
                    .map(|k| {
                        if *k {
                            Attention::RsAttn
                        } else {
                            Attention::ScaleAttn
                        }
                    })
                    .collect()
            })
            .collect();
        rows.push(row(
            name,
            format!("MPCViT mu={mu}"),
            &plan_cost(cfg, &AttentionPlan::Head(heads), session)?,
            session.family,
        ));
    }
    Ok(rows)
}

/// The rows as a text table (one config), with the Softmax / MPCViT mu=0.1 latency ratios
/// (WAN and LAN, with and without compute) when both rows are present.
pub fn format_paper_table(title: &str, rows: &[PaperRow]) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{title}: random weights; rounds and bytes exact, from one private run per distinct block \
         shape (x blocks of that shape) plus embedding, head and input sharing once"
    );
    let _ = writeln!(
        out,
        "{:<14} {:>6} {:>10} {:>10} {:>9} {:>8} {:>9} {:>8} {:>9}",
        "attention",
        "rounds",
        "online MB",
        "offline MB",
        "compute s",
        "LAN s",
        "LAN net s",
        "WAN s",
        "WAN net s"
    );
    for r in rows {
        let _ = writeln!(
            out,
            "{:<14} {:>6} {:>10.2} {:>10.2} {:>9.3} {:>8.3} {:>9.3} {:>8.2} {:>9.2}",
            r.model,
            r.rounds,
            r.online_mb,
            r.offline_mb,
            r.compute_s,
            r.lan_s,
            r.lan_network_s,
            r.wan_s,
            r.wan_network_s
        );
    }
    let find = |m: &str| rows.iter().find(|r| r.model == m);
    if let (Some(sm), Some(mp)) = (find("softmax"), find("MPCViT mu=0.1")) {
        let _ = writeln!(
            out,
            "Softmax / MPCViT mu=0.1 latency: WAN {:.2}x ({:.2}x network only), LAN {:.2}x \
             ({:.2}x network only); rounds {:.2}x, online bytes {:.2}x",
            sm.wan_s / mp.wan_s,
            sm.wan_network_s / mp.wan_network_s,
            sm.lan_s / mp.lan_s,
            sm.lan_network_s / mp.lan_network_s,
            sm.rounds as f64 / mp.rounds as f64,
            sm.online_mb / mp.online_mb
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_block_costs_add_up_to_the_whole_model() {
        let cfg = ViTConfig {
            depth: 3,
            linformer_k: 2,
            ..ViTConfig::tiny()
        };
        let plan = AttentionPlan::Head(vec![
            vec![Attention::RsAttn, Attention::ScaleAttn],
            vec![Attention::ScaleAttn, Attention::ScaleAttn],
            vec![Attention::ScaleAttn, Attention::RsAttn],
        ]);
        let summed = plan_cost(&cfg, &plan, SessionConfig::default()).unwrap();
        let params = Params::init(&cfg, &mut rand_chacha::ChaCha8Rng::seed_from_u64(0));
        let vit = ViT::new(
            cfg.clone(),
            Plan {
                attention: plan,
                gelu: None,
            },
            params,
        )
        .unwrap();
        let whole = infer_local(
            &vit,
            &[&[0.5f32; 64]],
            SessionConfig::default(),
            Some(SessionSeeds::insecure_fixed(1)),
        )
        .unwrap()
        .remove(0);
        let w = whole.report.total();
        let weights = whole.report.with_label_prefix("weights");
        assert_eq!(summed.rounds, w.rounds - weights.rounds);
        assert_eq!(
            summed.sent + summed.recv,
            w.sent + w.recv - weights.sent - weights.recv
        );
    }

    #[test]
    fn tiny_table_orders_variants_as_the_paper() {
        let cfg = ViTConfig {
            linformer_k: 2,
            ..ViTConfig::tiny()
        };
        let rows = paper_table("tiny", &cfg, &[0.5], SessionConfig::default()).unwrap();
        let wan = |m: &str| rows.iter().find(|r| r.model == m).unwrap().wan_network_s;
        assert!(wan("softmax") > wan("rsattn") && wan("rsattn") > wan("scale"));
        assert_eq!(rows.len(), 11);
        let t = format_paper_table("tiny", &rows);
        assert!(t.contains("MPCViT mu=0.5") && t.contains("one private run per distinct block"));
    }
}
