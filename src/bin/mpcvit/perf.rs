//! `mpcvit perf`: plaintext speed of a model natively and in wasm (Node), measured in one run
//! so the ratio is meaningful on a shared, noisy machine, plus the size of the wasm module.

use std::path::PathBuf;
use std::process::Command;

use mpcvit::model::ViT;
use mpcvit::perf::{plaintext, PlainBench};
use mpcvit::{io, Error, Result};

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
    let out = Command::new("node")
        .arg("scripts/bench-wasm.mjs")
        .arg(&args.pkg)
        .arg(&args.models)
        .arg(&args.model)
        .arg(args.forward_iters.to_string())
        .arg(args.train_steps.to_string())
        .output()
        .map_err(|e| Error::Config(format!("cannot run node: {e}")))?;
    if !out.status.success() {
        return Err(Error::Config(format!(
            "wasm benchmark failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().last().unwrap_or_default();
    serde_json::from_str(line)
        .map_err(|e| Error::Config(format!("wasm benchmark printed '{line}': {e}")))
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
