//! `mpcvit perf`: plaintext speed of a model natively and in wasm (Node), measured in one run
//! so the ratio is meaningful on a shared, noisy machine, plus the size of the wasm module.

use std::path::PathBuf;

use mpcvit::model::ViT;
use mpcvit::perf::{plaintext, PlainBench};
use mpcvit::{io, Result};

use crate::common::node_json;

/// Arguments of `mpcvit perf`.
#[derive(clap::Args, Debug)]
pub struct PerfArgs {
    /// Model name in the models folder.
    pub model: String,
    #[arg(long, default_value = "models")]
    pub models: PathBuf,
    /// Single-image forwards to time.
    #[arg(long, default_value_t = 200)]
    pub forward_iters: usize,
    /// Training steps (batch 64) to time.
    #[arg(long, default_value_t = 30)]
    pub train_steps: usize,
    /// The wasm-bindgen output folder (built by scripts/build-wasm.sh).
    #[arg(long, default_value = "pkg")]
    pub pkg: PathBuf,
}

fn wasm_bench(args: &PerfArgs) -> Result<PlainBench> {
    let a = [
        args.pkg.display().to_string(),
        args.models.display().to_string(),
        args.model.clone(),
        args.forward_iters.to_string(),
        args.train_steps.to_string(),
    ];
    node_json("scripts/bench-wasm.mjs", &a)
}

pub fn run(args: PerfArgs) -> Result<()> {
    let (m, p) = io::load_model_dir(&args.models, &args.model)?;
    let vit = ViT::new(m.config, m.plan, p)?;
    let native = plaintext(&vit, args.forward_iters, args.train_steps)?;
    let wasm = wasm_bench(&args)?;
    let size = std::fs::metadata(args.pkg.join("mpcvit_bg.wasm"))
        .map(|m| m.len())
        .unwrap_or(0);
    println!(
        "{:<34} {:>12} {:>12} {:>12}",
        args.model, "native", "wasm (Node)", "wasm/native"
    );
    println!(
        "{:<34} {:>12.3} {:>12.3} {:>12.2}",
        "forward, 1 image (ms)",
        native.forward_ms,
        wasm.forward_ms,
        wasm.forward_ms / native.forward_ms
    );
    println!(
        "{:<34} {:>12.0} {:>12.0} {:>12.2}",
        "training, batch 64 (images/s)",
        native.train_images_per_s,
        wasm.train_images_per_s,
        wasm.train_images_per_s / native.train_images_per_s
    );
    println!("wasm module: {} bytes ({:.2} MB)", size, size as f64 / 1e6);
    Ok(())
}
