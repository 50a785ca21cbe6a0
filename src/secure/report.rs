//! Presenting a private inference: the command-line table and the JSON form of a
//! [`PrivateInference`] (prediction, class probabilities, cost summary and breakdowns).
//!
//! The cost of one inference excludes the once-per-session weight sharing (as
//! [`CostSummary`] does); rounds are counted once per exchange, online bytes per direction
//! (client = party 0, server = party 1), offline bytes are the dealer's corrections to the
//! server. Latency estimates are `rounds x RTT + online bytes / bandwidth + measured compute`
//! on [`NetworkProfile::lan`] and [`NetworkProfile::wan`] (the paper's 40 ms / 44 MB/s).
//!
//! ```
//! use mpcvit::model::{Attention, Params, Plan, ViT, ViTConfig};
//! use mpcvit::mpc::{SessionConfig, SessionSeeds};
//! use mpcvit::secure::{infer_local, report};
//! use rand::SeedableRng;
//!
//! let cfg = ViTConfig::tiny();
//! let params = Params::init(&cfg, &mut rand_chacha::ChaCha8Rng::seed_from_u64(1));
//! let vit = ViT::new(cfg.clone(), Plan::uniform(&cfg, Attention::RsAttn), params).unwrap();
//! let image = vec![0.5f32; cfg.input_len()];
//! let r = infer_local(&vit, &[&image], SessionConfig::default(), Some(SessionSeeds::insecure_fixed(1)))
//!     .unwrap()
//!     .remove(0);
//! let table = report::format_table(&r, None);
//! assert!(table.contains("rounds"));
//! let json = report::to_json(&r, None);
//! assert_eq!(json["prediction"], r.prediction);
//! ```

use std::cmp::Ordering;
use std::fmt::Write as _;

use serde::Serialize;

use super::session::{CostSummary, PrivateInference};
use crate::mpc::{NetworkProfile, ProtocolFamily, Report, Stats};

/// `1234567` bytes as `1.23 MB` (decimal units, as the paper's MB).
pub fn format_bytes(bytes: f64) -> String {
    let b = bytes.abs();
    if b >= 1e9 {
        format!("{:.2} GB", bytes / 1e9)
    } else if b >= 1e6 {
        format!("{:.2} MB", bytes / 1e6)
    } else if b >= 1e3 {
        format!("{:.1} KB", bytes / 1e3)
    } else {
        format!("{bytes:.0} B")
    }
}

/// Seconds as `12.3 ms` below one second, `1.234 s` above.
pub fn format_seconds(s: f64) -> String {
    if s.abs() < 1.0 {
        format!("{:.1} ms", s * 1e3)
    } else {
        format!("{s:.3} s")
    }
}

/// Display order of cost parts: `embed` (the image's input round and the patch embedding),
/// `layer 0`, `layer 1`, ... (numerically),
/// `head`, then anything else alphabetically.
fn part_key(label: &str) -> (u8, usize, String) {
    let first = label.split('/').next().unwrap_or("");
    match first {
        "embed" => (1, 0, label.into()),
        "head" => (3, 0, label.into()),
        "reveal" => (4, 0, label.into()),
        _ => match first
            .strip_prefix("layer ")
            .and_then(|n| n.parse::<usize>().ok())
        {
            Some(n) => (2, n, label.into()),
            None => (5, 0, label.into()),
        },
    }
}

fn sort_parts(v: &mut [(String, Stats)]) {
    v.sort_by_key(|a| part_key(&a.0));
}

/// The inference rows of a joint report (without the once-per-session `weights` setup).
fn inference_rows(report: &Report) -> Report {
    Report {
        rows: report
            .rows
            .iter()
            .filter(|r| !r.labels.starts_with("weights"))
            .cloned()
            .collect(),
    }
}

