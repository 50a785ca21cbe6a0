//! Arguments and the epoch loop shared by `train`, `retrain` and `search`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use mpcvit::data::{self, Dataset, Split};
use mpcvit::io::checkpoint::{checkpoint_dir, load_checkpoint, remove_checkpoint, save_checkpoint};
use mpcvit::io::{Manifest, Metrics, TrainingRecord};
use mpcvit::model::{Plan, ViT, ViTConfig};
use mpcvit::mpc::{SessionConfig, SessionSeeds};
use mpcvit::secure::infer_local;
use mpcvit::train::{evaluate, Checkpoint, TrainConfig};
use mpcvit::{Error, Result};

use crate::augment_args::AugmentArgs;

/// Dataset, model shape and optimiser settings.
#[derive(clap::Args, Debug, Clone)]
pub struct RunArgs {
    /// Dataset: `mnist` or `fashion`.
    #[arg(long)]
    pub dataset: String,
    /// Folder of converted datasets (see `mpcvit convert`).
    #[arg(long, default_value = "data")]
    pub data_dir: PathBuf,
    /// Folder the model files are written to.
    #[arg(long, default_value = "models")]
    pub out: PathBuf,
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
    #[command(flatten)]
    pub augment: AugmentArgs,
    /// Train on the first N training images only (quick runs).
    #[arg(long)]
    pub limit: Option<usize>,
    /// Continue an interrupted run from its last end-of-epoch checkpoint (`<name>.resume/` in
    /// the output folder), with the same settings; the seed is taken from the checkpoint when
    /// `--seed` is not given.
    #[arg(long)]
    pub resume: bool,
    /// Stop once this many epochs of the run are done, keeping the checkpoint (to split a
    /// long run into sessions; continue with `--resume`).
    #[arg(long)]
    pub stop_after: Option<usize>,
}

/// Reads a JSON file with a clear error.
pub fn read_json<T: serde::de::DeserializeOwned>(path: &PathBuf) -> Result<T> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
    serde_json::from_str(&text).map_err(|e| Error::Config(format!("{}: {e}", path.display())))
}

impl RunArgs {
    /// The model config with overrides applied.
    pub fn model_config(&self) -> Result<ViTConfig> {
        let mut config: ViTConfig = match &self.config {
            Some(p) => read_json(p)?,
            None => ViTConfig::demo(),
        };
        let overrides = [
            (self.dim, &mut config.dim),
            (self.depth, &mut config.depth),
            (self.heads, &mut config.heads),
            (self.patch, &mut config.patch),
            (self.mlp_ratio, &mut config.mlp_ratio),
        ];
        for (value, field) in overrides {
            if let Some(v) = value {
                *field = v;
            }
        }
        config.validate()?;
        Ok(config)
    }

    /// The checkpoint to resume from with `--resume` (an error when there is none), or `None`.
    pub fn checkpoint(
        &self,
        dir: &Path,
        stem: &str,
        cfg: &ViTConfig,
    ) -> Result<Option<Checkpoint>> {
        if !self.resume {
            return Ok(None);
        }
        match load_checkpoint(dir, stem, cfg)? {
            Some(ck) => Ok(Some(ck)),
            None => Err(Error::Checkpoint(format!(
                "--resume: no checkpoint {} to resume from",
                checkpoint_dir(dir, stem).display()
            ))),
        }
    }

    /// [`RunArgs::train_config`] for a run resuming `ck`: the checkpoint's seed unless one is
    /// given.
    pub fn train_config_for(&self, ck: Option<&Checkpoint>) -> Result<TrainConfig> {
        let mut tc = self.train_config()?;
        if let (None, Some(ck)) = (self.seed, ck) {
            tc.seed = ck.state.train.seed;
        }
        Ok(tc)
    }

    /// The optimiser settings, with a seed drawn from the OS when none was given.
    pub fn train_config(&self) -> Result<TrainConfig> {
        let mut tc = TrainConfig::default_for(&self.dataset);
        tc.epochs = self.epochs;
        tc.batch_size = self.batch_size;
        tc.lr = self.lr;
        tc.augment = self.augment.augment(&self.dataset)?;
        tc.seed = Some(match self.seed {
            Some(s) => s,
            None => mpcvit::train::config::os_seed()?,
        });
        Ok(tc)
    }

