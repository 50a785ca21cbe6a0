//! Both parties in one thread over an in-memory channel (tests, the CLI, agreement runs), and
//! the cost summary of an inference.

use serde::{Deserialize, Serialize};

use super::programs::{blind_infer, client_infer};
use super::weights::share_weights;
use crate::model::ViT;
use crate::mpc::exec::run_joined;
use crate::mpc::transport::mem_pair;
use crate::mpc::{
    local_pair_with, NetworkProfile, ProtocolFamily, Report, SessionConfig, SessionSeeds, Stats,
};
use crate::Result;

/// Cost of one private inference (weight sharing, a once-per-session setup, excluded).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CostSummary {
    /// Online rounds.
    pub rounds: u64,
    /// Online bytes party 0 (client) -> party 1 (server).
    pub bytes_client_to_server: u64,
    /// Online bytes party 1 -> party 0.
    pub bytes_server_to_client: u64,
    /// Dealer -> parties bytes (offline): party 1's corrections, and with the FSS family both
    /// parties' keys.
    pub offline_bytes: u64,
    /// Measured local compute of the slower party, seconds.
    pub compute_s: f64,
    /// `rounds x RTT + bytes / bandwidth + compute` on the LAN profile.
    pub lan_s: f64,
    /// The same on the paper's WAN (44 MB/s, 40 ms).
    pub wan_s: f64,
    /// Per layer (`layer 0`, ..., `embed`, `head`, `input`).
    pub by_layer: Vec<(String, Stats)>,
    /// Per protocol (outermost op name).
    pub by_op: Vec<(String, Stats)>,
    /// The protocol family that measured it (absent in older records: classic).
    #[serde(default)]
    pub protocols: ProtocolFamily,
}

impl CostSummary {
    /// Summarises a joint report of a session run with `protocols`, leaving out the `weights`
    /// setup.
    pub fn from_report(report: &Report, protocols: ProtocolFamily) -> Self {
        let inference = Report {
            rows: report
                .rows
                .iter()
                .filter(|r| !r.labels.starts_with("weights"))
                .cloned()
                .collect(),
        };
        let t = inference.total();
        CostSummary {
            rounds: t.rounds,
            bytes_client_to_server: t.sent,
            bytes_server_to_client: t.recv,
            offline_bytes: t.offline_bytes(),
            compute_s: t.compute_s,
            lan_s: t.estimate(&NetworkProfile::lan()),
            wan_s: t.estimate(&NetworkProfile::wan()),
            by_layer: inference.by_labels(1),
            by_op: inference.by_op(),
            protocols,
        }
    }

    /// Online bytes both ways.
    pub fn online_bytes(&self) -> u64 {
        self.bytes_client_to_server
            .saturating_add(self.bytes_server_to_client)
    }

    /// The totals as a manifest's `cost` record (the per-layer and per-operation breakdowns
    /// left out): `{rounds, online_bytes, bytes_client_to_server, bytes_server_to_client,
    /// offline_bytes, compute_s, lan_s, wan_s, protocols}`.
    pub fn manifest_value(&self) -> serde_json::Value {
        serde_json::json!({
            "rounds": self.rounds,
            "online_bytes": self.online_bytes(),
            "bytes_client_to_server": self.bytes_client_to_server,
            "bytes_server_to_client": self.bytes_server_to_client,
            "offline_bytes": self.offline_bytes,
            "compute_s": self.compute_s,
            "lan_s": self.lan_s,
            "wan_s": self.wan_s,
            "protocols": self.protocols.name(),
        })
    }
}

/// The result of one private inference, as party 0 sees it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PrivateInference {
    /// The predicted class (argmax of the logits).
    pub prediction: usize,
    /// Softmax of the logits.
    pub probabilities: Vec<f32>,
    /// The logits revealed to party 0.
    pub logits: Vec<f64>,
    /// The cost of this image (weight sharing excluded).
    pub cost: CostSummary,
    /// The full joint report (with the weight-sharing rows).
    pub report: Report,
}

/// Class probabilities from revealed logits (softmax in f64).
pub fn probabilities(logits: &[f64]) -> Vec<f32> {
    let m = logits.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = logits.iter().map(|l| (l - m).exp()).collect();
    let z: f64 = e.iter().sum();
    e.iter().map(|v| (v / z) as f32).collect()
}