/// Cost of each attention head group: the label paths `layer L/attention/<group>[/variant]`
/// (heads of one variant run together, so their cost is shared and reported per group).
pub fn by_head_group(report: &Report) -> Vec<(String, Stats)> {
    let mut v: Vec<(String, Stats)> = inference_rows(report)
        .by_labels(4)
        .into_iter()
        .filter(|(label, _)| {
            let parts: Vec<&str> = label.split('/').collect();
            parts.len() >= 3 && parts[1] == "attention" && parts[2].ends_with("heads")
        })
        .collect();
    sort_parts(&mut v);
    v
}

/// Per-part cost, in display order: `embed` (the image's input round and the patch
/// embedding), each layer's `attention` and `mlp`, `head`, `reveal` (the logits opened to the
/// client, outside every label).
pub fn by_layer_part(report: &Report) -> Vec<(String, Stats)> {
    let mut v = inference_rows(report).by_labels(2);
    for (label, _) in v.iter_mut() {
        if label.is_empty() {
            *label = "reveal".into();
        }
    }
    sort_parts(&mut v);
    v
}

fn breakdown_header(out: &mut String, title: &str) {
    let _ = writeln!(
        out,
        "{title:<36} {:>7} {:>11} {:>11} {:>11} {:>10} {:>10} {:>10}",
        "rounds", "client->srv", "srv->client", "offline", "compute", "LAN", "WAN"
    );
}

fn breakdown_row(out: &mut String, label: &str, s: &Stats) {
    let (lan, wan) = (NetworkProfile::lan(), NetworkProfile::wan());
    let _ = writeln!(
        out,
        "{label:<36} {:>7} {:>11} {:>11} {:>11} {:>10} {:>10} {:>10}",
        s.rounds,
        format_bytes(s.sent as f64),
        format_bytes(s.recv as f64),
        format_bytes(s.offline_bytes() as f64),
        format_seconds(s.compute_s),
        format_seconds(s.estimate(&lan)),
        format_seconds(s.estimate(&wan)),
    );
}

/// The summary lines of a cost: rounds, bytes per direction online and offline, measured
/// compute, LAN and WAN estimates (with and without compute).
pub fn format_cost(cost: &CostSummary) -> String {
    let (lan, wan) = (NetworkProfile::lan(), NetworkProfile::wan());
    let network = |p: &NetworkProfile| {
        cost.rounds as f64 * p.rtt_s + cost.online_bytes() as f64 / p.bandwidth_bytes_per_s
    };
    let mut out = String::new();
    let _ = writeln!(out, "  rounds                     {}", cost.rounds);
    let rows = [
        (
            "online  client -> server",
            format_bytes(cost.bytes_client_to_server as f64),
        ),
        (
            "online  server -> client",
            format_bytes(cost.bytes_server_to_client as f64),
        ),
        (
            match cost.protocols {
                // Classic: party 0's correlations expand from its seed, only the server's
                // corrections travel. FSS: both parties receive key bundles.
                ProtocolFamily::Classic => "offline dealer -> server",
                ProtocolFamily::Fss => "offline dealer -> parties",
            },
            format_bytes(cost.offline_bytes as f64),
        ),
        ("compute (measured)", format_seconds(cost.compute_s)),
    ];
    for (what, value) in rows {
        let _ = writeln!(out, "  {what:<26} {value}");
    }
    for (name, estimate, p) in [("LAN", cost.lan_s, &lan), ("WAN", cost.wan_s, &wan)] {
        let _ = writeln!(
            out,
            "  {name} estimate               {} ({} network + compute; {} ms RTT, {} MB/s)",
            format_seconds(estimate),
            format_seconds(network(p)),
            p.rtt_s * 1e3,
            p.bandwidth_bytes_per_s / 1e6
        );
    }
    out
}

