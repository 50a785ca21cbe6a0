//! Private inference across processes: the client (party 0, owns the images), the server
//! (party 1, owns the weights) and the dealer each run in their own process (or thread) and
//! talk over TCP.
//!
//! | file | concept |
//! |---|---|
//! | [`wire`] | control messages, size limits, session commitments, the dealer's access token |
//! | `link` | a connection to a named peer with timeouts, a session deadline, bounded buffers |
//! | [`dealer`] | `mpcvit dealer`: pairs joins, hands out seeds, streams corrections |
//! | [`server`] | `mpcvit serve`: party 1 with its model |
//! | [`client`] | `mpcvit classify`: party 0 with its images |
//! | [`load`] | `mpcvit bench serve`: concurrent clients against one server |
//!
//! **Trust model.** Semi-honest parties and a dealer that colludes with neither (README,
//! "Security model" and "Deploying"). The client chooses the dealer it trusts and refuses
//! the one the server proposes unless told to accept it; the server starts a dealer in its own
//! process only when asked to (`--demo-dealer`: that server could read the dealer's seeds and
//! unmask the image, and its hello says so).
//!
//! **Session.** One connection from the client to the server classifies one or more images,
//! with the weights shared once:
//!
//! 1. server -> client: [`wire::ServerHello`]: protocol version, the model's public architecture
//!    (config and plan), class names, session settings and the dealer it proposes. Nothing else
//!    of the manifest (its training record would let a client retrain the weights);
//! 2. client -> server: how many images and the client's session commitment; server -> dealer:
//!    its join (role 1); server -> client: ready, with the server's commitment (or an error,
//!    e.g. the dealer is unreachable); client -> dealer: its own join (role 0). Each join shows
//!    the party's own session key ([`wire`]), so neither party can join as the other;
//! 3. the dealer pairs the two joins, checks that they describe the same program, draws both
//!    dealer seeds from the OS and sends each party its own; then it runs the server's program
//!    on shapes only and streams party 1's corrections (dealer -> server only);
//! 4. both parties draw their private seeds from the OS and run the protocol programs of
//!    [`super::programs`] (weights shared once, then one forward per image); the logits are
//!    revealed to the client only;
//! 5. server -> client: the server's cost reports (counts and timings only).
//!
//! Every socket has a read and write timeout and a session deadline ([`RemoteOptions`]), every
//! control message a size limit checked before parsing, every frame a size limit checked
//! before allocation, and read-ahead is bounded, so a peer that dies, stalls, trickles or
//! floods ends its session with an error naming it, never a hang or unbounded memory.

pub mod client;
pub mod dealer;
mod link;
pub mod load;
pub mod server;
pub mod wire;

use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

pub use client::{DealerPolicy, RemoteClient};
pub use dealer::DealerServer;
pub use server::{DealerChoice, ModelServer};
pub use wire::{ServerHello, MAX_IMAGES, PROTOCOL};

use crate::{Error, Result};

/// Default timeout of one read or write.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// Default limit of one whole session.
pub const DEFAULT_SESSION_LIMIT: Duration = Duration::from_secs(30 * 60);

/// Default largest protocol frame: above the largest message of the paper's Tiny-ImageNet ViT.
pub const DEFAULT_MAX_FRAME: usize = 512 << 20;

/// Most connections a server or dealer handles at once; more are refused with an error.
pub const MAX_CONNECTIONS: usize = 64;

/// Limits shared by the three roles.
#[derive(Clone, Copy, Debug)]
pub struct RemoteOptions {
    /// Connect, read and write timeout of every socket: a peer silent for longer ends the
    /// session with an error.
    pub timeout: Duration,
    /// The whole session (connection) ends with an error after this long.
    pub session_limit: Duration,
    /// Largest frame accepted from a peer.
    pub max_frame: usize,
}

impl Default for RemoteOptions {
    fn default() -> Self {
        RemoteOptions {
            timeout: DEFAULT_TIMEOUT,
            session_limit: DEFAULT_SESSION_LIMIT,
            max_frame: DEFAULT_MAX_FRAME,
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

/// Resolves `addr`: `host:port`, or a bare port meaning `127.0.0.1:port`.
pub fn resolve(addr: &str) -> Result<SocketAddr> {
    let text = addr.trim();
    if let Ok(port) = text.parse::<u16>() {
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    text.to_socket_addrs()
        .map_err(|e| Error::Config(format!("cannot resolve address '{text}': {e}")))?
        .next()
        .ok_or_else(|| Error::Config(format!("'{text}' resolves to no address")))
}

/// Listens on `addr` (see [`resolve`]; port 0: an ephemeral port).
pub fn listen(addr: &str) -> Result<TcpListener> {
    let a = resolve(addr)?;
    TcpListener::bind(a).map_err(|e| Error::Config(format!("cannot listen on {a}: {e}")))
}

/// A log sink for the long-running roles (the CLI prints to stderr; tests collect lines).
pub type Log = Arc<dyn Fn(&str) + Send + Sync>;

/// A log that prints each line to stderr.
pub fn stderr_log() -> Log {
    Arc::new(|line: &str| eprintln!("{line}"))
}

/// What a service does with one accepted connection.
type Handler = Arc<dyn Fn(TcpStream, SocketAddr) -> Result<()> + Send + Sync>;

/// The accept loop of the server and the dealer: one thread per connection, at most
/// [`MAX_CONNECTIONS`] at once. With `max_connections`, returns after that many were handled,
/// with the first failure; without, runs for ever (failures are logged).
fn accept_loop(
    listener: TcpListener,
    max_connections: Option<usize>,
    role: &'static str,
    log: Log,
    handle: Handler,
) -> Result<()> {
    let live = Arc::new(AtomicUsize::new(0));
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
            refuse(stream, role);
            continue;
        }
        let (live, log, handle) = (live.clone(), log.clone(), handle.clone());
        let h = std::thread::spawn(move || {
            let r = handle(stream, from);
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

/// Tells an over-the-limit peer why it is dropped.
fn refuse(stream: TcpStream, role: &str) {
    let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
    if let Ok(t) = crate::mpc::tcp::TcpTransport::from_stream(stream) {
        let mut t = t;
        let m = wire::Control::Error {
            message: format!("the {role} is busy ({MAX_CONNECTIONS} sessions); try again later"),
        };
        if let Ok(bytes) = m.encode() {
            let _ = crate::mpc::Transport::send(&mut t, bytes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_resolve_with_a_bare_port_on_loopback() {
        assert_eq!(resolve("7000").unwrap(), "127.0.0.1:7000".parse().unwrap());
        assert!(resolve("[::1]:1").unwrap().ip().is_loopback());
        assert!(resolve("localhost:1").unwrap().ip().is_loopback());
        assert_eq!(
            resolve("10.1.2.3:9").unwrap(),
            "10.1.2.3:9".parse().unwrap()
        );
        let e = resolve("no port").unwrap_err().to_string();
        assert!(e.contains("cannot resolve"), "{e}");
    }
}
