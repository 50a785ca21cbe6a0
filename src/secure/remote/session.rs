//! The client's half of a remote session over any transport: the native `mpcvit classify`
//! ([`super::RemoteClient`], TCP or WebSocket) and the page's client worker (a browser
//! WebSocket) run this same code, so the handshake a browser speaks is the one the native tests
//! check.
//!
//! Steps (numbered as in [`super`]): read and check the hello (1); send the request with the
//! client's commitment, read the server's ready (2); join the dealer the client chose with its
//! own key and read its seed (2, 3); share nothing but the image, run the protocol with fresh
//! local randomness, learn the logits (4); read the server's cost reports and check them
//! before they are summed with the client's (5).

use std::future::Future;

use super::wire::{Control, Join, Kind, ServerHello, SessionKey, MAX_IMAGES, PROTOCOL};
use crate::model::vit::Arch;
use crate::mpc::setup::join_dealer;
use crate::mpc::{Party, ProtocolFamily, Report, Transport};
use crate::secure::forward::{forward_observed, Stage};
use crate::secure::programs::reveal_logits;
use crate::secure::session::PrivateInference;
use crate::secure::weights::share_weights;
use crate::{Error, Result};

/// Which dealer the client uses. The dealer must collude with neither party: a dealer run or
/// chosen by the server alone could hand the server the client's masks.
#[derive(Clone, Debug)]
pub enum DealerPolicy {
    /// The dealer at this address, which the client trusts; the server must propose the same.
    Trusted(String),
    /// Whatever dealer the server proposes (a demo, or a dealer both sides agreed on out of
    /// band); the caller should warn the user.
    AcceptServers,
}

impl DealerPolicy {
    /// The dealer to join: the trusted one if the server proposes the same service (`same`
    /// decides, e.g. by resolved address), the proposed one under
    /// [`DealerPolicy::AcceptServers`]; otherwise a [`Error::Config`] saying why.
    pub fn choose(
        &self,
        hello: &ServerHello,
        same: impl Fn(&str, &str) -> Result<bool>,
    ) -> Result<String> {
        match self {
            DealerPolicy::AcceptServers => Ok(hello.dealer.clone()),
            DealerPolicy::Trusted(mine) => {
                if !same(mine, &hello.dealer)? {
                    return Err(Error::Protocol(format!(
                        "the server uses the dealer at {}, not the one you trust ({mine}): both \
                         parties must use the same dealer",
                        super::wire::printable(&hello.dealer)
                    )));
                }
                Ok(mine.clone())
            }
        }
    }
}

/// Sends a control message.
pub fn send_control(t: &mut dyn Transport, c: &Control) -> Result<()> {
    t.send(c.encode()?)
}

/// The next control message, which must be of kind `expect` (an error message from `peer`
/// becomes an error).
pub async fn recv_control(t: &mut dyn Transport, expect: Kind, peer: &str) -> Result<Control> {
    let frame = t.recv().await?;
    Control::decode(&frame, expect, peer)
}

/// Reads the server's hello and checks it: this client's protocol version, a valid config, a
/// plan that fits it.
pub async fn read_hello(server: &mut dyn Transport, peer: &str) -> Result<ServerHello> {
    let Control::Hello(hello) = recv_control(server, Kind::Hello, peer).await? else {
        unreachable!("recv_control checks the kind")
    };
    if hello.protocol != PROTOCOL {
        return Err(Error::Protocol(format!(
            "{peer} speaks '{}', this client {PROTOCOL}",
            super::wire::printable(&hello.protocol)
        )));
    }
    hello.config.validate()?;
    hello.plan.validate(&hello.config)?;
    Ok(*hello)
}

/// Where one image of a session is: its index and the forward's stage (public positions in the
/// public architecture, never a value).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    /// Which image (0-based).
    pub image: usize,
    /// Its stage ([`Stage::Weights`] once, for the session's weight sharing).
    pub stage: Stage,
}