/// The per-part, per-head-group and per-operation tables of a joint report (weight sharing
/// left out). `top_ops` limits the operation table to the most expensive (WAN) operations.
pub fn format_breakdown(report: &Report, top_ops: usize) -> String {
    let mut out = String::new();
    breakdown_header(&mut out, "per part");
    for (label, s) in by_layer_part(report) {
        breakdown_row(&mut out, &label, &s);
    }
    let groups = by_head_group(report);
    if !groups.is_empty() {
        out.push('\n');
        breakdown_header(&mut out, "per attention head group");
        for (label, s) in groups {
            breakdown_row(&mut out, &label, &s);
        }
    }
    let wan = NetworkProfile::wan();
    let mut ops = inference_rows(report).by_op();
    ops.sort_by(|a, b| {
        b.1.estimate(&wan)
            .partial_cmp(&a.1.estimate(&wan))
            .unwrap_or(Ordering::Equal)
    });
    out.push('\n');
    breakdown_header(&mut out, "per operation (by WAN estimate)");
    ops.retain(|(_, s)| s.rounds > 0 || s.online_bytes() > 0 || s.offline_bytes() > 0);
    for (op, s) in ops.iter().take(top_ops) {
        breakdown_row(&mut out, op, s);
    }
    if ops.len() > top_ops {
        let _ = writeln!(out, "... {} more operations", ops.len() - top_ops);
    }
    out
}

fn class_label(names: Option<&[&str]>, i: usize) -> String {
    match names.and_then(|n| n.get(i)) {
        Some(name) if *name != i.to_string() => format!("{i} ({name})"),
        _ => i.to_string(),
    }
}

/// The full command-line report of one private inference: prediction, class probabilities
/// (with `class_names` when given), the cost summary and the breakdowns.
pub fn format_table(r: &PrivateInference, class_names: Option<&[&str]>) -> String {
    let mut out = String::new();
    let p = r
        .probabilities
        .get(r.prediction)
        .copied()
        .unwrap_or(f32::NAN);
    let _ = writeln!(
        out,
        "prediction: {} with probability {:.4}",
        class_label(class_names, r.prediction),
        p
    );
    let _ = writeln!(out, "{:<20} {:>11} {:>10}", "class", "probability", "logit");
    for (i, (prob, logit)) in r.probabilities.iter().zip(&r.logits).enumerate() {
        let mark = if i == r.prediction { " <" } else { "" };
        let _ = writeln!(
            out,
            "{:<20} {:>11.4} {:>10.4}{mark}",
            class_label(class_names, i),
            prob,
            logit
        );
    }
    out.push_str("\ncost of this inference (weight sharing, once per session, not counted):\n");
    out.push_str(&format_cost(&r.cost));
    out.push('\n');
    out.push_str(&format_breakdown(&r.report, 12));
    out
}

/// One class of the JSON form.
#[derive(Clone, Debug, Serialize)]
pub struct ClassScore {
    /// Class index.
    pub class: usize,
    /// Class name, when the model has names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Softmax probability.
    pub probability: f32,
    /// The revealed logit.
    pub logit: f64,
}

/// The JSON form of a private inference (see [`to_json`]).
#[derive(Clone, Debug, Serialize)]
pub struct InferenceJson {
    /// The predicted class.
    pub prediction: usize,
    /// Its name, when the model has names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prediction_name: Option<String>,
    /// Every class's probability and logit.
    pub classes: Vec<ClassScore>,
    /// Summary with per-layer and per-operation stats (weight sharing excluded).
    pub cost: CostSummary,
    /// `embed`, `layer L/attention`, `layer L/mlp`, `head`.
    pub by_part: Vec<(String, Stats)>,
    /// `layer L/attention/<group>[/variant]`.
    pub by_head_group: Vec<(String, Stats)>,
}

