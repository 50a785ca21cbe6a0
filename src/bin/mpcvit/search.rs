//! `mpcvit search`: the MPC-aware differentiable architecture search (paper section 4.3). Trains
//! a supernet whose every unit mixes RSAttn and ScaleAttn with a learned `alpha`, penalised by
//! the unit's latency measured on the real protocol, then writes the alphas and the binarised
//! plans (global top-k and the per-layer baseline) for each budget `mu`.

use std::path::{Path, PathBuf};

use mpcvit::data::Dataset;
use mpcvit::io::checkpoint::{remove_checkpoint, save_checkpoint};
use mpcvit::model::{Attention, Plan, ViTConfig};
use mpcvit::mpc::NetworkProfile;
use mpcvit::secure::unit_latency;
use mpcvit::train::config::{GeluSearch, Granularity, SearchConfig, UnitLatency};
use mpcvit::train::search::Search;
use mpcvit::train::{TrainConfig, Trainer};
use mpcvit::{Error, Result};
use serde::{Deserialize, Serialize};

use crate::common::{command_line, epoch_bar, Meter, RunArgs};

/// Arguments of `mpcvit search`.
#[derive(clap::Args, Debug)]
pub struct SearchArgs {
    #[command(flatten)]
    pub run: RunArgs,
    /// The session whose protocols the unit latencies are measured with.
    #[command(flatten)]
    pub session: crate::session_args::SessionArgs,
    /// Output file of the search (alphas and plans).
    #[arg(long)]
    pub output: PathBuf,
    /// `layer`, `head` or `row`.
    #[arg(long, default_value = "head")]
    pub granularity: String,
    /// Weight of the latency penalty (per second of latency).
    #[arg(long, default_value_t = 0.1)]
    pub lambda: f32,
    /// Learning rate of the architecture parameters.
    #[arg(long, default_value_t = 1e-2)]
    pub alpha_lr: f32,
    /// Network profile whose latency the penalty uses: `wan` or `lan`.
    #[arg(long, default_value = "wan")]
    pub profile: String,
    /// Budgets mu (fraction of units kept as RSAttn) to binarise for.
    #[arg(long, value_delimiter = ',', default_value = "0.1,0.3,0.5,0.7")]
    pub mu: Vec<f32>,
    /// Also search GeLU per token (MPCViT+), with this eta (penalty weight).
    #[arg(long)]
    pub gelu_eta: Option<f32>,
    /// MPCViT+ threshold: tokens with beta <= sigma are linearised.
    #[arg(long, default_value_t = 0.5)]
    pub sigma: f32,
}

/// What `search` writes: everything `retrain` needs to pick a plan.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SearchResult {
    pub dataset: String,
    pub config: mpcvit::model::ViTConfig,
    pub granularity: Granularity,
    pub lambda: f32,
    pub profile: NetworkProfile,
    pub latency: UnitLatency,
    pub alphas: Vec<f32>,
    pub betas: Option<Vec<f32>>,
    pub sigma: f32,
    /// `(mu, global top-k plan, per-layer uniform plan)`.
    pub plans: Vec<(f32, Plan, Plan)>,
    pub command: String,
    pub final_train_accuracy: f64,
}

pub fn parse_granularity(s: &str) -> Result<Granularity> {
    match s {
        "layer" => Ok(Granularity::Layer),
        "head" => Ok(Granularity::Head),
        "row" => Ok(Granularity::Row),
        _ => Err(Error::UnknownName {
            what: "granularity",
            got: s.to_string(),
            expected: "layer, head or row",
        }),
    }
}

