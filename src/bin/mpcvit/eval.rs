//! `mpcvit eval`: plaintext accuracy of a saved model on a dataset split.

use std::path::PathBuf;

use mpcvit::data::{self, Split};
use mpcvit::io;
use mpcvit::model::ViT;
use mpcvit::train::evaluate;
use mpcvit::Result;

/// Arguments of `mpcvit eval`.
#[derive(clap::Args, Debug)]
pub struct EvalArgs {
    /// Model name in the models folder (files `<name>.safetensors` and `<name>.json`).
    pub model: String,
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
}

pub fn run(args: EvalArgs) -> Result<()> {
    let (manifest, params) = io::load_model_dir(&args.models, &args.model)?;
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
    Ok(())
}