/// The JSON form of `r`: prediction, per-class probability and logit (with names when given),
/// the cost summary and the per-part and per-head-group breakdowns. The full joint report
/// stays available by serialising the [`PrivateInference`] itself.
pub fn to_json(r: &PrivateInference, class_names: Option<&[&str]>) -> serde_json::Value {
    let name = |i: usize| class_names.and_then(|n| n.get(i)).map(|s| s.to_string());
    let j = InferenceJson {
        prediction: r.prediction,
        prediction_name: name(r.prediction),
        classes: r
            .probabilities
            .iter()
            .zip(&r.logits)
            .enumerate()
            .map(|(class, (p, l))| ClassScore {
                class,
                name: name(class),
                probability: *p,
                logit: *l,
            })
            .collect(),
        cost: r.cost.clone(),
        by_part: by_layer_part(&r.report),
        by_head_group: by_head_group(&r.report),
    };
    serde_json::to_value(j).unwrap_or(serde_json::Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Attention, AttentionPlan, Params, Plan, ViT, ViTConfig};
    use crate::mpc::{SessionConfig, SessionSeeds};
    use crate::secure::infer_local;
    use rand::SeedableRng;

    fn one() -> PrivateInference {
        let cfg = ViTConfig::tiny();
        let params = Params::init(&cfg, &mut rand_chacha::ChaCha8Rng::seed_from_u64(2));
        let plan = Plan {
            attention: AttentionPlan::Head(vec![
                vec![Attention::RsAttn, Attention::ScaleAttn],
                vec![Attention::ScaleAttn, Attention::ScaleAttn],
            ]),
            gelu: None,
        };
        let vit = ViT::new(cfg.clone(), plan, params).unwrap();
        let img = vec![0.25f32; cfg.input_len()];
        infer_local(
            &vit,
            &[&img],
            SessionConfig::default(),
            Some(SessionSeeds::insecure_fixed(3)),
        )
        .unwrap()
        .remove(0)
    }

    #[test]
    fn table_and_json_cover_prediction_cost_and_breakdowns() {
        let r = one();
        let names = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"];
        let t = format_table(&r, Some(&names));
        assert!(t.contains(&format!(
            "prediction: {} ({})",
            r.prediction, names[r.prediction]
        )));
        for needle in [
            "rounds",
            "client -> server",
            "offline dealer -> server",
            "WAN estimate",
            "layer 0/attention",
            "layer 1/mlp",
            "layer 0/attention/scale + map heads/rsattn",
            "per operation",
        ] {
            assert!(t.contains(needle), "missing {needle} in\n{t}");
        }
        assert!(
            !t.contains("weights"),
            "weight sharing is not per inference"
        );
        let j = to_json(&r, Some(&names));
        assert_eq!(j["prediction"], r.prediction);
        assert_eq!(j["classes"].as_array().unwrap().len(), r.logits.len());
        assert_eq!(j["cost"]["rounds"], r.cost.rounds);
        // Parts add up to the total.
        let parts: u64 = by_layer_part(&r.report).iter().map(|(_, s)| s.rounds).sum();
        assert_eq!(parts, r.cost.rounds);
        let order: Vec<String> = by_layer_part(&r.report)
            .into_iter()
            .map(|(l, _)| l)
            .collect();
        assert_eq!(order.first().map(String::as_str), Some("embed"));
        assert_eq!(order.last().map(String::as_str), Some("reveal"));
    }

    #[test]
    fn units_and_order() {
        assert_eq!(format_bytes(999.0), "999 B");
        assert_eq!(format_bytes(1_500.0), "1.5 KB");
        assert_eq!(format_bytes(2_345_678.0), "2.35 MB");
        assert_eq!(format_seconds(0.0123), "12.3 ms");
        assert_eq!(format_seconds(2.5), "2.500 s");
        let mut v: Vec<(String, Stats)> = ["head", "layer 10/mlp", "layer 2/mlp", "embed"]
            .iter()
            .map(|s| (s.to_string(), Stats::default()))
            .collect();
        sort_parts(&mut v);
        let names: Vec<&str> = v.iter().map(|(l, _)| l.as_str()).collect();
        assert_eq!(names, ["embed", "layer 2/mlp", "layer 10/mlp", "head"]);
    }
}
