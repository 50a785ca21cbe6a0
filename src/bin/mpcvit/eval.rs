//! `mpcvit eval`: plaintext accuracy of saved models on a dataset split, or with `--ood` on
//! the out-of-domain sets of their dataset (one row per model, one column per set).

use std::path::PathBuf;

use mpcvit::data::{self, ood, Split};
use mpcvit::io;
use mpcvit::model::ViT;
use mpcvit::train::{evaluate, evaluate_ood};
use mpcvit::{Error, Result};

/// Arguments of `mpcvit eval`.
#[derive(clap::Args, Debug)]
pub struct EvalArgs {
    /// Model names in the models folder (files `<name>.safetensors` and `<name>.json`); with
    /// `--ood` and no name, every model of the folder.
    pub model: Vec<String>,
    /// Folder holding the model files.
    #[arg(long, default_value = "models")]
    pub models: PathBuf,
    /// Folder of converted datasets.
    #[arg(long, default_value = "data")]
    pub data_dir: PathBuf,
    /// `train` or `test`.
    #[arg(long, default_value = "test")]
    pub split: String,
    /// Evaluate the first N images only.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Evaluate on the out-of-domain sets (see `mpcvit ood`) instead of a split.
    #[arg(long)]
    pub ood: bool,
    /// Folder of the out-of-domain sets.
    #[arg(long, default_value = ood::DIR)]
    pub ood_dir: PathBuf,
}

pub fn run(args: EvalArgs) -> Result<()> {
    let names = if args.model.is_empty() && args.ood {
        io::build_index(&args.models)?
            .models
            .into_iter()
            .map(|m| m.name)
            .collect()
    } else if args.model.is_empty() {
        return Err(Error::Usage("name a model to evaluate".into()));
    } else {
        args.model.clone()
    };
    if args.ood {
        return run_ood(&args, &names);
    }
    for name in &names {
        let (manifest, params) = io::load_model_dir(&args.models, name)?;
        let vit = ViT::new(manifest.config.clone(), manifest.plan.clone(), params)?;
        let mut set = data::load(
            &args.data_dir,
            &manifest.dataset,
            Split::parse(&args.split)?,
        )?;
        if let Some(n) = args.limit {
            set = set.take(n);
        }
        let e = evaluate(&vit, &set, 256)?;
        println!(
            "{}: accuracy {:.2}% ({} / {}) on {} {}, mean loss {:.4}",
            manifest.name,
            100.0 * e.accuracy,
            e.correct,
            e.images,
            manifest.dataset,
            args.split,
            e.loss
        );
    }
    Ok(())
}

/// Prints, per dataset, a table of accuracy on each out-of-domain set of that dataset.
fn run_ood(args: &EvalArgs, names: &[String]) -> Result<()> {
    let mut header_for = None;
    for name in names {
        let (manifest, params) = io::load_model_dir(&args.models, name)?;
        let vit = ViT::new(manifest.config.clone(), manifest.plan.clone(), params)?;
        let sets = ood::sets_for(&args.ood_dir, &manifest.dataset)?;
        if sets.is_empty() {
            return Err(Error::Data(format!(
                "no out-of-domain set for dataset '{}'",
                manifest.dataset
            )));
        }
        if header_for.as_deref() != Some(manifest.dataset.as_str()) {
            let cols: Vec<String> = sets.iter().map(|s| s.name.clone()).collect();
            println!("\n| model | {} |", cols.join(" | "));
            println!("|---|{}", "---|".repeat(cols.len()));
            header_for = Some(manifest.dataset.clone());
        }
        let mut cells = Vec::new();
        for set in &sets {
            let score = evaluate_ood(&vit, set, args.limit)?;
            let note = if score.unreadable > 0 {
                format!(" ({} unreadable)", score.unreadable)
            } else {
                String::new()
            };
            cells.push(format!("{:.2}{note}", 100.0 * score.accuracy));
        }
        println!("| {} | {} |", manifest.name, cells.join(" | "));
    }
    Ok(())
}
