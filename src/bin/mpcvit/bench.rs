//! `mpcvit bench`: the per-protocol 2PC cost table (rounds, bytes online each way and offline,
//! compute), natively and in wasm (Node) in one run with the wasm / native compute ratio.

use std::path::PathBuf;
use std::process::Command;

use mpcvit::mpc::bench::{run as bench_run, BenchRow};
use mpcvit::{Error, Result};

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
}

fn wasm_rows(args: &BenchArgs) -> Result<Vec<BenchRow>> {
    let out = Command::new("node")
        .arg("scripts/bench-wasm-protocols.mjs")
        .arg(&args.pkg)
        .arg(args.size.to_string())
        .output()
        .map_err(|e| Error::Config(format!("cannot run node: {e}")))?;
    if !out.status.success() {
        return Err(Error::Config(format!(
            "wasm benchmark failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.lines().last().unwrap_or_default())
        .map_err(|e| Error::Config(format!("wasm benchmark output: {e}")))
}

pub fn run(args: BenchArgs) -> Result<()> {
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
