//! Network options shared by `serve`, `dealer` and `classify`.

use std::path::PathBuf;
use std::time::Duration;

use mpcvit::secure::remote::{client_tls, server_tls, RemoteOptions};
use mpcvit::{Error, Result};

/// The certificate of a `wss://` listener (`serve`, `dealer`).
#[derive(clap::Args, Debug)]
pub struct TlsArgs {
    /// Certificate chain (PEM, leaf first) for a `wss://` listen address.
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// Private key (PEM) of `--tls-cert`.
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
}

impl TlsArgs {
    /// The listener's TLS configuration, if a certificate was given.
    pub fn config(
        &self,
    ) -> Result<Option<std::sync::Arc<mpcvit::secure::remote::endpoint::ServerTls>>> {
        match (&self.tls_cert, &self.tls_key) {
            (Some(c), Some(k)) => Ok(Some(server_tls(c, k)?)),
            _ => Ok(None),
        }
    }
}

/// Timeouts, the dealer's access token, and extra TLS roots.
#[derive(clap::Args, Debug)]
pub struct NetArgs {
    /// Socket timeout in seconds: a peer silent for longer ends its session with an error.
    #[arg(long, default_value_t = 60)]
    pub timeout: u64,
    /// Limit of one whole session in seconds (a peer cannot keep a session alive by
    /// trickling bytes).
    #[arg(long, default_value_t = 1800)]
    pub session_limit: u64,
    /// File holding the dealer's access token: the dealer then serves only joins
    /// authenticated with it (HMAC-SHA256), and the parties authenticate their joins with it.
    /// Surrounding white space is ignored.
    #[arg(long)]
    pub dealer_token_file: Option<PathBuf>,
    /// A certificate (PEM) to trust, beside the Mozilla roots, when connecting to a `wss://`
    /// server or dealer: e.g. a self-signed one.
    #[arg(long)]
    pub tls_ca: Option<PathBuf>,
}

impl NetArgs {
    /// The library's options.
    pub fn options(&self) -> Result<RemoteOptions> {
        if self.timeout == 0 || self.session_limit == 0 {
            return Err(Error::out_of_range(
                "--timeout, --session-limit",
                format!("{} s, {} s", self.timeout, self.session_limit),
                "at least 1 second each",
            ));
        }
        let client_tls = match &self.tls_ca {
            Some(p) => Some(client_tls(Some(p))?),
            None => None,
        };
        Ok(RemoteOptions {
            timeout: Duration::from_secs(self.timeout),
            session_limit: Duration::from_secs(self.session_limit),
            client_tls,
            ..RemoteOptions::default()
        })
    }

    /// The token, if a file was given; an empty or unreadable file is an error.
    pub fn token(&self) -> Result<Option<Vec<u8>>> {
        let Some(path) = &self.dealer_token_file else {
            return Ok(None);
        };
        let text = std::fs::read(path).map_err(|e| {
            Error::Usage(format!(
                "cannot read the token file {}: {e}",
                path.display()
            ))
        })?;
        let token = text.trim_ascii();
        if token.len() < 16 {
            return Err(Error::out_of_range(
                format!("the token in {}", path.display()),
                format!("{} bytes", token.len()),
                "at least 16 random bytes",
            ));
        }
        Ok(Some(token.to_vec()))
    }
}
