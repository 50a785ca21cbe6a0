//! The session options every private command shares: truncation and protocol family.

use mpcvit::mpc::{ProtocolFamily, SessionConfig, TruncMode};
use mpcvit::Result;

/// `--trunc` and `--protocols`, flattened into `agree`, `serve`, `report` and `bench paper`.
#[derive(clap::Args, Debug, Clone)]
pub struct SessionArgs {
    /// Truncation protocol: `local` (SecureML / CrypTen, no communication, fails with
    /// probability about 2^-31 per element) or `exact` (one round, never fails).
    #[arg(long, default_value = "local", value_parser = ["local", "exact"])]
    pub trunc: String,
    /// Protocol family for signs and comparisons: `classic` (boolean circuits on Beaver
    /// triples) or `fss` (one-round DCF gates; the dealer streams keys to both parties).
    #[arg(long, default_value = "classic", value_parser = parse_family)]
    pub protocols: ProtocolFamily,
}

/// The family's names are the library's ([`ProtocolFamily::from_name`]), not a second list.
fn parse_family(name: &str) -> std::result::Result<ProtocolFamily, String> {
    ProtocolFamily::from_name(name).map_err(|e| e.to_string())
}

impl SessionArgs {
    /// The session configuration these options name.
    pub fn config(&self) -> Result<SessionConfig> {
        Ok(SessionConfig {
            trunc: if self.trunc == "exact" {
                TruncMode::Exact
            } else {
                TruncMode::Local
            },
            family: self.protocols,
            ..SessionConfig::default()
        })
    }
}