/// The client's whole session after [`read_hello`]: classifies `images` (each
/// `channels * size * size` values in `[0, 1]`) with the weights shared once. `connect_dealer`
/// opens the connection to the dealer the client chose; `dealer_token` authenticates the join.
/// `server` is returned beside the results so the caller may close it as it likes.
pub async fn classify<F, Fut>(
    server: Box<dyn Transport>,
    peer: &str,
    hello: &ServerHello,
    images: &[Vec<f32>],
    dealer_token: Option<&[u8]>,
    connect_dealer: F,
    on_progress: &mut dyn FnMut(Progress),
) -> Result<Vec<PrivateInference>>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<Box<dyn Transport>>>,
{
    let (cfg, plan) = (&hello.config, &hello.plan);
    if images.is_empty() || images.len() > MAX_IMAGES {
        return Err(Error::out_of_range(
            "images in one session",
            images.len(),
            format!("1 to {MAX_IMAGES}"),
        ));
    }
    for (i, img) in images.iter().enumerate() {
        cfg.check_image(img.len()).map_err(|e| match e {
            Error::ShapeMismatch { expected, got, .. } => Error::ShapeMismatch {
                op: "image",
                expected,
                got: format!("{got} (image {i})"),
            },
            other => other,
        })?;
    }
    let mut p = open_session(
        server,
        peer,
        hello,
        images.len(),
        dealer_token,
        connect_dealer,
    )
    .await?;
    let arch = Arch::from_plan(cfg, plan);
    on_progress(Progress {
        image: 0,
        stage: Stage::Weights,
    });
    let w = share_weights(&mut p, cfg, plan, None).await?;
    let mut mine = Vec::with_capacity(images.len());
    for (i, img) in images.iter().enumerate() {
        let mut stage = |stage| on_progress(Progress { image: i, stage });
        let logits = forward_observed(&mut p, cfg, &arch, &w, Some(img), &mut stage).await?;
        let logits = reveal_logits(&mut p, &logits).await?;
        mine.push((logits, p.meter.report()));
        p.meter.reset();
    }
    let protocols = p.config().family;
    let mut server = p
        .into_transport()
        .ok_or_else(|| Error::Protocol("the client party lost its transport".into()))?;
    merge_reports(server.as_mut(), peer, mine, protocols).await
}

/// The session's set-up after the hello: the client's commitment to the server, the server's
/// back, the client's join to its dealer, and party 0 built on the dealer's seed (its FSS keys,
/// if the session's protocols use any, follow the seed on the dealer connection).
async fn open_session<F, Fut>(
    mut server: Box<dyn Transport>,
    peer: &str,
    hello: &ServerHello,
    images: usize,
    dealer_token: Option<&[u8]>,
    connect_dealer: F,
) -> Result<Party>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<Box<dyn Transport>>>,
{
    let key = SessionKey::draw()?;
    send_control(
        server.as_mut(),
        &Control::Request {
            images,
            client_commit: key.commitment(),
        },
    )?;
    let Control::Ready { server_commit } = recv_control(server.as_mut(), Kind::Ready, peer).await?
    else {
        unreachable!("recv_control checks the kind")
    };
    let mut dealer = connect_dealer().await?;
    let join = Join {
        protocol: PROTOCOL.into(),
        role: 0,
        client_commit: key.commitment(),
        server_commit,
        key: key.reveal(),
        config: hello.config.clone(),
        plan: hello.plan.clone(),
        images,
        session: hello.session,
        mac: String::new(),
    }
    .seal(dealer_token)?;
    send_control(dealer.as_mut(), &Control::Join(Box::new(join)))?;
    join_dealer(0, hello.session, server, dealer).await
}

/// The server's cost reports, one per image, checked and merged with the client's own.
async fn merge_reports(
    server: &mut dyn Transport,
    peer: &str,
    mine: Vec<(Vec<f64>, Report)>,
    protocols: ProtocolFamily,
) -> Result<Vec<PrivateInference>> {
    let Control::Reports { reports } = recv_control(server, Kind::Reports, peer).await? else {
        unreachable!("recv_control checks the kind")
    };
    if reports.len() != mine.len() {
        return Err(Error::Protocol(format!(
            "{peer} sent {} reports for {} images",
            reports.len(),
            mine.len()
        )));
    }
    // The server's counters are checked before they are summed with the client's.
    mine.into_iter()
        .zip(reports)
        .map(|((logits, r0), r1)| PrivateInference::from_peer_parts(logits, &r0, &r1, protocols))
        .collect()
}
