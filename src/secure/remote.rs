//! Private inference across processes over TCP: the client (party 0, owns the images), the
//! server (party 1, owns the weights) and the dealer each run in their own process (or thread)
//! and talk over loopback TCP ([`crate::mpc::tcp::TcpTransport`]).
//!
//! **Trust model.** Semi-honest parties and a trusted dealer that colludes with neither
//! (README, "Security model"). The dealer must therefore be a third process, run by someone
//! both parties trust: [`DealerServer`] (`mpcvit dealer`). For demos the server can start the
//! dealer in one of its own threads ([`ModelServer::bind`] with an in-process dealer); the
//! server then *could* read the dealer's seeds and with them unmask the client's image, so the
//! server's hello says so and the client prints a warning.
//!
//! **Session.** One TCP connection from the client to the server classifies one or more
//! images, with the weights shared once:
//!
//! 1. server -> client: [`ServerHello`]: protocol version, session id, the model's *public*
//!    manifest (config, attention plan, class names, metrics; never the weights), the session
//!    configuration and the dealer's address;
//! 2. client -> server: how many images; server -> dealer: a join message (role 1, session
//!    id, config, plan, image count); server -> client: ready (or an error, e.g. the dealer is
//!    unreachable); client -> dealer: its own join (role 0);
//! 3. the dealer pairs the two joins by session id, checks that they describe the same
//!    program, draws both dealer seeds from the OS and sends each party its own
//!    ([`super::programs::seed_message`]); then it runs the server's program on shapes only
//!    and streams party 1's corrections (the offline traffic, dealer -> server only);
//! 4. both parties draw their private seeds from the OS and run the protocol programs of
//!    [`super::programs`] (weights shared once, then one forward per image); the logits are
//!    revealed to the client only;
//! 5. server -> client: the server's cost reports (counts and timings only), so the client's
//!    report shows both directions and the offline bytes as [`super::infer_local`] does.
//!
//! Control messages are JSON frames; protocol messages are the engine's checked frames. Every
//! socket has a read and write timeout ([`RemoteOptions::timeout`]), so a peer that dies or
//! stalls mid-protocol ends the session with an error naming it, never a hang. Only loopback
//! addresses are accepted (binding and connecting): this is a local demonstration of the
//! three-process deployment, not a hardened network service (no authentication, no TLS).

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use futures::future::LocalBoxFuture;
use serde::{Deserialize, Serialize};

use super::programs::{blind_infer, client_infer, parse_seed_message, seed_message};
use super::session::PrivateInference;
use super::weights::share_weights;
use crate::io::Manifest;
use crate::model::vit::Arch;
use crate::model::{Plan, ViT, ViTConfig};
use crate::mpc::tcp::TcpTransport;
use crate::mpc::{Dealer, DealerClient, Party, Report, Seed, SessionConfig, Transport};
use crate::{Error, Result};

/// Version string both ends check in the first message.
pub const PROTOCOL: &str = "mpcvit-tcp/1";

/// Most images one session may classify (the dealer streams every correction ahead of time,
/// and the server buffers them).
pub const MAX_IMAGES: usize = 100;

/// Default socket timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// Options shared by the three roles.
#[derive(Clone, Copy, Debug)]
pub struct RemoteOptions {
    /// Connect, read and write timeout of every socket: a peer silent for longer ends the
    /// session with an error.
    pub timeout: Duration,
}

