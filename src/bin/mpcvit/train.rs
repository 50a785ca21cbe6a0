//! `mpcvit train`: trains a ViT with a given attention plan on a converted dataset, with a
//! progress bar, a checkpoint after every epoch, and the measured test accuracy and private
//! inference cost in the manifest.

use std::path::PathBuf;

use mpcvit::io;
use mpcvit::model::{Attention, Plan};
use mpcvit::train::Trainer;
use mpcvit::Result;

use crate::common::{epoch_bar, finished_manifest, read_json, Meter, RunArgs};

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
    let tc = run.train_config()?;
    let name = args
        .name
        .clone()
        .unwrap_or_else(|| format!("{}-{}", run.dataset, args.attention));
    let mut trainer = Trainer::new(config.clone(), plan.clone(), tc.clone(), train_set.len())?;
    eprintln!(
        "training {name}: {} parameters, {} train / {} test images, {} steps",
        trainer.params.count(),
        train_set.len(),
        test_set.len(),
        trainer.total_steps()
    );
    let mut meter = Meter::default();
    for epoch in 0..tc.epochs {
        let bar = epoch_bar(epoch, tc.epochs, trainer.steps_per_epoch());
        meter.new_epoch();
        for _ in 0..trainer.steps_per_epoch() {
            meter.step(|| trainer.step(&train_set))?;
            bar.inc(1);
            bar.set_message(meter.message());
        }
        bar.finish();
        let last = epoch + 1 == tc.epochs;
        let m = finished_manifest(
            &name,
            run,
            &config,
            &plan,
            &trainer.model()?,
            &test_set,
            &tc,
            epoch + 1,
            &meter,
            last,
        )?;
        io::save_model(&run.out, &m, &trainer.params)?;
    }
    io::write_index(&run.out)?;
    println!(
        "{name}: saved to {} ({:.0} training images/s)",
        run.out.display(),
        meter.images_per_sec()
    );
    Ok(())
}