/// The alphas as a layer x unit text heat map.
fn heat_map(alphas: &[f32], depth: usize) -> String {
    let per = alphas.len() / depth;
    alphas
        .chunks(per)
        .enumerate()
        .map(|(l, row)| {
            let cells: Vec<String> = row.iter().map(|a| format!("{a:.2}")).collect();
            format!("layer {l}: {}", cells.join(" "))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Where a search's checkpoint lives: next to the result, as `<output stem>.resume/`.
fn checkpoint_place(output: &Path) -> Result<(PathBuf, String)> {
    let dir = output
        .parent()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    let stem = output
        .file_stem()
        .and_then(|s| s.to_str())
        .ok_or_else(|| Error::Usage(format!("bad output path {}", output.display())))?;
    Ok((dir, stem.to_string()))
}

/// One epoch of the search with its progress bar; returns the epoch's training accuracy.
fn search_epoch(
    search: &mut Search,
    meter: &mut Meter,
    train_set: &Dataset,
    epoch: usize,
    epochs: usize,
) -> Result<f64> {
    let steps = search.trainer.steps_per_epoch();
    let bar = epoch_bar(epoch, epochs, steps);
    meter.new_epoch();
    let (mut right, mut count) = (0, 0);
    for _ in 0..steps {
        let s = meter.step(|| search.step(train_set).map(|s| s.step))?;
        right += s.correct;
        count += s.images;
        bar.inc(1);
        let mean: f32 = search.alphas.iter().sum::<f32>() / search.alphas.len() as f32;
        bar.set_message(format!("{} mean alpha {mean:.3}", meter.message()));
    }
    bar.finish();
    Ok(right as f64 / count.max(1) as f64)
}

/// The supernet: every unit of `config` mixes RSAttn and ScaleAttn, penalised by `latency`.
fn build_search(
    args: &SearchArgs,
    config: &ViTConfig,
    granularity: Granularity,
    latency: UnitLatency,
    tc: TrainConfig,
    train_len: usize,
) -> Result<Search> {
    let trainer = Trainer::new(
        config.clone(),
        Plan::uniform(config, Attention::RsAttn),
        tc,
        train_len,
    )?;
    let gelu = args.gelu_eta.map(|eta| GeluSearch {
        eta,
        sigma: args.sigma,
    });
    Search::new(
        trainer,
        SearchConfig {
            granularity,
            lambda: args.lambda,
            alpha_lr: args.alpha_lr,
            latency,
            gelu,
        },
    )
}

pub fn run(args: SearchArgs) -> Result<()> {
    let run = &args.run;
    let config = run.model_config()?;
    let granularity = parse_granularity(&args.granularity)?;
    let profile = NetworkProfile::from_name(&args.profile)?;
    eprintln!(
        "measuring unit latencies on the real protocols ({}, {})...",
        args.session.protocols, profile.name
    );
    let latency = unit_latency(&config, &profile, args.session.config()?)?;
    eprintln!(
        "RSAttn head: {:.4} s, GeLU token: {:.5} s ({})",
        latency.rs_attn_head, latency.gelu_token, profile.name
    );
    let (train_set, _) = run.datasets()?;
    let (ck_dir, ck_stem) = checkpoint_place(&args.output)?;
    let ck = run.checkpoint(&ck_dir, &ck_stem, &config)?;
    let tc = run.train_config_for(ck.as_ref())?;
    let mut search = build_search(
        &args,
        &config,
        granularity,
        latency,
        tc.clone(),
        train_set.len(),
    )?;
    if let Some(ck) = &ck {
        search.restore(ck)?;
    }
    let mut meter = Meter::resuming(ck.as_ref());
    let start = search.trainer.step_count() / search.trainer.steps_per_epoch();
    let stop = run.stop_after.unwrap_or(tc.epochs).min(tc.epochs);
    let mut last_acc = 0.0;
    for epoch in start..stop {
        last_acc = search_epoch(&mut search, &mut meter, &train_set, epoch, tc.epochs)?;
        if granularity != Granularity::Row {
            eprintln!("{}", heat_map(&search.alphas, config.depth));
        }
        if epoch + 1 < tc.epochs {
            std::fs::create_dir_all(&ck_dir)?;
            let mut ck = search.checkpoint()?;
            meter.record(&mut ck);
            save_checkpoint(&ck_dir, &ck_stem, &ck)?;
        }
    }
    if stop < tc.epochs {
        println!(
            "search stopped after epoch {stop} of {}; continue with --resume",
            tc.epochs
        );
        return Ok(());
    }
    let plans = args
        .mu
        .iter()
        .map(|&mu| (mu, search.plan(mu), search.plan_per_layer(mu)))
        .collect();
    let result = SearchResult {
        dataset: run.dataset.clone(),
        config: config.clone(),
        granularity,
        lambda: args.lambda,
        profile,
        latency,
        alphas: search.alphas.clone(),
        betas: search.betas.clone(),
        sigma: args.sigma,
        plans,
        command: command_line(),
        final_train_accuracy: last_acc,
    };
    if let Some(dir) = args.output.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&args.output, serde_json::to_string_pretty(&result)?)?;
    remove_checkpoint(&ck_dir, &ck_stem)?;
    println!(
        "search written to {}\n{}",
        args.output.display(),
        heat_map(&result.alphas, config.depth)
    );
    Ok(())
}
