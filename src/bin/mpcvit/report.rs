//! `mpcvit report`: the accuracy / private-latency table of every model in a folder (the Pareto
//! table of the shipped family, with the Pareto-optimal models of each dataset marked; on a
//! folder of one model per attention variant, the paper's Table 2), filling in the
//! private-inference cost of manifests that lack it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rand::SeedableRng;

use mpcvit::data::{self, Split};
use mpcvit::io;
use mpcvit::model::{Attention, Params, Plan, ViT, ViTConfig};
use mpcvit::mpc::SessionConfig;
use mpcvit::{Error, Result};

use crate::common::private_cost;

/// Arguments of `mpcvit report`.
#[derive(clap::Args, Debug)]
pub struct ReportArgs {
    #[arg(long, default_value = "models")]
    pub models: PathBuf,
    /// Folder of converted datasets (to measure costs on a real test image).
    #[arg(long, default_value = "data")]
    pub data_dir: PathBuf,
    /// Re-measure the private cost of every model and save it in its manifest (with
    /// `--from-json`: re-measure each row of the saved table from its config and plan, and
    /// rewrite the file).
    #[arg(long)]
    pub update_costs: bool,
    /// Also write the table as JSON.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Print a table saved with `--json` instead (e.g. the Table-2 sweep,
    /// `models/variants-mnist.json`).
    #[arg(long)]
    pub from_json: Option<PathBuf>,
    /// The session costs are measured with (`--update-costs`, or a manifest without a cost).
    #[command(flatten)]
    pub session: crate::session_args::SessionArgs,
}

/// The first test image of each dataset, on which costs are measured (each split is read once).
struct FirstTestImages<'a> {
    data_dir: &'a Path,
    images: BTreeMap<String, Vec<f32>>,
}

impl<'a> FirstTestImages<'a> {
    fn new(data_dir: &'a Path) -> Self {
        FirstTestImages {
            data_dir,
            images: BTreeMap::new(),
        }
    }

    fn first(&mut self, dataset: &str) -> Result<&[f32]> {
        if !self.images.contains_key(dataset) {
            let test = data::load(self.data_dir, dataset, Split::Test)?;
            let image = test.to_input(&[0])?.iter().copied().collect();
            self.images.insert(dataset.to_string(), image);
        }
        Ok(&self.images[dataset])
    }
}

/// Re-measures the cost of the rows of a saved table after a protocol change. A private
/// inference's rounds and bytes depend only on the config and the plan, not on the weights,
/// so each row runs once with random weights; the plan must be a uniform one (`all <variant>`,
/// as in the Table-2 sweep). The Pareto marks are recomputed per dataset.
fn recost_saved(
    rows: &mut [serde_json::Value],
    data_dir: &Path,
    session: SessionConfig,
) -> Result<()> {
    let mut images = FirstTestImages::new(data_dir);
    let mut rng = rand_chacha::ChaCha12Rng::from_seed(mpcvit::mpc::Seed::from_os()?.0);
    for r in rows.iter_mut() {
        let plan = r["plan"].as_str().unwrap_or_default();
        let variant = plan
            .strip_prefix("all ")
            .ok_or_else(|| {
                Error::Unsupported(format!(
                    "row '{}': only uniform plans (all <variant>) can be re-costed, not '{plan}'",
                    r["model"]
                ))
            })
            .and_then(Attention::parse)?;
        let config: ViTConfig = serde_json::from_value(r["config"].clone())
            .map_err(|e| Error::Config(format!("row '{}': config: {e}", r["model"])))?;
        let image = images.first(r["dataset"].as_str().unwrap_or_default())?;
        let params = Params::init(&config, &mut rng);
        let vit = ViT::new(config.clone(), Plan::uniform(&config, variant), params)?;
        r["cost"] = private_cost(&vit, image, session)?;
    }
    let points: Vec<(&str, f64, f64)> = rows
        .iter()
        .map(|r| {
            (
                r["dataset"].as_str().unwrap_or_default(),
                r["test_accuracy"].as_f64().unwrap_or(f64::NAN),
                r["cost"]["wan_s"].as_f64().unwrap_or(f64::NAN),
            )
        })
        .collect();
    let front = pareto_front(&points);
    for (r, f) in rows.iter_mut().zip(front) {
        r["pareto"] = serde_json::json!(f);
    }
    Ok(())
}

/// The Pareto marks of `(dataset, accuracy, WAN latency)` points: a point is on the front when
/// no point of the same dataset is at least as accurate and as fast, and strictly better in one
/// of the two.
fn pareto_front(points: &[(&str, f64, f64)]) -> Vec<bool> {
    points
        .iter()
        .map(|&(d, acc, wan)| {
            !points.iter().any(|&(od, oacc, owan)| {
                od == d && oacc >= acc && owan <= wan && (oacc > acc || owan < wan)
            })
        })
        .collect()
}

