//! What crosses the network between the client, the server and the dealer besides the engine's
//! protocol frames: the control messages (JSON), their size limits, and the session commitments
//! that let the dealer pair two joins without trusting either party.
//!
//! **Session keys.** Each party draws a 32-byte key from the OS and shows the other only its
//! SHA-256 commitment (`client_commit` in the request, `server_commit` in the ready message).
//! Each party's join to the dealer carries both commitments and its *own* key, so the dealer
//! accepts a role-0 join only from whoever holds the client's key and a role-1 join only from
//! whoever holds the server's: a curious server cannot join as the client (and so receive both
//! dealer seeds and unmask the image), nor a curious client as the server (and unmask the
//! weights). The session id both sides log is derived from the two commitments.
//!
//! **Access tokens.** A dealer operator may require an HMAC-SHA256 of each join under a token
//! it hands out ([`Join::seal`], [`Join::check`]): it then serves only parties it knows.

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::model::{Plan, ViTConfig};
use crate::mpc::{Report, Seed, SessionConfig};
use crate::{Error, Result};

/// Version string both ends check in the first message (2: the hello carries only the public
/// architecture; sessions are keyed by both parties' commitments).
pub const PROTOCOL: &str = "mpcvit-remote/2";

/// Most images one session may classify (the dealer streams every correction ahead of time,
/// and the server buffers them).
pub const MAX_IMAGES: usize = 100;

/// Largest hello or join: the plan is the only part that grows (a row-wise plan of the paper's
/// Tiny-ImageNet ViT, 9 x 12 x 257 variants, is about 300 kB of JSON).
pub const MAX_DESCRIPTION_FRAME: usize = 1 << 20;

/// Largest reports message: one cost report per image, each a few kB per labelled step.
pub const MAX_REPORTS_FRAME: usize = 16 << 20;

/// Largest of the other control messages (request, ready, error).
pub const MAX_SMALL_FRAME: usize = 16 << 10;

/// The server's first message: exactly what a client needs to run its half of the protocol.
/// The model's name, metrics and training record stay on the server (its training command and
/// seed would let a client retrain the exact weights from the public datasets); unknown fields
/// are refused, so a server cannot slip more into the handshake unnoticed by tests.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerHello {
    /// [`PROTOCOL`].
    pub protocol: String,
    /// The public architecture: shapes of the ViT.
    pub config: ViTConfig,
    /// The public architecture: which attention (and GeLU) each layer, head or row uses.
    pub plan: Plan,
    /// Class names of the model's dataset, when known.
    pub class_names: Option<Vec<String>>,
    /// Fixed-point and truncation settings both parties and the dealer use.
    pub session: SessionConfig,
    /// The dealer the server proposes; a client uses it only if it trusts it too.
    pub dealer: String,
    /// Whether that dealer runs inside the server process (demo trust model).
    pub dealer_in_server: bool,
}

/// A party's first message to the dealer.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Join {
    /// [`PROTOCOL`].
    pub protocol: String,
    /// 0: the client, 1: the server.
    pub role: usize,
    /// SHA-256 of the client's session key (hex).
    pub client_commit: String,
    /// SHA-256 of the server's session key (hex).
    pub server_commit: String,
    /// This party's own session key (hex): proves the role.
    pub key: String,
    /// The program both parties will run.
    pub config: ViTConfig,
    /// The program both parties will run.
    pub plan: Plan,
    /// Images in the session.
    pub images: usize,
    /// Fixed-point and truncation settings.
    pub session: SessionConfig,
    /// HMAC-SHA256 of the join (with this field empty) under the dealer's access token.
    #[serde(default)]
    pub mac: String,
}

/// Control messages, one JSON object a frame.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Control {
    /// Server -> client, first.
    Hello(Box<ServerHello>),
    /// Client -> server: how many images, and the client's commitment.
    Request {
        /// Images in the session.
        images: usize,
        /// SHA-256 of the client's session key (hex).
        client_commit: String,
    },
    /// Party -> dealer.
    Join(Box<Join>),
    /// Server -> client: the dealer accepted the server's join.
    Ready {
        /// SHA-256 of the server's session key (hex).
        server_commit: String,
    },
    /// Server -> client, last: the server's cost reports (counts and timings only).
    Reports {
        /// One per image.
        reports: Vec<Report>,
    },
    /// Anyone -> anyone: why the session ends.
    Error {
        /// What went wrong.
        message: String,
    },
}

