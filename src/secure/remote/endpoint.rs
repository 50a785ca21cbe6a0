//! Where a service listens and where a party connects: length-prefixed frames over TCP
//! (`host:port`, `tcp://host:port`, or a bare port on loopback), or WebSocket (`ws://host:port`,
//! `wss://host:port` with TLS), the transport a browser speaks. Both carry the same messages.
//!
//! TLS (`rustls` with the `ring` provider): a listener for `wss://` needs a certificate chain and
//! its key (PEM files, [`server_tls`]); a client checks the server's certificate against the
//! Mozilla roots (`webpki-roots`) plus any extra root it is given ([`client_tls`], e.g. a
//! self-signed certificate for a test or a private deployment).

use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::path::Path;
use std::sync::Arc;

use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::link::Link;
use super::RemoteOptions;
use crate::mpc::tcp::{TcpLimits, TcpTransport};
use crate::mpc::websocket::{Handshake, WsTransport, WsUrl};
use crate::{Error, Result};

/// The TLS configuration of a `wss://` listener ([`server_tls`]).
pub type ServerTls = rustls::ServerConfig;

/// A parsed address of a server, a dealer or a listener.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// Length-prefixed frames over TCP.
    Tcp(SocketAddr),
    /// WebSocket messages; the URL as given, with its parsed parts.
    Ws {
        /// The URL (`ws://…` or `wss://…`).
        url: String,
        /// Its scheme, host and port.
        at: WsUrl,
    },
}

impl Endpoint {
    /// Parses `host:port`, a bare port (meaning `127.0.0.1:port`), `tcp://host:port`,
    /// `ws://host[:port][/path]` or `wss://…`.
    pub fn parse(text: &str) -> Result<Endpoint> {
        let text = text.trim();
        if text.starts_with("ws://") || text.starts_with("wss://") {
            let at = WsUrl::parse(text)?;
            return Ok(Endpoint::Ws {
                url: text.to_string(),
                at,
            });
        }
        if let Some((scheme, _)) = text.split_once("://") {
            if scheme != "tcp" {
                return Err(Error::Endpoint(format!(
                    "'{text}': the scheme must be tcp://, ws:// or wss://"
                )));
            }
        }
        let bare = text.strip_prefix("tcp://").unwrap_or(text);
        if let Ok(port) = bare.parse::<u16>() {
            return Ok(Endpoint::Tcp(SocketAddr::from(([127, 0, 0, 1], port))));
        }
        let addr = bare
            .to_socket_addrs()
            .map_err(|e| Error::Endpoint(format!("cannot resolve address '{text}': {e}")))?
            .next()
            .ok_or_else(|| Error::Endpoint(format!("'{text}' resolves to no address")))?;
        Ok(Endpoint::Tcp(addr))
    }

    /// Whether `self` and `other` name the same service: the same socket address for TCP, the
    /// same scheme, host and port for WebSocket (a path does not tell services apart here).
    pub fn same_service(&self, other: &Endpoint) -> bool {
        match (self, other) {
            (Endpoint::Tcp(a), Endpoint::Tcp(b)) => a == b,
            (Endpoint::Ws { at: a, .. }, Endpoint::Ws { at: b, .. }) => a == b,
            _ => false,
        }
    }

    /// Connects to the `what` (e.g. "dealer") here.
    pub(super) fn connect(&self, what: &str, opts: &RemoteOptions) -> Result<Link> {
        let unreachable =
            |e: std::io::Error| Error::Protocol(format!("cannot reach the {what} at {self}: {e}"));
        let peer = format!("the {what} at {self}");
        match self {
            Endpoint::Tcp(addr) => {
                let stream = TcpStream::connect_timeout(addr, opts.timeout).map_err(unreachable)?;
                Link::tcp(stream, peer, opts)
            }
            Endpoint::Ws { url, at } => {
                let mut last = None;
                for addr in at.resolve()? {
                    match TcpStream::connect_timeout(&addr, opts.timeout) {
                        Ok(stream) => {
                            let tls = match (at.secure, &opts.client_tls) {
                                (false, _) => None,
                                (true, Some(c)) => Some(c.clone()),
                                (true, None) => Some(client_tls(None)?),
                            };
                            let handshake = Handshake::Connect {
                                url: url.clone(),
                                tls,
                            };
                            return Link::websocket(stream, handshake, peer, opts).map_err(|e| {
                                Error::Protocol(format!("cannot reach the {what} at {self}: {e}"))
                            });
                        }
                        Err(e) => last = Some(e),
                    }
                }
                Err(unreachable(last.unwrap_or_else(|| {
                    std::io::Error::new(std::io::ErrorKind::NotFound, "no address")
                })))
            }
        }
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Endpoint::Tcp(a) => write!(f, "{a}"),
            Endpoint::Ws { url, .. } => f.write_str(url),
        }
    }
}

