//! `mpcvit serve`: party 1, who owns the weights, serving private classifications.
//!
//! What the server sends a client: the hello (public architecture, class names, session
//! settings, proposed dealer), its session commitment, protocol frames (shares and masked
//! values), and its cost reports (counts and timings). What it receives: the client's request
//! and commitment, and protocol frames; from the dealer, its seed and its corrections.

use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use tokio_rustls::rustls;

use super::dealer::DealerServer;
use super::endpoint::{Endpoint, Listener};
use super::link::Link;
use super::wire::{Control, Join, Kind, ServerHello, SessionKey, MAX_IMAGES, PROTOCOL};
use super::{accept_loop, Log, RemoteOptions};
use crate::model::ViT;
use crate::mpc::setup::seeded_party;
use crate::mpc::{Report, Seed, SessionConfig};
use crate::secure::programs::blind_infer;
use crate::secure::weights::share_weights;
use crate::{Error, Result};

/// Where the server's dealer is.
#[derive(Clone, Debug)]
pub enum DealerChoice {
    /// A separate dealer process: the deployment the trust model assumes.
    Remote(Endpoint),
    /// A dealer thread inside the server process, for demos only: the server could learn the
    /// client's inputs from it, and the hello tells the client so.
    InProcess,
}

/// Party 1 as a network service (TCP or WebSocket).
pub struct ModelServer {
    listener: Listener,
    shared: Session,
}

impl ModelServer {
    /// Listens at `addr` (see [`Endpoint::parse`]: `host:port`, a bare port on 127.0.0.1,
    /// `ws://host:port`, or `wss://host:port` with `tls`; port 0: ephemeral) with `vit`. Clients
    /// learn its config, plan and `class_names`, nothing else. With [`DealerChoice::InProcess`] a
    /// dealer thread is started on an ephemeral loopback port of the same transport.
    pub fn bind(
        addr: &str,
        tls: Option<Arc<rustls::ServerConfig>>,
        vit: ViT,
        class_names: Option<Vec<String>>,
        dealer: DealerChoice,
        opts: RemoteOptions,
        log: Log,
    ) -> Result<ModelServer> {
        vit.config.validate()?;
        vit.plan.validate(&vit.config)?;
        let listener = Listener::bind(addr, tls)?;
        let (dealer, dealer_in_server) = match dealer {
            DealerChoice::Remote(a) => (a, false),
            DealerChoice::InProcess => {
                // The same transport as the server's, so a browser client can reach it too
                // (plain: it is a loopback demo).
                let at = match Endpoint::parse(addr)? {
                    Endpoint::Tcp(_) => "127.0.0.1:0",
                    Endpoint::Ws { .. } => "ws://127.0.0.1:0",
                };
                let d = DealerServer::bind(at, None, opts.clone())?;
                let a = Endpoint::parse(&d.endpoint()?)?;
                d.spawn(None, log);
                (a, true)
            }
        };
        Ok(ModelServer {
            listener,
            shared: Session {
                vit: Arc::new(vit),
                class_names,
                dealer,
                dealer_in_server,
                dealer_token: None,
                opts,
                session: SessionConfig::default(),
            },
        })
    }

    /// The session configuration clients are told to use (default: 16 fractional bits, local
    /// truncation).
    pub fn with_session(mut self, session: SessionConfig) -> Self {
        self.shared.session = session;
        self
    }

    /// Authenticates the server's joins with the dealer's access token.
    pub fn with_dealer_token(mut self, token: &[u8]) -> Self {
        self.shared.dealer_token = Some(token.into());
        self
    }

    /// The bound address.
    pub fn local_addr(&self) -> Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Where clients reach this server (`host:port`, `ws://host:port` or `wss://host:port`).
    pub fn endpoint(&self) -> Result<String> {
        self.listener.endpoint()
    }

    /// The dealer this server uses.
    pub fn dealer_endpoint(&self) -> &Endpoint {
        &self.shared.dealer
    }

