//! `mpcvit retrain`: trains a searched heterogeneous ViT from scratch with knowledge
//! distillation from a baseline teacher (paper section 4.4):
//! `chi * CE + beta * KL + gamma * feature distance`; each term can be switched off.

use std::path::PathBuf;

use mpcvit::io;
use mpcvit::model::{Plan, ViT};
use mpcvit::train::distill::{kd_loss, DistillConfig};
use mpcvit::train::Trainer;
use mpcvit::{Error, Result};

use crate::common::{read_json, train_epochs, Meter, RunArgs};
use crate::search::SearchResult;

/// Arguments of `mpcvit retrain`.
#[derive(clap::Args, Debug)]
pub struct RetrainArgs {
    #[command(flatten)]
    pub run: RunArgs,
    /// Model name (file stem).
    #[arg(long)]
    pub name: String,
    /// A search result (from `mpcvit search`); its config is used.
    #[arg(long, conflicts_with = "plan")]
    pub search: Option<PathBuf>,
    /// Budget mu to take from the search result.
    #[arg(long)]
    pub mu: Option<f32>,
    /// Take the per-layer uniform plan instead of the global top-k one.
    #[arg(long)]
    pub per_layer: bool,
    /// Drop the searched GeLU plan (MPCViT without +).
    #[arg(long)]
    pub no_gelu_plan: bool,
    /// A JSON plan instead of a search result.
    #[arg(long)]
    pub plan: Option<PathBuf>,
    /// Teacher model name in `--models` (no distillation when absent).
    #[arg(long)]
    pub teacher: Option<String>,
    /// Folder of the teacher model.
    #[arg(long, default_value = "models")]
    pub models: PathBuf,
    #[arg(long, default_value_t = 1.0)]
    pub chi: f32,
    #[arg(long, default_value_t = 1.0)]
    pub beta: f32,
    #[arg(long, default_value_t = 1.0)]
    pub gamma: f32,
    #[arg(long, default_value_t = 1.0)]
    pub temperature: f32,
}

pub fn run(args: RetrainArgs) -> Result<()> {
    let run = &args.run;
    let (config, plan) = match (&args.search, &args.plan) {
        (Some(path), _) => {
            let s: SearchResult = read_json(path)?;
            let mu = args
                .mu
                .ok_or_else(|| Error::Usage("--mu is required with --search".into()))?;
            let (_, global, per_layer) = s
                .plans
                .iter()
                .find(|(m, _, _)| (m - mu).abs() < 1e-6)
                .ok_or_else(|| Error::Usage(format!("the search has no plan for mu = {mu}")))?
                .clone();
            let mut plan = if args.per_layer { per_layer } else { global };
            if args.no_gelu_plan {
                plan.gelu = None;
            }
            (s.config, plan)
        }
        (None, Some(path)) => (run.model_config()?, read_json::<Plan>(path)?),
        (None, None) => return Err(Error::Usage("give --search with --mu, or --plan".into())),
    };
    if args.search.is_some() && (run.dim.is_some() || run.depth.is_some() || run.heads.is_some()) {
        return Err(Error::Usage(
            "the model shape comes from the search result".into(),
        ));
    }
    config.validate()?;
    plan.validate(&config)?;
    let teacher = match &args.teacher {
        Some(t) => {
            let (m, p) = io::load_model_dir(&args.models, t)?;
            Some(ViT::new(m.config, m.plan, p)?)
        }
        None => None,
    };
    let (train_set, test_set) = run.datasets()?;
    let ck = run.checkpoint(&run.out, &args.name, &config)?;
    let tc = run.train_config_for(ck.as_ref())?;
    let mut trainer = Trainer::new(config.clone(), plan.clone(), tc.clone(), train_set.len())?;
    if let Some(ck) = &ck {
        trainer.restore(ck)?;
    }
    let kd = DistillConfig {
        chi: args.chi,
        beta: args.beta,
        gamma: args.gamma,
        temperature: args.temperature,
    };
    let loss = match &teacher {
        Some(t) => Some(kd_loss(t, &config, kd)?),
        None => None,
    };
    eprintln!(
        "retraining {} with {} ({} steps)",
        args.name,
        args.teacher.as_deref().unwrap_or("no teacher"),
        trainer.total_steps()
    );
    let distill = serde_json::to_value(kd)?;
    train_epochs(
        &args.name,
        run,
        &tc,
        &mut trainer,
        &train_set,
        &test_set,
        Meter::resuming(ck.as_ref()),
        |t, d| match &loss {
            Some(l) => t.step_with(d, l).map(|(s, _)| s),
            None => t.step(d),
        },
        |m| {
            if let Some(t) = &mut m.training {
                t.teacher = args.teacher.clone();
                t.extra.insert("distill".into(), distill.clone());
            }
            Ok(())
        },
    )?;
    Ok(())
}