/// A bound listener and the transport its connections speak.
pub struct Listener {
    tcp: TcpListener,
    kind: ListenKind,
}

#[derive(Clone)]
enum ListenKind {
    Tcp,
    Ws(Option<Arc<rustls::ServerConfig>>),
}

impl Listener {
    /// Listens at `at` (see [`Endpoint::parse`]; port 0: an ephemeral port, see
    /// [`Listener::endpoint`]). A `wss://` listener needs `tls`; a `ws://` or TCP one refuses it
    /// (a certificate that would silently go unused is a configuration mistake).
    pub fn bind(at: &str, tls: Option<Arc<rustls::ServerConfig>>) -> Result<Listener> {
        let endpoint = Endpoint::parse(at)?;
        let (addr, kind) = match (&endpoint, tls) {
            (Endpoint::Tcp(a), None) => (*a, ListenKind::Tcp),
            (Endpoint::Ws { at: u, .. }, tls) if u.secure == tls.is_some() => {
                let a = u.resolve()?[0];
                (a, ListenKind::Ws(tls))
            }
            (Endpoint::Ws { at: u, .. }, _) if u.secure => {
                return Err(Error::Endpoint(format!(
                "{endpoint}: a wss:// listener needs a certificate and key (--tls-cert, --tls-key)"
            )))
            }
            _ => {
                return Err(Error::Endpoint(format!(
                    "{endpoint}: a certificate was given, so listen on a wss:// address"
                )))
            }
        };
        let tcp = TcpListener::bind(addr)
            .map_err(|e| Error::Endpoint(format!("cannot listen on {addr}: {e}")))?;
        Ok(Listener { tcp, kind })
    }

    /// The bound socket address.
    pub fn local_addr(&self) -> Result<SocketAddr> {
        Ok(self.tcp.local_addr()?)
    }

    /// Where peers reach this listener (the port resolved if 0 was asked for): `host:port` for
    /// TCP, `ws://host:port` or `wss://host:port` for WebSocket.
    pub fn endpoint(&self) -> Result<String> {
        let a = self.local_addr()?;
        Ok(match &self.kind {
            ListenKind::Tcp => a.to_string(),
            ListenKind::Ws(None) => format!("ws://{a}"),
            ListenKind::Ws(Some(_)) => format!("wss://{a}"),
        })
    }

    pub(super) fn accept(&self) -> std::io::Result<(TcpStream, SocketAddr)> {
        self.tcp.accept()
    }

    /// What opens an accepted stream as a [`Link`] (run on the connection's own thread, so a
    /// slow handshake holds up nobody else).
    pub(super) fn opener(&self) -> Opener {
        Opener(self.kind.clone())
    }
}

/// Opens accepted streams of one listener.
#[derive(Clone)]
pub(super) struct Opener(ListenKind);

impl Opener {
    pub(super) fn open(
        &self,
        stream: TcpStream,
        peer: String,
        opts: &RemoteOptions,
    ) -> Result<Link> {
        match &self.0 {
            ListenKind::Tcp => Link::tcp(stream, peer, opts),
            ListenKind::Ws(tls) => {
                Link::websocket(stream, Handshake::Accept(tls.clone()), peer, opts)
            }
        }
    }

    /// Sends a refusal in this listener's transport (best effort, one second at most).
    pub(super) fn refuse(&self, stream: TcpStream, message: Vec<u8>) {
        let short = std::time::Duration::from_secs(1);
        let _ = stream.set_write_timeout(Some(short));
        let _ = stream.set_read_timeout(Some(short));
        let sent = match &self.0 {
            ListenKind::Tcp => TcpTransport::from_stream(stream)
                .map(|t| Box::new(t) as Box<dyn crate::mpc::Transport>),
            ListenKind::Ws(tls) => WsTransport::open(
                stream,
                Handshake::Accept(tls.clone()),
                TcpLimits::default(),
                short,
            )
            .map(|t| Box::new(t) as Box<dyn crate::mpc::Transport>),
        };
        if let Ok(mut t) = sent {
            let _ = t.send(message);
        }
    }
}

