//! `mpcvit dealer`: the dealer of correlated randomness as its own process, the third party of
//! the trust model (trusted by both the client and the server, colluding with neither). For
//! each session it pairs the client's and the server's connections, sends each its dealer seed
//! and streams the server's corrections ([`mpcvit::secure::remote::DealerServer`]). It sees
//! only the public architecture, never an image or a weight.

use std::io::Write;
use std::time::Duration;

use mpcvit::secure::remote::{stderr_log, DealerServer, RemoteOptions};
use mpcvit::{Error, Result};

/// Arguments of `mpcvit dealer`.
#[derive(clap::Args, Debug)]
pub struct DealerArgs {
    /// Port on 127.0.0.1 to listen on (0: any free port; the address is printed).
    #[arg(long, default_value_t = 7001)]
    pub port: u16,
    /// Exit after this many sessions (default: run until killed).
    #[arg(long)]
    pub max_sessions: Option<usize>,
    /// Socket timeout in seconds.
    #[arg(long, default_value_t = 60)]
    pub timeout: u64,
}

pub fn run(args: DealerArgs) -> Result<()> {
    if args.timeout == 0 {
        return Err(Error::Config("--timeout must be at least 1 second".into()));
    }
    let d = DealerServer::bind(
        args.port,
        RemoteOptions {
            timeout: Duration::from_secs(args.timeout),
        },
    )?;
    println!("dealer listening on {}", d.local_addr()?);
    std::io::stdout().flush()?;
    d.run(args.max_sessions, stderr_log())
}
