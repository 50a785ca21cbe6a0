//! `mpcvit bench protocols` (or plain `bench`): the per-protocol 2PC cost table (rounds, bytes
//! online each way and offline, compute), natively and in wasm (Node) in one run with the
//! wasm / native compute ratio. `mpcvit bench paper`: the paper-config table
//! ([`mpcvit::secure::paper`]). `mpcvit bench fss`: FSS key generation / evaluation speed per
//! tree PRG, native and wasm ([`mpcvit::mpc::fss::speed`]).

use std::path::PathBuf;

use mpcvit::mpc::bench::BenchRow;
use mpcvit::mpc::ProtocolFamily;
use mpcvit::secure::bench::run as bench_run;
use mpcvit::Result;

use crate::common::node_json;

/// Arguments of `mpcvit bench`.
#[derive(clap::Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub what: Option<BenchWhat>,
    /// Without a subcommand: `bench protocols` with these options.
    #[command(flatten)]
    pub protocols: ProtocolArgs,
}

/// What to measure.
#[derive(clap::Subcommand, Debug)]
pub enum BenchWhat {
    /// Per-protocol 2PC cost table, natively and in wasm (Node) with the wasm / native ratio.
    Protocols(ProtocolArgs),
    /// The paper-config table: the CIFAR and Tiny-ImageNet ViTs (random weights), every
    /// attention variant and MPCViT head-wise plans at mu 0.1 / 0.3 / 0.5 / 0.7, from per-block
    /// private runs.
    Paper(PaperArgs),
    /// A load test of `mpcvit serve`: concurrent clients classifying privately back to back
    /// over loopback (throughput, p50 / p99 latency, resident memory before and after).
    Serve(crate::load::LoadArgs),
    /// FSS key generation and evaluation per second (DCF, DPF) with each tree PRG (fixed-key
    /// AES, ChaCha12), natively and in wasm (Node).
    Fss(FssArgs),
}

/// Options of `mpcvit bench fss`.
#[derive(clap::Args, Debug)]
pub struct FssArgs {
    /// Keys generated and evaluated per primitive.
    #[arg(long, default_value_t = 20_000)]
    pub reps: usize,
    /// The wasm-bindgen output folder.
    #[arg(long, default_value = "pkg")]
    pub pkg: PathBuf,
    #[arg(long)]
    pub native_only: bool,
}

fn fss(args: &FssArgs) -> Result<()> {
    use mpcvit::mpc::fss::speed::{measure, table, SpeedRow};
    // The first run warms caches; the second is measured (as in the wasm script).
    measure(args.reps / 10 + 1);
    let native = measure(args.reps);
    let wasm: Option<Vec<SpeedRow>> = if args.native_only {
        None
    } else {
        Some(node_json(
            "scripts/bench-wasm-fss.mjs",
            &[args.pkg.display().to_string(), args.reps.to_string()],
        )?)
    };
    print!("{}", table(&native, wasm.as_deref()));
    Ok(())
}

/// Options of `mpcvit bench protocols`.
#[derive(clap::Args, Debug)]
pub struct ProtocolArgs {
    /// Elements per protocol input (matrices and rows are derived from it).
    #[arg(long, default_value_t = 256)]
    pub size: usize,
    /// The wasm-bindgen output folder; without it (or with `--native-only`) only native runs.
    #[arg(long, default_value = "pkg")]
    pub pkg: PathBuf,
    #[arg(long)]
    pub native_only: bool,
}

/// Options of `mpcvit bench paper`.
#[derive(clap::Args, Debug)]
pub struct PaperArgs {
    /// Also write the rows as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Budgets of the MPCViT plans (fraction of RSAttn heads, chosen at random with a fixed
    /// seed; the rest ScaleAttn).
    #[arg(long, value_delimiter = ',', default_values_t = [0.1, 0.3, 0.5, 0.7])]
    pub mu: Vec<f64>,
    /// Only the CIFAR ViT (the Tiny-ImageNet one takes most of the time).
    #[arg(long)]
    pub cifar_only: bool,
    #[command(flatten)]
    pub session: crate::session_args::SessionArgs,
}

