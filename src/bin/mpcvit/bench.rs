//! `mpcvit bench`: the per-protocol 2PC cost table (rounds, bytes online each way and offline,
//! compute), natively and in wasm (Node) in one run with the wasm / native compute ratio.

use std::path::PathBuf;

use mpcvit::mpc::bench::{run as bench_run, BenchRow};
use mpcvit::Result;

use crate::common::node_json;

/// Arguments of `mpcvit bench`.
#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// Elements per protocol input (matrices and rows are derived from it).
    #[arg(long, default_value_t = 256)]
    pub size: usize,
    /// The wasm-bindgen output folder; without it (or with `--native-only`) only native runs.
    #[arg(long, default_value = "pkg")]
    pub pkg: PathBuf,
    #[arg(long)]
    pub native_only: bool,
    /// Instead: the paper-config table (CIFAR and Tiny-ImageNet ViTs, every variant and MPCViT
    /// plans at mu 0.1/0.3/0.5/0.7).
    #[arg(long)]
    pub paper: bool,
    /// With `--paper`: also write the table as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

fn paper(args: &BenchArgs) -> Result<()> {
    use mpcvit::model::ViTConfig;
    use mpcvit::secure::paper::paper_table;
    let mut all = Vec::new();
    for (name, cfg) in [
        ("CIFAR ViT (7x4x256, 65 tokens)", ViTConfig::paper_cifar()),
        (
            "Tiny-ImageNet ViT (9x12x192, 257 tokens)",
            ViTConfig::paper_tiny_imagenet(),
        ),
    ] {
        eprintln!("measuring {name}...");
        let rows = paper_table(name, &cfg, &[0.1, 0.3, 0.5, 0.7])?;
        println!("\n{name}, random weights; one private run per distinct block shape");
        println!(
            "{:<16} {:>7} {:>10} {:>11} {:>9} {:>9} {:>14}",
            "attention", "rounds", "online MB", "offline MB", "LAN s", "WAN s", "WAN network s"
        );
        for r in &rows {
            println!(
                "{:<16} {:>7} {:>10.2} {:>11.2} {:>9.3} {:>9.2} {:>14.2}",
                r.model, r.rounds, r.online_mb, r.offline_mb, r.lan_s, r.wan_s, r.wan_network_s
            );
        }
        let wan = |m: &str| {
            rows.iter()
                .find(|r| r.model == m)
                .map_or(f64::NAN, |r| r.wan_s)
        };
        println!(
            "Softmax / MPCViT mu=0.1 WAN latency: {:.2}x",
            wan("softmax") / wan("MPCViT mu=0.1")
        );
        all.extend(rows);
    }
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&all)?)?;
    }
    Ok(())
}

fn wasm_rows(args: &BenchArgs) -> Result<Vec<BenchRow>> {
    node_json(
        "scripts/bench-wasm-protocols.mjs",
        &[args.pkg.display().to_string(), args.size.to_string()],
    )
}

pub fn run(args: BenchArgs) -> Result<()> {
    if args.paper {
        return paper(&args);
    }
    // The first run warms caches and allocator; the second is measured (as in the wasm script).
    bench_run(args.size)?;
    let native = bench_run(args.size)?;
    let wasm = if args.native_only {
        None
    } else {
        Some(wasm_rows(&args)?)
    };
    println!(
        "{:<22} {:>12} {:>7} {:>11} {:>11} {:>11} {:>9} {:>10} {:>10}",
        "protocol",
        "shape",
        "rounds",
        "KB 0->1",
        "KB 1->0",
        "KB offline",
        "WAN ms",
        "native ms",
        "wasm/nat"
    );
    for (i, r) in native.iter().enumerate() {
        let ratio = wasm
            .as_ref()
            .and_then(|w| w.get(i))
            .filter(|w| w.protocol == r.protocol)
            .map(|w| format!("{:.2}", w.compute_s / r.compute_s.max(1e-9)))
            .unwrap_or_else(|| "-".into());
        println!(
            "{:<22} {:>12} {:>7} {:>11.2} {:>11.2} {:>11.2} {:>9.0} {:>10.3} {:>10}",
            r.protocol,
            format!("{:?}", r.shape),
            r.rounds,
            r.bytes_p0_to_p1 as f64 / 1e3,
            r.bytes_p1_to_p0 as f64 / 1e3,
            r.bytes_offline as f64 / 1e3,
            r.wan_s * 1e3,
            r.compute_s * 1e3,
            ratio
        );
    }
    if let Some(w) = &wasm {
        let (tn, tw): (f64, f64) = native
            .iter()
            .zip(w)
            .map(|(a, b)| (a.compute_s, b.compute_s))
            .fold((0.0, 0.0), |(x, y), (a, b)| (x + a, y + b));
        println!(
            "total compute: native {:.1} ms, wasm (Node) {:.1} ms, wasm / native {:.2}",
            tn * 1e3,
            tw * 1e3,
            tw / tn.max(1e-9)
        );
    }
    Ok(())
}
