//! `mpcvit dealer`: pairs the two parties of each session, gives each its seed and streams the
//! server's corrections (the trusted-first-party model of SecretFlow-SPU's
//! SEMI2K and CrypTen's TTP).
//!
//! What the dealer receives: both joins (the public program, both session commitments and each
//! party's own key) and nothing else; it never sees an image, a weight or a logit. What it sends:
//! each party a fresh seed from the OS, and party 1 its corrections. A join waits for its partner
//! at most [`DealerServer::with_join_timeout`]; then it is dropped with an error.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio_rustls::rustls;

use super::endpoint::Listener;
use super::link::{Link, SendLink};
use super::wire::{Control, Join, Kind};
use super::{accept_loop, Log, RemoteOptions};
use crate::model::vit::Arch;
use crate::mpc::setup::start_dealer;
use crate::secure::programs::blind_infer;
use crate::secure::weights::share_weights;
use crate::{Error, Result};

/// Default wait for the second party of a session.
pub const DEFAULT_JOIN_TIMEOUT: Duration = Duration::from_secs(60);

/// The first party of a session, waiting for the second to hand it its join and connection.
type Pending = Arc<Mutex<HashMap<String, (usize, mpsc::Sender<(Join, SendLink)>)>>>;

/// The dealer as a network service (TCP or WebSocket).
pub struct DealerServer {
    listener: Listener,
    opts: RemoteOptions,
    token: Option<Arc<[u8]>>,
    join_timeout: Duration,
}

impl DealerServer {
    /// Listens at `addr` (see [`super::Endpoint::parse`]; `wss://` with `tls`; port 0:
    /// ephemeral, see [`DealerServer::endpoint`]). Open to any party until
    /// [`DealerServer::with_token`].
    pub fn bind(
        addr: &str,
        tls: Option<Arc<rustls::ServerConfig>>,
        opts: RemoteOptions,
    ) -> Result<DealerServer> {
        Ok(DealerServer {
            listener: Listener::bind(addr, tls)?,
            opts,
            token: None,
            join_timeout: DEFAULT_JOIN_TIMEOUT,
        })
    }

    /// Serves only joins authenticated with `token` (HMAC-SHA256, [`Join::seal`]).
    pub fn with_token(mut self, token: &[u8]) -> Self {
        self.token = Some(token.into());
        self
    }

    /// How long a join waits for its partner.
    pub fn with_join_timeout(mut self, wait: Duration) -> Self {
        self.join_timeout = wait;
        self
    }

    /// The bound address.
    pub fn local_addr(&self) -> Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Where parties reach this dealer (`host:port`, `ws://host:port` or `wss://host:port`).
    pub fn endpoint(&self) -> Result<String> {
        self.listener.endpoint()
    }

    /// Serves sessions; with `max_sessions`, returns after that many sessions' connections
    /// (two per session) have been handled.
    pub fn run(self, max_sessions: Option<usize>, log: Log) -> Result<()> {
        let pending: Pending = Arc::new(Mutex::new(HashMap::new()));
        let (token, wait) = (self.token, self.join_timeout);
        let conn_log = log.clone();
        let handle = Arc::new(move |link: Link, _from: SocketAddr| {
            connection(link, &pending, token.as_deref(), wait, &conn_log)
        });
        // A failed join is logged per connection; the dealer itself keeps serving.
        let _ = accept_loop(
            self.listener,
            max_sessions.map(|n| 2 * n),
            ("dealer", "party"),
            &self.opts,
            log,
            handle,
        );
        Ok(())
    }

    /// Runs [`DealerServer::run`] in a new thread.
    pub fn spawn(self, max_sessions: Option<usize>, log: Log) -> JoinHandle<Result<()>> {
        std::thread::spawn(move || self.run(max_sessions, log))
    }
}

/// One party's connection: its join is checked, then it either waits for its partner (and
/// runs the session) or hands itself to the partner already waiting.
fn connection(
    link: Link,
    pending: &Pending,
    token: Option<&[u8]>,
    wait: Duration,
    log: &Log,
) -> Result<()> {
    let Control::Join(join) = link.recv_control(Kind::Join)? else {
        unreachable!("recv_control checks the kind")
    };
    if let Err(e) = join.check(token) {
        link.send_error(&e.to_string());
        return Err(e);
    }
    let sid = join.session_id();
    let lock = || {
        pending
            .lock()
            .map_err(|_| Error::Protocol("dealer state poisoned".into()))
    };
    let waiting = {
        let mut map = lock()?;
        match map.remove(&sid) {
            Some((role, _)) if role == join.role => {
                let p = format!("session {sid} already has a party {role}");
                link.send_error(&p);
                return Err(Error::Protocol(p));
            }
            Some((_, partner)) => {
                // The partner's thread runs the session from here.
                let handoff = (*join, link.into_send()?);
                return partner
                    .send(handoff)
                    .map_err(|_| Error::Protocol(format!("session {sid}: the partner left")));
            }
            None => {
                let (tx, rx) = mpsc::channel();
                map.insert(sid.clone(), (join.role, tx));
                rx
            }
        }
    };
    let partner = match waiting.recv_timeout(wait) {
        Ok(p) => p,
        Err(_) => {
            // Expired, unless the partner took the entry just now (then its handoff is coming).
            let taken = lock()?.remove(&sid).is_none();
            match taken.then(|| waiting.recv_timeout(Duration::from_secs(5))) {
                Some(Ok(p)) => p,
                _ => {
                    let m = format!(
                        "no partner joined session {sid} within {} s",
                        wait.as_secs_f64()
                    );
                    link.send_error(&m);
                    return Err(Error::Protocol(m));
                }
            }
        }
    };
    let (other_join, other_link) = (partner.0, partner.1.into_link());
    if other_join.program() != join.program() {
        let p = format!(
            "session {sid}: the client and the server describe different programs (config, \
             plan, image count or session settings differ)"
        );
        link.send_error(&p);
        other_link.send_error(&p);
        return Err(Error::Protocol(p));
    }
    let (server_join, client_link, server_link) = if join.role == 1 {
        (*join, other_link, link)
    } else {
        (other_join, link, other_link)
    };
    run_session(&server_join, client_link, server_link, log)
}

/// Seeds to both parties, then the server's program on shapes only, streaming the server's
/// corrections and, when the session's protocols use function secret sharing, both parties'
/// keys (each party receives only its own key of each pair).
fn run_session(join: &Join, client: Link, server: Link, log: &Log) -> Result<()> {
    let mut d = start_dealer(join.session, Box::new(client), Box::new(server))?;
    let arch = Arch::from_plan(&join.config, &join.plan);
    let (cfg, plan, n) = (&join.config, &join.plan, join.images);
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
        join.session_id(),
        offline as f64 / 1e6
    ));
    Ok(())
}
