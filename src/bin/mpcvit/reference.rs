//! `mpcvit reference`: trains the simple reference of issue #13 (a two-layer perceptron,
//! `mpcvit::train::mlp`) on a dataset and prints its accuracy on the test split and on the
//! dataset's out-of-domain sets, for comparison with the ViTs (`eval --ood`).

use std::path::PathBuf;
use std::time::Instant;

use mpcvit::data::{self, ood, Split};
use mpcvit::train::mlp::{Mlp, MlpConfig};
use mpcvit::Result;

use crate::augment_args::AugmentArgs;

/// Arguments of `mpcvit reference`.
#[derive(clap::Args, Debug)]
pub struct ReferenceArgs {
    /// Dataset: `mnist` or `fashion`.
    #[arg(long)]
    pub dataset: String,
    /// Folder of converted datasets.
    #[arg(long, default_value = "data")]
    pub data_dir: PathBuf,
    /// Folder of the out-of-domain sets.
    #[arg(long, default_value = ood::DIR)]
    pub ood_dir: PathBuf,
    /// Hidden units.
    #[arg(long, default_value_t = 256)]
    pub hidden: usize,
    #[arg(long, default_value_t = 10)]
    pub epochs: usize,
    #[arg(long, default_value_t = 64)]
    pub batch_size: usize,
    /// SGD learning rate (decays linearly to 0), momentum 0.9.
    #[arg(long, default_value_t = 0.05)]
    pub lr: f32,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Train on the first N training images only.
    #[arg(long)]
    pub limit: Option<usize>,
    #[command(flatten)]
    pub augment: AugmentArgs,
}

pub fn run(args: ReferenceArgs) -> Result<()> {
    let mut train = data::load(&args.data_dir, &args.dataset, Split::Train)?;
    if let Some(n) = args.limit {
        train = train.take(n);
    }
    let test = data::load(&args.data_dir, &args.dataset, Split::Test)?;
    let cfg = MlpConfig {
        hidden: args.hidden,
        epochs: args.epochs,
        batch_size: args.batch_size,
        lr: args.lr,
        momentum: 0.9,
        augment: args.augment.augment(&args.dataset)?,
        seed: args.seed,
    };
    let t0 = Instant::now();
    let mlp = Mlp::train(&train, &cfg)?;
    eprintln!(
        "reference MLP {}-{}-{} trained on {} images x {} epochs in {:.1} s",
        train.image_len(),
        args.hidden,
        train.classes,
        train.len(),
        args.epochs,
        t0.elapsed().as_secs_f64()
    );
    let mut cols = vec![format!("{} test", args.dataset)];
    let mut cells = vec![format!("{:.2}", 100.0 * mlp.accuracy(&test)?)];
    for set in ood::sets_for(&args.ood_dir, &args.dataset)? {
        let (prepared, _) = ood::prepare(&set, test.rows)?;
        cols.push(set.name.clone());
        cells.push(format!("{:.2}", 100.0 * mlp.accuracy(&prepared)?));
    }
    println!("| model | {} |", cols.join(" | "));
    println!("|---|{}", "---|".repeat(cols.len()));
    println!(
        "| reference MLP ({} hidden, augment {}) | {} |",
        args.hidden,
        args.augment.augment,
        cells.join(" | ")
    );
    Ok(())
}
