//! What the server and the dealer share as services: the session limits ([`RemoteOptions`]), the
//! log sink, and the accept loop (one thread per connection, a cap on how many at once).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use tokio_rustls::rustls;

use super::endpoint::Listener;
use super::link::Link;
use super::wire;
use crate::{Error, Result};

/// Default timeout of one read or write.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// Default limit of one whole session.
pub const DEFAULT_SESSION_LIMIT: Duration = Duration::from_secs(30 * 60);

/// Default largest protocol frame: above the largest message of the paper's Tiny-ImageNet ViT.
pub const DEFAULT_MAX_FRAME: usize = 512 << 20;

/// Most connections a server or dealer handles at once; more are refused with an error.
pub const MAX_CONNECTIONS: usize = 64;

/// Limits shared by the three roles, and how a client checks `wss://` servers.
#[derive(Clone, Debug)]
pub struct RemoteOptions {
    /// Connect, read and write timeout of every socket: a peer silent for longer ends the
    /// session with an error.
    pub timeout: Duration,
    /// The whole session (connection) ends with an error after this long.
    pub session_limit: Duration,
    /// Largest frame accepted from a peer.
    pub max_frame: usize,
    /// TLS configuration for `wss://` peers this process connects to; `None`: the Mozilla
    /// roots ([`super::client_tls`]).
    pub client_tls: Option<Arc<rustls::ClientConfig>>,
}

impl Default for RemoteOptions {
    fn default() -> Self {
        RemoteOptions {
            timeout: DEFAULT_TIMEOUT,
            session_limit: DEFAULT_SESSION_LIMIT,
            max_frame: DEFAULT_MAX_FRAME,
            client_tls: None,
        }
    }
}

impl RemoteOptions {
    /// The defaults with another read / write timeout.
    pub fn with_timeout(timeout: Duration) -> Self {
        RemoteOptions {
            timeout,
            ..RemoteOptions::default()
        }
    }
}

/// A log sink for the long-running roles (the CLI prints to stderr; tests collect lines).
pub type Log = Arc<dyn Fn(&str) + Send + Sync>;

/// A log that prints each line to stderr.
pub fn stderr_log() -> Log {
    Arc::new(|line: &str| eprintln!("{line}"))
}

/// What a service does with one opened connection (its peer's address beside it).
pub(super) type Handler = Arc<dyn Fn(Link, SocketAddr) -> Result<()> + Send + Sync>;

/// The accept loop of the server and the dealer: one thread per connection, at most
/// [`MAX_CONNECTIONS`] at once; each connection's handshake (WebSocket, TLS) runs on its own
/// thread. `peer` names the other side in messages ("client", "party"). With
/// `max_connections`, returns after that many were handled, with the first failure; without,
/// runs for ever (failures are logged).
pub(super) fn accept_loop(
    listener: Listener,
    max_connections: Option<usize>,
    (role, peer): (&'static str, &'static str),
    opts: &RemoteOptions,
    log: Log,
    handle: Handler,
) -> Result<()> {
    let live = Arc::new(AtomicUsize::new(0));
    let opener = listener.opener();
    let mut handlers: Vec<JoinHandle<Result<()>>> = Vec::new();
    let mut accepted = 0usize;
    while max_connections.is_none_or(|l| accepted < l) {
        let (stream, from) = match listener.accept() {
            Ok(x) => x,
            Err(e) => {
                log(&format!("{role}: accept failed: {e}"));
                // E.g. out of file descriptors: do not spin.
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
        };
        accepted += 1;
        if live.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
            live.fetch_sub(1, Ordering::SeqCst);
            log(&format!(
                "{role}: refused {from}: {MAX_CONNECTIONS} connections are open"
            ));
            let busy = wire::Control::Error {
                message: format!(
                    "the {role} is busy ({MAX_CONNECTIONS} sessions); try again later"
                ),
            };
            if let Ok(bytes) = busy.encode() {
                opener.refuse(stream, bytes);
            }
            continue;
        }
        let (live, log, handle) = (live.clone(), log.clone(), handle.clone());
        let (opener, opts) = (opener.clone(), opts.clone());
        let h = std::thread::spawn(move || {
            let r = opener
                .open(stream, format!("the {peer} at {from}"), &opts)
                .and_then(|link| handle(link, from));
            live.fetch_sub(1, Ordering::SeqCst);
            if let Err(e) = &r {
                log(&format!("{role}: connection from {from}: {e}"));
            }
            r
        });
        if max_connections.is_some() {
            handlers.push(h);
        }
    }
    let mut first = Ok(());
    for h in handlers {
        let r = h
            .join()
            .unwrap_or_else(|_| Err(Error::Protocol("a connection thread panicked".into())));
        if first.is_ok() {
            first = r;
        }
    }
    first
}
