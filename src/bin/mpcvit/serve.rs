//! `mpcvit serve`: party 1 (the server, who owns the weights) serving private classifications
//! over TCP or WebSocket (`ws://`, or `wss://` with `--tls-cert/--tls-key`), the transport
//! the page's remote mode speaks ([`mpcvit::secure::remote`]). Clients (`mpcvit classify`) receive the
//! model's public architecture (config, plan) and class names in the handshake: never the weights,
//! nor the manifest's name, metrics or training record (its command and seed would let a client
//! retrain the weights).
//!
//! The dealer must be trusted by both parties and collude with neither: run `mpcvit dealer`
//! as a third process and pass `--dealer ADDR`. Only with `--demo-dealer` does the server start
//! a dealer thread inside its own process, and says so (a demo: that server could unmask the
//! client's image; clients refuse it unless told to accept the server's dealer).

use std::io::Write;
use std::path::PathBuf;

use mpcvit::data;
use mpcvit::io;
use mpcvit::model::ViT;
use mpcvit::secure::remote::{stderr_log, DealerChoice, Endpoint, ModelServer};
use mpcvit::Result;

use crate::net::{NetArgs, TlsArgs};
use crate::report::plan_summary;

/// Arguments of `mpcvit serve`.
#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// Model name in the models folder.
    pub model: String,
    #[arg(long, default_value = "models")]
    pub models: PathBuf,
    /// Address to listen on: `host:port` or a bare port on 127.0.0.1 (TCP frames), or
    /// `ws://host:port` (WebSocket, what the page's remote mode connects to), or
    /// `wss://host:port` with `--tls-cert/--tls-key`. Port 0: any free port (the address is
    /// printed). `0.0.0.0:7000` listens on every interface.
    #[arg(long, alias = "port", default_value = "127.0.0.1:7000")]
    pub listen: String,
    #[command(flatten)]
    pub tls: TlsArgs,
    /// Address of the dealer (`mpcvit dealer`, run by a third party both sides trust), e.g.
    /// `127.0.0.1:7001` or `ws://dealer.example:7001`; clients must name the same one.
    /// Required unless `--demo-dealer`.
    #[arg(
        long,
        required_unless_present = "demo_dealer",
        conflicts_with = "demo_dealer"
    )]
    pub dealer: Option<String>,
    /// Run a dealer thread inside this process instead: a demo only, since this server could
    /// then read the dealer's seeds and unmask every client's image (clients are told so and
    /// must accept it explicitly).
    #[arg(long)]
    pub demo_dealer: bool,
    /// Exit after serving this many client sessions (default: serve until killed).
    #[arg(long)]
    pub max_sessions: Option<usize>,
    /// The session clients must use (the server's hello names it).
    #[command(flatten)]
    pub session: crate::session_args::SessionArgs,
    #[command(flatten)]
    pub net: NetArgs,
}

pub fn run(args: ServeArgs) -> Result<()> {
    let opts = args.net.options()?;
    let token = args.net.token()?;
    let (m, params) = io::load_model_dir(&args.models, &args.model)?;
    let vit = ViT::new(m.config.clone(), m.plan.clone(), params)?;
    let plan = plan_summary(&vit);
    let names = data::class_names(&m.dataset)
        .ok()
        .map(|n| n.iter().map(|s| s.to_string()).collect());
    let choice = match &args.dealer {
        Some(a) => DealerChoice::Remote(Endpoint::parse(a)?),
        None => DealerChoice::InProcess,
    };
    let tls = args.tls.config()?;
    let mut server = ModelServer::bind(
        &args.listen,
        tls,
        vit,
        names,
        choice.clone(),
        opts,
        stderr_log(),
    )?
    .with_session(args.session.config()?);
    if let Some(t) = &token {
        server = server.with_dealer_token(t);
    }
    println!(
        "serving {} ({}, {plan}, {} protocols, {} truncation) on {}",
        m.name,
        m.dataset,
        args.session.protocols,
        args.session.trunc,
        server.endpoint()?
    );
    match choice {
        DealerChoice::Remote(a) => println!("dealer: {a} (a separate process)"),
        DealerChoice::InProcess => println!(
            "dealer: {} (--demo-dealer: a thread of this server process, for demos only; a real \
             deployment runs `mpcvit dealer` as a third party trusted by both sides and passes \
             --dealer)",
            server.dealer_endpoint()
        ),
    }
    std::io::stdout().flush()?;
    server.run(args.max_sessions, stderr_log())
}