    /// Train and test splits (train limited by `--limit`).
    pub fn datasets(&self) -> Result<(Dataset, Dataset)> {
        let mut train = data::load(&self.data_dir, &self.dataset, Split::Train)?;
        if let Some(n) = self.limit {
            train = train.take(n);
        }
        Ok((
            train,
            data::load(&self.data_dir, &self.dataset, Split::Test)?,
        ))
    }
}

/// The command line as typed, for the manifest's training record.
pub fn command_line() -> String {
    format!(
        "mpcvit {}",
        std::env::args().skip(1).collect::<Vec<_>>().join(" ")
    )
}

/// A progress bar for one epoch.
pub fn epoch_bar(epoch: usize, epochs: usize, steps: usize) -> ProgressBar {
    let bar = ProgressBar::new(steps as u64);
    bar.set_style(
        ProgressStyle::with_template("epoch {prefix} [{bar:30}] {pos}/{len} {msg}")
            .expect("static template")
            .progress_chars("=> "),
    );
    bar.set_prefix(format!("{}/{epochs}", epoch + 1));
    bar
}

/// Running loss / accuracy / speed of an epoch.
#[derive(Default)]
pub struct Meter {
    loss: f64,
    right: usize,
    count: usize,
    pub images: usize,
    pub busy_s: f64,
}

impl Meter {
    /// A meter continuing the totals of a checkpoint (or a fresh one).
    pub fn resuming(ck: Option<&Checkpoint>) -> Self {
        Meter {
            images: ck.map_or(0, |c| c.state.images_seen),
            busy_s: ck.map_or(0.0, |c| c.state.busy_seconds),
            ..Default::default()
        }
    }

    /// Stores the totals in a checkpoint.
    pub fn record(&self, ck: &mut Checkpoint) {
        ck.state.images_seen = self.images;
        ck.state.busy_seconds = self.busy_s;
    }

    /// Times `f` (one training step) and records its stats.
    pub fn step(
        &mut self,
        f: impl FnOnce() -> Result<mpcvit::train::StepStats>,
    ) -> Result<mpcvit::train::StepStats> {
        let t0 = Instant::now();
        let s = f()?;
        self.busy_s += t0.elapsed().as_secs_f64();
        self.images += s.images;
        self.loss += s.loss as f64 * s.images as f64;
        self.right += s.correct;
        self.count += s.images;
        Ok(s)
    }

    /// Starts a new epoch's running averages (speed keeps accumulating).
    pub fn new_epoch(&mut self) {
        self.loss = 0.0;
        self.right = 0;
        self.count = 0;
    }

    /// Training images per second of step time.
    pub fn images_per_sec(&self) -> f64 {
        self.images as f64 / self.busy_s.max(1e-9)
    }

    pub fn message(&self) -> String {
        format!(
            "loss {:.4} acc {:.2}% {:.0} img/s",
            self.loss / self.count.max(1) as f64,
            100.0 * self.right as f64 / self.count.max(1) as f64,
            self.images_per_sec()
        )
    }
}

/// Private-inference cost of `vit` on one image, as a manifest `cost` value.
pub fn private_cost(vit: &ViT, image: &[f32], session: SessionConfig) -> Result<serde_json::Value> {
    let r = infer_local(vit, &[image], session, Some(SessionSeeds::from_os()?))?.remove(0);
    Ok(r.cost.manifest_value())
}

