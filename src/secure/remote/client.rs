//! `mpcvit classify --server`: party 0, who owns the images.
//!
//! What the client sends the server: how many images, its session commitment, and protocol
//! frames (shares and masked values); the dealer: its join. What it receives: the hello, the
//! server's commitment, protocol frames, the server's cost reports, and from the dealer its
//! seed. The client decides which dealer it trusts ([`DealerPolicy`]).

use super::link::Link;
use super::wire::{Control, Join, Kind, ServerHello, SessionKey, MAX_IMAGES, PROTOCOL};
use super::{resolve, RemoteOptions};
use crate::model::vit::Arch;
use crate::mpc::{DealerClient, Party, Seed};
use crate::secure::programs::client_infer;
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

/// Party 0 connected to a server, after its hello.
pub struct RemoteClient {
    server: Link,
    hello: ServerHello,
    opts: RemoteOptions,
    dealer_token: Option<Vec<u8>>,
}

impl RemoteClient {
    /// Connects to the server at `addr` and reads its hello.
    pub fn connect(addr: &str, opts: RemoteOptions) -> Result<RemoteClient> {
        let server = Link::connect(resolve(addr)?, "server", opts)?;
        let Control::Hello(hello) = server.recv_control(Kind::Hello)? else {
            unreachable!("recv_control checks the kind")
        };
        if hello.protocol != PROTOCOL {
            return Err(Error::Protocol(format!(
                "the server speaks '{}', this client {PROTOCOL}",
                hello.protocol.chars().take(64).collect::<String>()
            )));
        }
        hello.config.validate()?;
        hello.plan.validate(&hello.config)?;
        Ok(RemoteClient {
            server,
            hello: *hello,
            opts,
            dealer_token: None,
        })
    }

    /// Authenticates the client's join with the dealer's access token.
    pub fn with_dealer_token(mut self, token: &[u8]) -> Self {
        self.dealer_token = Some(token.to_vec());
        self
    }

    /// What the server announced: the public architecture, class names, proposed dealer.
    pub fn hello(&self) -> &ServerHello {
        &self.hello
    }

    /// The dealer this client would use under `policy`, or why none.
    pub fn dealer_for(&self, policy: &DealerPolicy) -> Result<std::net::SocketAddr> {
        let proposed = resolve(&self.hello.dealer)?;
        match policy {
            DealerPolicy::AcceptServers => Ok(proposed),
            DealerPolicy::Trusted(mine) => {
                let mine = resolve(mine)?;
                if mine != proposed {
                    return Err(Error::Config(format!(
                        "the server uses the dealer at {proposed}, not the one you trust ({mine}): \
                         both parties must use the same dealer"
                    )));
                }
                Ok(mine)
            }
        }
    }

    /// Classifies `images` (each `channels * size * size` values in `[0, 1]`, as the
    /// announced config says) privately in one session: weights shared once, then one
    /// private forward per image.
    pub fn classify(
        self,
        images: &[Vec<f32>],
        policy: &DealerPolicy,
    ) -> Result<Vec<PrivateInference>> {
        let (cfg, plan) = (&self.hello.config, &self.hello.plan);
        if images.is_empty() || images.len() > MAX_IMAGES {
            return Err(Error::Config(format!(
                "{} images: one session classifies 1 to {MAX_IMAGES}",
                images.len()
            )));
        }
        for (i, img) in images.iter().enumerate() {
            cfg.check_image(img.len())
                .map_err(|e| Error::Shape(format!("image {i}: {e}")))?;
        }
        let dealer_addr = self.dealer_for(policy)?;
        let key = SessionKey::draw()?;
        let server = &self.server;
        server.send_control(&Control::Request {
            images: images.len(),
            client_commit: key.commitment(),
        })?;
        let Control::Ready { server_commit } = server.recv_control(Kind::Ready)? else {
            unreachable!("recv_control checks the kind")
        };
        let seed = {
            let d = Link::connect(dealer_addr, "dealer", self.opts)?;
            let join = Join {
                protocol: PROTOCOL.into(),
                role: 0,
                client_commit: key.commitment(),
                server_commit,
                key: key.reveal(),
                config: cfg.clone(),
                plan: plan.clone(),
                images: images.len(),
                session: self.hello.session,
                mac: String::new(),
            }
            .seal(self.dealer_token.as_deref())?;
            d.send_control(&Control::Join(Box::new(join)))?;
            d.recv_seed()?
        };
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
        let Control::Reports { reports } = server.recv_control(Kind::Reports)? else {
            unreachable!("recv_control checks the kind")
        };
        if reports.len() != mine.len() {
            return Err(Error::Protocol(format!(
                "the server sent {} reports for {} images",
                reports.len(),
                mine.len()
            )));
        }
        // The server's counters are checked before they are summed with the client's.
        mine.into_iter()
            .zip(reports)
            .map(|((logits, r0), r1)| PrivateInference::from_peer_parts(logits, &r0, &r1))
            .collect()
    }
}