/// Prints a table written by `report --json` (re-costing it first with `--update-costs`).
fn print_saved(path: &PathBuf, update: Option<(&Path, SessionConfig)>) -> Result<()> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
    let mut rows: Vec<serde_json::Value> = serde_json::from_str(&text)
        .map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
    if let Some((data_dir, session)) = update {
        recost_saved(&mut rows, data_dir, session)?;
        std::fs::write(path, serde_json::to_string_pretty(&rows)? + "\n")?;
    }
    println!(
        "{:<28} {:<8} {:<28} {:>6} {:>8} {:>7} {:>10} {:>8} {:>8}",
        "model", "dataset", "plan", "epochs", "acc %", "rounds", "online MB", "LAN s", "WAN s"
    );
    for r in &rows {
        let s = |k: &str| r[k].as_str().unwrap_or("?").to_string();
        let c = |k: &str| r["cost"][k].as_f64().unwrap_or(f64::NAN);
        println!(
            "{:<28} {:<8} {:<28} {:>6} {:>8.2} {:>7.0} {:>10.2} {:>8.3} {:>8.2}",
            s("model"),
            s("dataset"),
            s("plan"),
            r["epochs"].as_u64().map_or("?".into(), |e| e.to_string()),
            100.0 * r["test_accuracy"].as_f64().unwrap_or(f64::NAN),
            c("rounds"),
            c("online_bytes") / 1e6,
            c("lan_s"),
            c("wan_s")
        );
    }
    Ok(())
}

/// A short description of a model's plan: the RSAttn fraction and linearised tokens.
pub fn plan_summary(vit: &ViT) -> String {
    let c = &vit.config;
    let variants: Vec<Attention> = Attention::ALL
        .into_iter()
        .filter(|a| vit.plan.attention.fraction(c, *a) > 0.0)
        .collect();
    let mut s = if variants.len() == 1 {
        format!("all {}", variants[0].name())
    } else {
        variants
            .iter()
            .map(|a| format!("{} {:.2}", a.name(), vit.plan.attention.fraction(c, *a)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if let Some(g) = &vit.plan.gelu {
        let total = g.linearised.iter().flatten().count();
        let lin = g.linearised.iter().flatten().filter(|b| **b).count();
        s.push_str(&format!(", linear tokens {:.2}", lin as f64 / total as f64));
    }
    s
}

pub fn run(args: ReportArgs) -> Result<()> {
    let session = args.session.config()?;
    if let Some(path) = &args.from_json {
        let update = args
            .update_costs
            .then_some((args.data_dir.as_path(), session));
        return print_saved(path, update);
    }
    let index = io::build_index(&args.models)?;
    if index.models.is_empty() {
        return Err(Error::Model(format!(
            "no models in {}",
            args.models.display()
        )));
    }
    struct Row {
        name: String,
        dataset: String,
        plan: String,
        acc: f64,
        cost: serde_json::Value,
        command: Option<String>,
        config: mpcvit::model::ViTConfig,
        epochs: Option<usize>,
    }
    let mut images = FirstTestImages::new(&args.data_dir);
    let mut rows = Vec::new();
    for e in &index.models {
        let (mut m, p) = io::load_model_dir(&args.models, &e.name)?;
        let vit = ViT::new(m.config.clone(), m.plan.clone(), p.clone())?;
        if m.cost.is_none() || args.update_costs {
            m.cost = Some(private_cost(&vit, images.first(&m.dataset)?, session)?);
            io::save_manifest(&args.models, &m)?;
        }
        rows.push(Row {
            name: e.name.clone(),
            dataset: m.dataset.clone(),
            plan: plan_summary(&vit),
            acc: m.metrics.test_accuracy.map_or(f64::NAN, |a| 100.0 * a),
            cost: m.cost.clone().unwrap_or_default(),
            command: m.training.as_ref().map(|t| t.command.clone()),
            config: m.config.clone(),
            epochs: m.training.as_ref().map(|t| t.epochs),
        });
    }
    let num = |r: &Row, k: &str| r.cost.get(k).and_then(|v| v.as_f64()).unwrap_or(f64::NAN);
    let points: Vec<(&str, f64, f64)> = rows
        .iter()
        .map(|r| (r.dataset.as_str(), r.acc, num(r, "wan_s")))
        .collect();
    let front = pareto_front(&points);
    println!(
        "{:<28} {:<8} {:<44} {:>8} {:>7} {:>10} {:>8} {:>8} {:>6}",
        "model", "dataset", "plan", "acc %", "rounds", "online MB", "LAN s", "WAN s", "pareto"
    );
    let mut out = Vec::new();
    for (r, &front) in rows.iter().zip(&front) {
        println!(
            "{:<28} {:<8} {:<44} {:>8.2} {:>7.0} {:>10.2} {:>8.3} {:>8.2} {:>6}",
            r.name,
            r.dataset,
            r.plan,
            r.acc,
            num(r, "rounds"),
            num(r, "online_bytes") / 1e6,
            num(r, "lan_s"),
            num(r, "wan_s"),
            if front { "*" } else { "" }
        );
        out.push(serde_json::json!({
            "model": r.name,
            "dataset": r.dataset,
            "plan": r.plan,
            "test_accuracy": r.acc / 100.0,
            "cost": r.cost,
            "pareto": front,
            "command": r.command,
            "epochs": r.epochs,
            "config": r.config,
        }));
    }
    io::write_index(&args.models)?;
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&out)?)?;
    }
    Ok(())
}