    /// Serves clients, one thread per connection; with `max_sessions`, returns after that many
    /// connections were served (reporting the first failure, if any).
    pub fn run(self, max_sessions: Option<usize>, log: Log) -> Result<()> {
        let ModelServer { listener, shared } = self;
        let opts = shared.opts.clone();
        let me = Arc::new(shared);
        let conn_log = log.clone();
        let handle = Arc::new(move |client: Link, from: SocketAddr| {
            let t0 = Instant::now();
            let n = me.serve(&client)?;
            conn_log(&if n == 0 {
                format!("server: {from}: read the hello and left (no session)")
            } else {
                format!(
                    "server: {from}: classified {n} image(s) privately in {:.2} s",
                    t0.elapsed().as_secs_f64()
                )
            });
            Ok(())
        });
        accept_loop(
            listener,
            max_sessions,
            ("server", "client"),
            &opts,
            log,
            handle,
        )
    }

    /// Runs [`ModelServer::run`] in a new thread.
    pub fn spawn(self, max_sessions: Option<usize>, log: Log) -> JoinHandle<Result<()>> {
        std::thread::spawn(move || self.run(max_sessions, log))
    }
}

/// What every connection of one server shares.
struct Session {
    vit: Arc<ViT>,
    class_names: Option<Vec<String>>,
    dealer: Endpoint,
    dealer_in_server: bool,
    dealer_token: Option<Arc<[u8]>>,
    opts: RemoteOptions,
    session: SessionConfig,
}

impl Session {
    fn serve(&self, client: &Link) -> Result<usize> {
        let (cfg, plan) = (&self.vit.config, &self.vit.plan);
        client.send_control(&Control::Hello(Box::new(ServerHello {
            protocol: PROTOCOL.into(),
            config: cfg.clone(),
            plan: plan.clone(),
            class_names: self.class_names.clone(),
            session: self.session,
            dealer: self.dealer.to_string(),
            dealer_in_server: self.dealer_in_server,
        })))?;
        let Control::Request {
            images: n,
            client_commit,
        } = (match client.recv_control(Kind::Request) {
            // A client that reads the hello and leaves (the page shows the model this way)
            // asked for no session: nothing failed.
            Err(Error::ConnectionClosed { .. }) => return Ok(0),
            r => r?,
        })
        else {
            unreachable!("recv_control checks the kind")
        };
        if n == 0 || n > MAX_IMAGES {
            let m = format!("{n} images per session; 1 to {MAX_IMAGES} are allowed");
            client.send_error(&m);
            return Err(Error::Protocol(m));
        }
        let key = SessionKey::draw()?;
        let join = Join {
            protocol: PROTOCOL.into(),
            role: 1,
            client_commit,
            server_commit: key.commitment(),
            key: key.reveal(),
            config: cfg.clone(),
            plan: plan.clone(),
            images: n,
            session: self.session,
            mac: String::new(),
        }
        .seal(self.dealer_token.as_deref())?;
        let joined = self
            .dealer
            .connect("dealer", &self.opts)
            .and_then(|d| d.send_control(&Control::Join(Box::new(join))).map(|()| d));
        let dealer = joined.inspect_err(|e| {
            client.send_error(&format!("the server cannot use its dealer: {e}"));
        })?;
        client.send_control(&Control::Ready {
            server_commit: key.commitment(),
        })?;
        let seed = dealer.recv_seed().inspect_err(|e| {
            client.send_error(&format!("the server got no seed from its dealer: {e}"));
        })?;
        let run = self.run_party(client, dealer, seed, n);
        match run {
            Ok(reports) => {
                client.send_control(&Control::Reports { reports })?;
                Ok(n)
            }
            Err(e) => {
                client.send_error(&format!("the server stopped: {e}"));
                Err(e)
            }
        }
    }

    /// Weights shared once, then `n` blind forwards; one cost report per image.
    fn run_party(&self, client: &Link, dealer: Link, seed: Seed, n: usize) -> Result<Vec<Report>> {
        let mut p = seeded_party(
            1,
            self.session,
            Box::new(client.clone()),
            seed,
            Box::new(dealer),
        )?;
        let vit = &self.vit;
        let (cfg, arch) = (&vit.config, vit.arch());
        futures::executor::block_on(async {
            let w = share_weights(&mut p, cfg, &vit.plan, Some(&vit.params)).await?;
            let mut reports = Vec::with_capacity(n);
            for _ in 0..n {
                blind_infer(&mut p, cfg, arch, &w).await?;
                reports.push(p.meter.report());
                p.meter.reset();
            }
            Ok(reports)
        })
    }
}