/// The kinds of [`Control`], for expectations and size limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// [`Control::Hello`].
    Hello,
    /// [`Control::Request`].
    Request,
    /// [`Control::Join`].
    Join,
    /// [`Control::Ready`].
    Ready,
    /// [`Control::Reports`].
    Reports,
    /// [`Control::Error`].
    Error,
}

impl Kind {
    /// The name used in messages.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Hello => "hello",
            Kind::Request => "request",
            Kind::Join => "join",
            Kind::Ready => "ready",
            Kind::Reports => "reports",
            Kind::Error => "error",
        }
    }

    /// The largest frame of this kind a peer may send: checked before parsing.
    pub fn max_bytes(self) -> usize {
        match self {
            Kind::Hello | Kind::Join => MAX_DESCRIPTION_FRAME,
            Kind::Reports => MAX_REPORTS_FRAME,
            Kind::Request | Kind::Ready | Kind::Error => MAX_SMALL_FRAME,
        }
    }
}

impl Control {
    /// This message's kind.
    pub fn kind(&self) -> Kind {
        match self {
            Control::Hello(_) => Kind::Hello,
            Control::Request { .. } => Kind::Request,
            Control::Join(_) => Kind::Join,
            Control::Ready { .. } => Kind::Ready,
            Control::Reports { .. } => Kind::Reports,
            Control::Error { .. } => Kind::Error,
        }
    }

    /// The frame of this message.
    pub fn encode(&self) -> Result<Vec<u8>> {
        Ok(serde_json::to_vec(self)?)
    }

    /// Parses a frame that must be of kind `expect` (or an error message, which becomes an
    /// error naming `peer`). The size is checked against the kind's limit before parsing.
    pub fn decode(frame: &[u8], expect: Kind, peer: &str) -> Result<Control> {
        let limit = expect.max_bytes().max(Kind::Error.max_bytes());
        if frame.len() > limit {
            return Err(Error::Protocol(format!(
                "{peer} sent {} bytes where a {} message (at most {limit} bytes) was expected",
                frame.len(),
                expect.name()
            )));
        }
        let c: Control = serde_json::from_slice(frame).map_err(|e| {
            Error::Protocol(format!(
                "{peer} sent a malformed {} message ({} bytes): {e}",
                expect.name(),
                frame.len()
            ))
        })?;
        match c {
            Control::Error { message } => Err(Error::Protocol(format!(
                "{peer} reported an error: {}",
                printable(&message)
            ))),
            c if c.kind() == expect => Ok(c),
            c => Err(Error::Protocol(format!(
                "{peer} sent a {} message where a {} message was expected",
                c.kind().name(),
                expect.name()
            ))),
        }
    }

    /// If `frame` is an error message, its text: a peer that fails mid-protocol says why
    /// instead of sending its next protocol frame.
    pub fn error_text(frame: &[u8]) -> Option<String> {
        if frame.len() > MAX_SMALL_FRAME || !frame.starts_with(ERROR_PREFIX) {
            return None;
        }
        match serde_json::from_slice(frame) {
            Ok(Control::Error { message }) => Some(printable(&message)),
            _ => None,
        }
    }
}

const ERROR_PREFIX: &[u8] = b"{\"type\":\"error\"";

/// A peer's text as it may be shown: control characters replaced, at most 500 characters.
pub(crate) fn printable(text: &str) -> String {
    let mut s: String = text
        .chars()
        .take(500)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if text.chars().count() > 500 {
        s.push('…');
    }
    s
}

/// One party's secret session key and its public commitment.
pub struct SessionKey {
    key: [u8; 32],
}

impl SessionKey {
    /// A fresh key from the OS.
    pub fn draw() -> Result<SessionKey> {
        Ok(SessionKey {
            key: Seed::from_os()?.0,
        })
    }

    /// The key in hex, for this party's own join.
    pub fn reveal(&self) -> String {
        hex(&self.key)
    }

