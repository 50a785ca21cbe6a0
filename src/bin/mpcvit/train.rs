//! `mpcvit train`: trains a ViT with a given attention plan on a converted dataset, with a
//! progress bar, a checkpoint after every epoch, and the measured test accuracy and private
//! inference cost in the manifest.

use std::path::PathBuf;

use mpcvit::model::{Attention, Plan};
use mpcvit::train::Trainer;
use mpcvit::Result;

use crate::common::{read_json, train_epochs, Meter, RunArgs};

/// Arguments of `mpcvit train`.
#[derive(clap::Args, Debug)]
pub struct TrainArgs {
    #[command(flatten)]
    pub run: RunArgs,
    /// Model name (file stem); default `<dataset>-<attention>`.
    #[arg(long)]
    pub name: Option<String>,
    /// Attention variant used in every head (ignored when `--plan` is given).
    #[arg(long, default_value = "softmax")]
    pub attention: String,
    /// A JSON attention/GeLU plan (as in a manifest's `plan`).
    #[arg(long)]
    pub plan: Option<PathBuf>,
}

pub fn run(args: TrainArgs) -> Result<()> {
    let run = &args.run;
    let config = run.model_config()?;
    let plan: Plan = match &args.plan {
        Some(p) => read_json(p)?,
        None => Plan::uniform(&config, Attention::parse(&args.attention)?),
    };
    plan.validate(&config)?;
    let (train_set, test_set) = run.datasets()?;
    let name = args
        .name
        .clone()
        .unwrap_or_else(|| format!("{}-{}", run.dataset, args.attention));
    let ck = run.checkpoint(&run.out, &name, &config)?;
    let tc = run.train_config_for(ck.as_ref())?;
    let mut trainer = Trainer::new(config.clone(), plan.clone(), tc.clone(), train_set.len())?;
    if let Some(ck) = &ck {
        trainer.restore(ck)?;
    }
    eprintln!(
        "training {name}: {} parameters, {} train / {} test images, {} steps",
        trainer.params.count(),
        train_set.len(),
        test_set.len(),
        trainer.total_steps()
    );
    let meter = train_epochs(
        &name,
        run,
        &tc,
        &mut trainer,
        &train_set,
        &test_set,
        Meter::resuming(ck.as_ref()),
        |t, d| t.step(d),
        |_| Ok(()),
    )?;
    println!(
        "{name}: saved to {} ({:.0} training images/s)",
        run.out.display(),
        meter.images_per_sec()
    );
    Ok(())
}
