//! Private inference across processes: the client (party 0, owns the images), the server
//! (party 1, owns the weights) and the dealer each run in their own process (or thread, or
//! browser tab) and talk over TCP or WebSocket.
//!
//! | file | concept |
//! |---|---|
//! | [`wire`] | control messages, size limits, session commitments, the dealer's access token |
//! | [`session`] | the client's half of a session over any transport (native and the page) |
//! | [`endpoint`] | addresses (`host:port`, `ws://`, `wss://`), listeners, TLS configuration |
//! | `link` | a connection to a named peer with timeouts, a session deadline, bounded buffers |
//! | [`dealer`] | `mpcvit dealer`: pairs joins, hands out seeds, streams corrections |
//! | `service` | the options and the accept loop the server and the dealer share |
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
//!    on shapes only and streams party 1's corrections (dealer -> server only) and, when the
//!    session's protocol family is FSS, each party's key bundles;
//! 4. both parties draw their private seeds from the OS and run the protocol programs of
//!    [`super::programs`] (weights shared once, then one forward per image); the logits are
//!    revealed to the client only;
//! 5. server -> client: the server's cost reports (counts and timings only).
//!
//! Every socket has a read and write timeout and a session deadline ([`RemoteOptions`]), every
//! control message a size limit checked before parsing, every frame a size limit checked
//! before allocation, and read-ahead is bounded, so a peer that dies, stalls, trickles or
//! floods ends its session with an error naming it, never a hang or unbounded memory.

pub mod session;
pub mod wire;

#[cfg(not(target_arch = "wasm32"))]
pub mod client;
#[cfg(not(target_arch = "wasm32"))]
pub mod dealer;
#[cfg(not(target_arch = "wasm32"))]
pub mod endpoint;
#[cfg(not(target_arch = "wasm32"))]
mod link;
#[cfg(not(target_arch = "wasm32"))]
pub mod load;
#[cfg(not(target_arch = "wasm32"))]
pub mod server;
#[cfg(not(target_arch = "wasm32"))]
mod service;

#[cfg(not(target_arch = "wasm32"))]
pub use client::RemoteClient;
#[cfg(not(target_arch = "wasm32"))]
pub use dealer::DealerServer;
#[cfg(not(target_arch = "wasm32"))]
pub use endpoint::{client_tls, server_tls, Endpoint, Listener};
#[cfg(not(target_arch = "wasm32"))]
pub use server::{DealerChoice, ModelServer};
#[cfg(not(target_arch = "wasm32"))]
use service::accept_loop;
#[cfg(not(target_arch = "wasm32"))]
pub use service::{
    stderr_log, Log, RemoteOptions, DEFAULT_MAX_FRAME, DEFAULT_SESSION_LIMIT, DEFAULT_TIMEOUT,
    MAX_CONNECTIONS,
};
pub use session::DealerPolicy;
pub use wire::{ServerHello, MAX_IMAGES, PROTOCOL};
