//! The native command-line tool. One file per subcommand; this file only parses the command
//! line and dispatches. On wasm32 the binary is an empty stub, because `cargo test --target
//! wasm32-unknown-unknown` builds every binary of the crate.

#[cfg(not(target_arch = "wasm32"))]
mod agree;
#[cfg(not(target_arch = "wasm32"))]
mod augment_args;
#[cfg(not(target_arch = "wasm32"))]
mod bench;
#[cfg(not(target_arch = "wasm32"))]
mod classify;
#[cfg(not(target_arch = "wasm32"))]
mod common;
#[cfg(not(target_arch = "wasm32"))]
mod convert;
#[cfg(not(target_arch = "wasm32"))]
mod dealer;
#[cfg(not(target_arch = "wasm32"))]
mod eval;
#[cfg(not(target_arch = "wasm32"))]
mod load;
#[cfg(not(target_arch = "wasm32"))]
mod net;
#[cfg(not(target_arch = "wasm32"))]
mod ood;
#[cfg(not(target_arch = "wasm32"))]
mod perf;
#[cfg(not(target_arch = "wasm32"))]
mod reference;
#[cfg(not(target_arch = "wasm32"))]
mod report;
#[cfg(not(target_arch = "wasm32"))]
mod retrain;
#[cfg(not(target_arch = "wasm32"))]
mod search;
#[cfg(not(target_arch = "wasm32"))]
mod serve;
#[cfg(not(target_arch = "wasm32"))]
mod session_args;
#[cfg(not(target_arch = "wasm32"))]
mod train;

#[cfg(not(target_arch = "wasm32"))]
mod cli {
    use clap::{Parser, Subcommand};

    use super::{
        agree, bench, classify, convert, dealer, eval, ood, perf, reference, report, retrain,
        search, serve, train,
    };

    /// MPCViT: private Vision Transformer inference with heterogeneous attention.
    #[derive(Parser)]
    #[command(name = "mpcvit", version, about)]
    struct Cli {
        #[command(subcommand)]
        command: Command,
    }

    // Parsed once per process: the size difference between variants costs nothing.
    #[allow(clippy::large_enum_variant)]
    #[derive(Subcommand)]
    enum Command {
        /// Convert the npm dataset packages into data/*.bin and regenerate www/samples.
        Convert(convert::ConvertArgs),
        /// Train a ViT with an attention plan; checkpoint each epoch into the models folder.
        Train(train::TrainArgs),
        /// Plaintext accuracy of saved models on a dataset split or (--ood) the out-of-domain sets.
        Eval(eval::EvalArgs),
        /// Generate (or --check) the out-of-domain evaluation sets in ood/.
        Ood(ood::OodArgs),
        /// MPC-aware differentiable search of an attention (and GeLU) plan.
        Search(search::SearchArgs),
        /// Retrain a searched plan from scratch with knowledge distillation.
        Retrain(retrain::RetrainArgs),
        /// Plaintext speed natively and in wasm (Node), and the wasm module size.
        Perf(perf::PerfArgs),
        /// Train the simple reference (a two-layer perceptron); print test and out-of-domain accuracy.
        Reference(reference::ReferenceArgs),
        /// Accuracy / private-latency table of the models in a folder.
        Report(report::ReportArgs),
        /// Private vs plaintext predictions on a test split: agreement and logit error.
        Agree(agree::AgreeArgs),
        /// Cost tables: per protocol (`bench protocols`) or the paper's configs (`bench paper`).
        Bench(bench::BenchArgs),
        /// Party 1: serve private classifications with a model over TCP.
        Serve(serve::ServeArgs),
        /// Party 0: classify images privately with a `serve` process.
        Classify(classify::ClassifyArgs),
        /// The dealer of correlated randomness, as a separate process for `serve` / `classify`.
        Dealer(dealer::DealerArgs),
    }

    pub fn main() -> std::process::ExitCode {
        let cli = Cli::parse();
        let result = match cli.command {
            Command::Convert(args) => convert::run(args),
            Command::Train(args) => train::run(args),
            Command::Eval(args) => eval::run(args),
            Command::Ood(args) => ood::run(args),
            Command::Search(args) => search::run(args),
            Command::Retrain(args) => retrain::run(args),
            Command::Perf(args) => perf::run(args),
            Command::Reference(args) => reference::run(args),
            Command::Report(args) => report::run(args),
            Command::Agree(args) => agree::run(args),
            Command::Bench(args) => bench::run(args),
            Command::Serve(args) => serve::run(args),
            Command::Classify(args) => classify::run(args),
            Command::Dealer(args) => dealer::run(args),
        };
        match result {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                std::process::ExitCode::FAILURE
            }
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::process::ExitCode {
    cli::main()
}

#[cfg(target_arch = "wasm32")]
fn main() {}