/// Classifies `images` privately with `vit`, both parties joined in this thread; weights are
/// shared once for all images. Seeds default to fresh OS seeds.
pub fn infer_local(
    vit: &ViT,
    images: &[&[f32]],
    session: SessionConfig,
    seeds: Option<SessionSeeds>,
) -> Result<Vec<PrivateInference>> {
    let seeds = match seeds {
        Some(s) => s,
        None => SessionSeeds::from_os()?,
    };
    let (t0, t1) = mem_pair();
    let (mut p0, mut p1) = local_pair_with(session, seeds, Box::new(t0), Box::new(t1))?;
    let (cfg, plan, arch) = (&vit.config, &vit.plan, vit.arch());
    let client = async {
        let w = share_weights(&mut p0, cfg, plan, None).await?;
        let mut out = Vec::new();
        for img in images {
            let logits = client_infer(&mut p0, cfg, arch, &w, img).await?;
            out.push((logits, p0.meter.report()));
            p0.meter.reset();
        }
        Ok(out)
    };
    let server = async {
        let w = share_weights(&mut p1, cfg, plan, Some(&vit.params)).await?;
        let mut reports = Vec::new();
        for _ in images {
            blind_infer(&mut p1, cfg, arch, &w).await?;
            reports.push(p1.meter.report());
            p1.meter.reset();
        }
        Ok(reports)
    };
    let (client_out, server_reports) = run_joined(client, server)?;
    Ok(client_out
        .into_iter()
        .zip(server_reports)
        .map(|((logits, r0), r1)| PrivateInference::from_parts(logits, &r0, &r1, session.family))
        .collect())
}

impl PrivateInference {
    /// The result as party 0 sees it from the revealed logits and both parties' meter
    /// reports of a session run with `protocols`.
    pub fn from_parts(
        logits: Vec<f64>,
        client: &Report,
        server: &Report,
        protocols: ProtocolFamily,
    ) -> Self {
        let report = Report::joint(client, server);
        let probabilities = probabilities(&logits);
        let prediction = crate::model::argmax(probabilities.iter().copied());
        PrivateInference {
            prediction,
            probabilities,
            logits,
            cost: CostSummary::from_report(&report, protocols),
            report,
        }
    }