    /// SHA-256 of the key in hex, for the other party.
    pub fn commitment(&self) -> String {
        commit_hex(&self.key)
    }
}

fn commit_hex(key: &[u8]) -> String {
    hex(&Sha256::new_with_prefix(b"mpcvit session key")
        .chain_update(key)
        .finalize())
}

/// The session's name, from both commitments (logs and the dealer's pairing map).
pub fn session_id(client_commit: &str, server_commit: &str) -> String {
    let d = Sha256::new_with_prefix(b"mpcvit session id")
        .chain_update(client_commit.as_bytes())
        .chain_update(b"/")
        .chain_update(server_commit.as_bytes())
        .finalize();
    hex(&d[..16])
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || text.len() > 128 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

type HmacSha256 = Hmac<Sha256>;

impl Join {
    /// The session this join belongs to.
    pub fn session_id(&self) -> String {
        session_id(&self.client_commit, &self.server_commit)
    }

    /// What both parties' joins must agree on: the same commitments and the same program.
    pub fn program(&self) -> serde_json::Value {
        serde_json::json!([
            self.client_commit,
            self.server_commit,
            self.config,
            self.plan,
            self.images,
            self.session
        ])
    }

    fn mac_input(&self) -> Result<Vec<u8>> {
        let mut unsealed = self.clone();
        unsealed.mac.clear();
        Ok(serde_json::to_vec(&unsealed)?)
    }

    /// Adds the HMAC under the dealer's access token (no token: no MAC).
    pub fn seal(mut self, token: Option<&[u8]>) -> Result<Join> {
        self.mac.clear();
        if let Some(t) = token {
            let mut m = HmacSha256::new_from_slice(t)
                .map_err(|_| Error::Usage("the dealer token is not a valid HMAC key".into()))?;
            m.update(&self.mac_input()?);
            self.mac = hex(&m.finalize().into_bytes());
        }
        Ok(self)
    }

    /// The dealer's checks, in order: protocol, role, image count, the role's key against its
    /// commitment, the access token's MAC, then the program (config before plan, so a bad
    /// config cannot reach the plan's arithmetic).
    pub fn check(&self, token: Option<&[u8]>) -> Result<()> {
        let refuse = |m: String| Err(Error::Protocol(m));
        if self.protocol != PROTOCOL {
            return refuse(format!(
                "protocol '{}' is not supported (the dealer speaks {PROTOCOL})",
                printable(&self.protocol)
            ));
        }
        let commit = match self.role {
            0 => &self.client_commit,
            1 => &self.server_commit,
            r => return refuse(format!("role {r} is not 0 (client) or 1 (server)")),
        };
        if self.images == 0 || self.images > MAX_IMAGES {
            return refuse(format!(
                "{} images per session; 1 to {MAX_IMAGES} are allowed",
                self.images
            ));
        }
        let key = unhex(&self.key).filter(|k| k.len() == 32);
        if key.is_none_or(|k| commit_hex(&k) != *commit) {
            return refuse(format!(
                "the join of party {} does not hold the key of its session commitment",
                self.role
            ));
        }
        if let Some(t) = token {
            let mut m = HmacSha256::new_from_slice(t)
                .map_err(|_| Error::Usage("the dealer token is not a valid HMAC key".into()))?;
            m.update(&self.mac_input()?);
            let mac = unhex(&self.mac).unwrap_or_default();
            if m.verify_slice(&mac).is_err() {
                return refuse(
                    "the join is not authenticated with this dealer's access token".into(),
                );
            }
        }
        self.config
            .validate()
            .and_then(|()| self.plan.validate(&self.config))
            .or_else(|e| refuse(format!("the program is not valid: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Attention, Plan, ViTConfig};

    fn config() -> ViTConfig {
        ViTConfig {
            image_size: 8,
            channels: 1,
            patch: 4,
            dim: 8,
            depth: 1,
            heads: 2,
            mlp_ratio: 2,
            classes: 3,
            linformer_k: 2,
        }
    }

    fn join(role: usize, client: &SessionKey, server: &SessionKey) -> Join {
        let cfg = config();
        Join {
            protocol: PROTOCOL.into(),
            role,
            client_commit: client.commitment(),
            server_commit: server.commitment(),
            key: if role == 0 { client } else { server }.reveal(),
            plan: Plan::uniform(&cfg, Attention::ScaleAttn),
            config: cfg,
            images: 1,
            session: SessionConfig::default(),
            mac: String::new(),
        }
    }

    #[test]
    fn each_role_must_hold_its_own_key() {
        let (c, s) = (SessionKey::draw().unwrap(), SessionKey::draw().unwrap());
        join(0, &c, &s).check(None).unwrap();
        join(1, &c, &s).check(None).unwrap();
        // The server joining as the client with its own key (or the client's commitment) fails.
        let mut forged = join(0, &c, &s);
        forged.key = s.reveal();
        let e = forged.check(None).unwrap_err().to_string();
        assert!(e.contains("does not hold the key"), "{e}");
        let mut forged = join(1, &c, &s);
        forged.key = c.reveal();
        assert_err!(forged.check(None), crate::Error::Protocol(_));
        forged.key = "zz".repeat(32);
        assert_err!(forged.check(None), crate::Error::Protocol(_));
        assert_eq!(join(0, &c, &s).session_id(), join(1, &c, &s).session_id());
        assert_eq!(join(0, &c, &s).program(), join(1, &c, &s).program());
    }

    #[test]
    fn a_token_dealer_refuses_unsealed_or_altered_joins() {
        let (c, s) = (SessionKey::draw().unwrap(), SessionKey::draw().unwrap());
        let token = b"operator token".as_slice();
        let sealed = join(0, &c, &s).seal(Some(token)).unwrap();
        sealed.check(Some(token)).unwrap();
        let e = join(0, &c, &s).check(Some(token)).unwrap_err().to_string();
        assert!(e.contains("not authenticated"), "{e}");
        assert_err!(
            sealed.check(Some(b"other token".as_slice())),
            crate::Error::Protocol(_)
        );
        let mut altered = sealed.clone();
        altered.images = 2;
        assert_err!(altered.check(Some(token)), crate::Error::Protocol(_));
    }

    #[test]
    fn the_config_is_checked_before_the_plan() {
        let (c, s) = (SessionKey::draw().unwrap(), SessionKey::draw().unwrap());
        let mut j = join(0, &c, &s);
        j.config.patch = 0;
        let e = j.check(None).unwrap_err().to_string();
        assert!(e.contains("program is not valid"), "{e}");
    }

    #[test]
    fn control_frames_are_size_checked_and_typed() {
        let ready = Control::Ready {
            server_commit: "ab".into(),
        }
        .encode()
        .unwrap();
        assert_eq!(
            Control::decode(&ready, Kind::Ready, "p").unwrap().kind(),
            Kind::Ready
        );
        let e = Control::decode(&ready, Kind::Hello, "the server")
            .unwrap_err()
            .to_string();
        assert!(e.contains("ready message where a hello"), "{e}");
        let big = vec![b' '; MAX_SMALL_FRAME + 1];
        let e = Control::decode(&big, Kind::Request, "the client")
            .unwrap_err()
            .to_string();
        assert!(e.contains("at most"), "{e}");
        let err = Control::Error {
            message: "bad\nthing".into(),
        }
        .encode()
        .unwrap();
        assert_eq!(Control::error_text(&err).unwrap(), "bad thing");
        let e = Control::decode(&err, Kind::Ready, "the dealer")
            .unwrap_err()
            .to_string();
        assert!(e.contains("the dealer reported an error: bad thing"), "{e}");
    }

    #[test]
    fn the_hello_refuses_extra_fields() {
        let cfg = config();
        let hello = ServerHello {
            protocol: PROTOCOL.into(),
            plan: Plan::uniform(&cfg, Attention::ScaleAttn),
            config: cfg,
            class_names: None,
            session: SessionConfig::default(),
            dealer: "127.0.0.1:1".into(),
            dealer_in_server: false,
        };
        let mut v = serde_json::to_value(Control::Hello(Box::new(hello))).unwrap();
        v["training"] = serde_json::json!({"seed": 1});
        assert!(serde_json::from_value::<Control>(v).is_err());
    }
}