/// A `rustls` provider chosen explicitly, so no other crate's features can make the process-wide
/// default ambiguous. `ring` builds with a C compiler alone (aws-lc-rs needs CMake), so a fresh
/// machine builds it; rustls deprecates it only because it lacks the post-quantum key exchange.
#[allow(deprecated)]
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The TLS configuration of a `wss://` listener: the certificate chain (PEM, leaf first) and
/// its private key (PEM: PKCS#8, PKCS#1 or SEC1).
pub fn server_tls(cert_pem: &Path, key_pem: &Path) -> Result<Arc<rustls::ServerConfig>> {
    let bad = |what: &str, p: &Path, e: String| {
        Error::Endpoint(format!("cannot use the TLS {what} {}: {e}", p.display()))
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert_pem)
        .map_err(|e| bad("certificate", cert_pem, e.to_string()))?
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| bad("certificate", cert_pem, e.to_string()))?;
    if certs.is_empty() {
        return Err(bad("certificate", cert_pem, "no certificate in it".into()));
    }
    let key =
        PrivateKeyDer::from_pem_file(key_pem).map_err(|e| bad("key", key_pem, e.to_string()))?;
    let config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Endpoint(format!("TLS: {e}")))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| bad("certificate and key", cert_pem, e.to_string()))?;
    Ok(Arc::new(config))
}

/// The TLS configuration of a client: the Mozilla roots, plus the certificates of `extra_roots`
/// (PEM) if given.
pub fn client_tls(extra_roots: Option<&Path>) -> Result<Arc<rustls::ClientConfig>> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = extra_roots {
        let bad =
            |e: String| Error::Endpoint(format!("cannot use the TLS root {}: {e}", path.display()));
        let certs = CertificateDer::pem_file_iter(path).map_err(|e| bad(e.to_string()))?;
        let mut added = 0;
        for cert in certs {
            roots
                .add(cert.map_err(|e| bad(e.to_string()))?)
                .map_err(|e| bad(e.to_string()))?;
            added += 1;
        }
        if added == 0 {
            return Err(bad("no certificate in it".into()));
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Endpoint(format!("TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_parse_and_name_their_service() {
        assert_eq!(
            Endpoint::parse("7000").unwrap(),
            Endpoint::Tcp("127.0.0.1:7000".parse().unwrap())
        );
        assert_eq!(
            Endpoint::parse("tcp://10.1.2.3:9").unwrap(),
            Endpoint::Tcp("10.1.2.3:9".parse().unwrap())
        );
        assert!(
            matches!(Endpoint::parse("[::1]:1").unwrap(), Endpoint::Tcp(a) if a.ip().is_loopback())
        );
        let ws = Endpoint::parse("ws://127.0.0.1:9001/dealer").unwrap();
        assert_eq!(ws.to_string(), "ws://127.0.0.1:9001/dealer");
        assert!(ws.same_service(&Endpoint::parse("ws://127.0.0.1:9001").unwrap()));
        assert!(!ws.same_service(&Endpoint::parse("wss://127.0.0.1:9001").unwrap()));
        assert!(!ws.same_service(&Endpoint::parse("127.0.0.1:9001").unwrap()));
        for bad in ["http://x:1", "no port", "ws://"] {
            assert!(
                matches!(Endpoint::parse(bad), Err(Error::Endpoint(_))),
                "{bad} parsed"
            );
        }
    }

    #[test]
    fn a_listener_refuses_a_certificate_it_would_not_use_and_wss_without_one() {
        let dir = std::env::temp_dir().join(format!("mpcvit-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let (c, k) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&c, cert.cert.pem()).unwrap();
        std::fs::write(&k, cert.signing_key.serialize_pem()).unwrap();
        let tls = server_tls(&c, &k).unwrap();
        assert!(Listener::bind("wss://127.0.0.1:0", Some(tls.clone())).is_ok());
        let e = Listener::bind("wss://127.0.0.1:0", None)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("needs a certificate"), "{e}");
        let e = Listener::bind("127.0.0.1:0", Some(tls))
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("wss://"), "{e}");
        let e = server_tls(&k, &k).unwrap_err().to_string();
        assert!(e.contains("certificate"), "{e}");
        let e = client_tls(Some(&k)).unwrap_err().to_string();
        assert!(e.contains("no certificate"), "{e}");
        assert!(client_tls(Some(&c)).is_ok());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