/// Evaluates, measures the private cost and builds a manifest.
#[allow(clippy::too_many_arguments)]
pub fn finished_manifest(
    name: &str,
    args: &RunArgs,
    config: &ViTConfig,
    plan: &Plan,
    vit: &ViT,
    test: &Dataset,
    tc: &TrainConfig,
    epochs_done: usize,
    meter: &Meter,
    with_cost: bool,
) -> Result<Manifest> {
    let eval = evaluate(vit, test, 256)?;
    eprintln!(
        "{name}: epoch {epochs_done}: test accuracy {:.2}% (loss {:.4})",
        100.0 * eval.accuracy,
        eval.loss
    );
    let mut m = Manifest::new(name, args.dataset.clone(), config.clone(), plan.clone());
    m.metrics = Metrics {
        test_accuracy: Some(eval.accuracy),
        test_images: Some(test.len()),
        ..Default::default()
    };
    m.training = Some(TrainingRecord {
        command: command_line(),
        epochs: epochs_done,
        seed: tc.seed.unwrap_or_default(),
        images_per_sec: Some(meter.images_per_sec()),
        seconds: Some(meter.busy_s),
        ..Default::default()
    });
    if with_cost {
        let image = test.to_input(&[0])?;
        m.cost = Some(private_cost(
            vit,
            image.as_slice().ok_or_else(|| {
                Error::shape("cost image", "a contiguous array", "a strided view")
            })?,
            SessionConfig::default(),
        )?);
    }
    Ok(m)
}

/// Trains `trainer` through its remaining epochs (all of them, or those after the checkpoint
/// it was restored from, whose totals `meter` carries), one `step` at a time with a progress
/// bar. After every epoch it evaluates, saves the model (the last one with its private cost)
/// and a resumable checkpoint, which is deleted when the run completes; `annotate` adds what
/// is particular to the run to each manifest. Returns the speed meter.
#[allow(clippy::too_many_arguments)]
pub fn train_epochs(
    name: &str,
    run: &RunArgs,
    tc: &TrainConfig,
    trainer: &mut mpcvit::train::Trainer,
    train_set: &Dataset,
    test_set: &Dataset,
    mut meter: Meter,
    mut step: impl FnMut(&mut mpcvit::train::Trainer, &Dataset) -> Result<mpcvit::train::StepStats>,
    annotate: impl Fn(&mut Manifest) -> Result<()>,
) -> Result<Meter> {
    let start = trainer.step_count() / trainer.steps_per_epoch();
    if start > 0 {
        eprintln!("{name}: resuming after epoch {start} of {}", tc.epochs);
    }
    let stop = run.stop_after.unwrap_or(tc.epochs).min(tc.epochs);
    for epoch in start..stop {
        let bar = epoch_bar(epoch, tc.epochs, trainer.steps_per_epoch());
        meter.new_epoch();
        for _ in 0..trainer.steps_per_epoch() {
            meter.step(|| step(trainer, train_set))?;
            bar.inc(1);
            bar.set_message(meter.message());
        }
        bar.finish();
        let last = epoch + 1 == tc.epochs;
        let (config, plan) = (trainer.config.clone(), trainer.plan.clone());
        let mut m = finished_manifest(
            name,
            run,
            &config,
            &plan,
            &trainer.model()?,
            test_set,
            tc,
            epoch + 1,
            &meter,
            last,
        )?;
        annotate(&mut m)?;
        mpcvit::io::save_model(&run.out, &m, &trainer.params)?;
        if last {
            remove_checkpoint(&run.out, name)?;
        } else {
            let mut ck = trainer.checkpoint()?;
            meter.record(&mut ck);
            save_checkpoint(&run.out, name, &ck)?;
        }
    }
    if stop < tc.epochs {
        eprintln!(
            "{name}: stopped after epoch {stop} of {}; continue with --resume",
            tc.epochs
        );
    }
    mpcvit::io::write_index(&run.out)?;
    Ok(meter)
}

/// Runs a Node script and parses the JSON on its last line of output (the wasm side of the
/// native-vs-wasm benchmarks).
pub fn node_json<T: serde::de::DeserializeOwned>(script: &str, args: &[String]) -> Result<T> {
    let out = std::process::Command::new("node")
        .arg(script)
        .args(args)
        .output()
        .map_err(|e| Error::Usage(format!("cannot run node: {e}")))?;
    if !out.status.success() {
        return Err(Error::Usage(format!(
            "{script} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().last().unwrap_or_default();
    serde_json::from_str(line).map_err(|e| Error::Usage(format!("{script} printed '{line}': {e}")))
}
