//! `mpcvit train`: trains a ViT with a given attention plan on a converted dataset, with a
//! progress bar, a checkpoint after every epoch and the measured test accuracy in the manifest.

use std::path::PathBuf;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use mpcvit::data::{self, Dataset};
use mpcvit::io::{self, Manifest, Metrics, TrainingRecord};
use mpcvit::model::{Attention, Plan, ViTConfig};
use mpcvit::train::{evaluate, TrainConfig, Trainer};
use mpcvit::{Error, Result};

/// Arguments of `mpcvit train`.
#[derive(clap::Args, Debug)]
pub struct TrainArgs {
    /// Dataset: `mnist` or `fashion`.
    #[arg(long)]
    pub dataset: String,
    /// Folder of converted datasets (see `mpcvit convert`).
    #[arg(long, default_value = "data")]
    pub data_dir: PathBuf,
    /// Folder the model files are written to.
    #[arg(long, default_value = "models")]
    pub out: PathBuf,
    /// Model name (file stem); default `<dataset>-<attention>`.
    #[arg(long)]
    pub name: Option<String>,
    /// Attention variant used in every head (ignored when `--plan` is given).
    #[arg(long, default_value = "softmax")]
    pub attention: String,
    /// A JSON attention/GeLU plan (as in a manifest's `plan`).
    #[arg(long)]
    pub plan: Option<PathBuf>,
    /// A JSON `ViTConfig`; default: the demo config (28x28, patch 7, dim 64, depth 4, 4 heads).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Overrides the config's embedding width.
    #[arg(long)]
    pub dim: Option<usize>,
    /// Overrides the config's number of blocks.
    #[arg(long)]
    pub depth: Option<usize>,
    /// Overrides the config's heads per block.
    #[arg(long)]
    pub heads: Option<usize>,
    /// Overrides the config's patch side.
    #[arg(long)]
    pub patch: Option<usize>,
    /// Overrides the config's MLP ratio.
    #[arg(long)]
    pub mlp_ratio: Option<usize>,
    #[arg(long, default_value_t = 10)]
    pub epochs: usize,
    #[arg(long, default_value_t = 128)]
    pub batch_size: usize,
    #[arg(long, default_value_t = 2e-3)]
    pub lr: f32,
    /// Fixes initialisation, order and augmentation; default: a fresh OS seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Largest random shift in pixels (augmentation); default 2.
    #[arg(long)]
    pub shift: Option<usize>,
    /// Random horizontal flips: default on for `fashion`, off for digits.
    #[arg(long)]
    pub hflip: Option<bool>,
    /// Train on the first N training images only (quick runs).
    #[arg(long)]
    pub limit: Option<usize>,
}

fn read_json<T: serde::de::DeserializeOwned>(path: &PathBuf) -> Result<T> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
    serde_json::from_str(&text).map_err(|e| Error::Config(format!("{}: {e}", path.display())))
}

pub fn run(args: TrainArgs) -> Result<()> {
    let mut config: ViTConfig = match &args.config {
        Some(p) => read_json(p)?,
        None => ViTConfig::demo(),
    };
    let overrides = [
        (args.dim, &mut config.dim),
        (args.depth, &mut config.depth),
        (args.heads, &mut config.heads),
        (args.patch, &mut config.patch),
        (args.mlp_ratio, &mut config.mlp_ratio),
    ];
    for (value, field) in overrides {
        if let Some(v) = value {
            *field = v;
        }
    }
    config.validate()?;
    let plan: Plan = match &args.plan {
        Some(p) => read_json(p)?,
        None => Plan::uniform(&config, Attention::parse(&args.attention)?),
    };
    plan.validate(&config)?;
    let mut train_set = data::load(&args.data_dir, &args.dataset, data::Split::Train)?;
    if let Some(n) = args.limit {
        train_set = train_set.take(n);
    }
    let test_set = data::load(&args.data_dir, &args.dataset, data::Split::Test)?;
    let mut tc = TrainConfig::default_for(&args.dataset);
    tc.epochs = args.epochs;
    tc.batch_size = args.batch_size;
    tc.lr = args.lr;
    if let Some(s) = args.shift {
        tc.augment.max_shift = s;
    }
    if let Some(f) = args.hflip {
        tc.augment.hflip = f;
    }
    tc.seed = Some(match args.seed {
        Some(s) => s,
        None => mpcvit::train::trainer::os_seed()?,
    });
    let name = args
        .name
        .clone()
        .unwrap_or_else(|| format!("{}-{}", args.dataset, args.attention));
    let command = format!(
        "mpcvit {}",
        std::env::args().skip(1).collect::<Vec<_>>().join(" ")
    );

    let mut trainer = Trainer::new(config.clone(), plan.clone(), tc.clone(), train_set.len())?;
    eprintln!(
        "training {name}: {} parameters, {} train / {} test images, {} steps",
        trainer.params.count(),
        train_set.len(),
        test_set.len(),
        trainer.total_steps()
    );
    let (mut seen, mut busy) = (0usize, 0.0f64);
    let mut accuracy = 0.0;
    for epoch in 0..tc.epochs {
        let bar = ProgressBar::new(trainer.steps_per_epoch() as u64);
        bar.set_style(
            ProgressStyle::with_template("epoch {prefix} [{bar:30}] {pos}/{len} {msg}")
                .expect("static template")
                .progress_chars("=> "),
        );
        bar.set_prefix(format!("{}/{}", epoch + 1, tc.epochs));
        let (mut loss_sum, mut right, mut count) = (0.0f64, 0usize, 0usize);
        for _ in 0..trainer.steps_per_epoch() {
            let t0 = Instant::now();
            let s = trainer.step(&train_set)?;
            busy += t0.elapsed().as_secs_f64();
            seen += s.images;
            loss_sum += s.loss as f64 * s.images as f64;
            right += s.correct;
            count += s.images;
            bar.inc(1);
            bar.set_message(format!(
                "loss {:.4} acc {:.2}% {:.0} img/s",
                loss_sum / count as f64,
                100.0 * right as f64 / count as f64,
                seen as f64 / busy
            ));
        }
        bar.finish();
        let eval = evaluate(&trainer.model()?, &test_set, 256)?;
        accuracy = eval.accuracy;
        eprintln!(
            "epoch {}: test accuracy {:.2}% (loss {:.4})",
            epoch + 1,
            100.0 * eval.accuracy,
            eval.loss
        );
        let manifest = manifest(
            &name,
            &args.dataset,
            &config,
            &plan,
            &test_set,
            eval.accuracy,
            &command,
            &tc,
            epoch + 1,
            seen as f64 / busy,
        );
        io::save_model(&args.out, &manifest, &trainer.params)?;
    }
    io::write_index(&args.out)?;
    println!(
        "{name}: test accuracy {:.2}% on {} images, {:.0} training images/s",
        100.0 * accuracy,
        test_set.len(),
        seen as f64 / busy
    );
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn manifest(
    name: &str,
    dataset: &str,
    config: &ViTConfig,
    plan: &Plan,
    test: &Dataset,
    accuracy: f64,
    command: &str,
    tc: &TrainConfig,
    epochs_done: usize,
    images_per_sec: f64,
) -> Manifest {
    let mut m = Manifest::new(name, dataset, config.clone(), plan.clone());
    m.metrics = Metrics {
        test_accuracy: Some(accuracy),
        test_images: Some(test.len()),
        ..Default::default()
    };
    m.training = Some(TrainingRecord {
        command: command.to_string(),
        epochs: epochs_done,
        seed: tc.seed.unwrap_or_default(),
        images_per_sec: Some(images_per_sec),
        ..Default::default()
    });
    m
}