fn paper(args: &PaperArgs) -> Result<()> {
    use mpcvit::model::ViTConfig;
    use mpcvit::secure::paper::{format_paper_table, paper_table};
    if let Some(bad) = args.mu.iter().find(|m| !(0.0..=1.0).contains(*m)) {
        return Err(mpcvit::Error::out_of_range("--mu", bad, "0 to 1"));
    }
    let mut configs = vec![("CIFAR ViT (7x4x256, 65 tokens)", ViTConfig::paper_cifar())];
    if !args.cifar_only {
        configs.push((
            "Tiny-ImageNet ViT (9x12x192, 257 tokens)",
            ViTConfig::paper_tiny_imagenet(),
        ));
    }
    let session = args.session.config()?;
    eprintln!("protocols: {}", session.family);
    let mut all = Vec::new();
    for (name, cfg) in configs {
        eprintln!("measuring {name}...");
        let rows = paper_table(name, &cfg, &args.mu, session)?;
        println!("\n{}", format_paper_table(name, &rows));
        all.extend(rows);
    }
    println!(
        "estimates: rounds x RTT + online bytes / bandwidth (+ measured compute); LAN 0.1 ms / \
         1 GB/s, WAN 40 ms / 44 MB/s (the paper's). \"net\" columns leave compute out."
    );
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&all)?)?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

fn wasm_rows(args: &ProtocolArgs) -> Result<Vec<BenchRow>> {
    node_json(
        "scripts/bench-wasm-protocols.mjs",
        &[args.pkg.display().to_string(), args.size.to_string()],
    )
}

/// The wasm rows, or `None` with a one-line hint on stderr when they cannot be had (no `pkg/`
/// right after a clone, no Node): the native table is still worth printing.
fn wasm_rows_or_hint(args: &ProtocolArgs) -> Option<Vec<BenchRow>> {
    let bindings = args.pkg.join("mpcvit.js");
    if !bindings.is_file() {
        eprintln!(
            "note: {} is not built, so only native figures follow; run ./scripts/build-wasm.sh \
             for the wasm column (or pass --native-only)",
            bindings.display()
        );
        return None;
    }
    match wasm_rows(args) {
        Ok(rows) => Some(rows),
        Err(e) => {
            let first = e.to_string();
            let first = first.lines().next().unwrap_or_default().to_owned();
            eprintln!("note: the wasm run failed ({first}); only native figures follow");
            None
        }
    }
}

pub fn run(args: BenchArgs) -> Result<()> {
    match args.what {
        Some(BenchWhat::Paper(p)) => paper(&p),
        Some(BenchWhat::Serve(a)) => crate::load::run(&a),
        Some(BenchWhat::Protocols(p)) => protocols(&p),
        Some(BenchWhat::Fss(f)) => fss(&f),
        None => protocols(&args.protocols),
    }
}

fn protocols(args: &ProtocolArgs) -> Result<()> {
    // The first run warms caches and allocator; the second is measured (as in the wasm script).
    bench_run(args.size, ProtocolFamily::Classic)?;
    let native = bench_run(args.size, ProtocolFamily::Classic)?;
    // The FSS family from the same run (issue #11: both families side by side).
    let fss = bench_run(args.size, ProtocolFamily::Fss)?;
    let wasm = if args.native_only {
        None
    } else {
        wasm_rows_or_hint(args)
    };
    println!(
        "{:<22} {:>12} {:>13} {:>17} {:>17} {:>13} {:>10} {:>8}",
        "protocol",
        "shape",
        "rounds c|fss",
        "KB online c|fss",
        "KB offline c|fss",
        "WAN ms c|fss",
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
        let f = fss
            .get(i)
            .filter(|f| f.protocol == r.protocol)
            .ok_or_else(|| {
                mpcvit::Error::Unsupported(format!("the fss table has no row {}", r.protocol))
            })?;
        let online = |b: &BenchRow| (b.bytes_p0_to_p1 + b.bytes_p1_to_p0) as f64 / 1e3;
        println!(
            "{:<22} {:>12} {:>13} {:>17} {:>17} {:>13} {:>10.3} {:>8}",
            r.protocol,
            format!("{:?}", r.shape),
            format!("{} | {}", r.rounds, f.rounds),
            format!("{:.1} | {:.1}", online(r), online(f)),
            format!(
                "{:.1} | {:.1}",
                r.bytes_offline as f64 / 1e3,
                f.bytes_offline as f64 / 1e3
            ),
            format!("{:.0} | {:.0}", r.wan_s * 1e3, f.wan_s * 1e3),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Right after a clone `pkg/` does not exist: the bench must fall back to native figures
    /// instead of failing with Node's stack trace.
    #[test]
    fn missing_wasm_build_gives_no_wasm_rows_rather_than_an_error() {
        let args = ProtocolArgs {
            size: 16,
            pkg: PathBuf::from("no-such-folder/pkg"),
            native_only: false,
        };
        assert!(wasm_rows_or_hint(&args).is_none());
    }
}