    /// [`PrivateInference::from_parts`] where the server's report came from the server over
    /// the network: it is checked first ([`Report::check_peer`]), so a hostile server gets a
    /// clear [`crate::Error::Protocol`] instead of counters that overflow or times that are
    /// not numbers. (`from_parts` itself saturates, it never panics.)
    pub fn from_peer_parts(
        logits: Vec<f64>,
        client: &Report,
        server: &Report,
        protocols: ProtocolFamily,
    ) -> Result<Self> {
        server.check_peer()?;
        Ok(PrivateInference::from_parts(
            logits, client, server, protocols,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::vit::softmax_rows;
    use crate::model::{Attention, AttentionPlan, GeluPlan, Params, Plan, ViTConfig};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn cfg() -> ViTConfig {
        ViTConfig {
            classes: 4,
            ..ViTConfig::tiny()
        }
    }

    /// Weights as a trained model has them: far larger than the 0.02 initialisation.
    fn params(seed: u64) -> Params {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut p = Params::init(&cfg(), &mut rng);
        p.for_each_mut(|name, mut t| {
            if name.ends_with("weight") && t.ndim() == 2
                || name.contains("embed")
                || name == "cls_token"
            {
                t.mapv_inplace(|_| rng.gen_range(-0.5..0.5));
            }
        });
        p
    }

    fn check(plan: Plan, tol: f64) {
        let c = cfg();
        let vit = ViT::new(c.clone(), plan.clone(), params(3)).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let images: Vec<Vec<f32>> = (0..2)
            .map(|_| (0..c.input_len()).map(|_| rng.gen::<f32>()).collect())
            .collect();
        let refs: Vec<&[f32]> = images.iter().map(|v| v.as_slice()).collect();
        let got = infer_local(
            &vit,
            &refs,
            SessionConfig::default(),
            Some(SessionSeeds::insecure_fixed(5)),
        )
        .unwrap();
        for (img, r) in images.iter().zip(&got) {
            let want = vit
                .forward(ndarray::ArrayView4::from_shape((1, 1, 8, 8), img).unwrap())
                .unwrap();
            let err = want
                .iter()
                .zip(&r.logits)
                .map(|(a, b)| (*a as f64 - b).abs())
                .fold(0.0, f64::max);
            assert!(
                err < tol,
                "{:?}: logit error {err} (want {want:?}, got {:?})",
                plan.attention,
                r.logits
            );
            let p = softmax_rows(&want);
            assert!((p[[0, r.prediction]] - p.iter().cloned().fold(0.0f32, f32::max)).abs() < 0.02);
            assert!(r.cost.rounds > 0 && r.cost.online_bytes() > 0);
        }
    }

    #[test]
    fn every_variant_matches_plaintext() {
        for v in Attention::ALL {
            check(Plan::uniform(&cfg(), v), 0.05);
        }
    }

    #[test]
    fn head_row_and_token_plans_match_plaintext() {
        let c = cfg();
        let heads = vec![
            vec![Attention::RsAttn, Attention::ScaleAttn],
            vec![Attention::ScaleAttn, Attention::Softmax],
        ];
        check(
            Plan {
                attention: AttentionPlan::Head(heads),
                gelu: None,
            },
            0.05,
        );
        let mut rows = vec![vec![vec![Attention::RsAttn; c.tokens()]; c.heads]; c.depth];
        rows[0][1][2] = Attention::ScaleAttn;
        rows[1][0][0] = Attention::ScaleAttn;
        rows[1][1] = vec![Attention::ScaleAttn; c.tokens()];
        let mut lin = vec![vec![false; c.tokens()]; c.depth];
        lin[0][1] = true;
        lin[1] = vec![true; c.tokens()];
        check(
            Plan {
                attention: AttentionPlan::Row(rows),
                gelu: Some(GeluPlan { linearised: lin }),
            },
            0.05,
        );
    }

    #[test]
    fn scale_heads_cost_less_than_rsattn_heads() {
        let c = cfg();
        let img = vec![0.3f32; c.input_len()];
        let run = |v| {
            let vit = ViT::new(c.clone(), Plan::uniform(&c, v), params(1)).unwrap();
            infer_local(
                &vit,
                &[&img],
                SessionConfig::default(),
                Some(SessionSeeds::insecure_fixed(2)),
            )
            .unwrap()
            .remove(0)
            .cost
        };
        let (rs, sc, sm) = (
            run(Attention::RsAttn),
            run(Attention::ScaleAttn),
            run(Attention::Softmax),
        );
        assert!(
            sc.rounds < rs.rounds && rs.rounds < sm.rounds,
            "rounds {} {} {}",
            sc.rounds,
            rs.rounds,
            sm.rounds
        );
        assert!(sc.online_bytes() < rs.online_bytes());
        assert!(sc.wan_s < rs.wan_s && rs.wan_s < sm.wan_s);
    }

    /// MPCViT+ (section 4.5): linearising some tokens of a layer saves bytes and adds no
    /// rounds (their ReLU rides in GeLU's rounds); linearising all of them saves rounds.
    #[test]
    fn linearised_tokens_save_bytes_without_adding_rounds() {
        let c = cfg();
        let img = vec![0.3f32; c.input_len()];
        let run = |lin: Option<Vec<Vec<bool>>>| {
            let plan = Plan {
                attention: AttentionPlan::uniform(&c, Attention::ScaleAttn),
                gelu: lin.map(|linearised| GeluPlan { linearised }),
            };
            let vit = ViT::new(c.clone(), plan, params(1)).unwrap();
            infer_local(
                &vit,
                &[&img],
                SessionConfig::default(),
                Some(SessionSeeds::insecure_fixed(3)),
            )
            .unwrap()
            .remove(0)
            .cost
        };
        let none = run(None);
        let mut some = vec![vec![false; c.tokens()]; c.depth];
        for row in some.iter_mut() {
            for t in (0..c.tokens()).step_by(2) {
                row[t] = true;
            }
        }
        let half = run(Some(some));
        let all = run(Some(vec![vec![true; c.tokens()]; c.depth]));
        assert_eq!(half.rounds, none.rounds);
        assert!(half.online_bytes() < none.online_bytes());
        assert!(all.rounds < none.rounds);
    }

    #[test]
    fn wrong_image_size_is_an_error() {
        let c = cfg();
        let vit = ViT::new(c.clone(), Plan::uniform(&c, Attention::RsAttn), params(1)).unwrap();
        let r = infer_local(&vit, &[&[0.0f32; 3]], SessionConfig::default(), None);
        assert_err!(r, crate::Error::ShapeMismatch { .. });
    }

    #[test]
    fn a_hostile_server_report_is_a_protocol_error() {
        let c = cfg();
        let vit = ViT::new(
            c.clone(),
            Plan::uniform(&c, Attention::ScaleAttn),
            params(1),
        )
        .unwrap();
        let img = vec![0.3f32; c.input_len()];
        let honest = infer_local(
            &vit,
            &[&img],
            SessionConfig::default(),
            Some(SessionSeeds::insecure_fixed(4)),
        )
        .unwrap()
        .remove(0);
        let mut hostile = honest.report.clone();
        for r in hostile.rows.iter_mut() {
            r.stats.offline_recv = u64::MAX;
        }
        let logits = honest.logits.clone();
        // The unchecked merge saturates rather than panicking ...
        let merged = PrivateInference::from_parts(
            logits.clone(),
            &honest.report,
            &hostile,
            ProtocolFamily::Classic,
        );
        assert_eq!(merged.report.total().offline_recv, u64::MAX);
        // ... and the checked one refuses the report.
        match PrivateInference::from_peer_parts(
            logits.clone(),
            &honest.report,
            &hostile,
            ProtocolFamily::Classic,
        ) {
            Err(crate::Error::Protocol(m)) => assert!(m.contains("offline_recv"), "{m}"),
            other => panic!("expected a protocol error, got {other:?}"),
        }
        PrivateInference::from_peer_parts(
            logits,
            &honest.report,
            &honest.report,
            ProtocolFamily::Classic,
        )
        .unwrap();
    }
}
