//! `mpcvit serve`: party 1 (the server, who owns the weights) serving private classifications
//! over loopback TCP ([`mpcvit::secure::remote`]). Clients (`mpcvit classify`) receive the
//! model's public manifest (config, plan, class names; never the weights) in the handshake.
//!
//! The dealer must be trusted by both parties and collude with neither: run `mpcvit dealer`
//! as a third process and pass `--dealer ADDR`. Without `--dealer` the server starts a dealer
//! thread inside its own process and says so (a demo: that server could unmask the client's
//! image, and every client is warned).

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use mpcvit::data;
use mpcvit::io;
use mpcvit::model::ViT;
use mpcvit::secure::remote::{loopback_addr, stderr_log, DealerChoice, ModelServer, RemoteOptions};
use mpcvit::{Error, Result};

use crate::report::plan_summary;

/// Arguments of `mpcvit serve`.
#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// Model name in the models folder.
    pub model: String,
    #[arg(long, default_value = "models")]
    pub models: PathBuf,
    /// Port on 127.0.0.1 to listen on (0: any free port; the address is printed).
    #[arg(long, default_value_t = 7000)]
    pub port: u16,
    /// Address of a separate dealer process (`mpcvit dealer`), e.g. `127.0.0.1:7001`. Without
    /// it a dealer thread runs inside this process (demo only: not private against this
    /// server).
    #[arg(long)]
    pub dealer: Option<String>,
    /// Exit after serving this many client sessions (default: serve until killed).
    #[arg(long)]
    pub max_sessions: Option<usize>,
    /// Socket timeout in seconds: a peer silent for longer ends its session.
    #[arg(long, default_value_t = 60)]
    pub timeout: u64,
    /// Truncation protocol clients must use: `local` (no communication, fails with probability
    /// about 2^-31 per element) or `exact` (one round per truncation, never fails).
    #[arg(long, default_value = "local", value_parser = ["local", "exact"])]
    pub trunc: String,
}

pub fn run(args: ServeArgs) -> Result<()> {
    if args.timeout == 0 {
        return Err(Error::Config("--timeout must be at least 1 second".into()));
    }
    let opts = RemoteOptions {
        timeout: Duration::from_secs(args.timeout),
    };
    let (m, params) = io::load_model_dir(&args.models, &args.model)?;
    let vit = ViT::new(m.config.clone(), m.plan.clone(), params)?;
    let plan = plan_summary(&vit);
    let names = data::class_names(&m.dataset)
        .ok()
        .map(|n| n.iter().map(|s| s.to_string()).collect());
    let choice = match &args.dealer {
        Some(a) => DealerChoice::Remote(loopback_addr(a)?),
        None => DealerChoice::InProcess,
    };
    let server = ModelServer::bind(args.port, vit, m.clone(), names, choice, opts, stderr_log())?
        .with_session(crate::agree::session_for(&args.trunc));
    println!(
        "serving {} ({}, {plan}, {} truncation) on {}",
        m.name,
        m.dataset,
        args.trunc,
        server.local_addr()?
    );
    match choice {
        DealerChoice::Remote(a) => println!("dealer: {a} (a separate process)"),
        DealerChoice::InProcess => println!(
            "dealer: {} (a thread of this server process: for demos only; a real deployment \
             runs `mpcvit dealer` as a third party trusted by both sides and passes --dealer)",
            server.dealer_addr()
        ),
    }
    std::io::stdout().flush()?;
    server.run(args.max_sessions, stderr_log())
}
