//! `mpcvit bench serve`: the load test of [`mpcvit::secure::remote::load`] with a shipped
//! model and a test image of its dataset, against `mpcvit dealer` and `mpcvit serve` started
//! here as child processes on loopback, so the memory reported is the server process's alone.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use mpcvit::data::{self, Split};
use mpcvit::io;
use mpcvit::secure::remote::load::{self, Memory, Target};
use mpcvit::secure::remote::RemoteOptions;
use mpcvit::{Error, Result};

/// Options of `mpcvit bench serve`.
#[derive(clap::Args, Debug)]
pub struct LoadArgs {
    /// Model name in the models folder.
    #[arg(long, default_value = "mnist-mpcvit-mu0.3")]
    pub model: String,
    #[arg(long, default_value = "models")]
    pub models: PathBuf,
    /// Folder of converted datasets (the first test image is classified).
    #[arg(long, default_value = "data")]
    pub data_dir: PathBuf,
    /// Concurrent clients.
    #[arg(long, default_value_t = 8)]
    pub clients: usize,
    /// Private classifications in all (one session each), after a warm-up of one per client.
    #[arg(long, default_value_t = 1000)]
    pub images: usize,
    /// Transport between the clients, the server and the dealer.
    #[arg(long, default_value = "tcp", value_parser = ["tcp", "ws"])]
    pub transport: String,
}

/// A child process killed when dropped, so an error never leaves a server running.
struct Started(Child);

impl Drop for Started {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `mpcvit args…` and returns it with the address that follows `prefix` on the first
/// stdout line that has it.
fn start(args: &[&str], prefix: &str) -> Result<(Started, String)> {
    let exe = std::env::current_exe()?;
    let mut child = Command::new(exe)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let stdout = child.stdout.take();
    let started = Started(child);
    let what = args[0];
    let stdout = stdout.ok_or_else(|| Error::Protocol(format!("{what}: no stdout")))?;
    for line in BufReader::new(stdout).lines() {
        let line = line?;
        if let Some(rest) = line.split(prefix).nth(1) {
            let at = rest.split_whitespace().next().unwrap_or_default();
            return Ok((started, at.to_string()));
        }
    }
    Err(Error::Protocol(format!(
        "mpcvit {what} ended before it printed its address"
    )))
}

pub fn run(args: &LoadArgs) -> Result<()> {
    let (m, _) = io::load_model_dir(&args.models, &args.model)?;
    let test = data::load(&args.data_dir, &m.dataset, Split::Test)?;
    let image: Vec<f32> = test.to_input(&[0])?.iter().copied().collect();
    let (transport, at) = load::listen_address(&args.transport)?;
    // Both children run until dropped: the server's memory is read after the last session.
    let (_dealer, dealer_at) = start(&["dealer", "--listen", at], "dealer listening on ")?;
    let models = args.models.to_string_lossy();
    let (server, server_at) = start(
        &[
            "serve",
            &args.model,
            "--models",
            &models,
            "--listen",
            at,
            "--dealer",
            &dealer_at,
        ],
        " on ",
    )?;
    let pid = server.0.id();
    eprintln!(
        "{}: {} clients, {} private classifications over loopback {transport} \
         (server pid {pid} at {server_at}, dealer at {dealer_at})...",
        m.name, args.clients, args.images
    );
    let memory = move || Memory::of(Some(pid));
    let target = Target {
        server: server_at,
        dealer: dealer_at,
        transport,
        memory: &memory,
        options: RemoteOptions::with_timeout(Duration::from_secs(120)),
    };
    let report = load::drive(&target, &image, args.clients, args.images)?;
    print!("{}", report.format());
    Ok(())
}