impl Default for RemoteOptions {
    fn default() -> Self {
        RemoteOptions {
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

/// Resolves `addr` (`host:port`, or a bare port meaning `127.0.0.1:port`) to a loopback
/// socket address; anything that is not loopback is refused.
pub fn loopback_addr(addr: &str) -> Result<SocketAddr> {
    let text = addr.trim();
    if let Ok(port) = text.parse::<u16>() {
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    let all: Vec<SocketAddr> = text
        .to_socket_addrs()
        .map_err(|e| Error::Config(format!("cannot resolve address '{text}': {e}")))?
        .collect();
    all.iter()
        .find(|a| a.ip().is_loopback())
        .copied()
        .ok_or_else(|| {
            Error::Config(format!(
                "'{text}' is not a loopback address: only 127.0.0.1, ::1 and localhost are \
                 supported"
            ))
        })
}

/// The server's first message.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ServerHello {
    pub protocol: String,
    /// Random, names the session at the dealer.
    pub session_id: String,
    /// The model's public manifest: config, plan, metrics (never weights).
    pub manifest: Manifest,
    /// Class names of the model's dataset, when known.
    pub class_names: Option<Vec<String>>,
    pub session: SessionConfig,
    /// Where both parties get their correlations.
    pub dealer: String,
    /// Whether that dealer runs inside the server process (demo trust model).
    pub dealer_in_server: bool,
}

/// A party's first message to the dealer.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Join {
    protocol: String,
    role: usize,
    session_id: String,
    config: ViTConfig,
    plan: Plan,
    images: usize,
    session: SessionConfig,
}

impl Join {
    /// What both parties' joins must agree on.
    fn program(&self) -> serde_json::Value {
        serde_json::json!([self.config, self.plan, self.images, self.session])
    }
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Control {
    Hello(Box<ServerHello>),
    Request { images: usize },
    Join(Box<Join>),
    Ready,
    Reports { reports: Vec<Report> },
    Error { message: String },
}

impl Control {
    fn kind(&self) -> &'static str {
        match self {
            Control::Hello(_) => "hello",
            Control::Request { .. } => "request",
            Control::Join(_) => "join",
            Control::Ready => "ready",
            Control::Reports { .. } => "reports",
            Control::Error { .. } => "error",
        }
    }
}

const ERROR_PREFIX: &[u8] = b"{\"type\":\"error\"";

fn message_of(e: Error) -> String {
    match e {
        Error::Protocol(m) => m,
        other => other.to_string(),
    }
}

fn socket(stream: &TcpStream, timeout: Duration) -> Result<()> {
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    Ok(())
}

/// A TCP connection to a named peer. Cloning shares it: the protocol party borrows it as its
/// transport and control messages go through it before and after. Errors name the peer. While
/// a receive is pending the connection is out of its slot (no borrow is held across the wait);
/// a receive future dropped before completion closes the connection.
#[derive(Clone)]
struct Link {
    inner: Rc<RefCell<Option<TcpTransport>>>,
    peer: Rc<str>,
    timeout: Duration,
}

impl Link {
    fn new(t: TcpTransport, peer: String, timeout: Duration) -> Link {
        Link {
            inner: Rc::new(RefCell::new(Some(t))),
            peer: peer.into(),
            timeout,
        }
    }

    fn connect(addr: SocketAddr, what: &str, timeout: Duration) -> Result<Link> {
        let stream = TcpStream::connect_timeout(&addr, timeout)
            .map_err(|e| Error::Protocol(format!("cannot reach the {what} at {addr}: {e}")))?;
        socket(&stream, timeout)?;
        Ok(Link::new(
            TcpTransport::from_stream(stream)?,
            format!("the {what} at {addr}"),
            timeout,
        ))
    }

    fn context(peer: &str, timeout: Duration, e: Error) -> Error {
        Error::Protocol(format!(
            "connection to {peer} failed: {} (the peer stopped, closed the connection, or sent \
             nothing for {} s)",
            message_of(e),
            timeout.as_secs_f64()
        ))
    }

    fn fail(&self, e: Error) -> Error {
        Link::context(&self.peer, self.timeout, e)
    }

    fn recv_blocking(&self) -> Result<Vec<u8>> {
        futures::executor::block_on(self.clone().recv())
    }

    fn send_frame(&self, frame: Vec<u8>) -> Result<()> {
        let mut slot = self.inner.borrow_mut();
        let t = slot
            .as_mut()
            .ok_or_else(|| self.fail(Error::Protocol("connection busy or closed".into())))?;
        t.send(frame).map_err(|e| self.fail(e))
    }

    fn send_control(&self, c: &Control) -> Result<()> {
        self.send_frame(serde_json::to_vec(c)?)
    }

    /// The next control message; an error message from the peer becomes an error here.
    fn recv_control(&self, expect: &str) -> Result<Control> {
        let frame = self.recv_blocking()?;
        let c: Control = serde_json::from_slice(&frame).map_err(|e| {
            Error::Protocol(format!(
                "{} sent a malformed {expect} message ({} bytes): {e}",
                self.peer,
                frame.len()
            ))
        })?;
        match c {
            Control::Error { message } => Err(Error::Protocol(format!(
                "{} reported an error: {message}",
                self.peer
            ))),
            c if c.kind() == expect => Ok(c),
            c => Err(Error::Protocol(format!(
                "{} sent a {} message where a {expect} message was expected",
                self.peer,
                c.kind()
            ))),
        }
    }

    /// The dealer's seed message (or its error).
    fn recv_seed(&self) -> Result<Seed> {
        let frame = self.recv_blocking()?;
        parse_seed_message(&frame).map_err(|e| self.fail(e))
    }
}

impl Transport for Link {
    fn send(&mut self, frame: Vec<u8>) -> Result<()> {
        self.send_frame(frame)
    }

    fn recv(&mut self) -> LocalBoxFuture<'_, Result<Vec<u8>>> {
        let (inner, peer, timeout) = (self.inner.clone(), self.peer.clone(), self.timeout);
        Box::pin(async move {
            let taken = inner.borrow_mut().take();
            let mut t = taken.ok_or_else(|| {
                Link::context(
                    &peer,
                    timeout,
                    Error::Protocol("connection busy or closed".into()),
                )
            })?;
            let got = t.recv().await;
            *inner.borrow_mut() = Some(t);
            let frame = got.map_err(|e| Link::context(&peer, timeout, e))?;
            // A peer that fails mid-protocol says why instead of sending its next frame.
            if frame.starts_with(ERROR_PREFIX) {
                if let Ok(Control::Error { message }) = serde_json::from_slice(&frame) {
                    return Err(Error::Protocol(format!(
                        "{peer} reported an error: {message}"
                    )));
                }
            }
            Ok(frame)
        })
    }
}

fn session_id() -> Result<String> {
    let s = Seed::from_os()?;
    Ok(s.0[..16].iter().map(|b| format!("{b:02x}")).collect())
}

fn bind_loopback(port: u16) -> Result<TcpListener> {
    TcpListener::bind(("127.0.0.1", port))
        .map_err(|e| Error::Config(format!("cannot listen on 127.0.0.1:{port}: {e}")))
}

/// A log sink for the long-running roles (the CLI prints to stderr; tests collect lines).
pub type Log = Arc<dyn Fn(&str) + Send + Sync>;

/// A log that prints each line to stderr.
pub fn stderr_log() -> Log {
    Arc::new(|line: &str| eprintln!("{line}"))
}

// ---------------------------------------------------------------------------------------------
// Dealer

struct Waiting {
    join: Join,
    transport: TcpTransport,
    since: Instant,
}

type Pending = Arc<Mutex<HashMap<String, Waiting>>>;

/// The dealer as a TCP service: pairs the two parties of each session, gives each its seed
/// and streams the server's corrections.
pub struct DealerServer {
    listener: TcpListener,
    opts: RemoteOptions,
}

impl DealerServer {
    /// Listens on `127.0.0.1:port` (0: an ephemeral port, see [`DealerServer::local_addr`]).
    pub fn bind(port: u16, opts: RemoteOptions) -> Result<DealerServer> {
        Ok(DealerServer {
            listener: bind_loopback(port)?,
            opts,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> Result<SocketAddr> {
        Ok(self.listener.local_addr()?)
    }

    /// Serves sessions; with `max_sessions`, returns after that many sessions' connections
    /// (two per session) have been handled.
    pub fn run(self, max_sessions: Option<usize>, log: Log) -> Result<()> {
        let pending: Pending = Arc::new(Mutex::new(HashMap::new()));
        let mut handlers = Vec::new();
        let limit = max_sessions.map(|n| 2 * n);
        let mut accepted = 0usize;
        while limit.is_none_or(|l| accepted < l) {
            let (stream, from) = match self.listener.accept() {
                Ok(x) => x,
                Err(e) => {
                    log(&format!("dealer: accept failed: {e}"));
                    // E.g. out of file descriptors: do not spin.
                    std::thread::sleep(Duration::from_millis(100));
                    continue;
                }
            };
            accepted += 1;
            let (pending, log, opts) = (pending.clone(), log.clone(), self.opts);
            let h = std::thread::spawn(move || {
                if let Err(e) = dealer_connection(stream, &pending, opts, &log) {
                    log(&format!("dealer: connection from {from}: {e}"));
                }
            });
            if limit.is_some() {
                handlers.push(h);
            }
        }
        for h in handlers {
            let _ = h.join();
        }
        Ok(())
    }

    /// Runs [`DealerServer::run`] in a new thread.
    pub fn spawn(self, max_sessions: Option<usize>, log: Log) -> JoinHandle<Result<()>> {
        std::thread::spawn(move || self.run(max_sessions, log))
    }
}

fn send_error(t: &mut TcpTransport, message: &str) {
    if let Ok(bytes) = serde_json::to_vec(&Control::Error {
        message: message.into(),
    }) {
        let _ = t.send(bytes);
    }
}

fn dealer_connection(
    stream: TcpStream,
    pending: &Pending,
    opts: RemoteOptions,
    log: &Log,
) -> Result<()> {
    socket(&stream, opts.timeout)?;
    let mut t = TcpTransport::from_stream(stream)?;
    let frame = futures::executor::block_on(t.recv())
        .map_err(|e| Link::context("a party", opts.timeout, e))?;
    let join = match serde_json::from_slice::<Control>(&frame) {
        Ok(Control::Join(j)) => *j,
        _ => {
            send_error(&mut t, "expected a join message");
            return Err(Error::Protocol("the first message was not a join".into()));
        }
    };
    let problem = if join.protocol != PROTOCOL {
        Some(format!(
            "protocol '{}' is not supported (the dealer speaks {PROTOCOL})",
            join.protocol
        ))
    } else if join.role > 1 {
        Some(format!(
            "role {} is not 0 (client) or 1 (server)",
            join.role
        ))
    } else if join.images == 0 || join.images > MAX_IMAGES {
        Some(format!(
            "{} images per session; 1 to {MAX_IMAGES} are allowed",
            join.images
        ))
    } else {
        join.plan
            .validate(&join.config)
            .err()
            .map(|e| format!("the plan does not fit the config: {e}"))
    };
    if let Some(p) = problem {
        send_error(&mut t, &p);
        return Err(Error::Protocol(p));
    }
    // The first party of a session waits in the map; the second runs the session.
    let other = {
        let mut map = pending
            .lock()
            .map_err(|_| Error::Protocol("dealer state poisoned".into()))?;
        map.retain(|_, w| w.since.elapsed() < opts.timeout);
        match map.remove(&join.session_id) {
            Some(w) if w.join.role != join.role => w,
            Some(w) => {
                let p = format!(
                    "session {} already has a party {}",
                    join.session_id, join.role
                );
                map.insert(join.session_id.clone(), w);
                send_error(&mut t, &p);
                return Err(Error::Protocol(p));
            }
            None => {
                map.insert(
                    join.session_id.clone(),
                    Waiting {
                        join,
                        transport: t,
                        since: Instant::now(),
                    },
                );
                return Ok(());
            }
        }
    };
    let (mut t0, j0, mut t1, j1) = if join.role == 0 {
        (t, join, other.transport, other.join)
    } else {
        (other.transport, other.join, t, join)
    };
    if j0.program() != j1.program() {
        let p = format!(
            "session {}: the client and the server describe different programs (config, plan, \
             image count or session settings differ)",
            j1.session_id
        );
        send_error(&mut t0, &p);
        send_error(&mut t1, &p);
        return Err(Error::Protocol(p));
    }
    let (s0, s1) = (Seed::from_os()?, Seed::from_os()?);
    t0.send(seed_message(&s0))?;
    t1.send(seed_message(&s1))?;
    drop(t0);
    let mut d = Party::dealer(j1.session, Dealer::new(s0, s1), Box::new(t1));
    let arch = Arch::from_plan(&j1.config, &j1.plan);
    let (cfg, plan, n) = (&j1.config, &j1.plan, j1.images);
    futures::executor::block_on(async {
        let w = share_weights(&mut d, cfg, plan, None).await?;
        for _ in 0..n {
            blind_infer(&mut d, cfg, &arch, &w).await?;
        }
        Ok::<(), Error>(())
    })?;
    let offline = d.meter.report().total().offline_bytes();
    log(&format!(
        "dealer: session {}: {n} image(s), {:.2} MB of corrections streamed to the server",
        j1.session_id,
        offline as f64 / 1e6
    ));
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Server

/// Party 1 as a TCP service: serves private classifications with its model.
pub struct ModelServer {
    listener: TcpListener,
    vit: Arc<ViT>,
    manifest: Arc<Manifest>,
    class_names: Option<Vec<String>>,
    dealer: SocketAddr,
    dealer_in_server: bool,
    opts: RemoteOptions,
    session: SessionConfig,
}

/// Where the server's dealer is.
#[derive(Clone, Copy, Debug)]
pub enum DealerChoice {
    /// A separate dealer process at this (loopback) address: the deployment the trust model
    /// assumes.
    Remote(SocketAddr),
    /// A dealer thread inside the server process, for demos: the server could learn the
    /// client's inputs from it, and the hello tells the client so.
    InProcess,
}

impl ModelServer {
    /// Listens on `127.0.0.1:port` (0: ephemeral) with `vit` (described by `manifest`, whose
    /// config and plan must be the model's). With [`DealerChoice::InProcess`] a dealer thread
    /// is started on an ephemeral loopback port.
    pub fn bind(
        port: u16,
        vit: ViT,
        manifest: Manifest,
        class_names: Option<Vec<String>>,
        dealer: DealerChoice,
        opts: RemoteOptions,
        log: Log,
    ) -> Result<ModelServer> {
        if serde_json::to_value(&manifest.config)? != serde_json::to_value(&vit.config)?
            || serde_json::to_value(&manifest.plan)? != serde_json::to_value(&vit.plan)?
        {
            return Err(Error::Model(
                "the manifest's config and plan are not the model's".into(),
            ));
        }
        manifest.validate()?;
        let listener = bind_loopback(port)?;
        let (dealer, dealer_in_server) = match dealer {
            DealerChoice::Remote(a) => (a, false),
            DealerChoice::InProcess => {
                let d = DealerServer::bind(0, opts)?;
                let a = d.local_addr()?;
                d.spawn(None, log);
                (a, true)
            }
        };
        Ok(ModelServer {
            listener,
            vit: Arc::new(vit),
            manifest: Arc::new(manifest),
            class_names,
            dealer,
            dealer_in_server,
            opts,
            session: SessionConfig::default(),
        })
    }

    /// The session configuration clients are told to use (default: 16 fractional bits, local
    /// truncation).
    pub fn with_session(mut self, session: SessionConfig) -> Self {
        self.session = session;
        self
    }

    /// The bound address.
    pub fn local_addr(&self) -> Result<SocketAddr> {
        Ok(self.listener.local_addr()?)
    }

    /// The dealer this server uses.
    pub fn dealer_addr(&self) -> SocketAddr {
        self.dealer
    }

    /// Serves clients, one thread per connection; with `max_sessions`, returns after that many
    /// connections were served (reporting the first failure, if any).
    pub fn run(self, max_sessions: Option<usize>, log: Log) -> Result<()> {
        let shared = Arc::new(self);
        let mut handlers = Vec::new();
        let mut accepted = 0usize;
        while max_sessions.is_none_or(|l| accepted < l) {
            let (stream, from) = match shared.listener.accept() {
                Ok(x) => x,
                Err(e) => {
                    log(&format!("server: accept failed: {e}"));
                    // E.g. out of file descriptors: do not spin.
                    std::thread::sleep(Duration::from_millis(100));
                    continue;
                }
            };
            accepted += 1;
            let (me, log) = (shared.clone(), log.clone());
            let h = std::thread::spawn(move || {
                let t0 = Instant::now();
                let r = me.serve_connection(stream);
                match &r {
                    Ok(n) => log(&format!(
                        "server: {from}: classified {n} image(s) privately in {:.2} s",
                        t0.elapsed().as_secs_f64()
                    )),
                    Err(e) => log(&format!("server: session with {from} failed: {e}")),
                }
                r.map(|_| ())
            });
            if max_sessions.is_some() {
                handlers.push(h);
            }
        }
        let mut first = Ok(());
        for h in handlers {
            let r = h
                .join()
                .unwrap_or_else(|_| Err(Error::Protocol("a session thread panicked".into())));
            if first.is_ok() {
                first = r;
            }
        }
        first
    }

    /// Runs [`ModelServer::run`] in a new thread.
    pub fn spawn(self, max_sessions: Option<usize>, log: Log) -> JoinHandle<Result<()>> {
        std::thread::spawn(move || self.run(max_sessions, log))
    }

    fn serve_connection(&self, stream: TcpStream) -> Result<usize> {
        let from = stream.peer_addr()?;
        socket(&stream, self.opts.timeout)?;
        let client = Link::new(
            TcpTransport::from_stream(stream)?,
            format!("the client at {from}"),
            self.opts.timeout,
        );
        let sid = session_id()?;
        let session = self.session;
        let (cfg, plan) = (&self.vit.config, &self.vit.plan);
        client.send_control(&Control::Hello(Box::new(ServerHello {
            protocol: PROTOCOL.into(),
            session_id: sid.clone(),
            manifest: (*self.manifest).clone(),
            class_names: self.class_names.clone(),
            session,
            dealer: self.dealer.to_string(),
            dealer_in_server: self.dealer_in_server,
        })))?;
        let Control::Request { images: n } = client.recv_control("request")? else {
            unreachable!("recv_control checks the kind")
        };
        if n == 0 || n > MAX_IMAGES {
            let m = format!("{n} images per session; 1 to {MAX_IMAGES} are allowed");
            client.send_control(&Control::Error { message: m.clone() })?;
            return Err(Error::Protocol(m));
        }
        let joined = Link::connect(self.dealer, "dealer", self.opts.timeout).and_then(|d| {
            d.send_control(&Control::Join(Box::new(Join {
                protocol: PROTOCOL.into(),
                role: 1,
                session_id: sid.clone(),
                config: cfg.clone(),
                plan: plan.clone(),
                images: n,
                session,
            })))?;
            Ok(d)
        });
        let dealer = match joined {
            Ok(d) => d,
            Err(e) => {
                let m = format!("the server cannot use its dealer: {e}");
                client.send_control(&Control::Error { message: m.clone() })?;
                return Err(Error::Protocol(m));
            }
        };
        client.send_control(&Control::Ready)?;
        let seed = match dealer.recv_seed() {
            Ok(s) => s,
            Err(e) => {
                client.send_control(&Control::Error {
                    message: format!("the server got no seed from its dealer: {e}"),
                })?;
                return Err(e);
            }
        };
        let mut p = Party::new(
            1,
            session,
            Box::new(client.clone()),
            DealerClient::party1_remote(seed, Box::new(dealer.clone())),
            Seed::from_os()?,
        )?;
        let vit = &self.vit;
        let run = futures::executor::block_on(async {
            let w = share_weights(&mut p, cfg, plan, Some(&vit.params)).await?;
            let mut reports = Vec::with_capacity(n);
            for _ in 0..n {
                blind_infer(&mut p, cfg, vit.arch(), &w).await?;
                reports.push(p.meter.report());
                p.meter.reset();
            }
            Ok::<_, Error>(reports)
        });
        drop(p);
        match run {
            Ok(reports) => {
                client.send_control(&Control::Reports { reports })?;
                Ok(n)
            }
            Err(e) => {
                // Best effort: the client may be the one that went away.
                let _ = client.send_control(&Control::Error {
                    message: format!("the server stopped: {e}"),
                });
                Err(e)
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Client

/// Party 0 connected to a server, after its hello.
pub struct RemoteClient {
    server: Link,
    hello: ServerHello,
    opts: RemoteOptions,
}

impl RemoteClient {
    /// Connects to the server at `addr` (loopback only) and reads its hello.
    pub fn connect(addr: &str, opts: RemoteOptions) -> Result<RemoteClient> {
        let a = loopback_addr(addr)?;
        let server = Link::connect(a, "server", opts.timeout)?;
        let Control::Hello(hello) = server.recv_control("hello")? else {
            unreachable!("recv_control checks the kind")
        };
        if hello.protocol != PROTOCOL {
            return Err(Error::Protocol(format!(
                "the server speaks '{}', this client {PROTOCOL}",
                hello.protocol
            )));
        }
        hello.manifest.validate()?;
        Ok(RemoteClient {
            server,
            hello: *hello,
            opts,
        })
    }

    /// What the server announced: the public manifest, class names, dealer.
    pub fn hello(&self) -> &ServerHello {
        &self.hello
    }

    /// The model's public manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.hello.manifest
    }

    /// Classifies `images` (each `channels * size * size` values in `[0, 1]`, as the
    /// manifest's config says) privately in one session: weights shared once, then one
    /// private forward per image. `dealer`, when given, must be the dealer the server uses
    /// (the client insists on the dealer it trusts); otherwise the server's is taken.
    pub fn classify(
        self,
        images: &[Vec<f32>],
        dealer: Option<&str>,
    ) -> Result<Vec<PrivateInference>> {
        let cfg = &self.hello.manifest.config;
        let plan = &self.hello.manifest.plan;
        if images.is_empty() || images.len() > MAX_IMAGES {
            return Err(Error::Config(format!(
                "{} images: one session classifies 1 to {MAX_IMAGES}",
                images.len()
            )));
        }
        for (i, img) in images.iter().enumerate() {
            if img.len() != cfg.input_len() {
                return Err(Error::Shape(format!(
                    "image {i} has {} values; the model expects {} ({} channel(s) of {}x{})",
                    img.len(),
                    cfg.input_len(),
                    cfg.channels,
                    cfg.image_size,
                    cfg.image_size
                )));
            }
        }
        let advertised = loopback_addr(&self.hello.dealer)?;
        if let Some(want) = dealer {
            let want = loopback_addr(want)?;
            if want != advertised {
                return Err(Error::Config(format!(
                    "the server uses the dealer at {advertised}, not {want}: both parties must \
                     use the same dealer"
                )));
            }
        }
        let server = &self.server;
        server.send_control(&Control::Request {
            images: images.len(),
        })?;
        server.recv_control("ready")?;
        let seed = {
            let d = Link::connect(advertised, "dealer", self.opts.timeout)?;
            d.send_control(&Control::Join(Box::new(Join {
                protocol: PROTOCOL.into(),
                role: 0,
                session_id: self.hello.session_id.clone(),
                config: cfg.clone(),
                plan: plan.clone(),
                images: images.len(),
                session: self.hello.session,
            })))?;
            d.recv_seed()?
        };
        plan.validate(cfg)?;
        let arch = Arch::from_plan(cfg, plan);
        let mut p = Party::new(
            0,
            self.hello.session,
            Box::new(server.clone()),
            DealerClient::party0(seed),
            Seed::from_os()?,
        )?;
        let mine = futures::executor::block_on(async {
            let w = share_weights(&mut p, cfg, plan, None).await?;
            let mut out = Vec::with_capacity(images.len());
            for img in images {
                let logits = client_infer(&mut p, cfg, &arch, &w, img).await?;
                out.push((logits, p.meter.report()));
                p.meter.reset();
            }
            Ok::<_, Error>(out)
        })?;
        drop(p);
        let Control::Reports { reports } = server.recv_control("reports")? else {
            unreachable!("recv_control checks the kind")
        };
        if reports.len() != mine.len() {
            return Err(Error::Protocol(format!(
                "the server sent {} reports for {} images",
                reports.len(),
                mine.len()
            )));
        }
        Ok(mine
            .into_iter()
            .zip(reports)
            .map(|((logits, r0), r1)| PrivateInference::from_parts(logits, &r0, &r1))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_addresses() {
        assert_eq!(
            loopback_addr("7000").unwrap(),
            "127.0.0.1:7000".parse().unwrap()
        );
        assert!(loopback_addr("127.0.0.1:1").is_ok());
        assert!(loopback_addr("[::1]:1").is_ok());
        assert!(loopback_addr("localhost:1").unwrap().ip().is_loopback());
        let e = loopback_addr("8.8.8.8:53").unwrap_err().to_string();
        assert!(e.contains("not a loopback address"), "{e}");
        assert!(loopback_addr("no port").is_err());
    }

    #[test]
    fn control_messages_round_trip() {
        let c = Control::Error {
            message: "x".into(),
        };
        let bytes = serde_json::to_vec(&c).unwrap();
        assert!(bytes.starts_with(ERROR_PREFIX));
        let r: Control =
            serde_json::from_slice(&serde_json::to_vec(&Control::Ready).unwrap()).unwrap();
        assert_eq!(r.kind(), "ready");
    }
}
