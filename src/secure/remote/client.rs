//! `mpcvit classify --server`: party 0, who owns the images, as a native process.
//!
//! What the client sends the server: how many images, its session commitment, and protocol
//! frames (shares and masked values); the dealer: its join. What it receives: the hello, the
//! server's commitment, protocol frames, the server's cost reports, and from the dealer its
//! seed (and FSS keys, if the session's protocols use them). The client decides which dealer
//! it trusts ([`DealerPolicy`]). The session itself is [`super::session`], shared with the
//! page's client worker.

use super::endpoint::Endpoint;
use super::link::Link;
use super::session::{self, DealerPolicy, Progress};
use super::wire::ServerHello;
use super::RemoteOptions;
use crate::secure::session::PrivateInference;
use crate::Result;

/// Party 0 connected to a server, after its hello.
pub struct RemoteClient {
    server: Link,
    hello: ServerHello,
    opts: RemoteOptions,
    dealer_token: Option<Vec<u8>>,
}

impl RemoteClient {
    /// Connects to the server at `addr` (see [`Endpoint::parse`]) and reads its hello.
    pub fn connect(addr: &str, opts: RemoteOptions) -> Result<RemoteClient> {
        let server = Endpoint::parse(addr)?.connect("server", &opts)?;
        let mut t = server.clone();
        let hello = futures::executor::block_on(session::read_hello(&mut t, server.peer()))?;
        Ok(RemoteClient {
            server,
            hello,
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

    /// The dealer this client would use under `policy`, or why none. Two addresses name the
    /// same dealer when they resolve to the same socket address (TCP) or the same scheme, host
    /// and port (WebSocket).
    pub fn dealer_for(&self, policy: &DealerPolicy) -> Result<Endpoint> {
        let chosen = policy.choose(&self.hello, |mine, proposed| {
            Ok(Endpoint::parse(mine)?.same_service(&Endpoint::parse(proposed)?))
        })?;
        Endpoint::parse(&chosen)
    }

    /// Classifies `images` (each `channels * size * size` values in `[0, 1]`, as the
    /// announced config says) privately in one session: weights shared once, then one
    /// private forward per image.
    pub fn classify(
        self,
        images: &[Vec<f32>],
        policy: &DealerPolicy,
    ) -> Result<Vec<PrivateInference>> {
        self.classify_observed(images, policy, &mut |_| {})
    }

    /// [`RemoteClient::classify`], telling `on_progress` where each image is.
    pub fn classify_observed(
        self,
        images: &[Vec<f32>],
        policy: &DealerPolicy,
        on_progress: &mut dyn FnMut(Progress),
    ) -> Result<Vec<PrivateInference>> {
        let dealer = self.dealer_for(policy)?;
        let opts = self.opts.clone();
        let peer = self.server.peer().to_string();
        let connect = || async move {
            let link = dealer.connect("dealer", &opts)?;
            Ok(Box::new(link) as Box<dyn crate::mpc::Transport>)
        };
        futures::executor::block_on(session::classify(
            Box::new(self.server),
            &peer,
            &self.hello,
            images,
            self.dealer_token.as_deref(),
            connect,
            on_progress,
        ))
    }
}
