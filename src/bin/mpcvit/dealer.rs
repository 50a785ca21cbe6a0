//! `mpcvit dealer`: the dealer of correlated randomness as its own process, the third party of
//! the trust model (trusted by both the client and the server, colluding with neither). For
//! each session it pairs the client's and the server's connections, sends each its dealer seed
//! and streams the server's corrections ([`mpcvit::secure::remote::DealerServer`]). It sees
//! only the public architecture, never an image or a weight.

use std::io::Write;
use std::time::Duration;

use mpcvit::secure::remote::{stderr_log, DealerServer};
use mpcvit::Result;

use crate::net::{NetArgs, TlsArgs};

/// Arguments of `mpcvit dealer`.
#[derive(clap::Args, Debug)]
pub struct DealerArgs {
    /// Address to listen on: `host:port` or a bare port on 127.0.0.1 (TCP frames),
    /// `ws://host:port` (WebSocket: browsers and native parties), or `wss://host:port` with
    /// `--tls-cert/--tls-key`. Port 0: any free port (the address is printed). `0.0.0.0:7001`
    /// listens on every interface.
    #[arg(long, alias = "port", default_value = "127.0.0.1:7001")]
    pub listen: String,
    #[command(flatten)]
    pub tls: TlsArgs,
    /// Exit after this many sessions (default: run until killed).
    #[arg(long)]
    pub max_sessions: Option<usize>,
    /// Seconds a party's join waits for its partner before it is dropped with an error.
    #[arg(long, default_value_t = 60)]
    pub join_timeout: u64,
    #[command(flatten)]
    pub net: NetArgs,
}

pub fn run(args: DealerArgs) -> Result<()> {
    let mut d = DealerServer::bind(&args.listen, args.tls.config()?, args.net.options()?)?
        .with_join_timeout(Duration::from_secs(args.join_timeout.max(1)));
    let token = args.net.token()?;
    if let Some(t) = &token {
        d = d.with_token(t);
    }
    println!("dealer listening on {}", d.endpoint()?);
    if token.is_none() {
        println!("access: open to any party (pass --dealer-token-file to serve only parties holding the token)");
    }
    std::io::stdout().flush()?;
    d.run(args.max_sessions, stderr_log())
}
