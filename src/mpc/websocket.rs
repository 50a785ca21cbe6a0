//! A native WebSocket transport (RFC 6455 through `tokio-tungstenite`), plain (`ws://`) or over
//! TLS (`wss://`, `rustls`): the transport a browser can speak, so the page's client worker can
//! run against a native `mpcvit serve` and `mpcvit dealer`.
//!
//! Every protocol frame or control message is one binary WebSocket message. Each connection
//! gets one I/O thread running a single-threaded tokio runtime: it performs the handshakes
//! (TLS, then the WebSocket upgrade, both under the timeout), then pumps messages between the
//! socket and two bounded queues with the same limits as [`super::tcp::TcpTransport`]
//! ([`TcpLimits`]): the reader stops reading when `read_ahead` messages wait unconsumed (TCP
//! flow control then slows the sender), `send` blocks when `write_queue` messages wait for the
//! wire, and a message longer than `max_frame` ends the connection before it is buffered
//! (tungstenite checks each frame header's length against the limit). A peer silent for longer
//! than the timeout while a message is awaited ends the connection with an error. Pings are
//! answered by tungstenite; text messages are refused.
//!
//! The protocol code runs on its own thread under `futures::executor::block_on`, exactly as over
//! TCP: the queues are `futures` / tokio channels, which wake any executor.

use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use futures::channel::mpsc::{channel, Receiver, Sender};
use futures::future::LocalBoxFuture;
use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::rustls;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::tcp::TcpLimits;
use super::transport::Transport;
use crate::{Error, Result};

/// Which side of the handshake this end plays, and over what.
pub enum Handshake {
    /// Accept a client's upgrade on an accepted stream, optionally after a TLS handshake.
    Accept(Option<Arc<rustls::ServerConfig>>),
    /// Connect to `url` (`ws://host:port/path` or `wss://…`; the TLS handshake, if any, checks
    /// the server's certificate for the URL's host name against the given roots).
    Connect {
        /// The URL requested.
        url: String,
        /// The client TLS configuration for `wss://` URLs.
        tls: Option<Arc<rustls::ClientConfig>>,
    },
}

/// A WebSocket connection to the peer.
pub struct WsTransport {
    /// `None` once dropped (closing the writer's queue).
    tx: Option<tokio::sync::mpsc::Sender<Vec<u8>>>,
    rx: Receiver<Result<Vec<u8>>>,
    io: Option<JoinHandle<()>>,
}

impl WsTransport {
    /// Runs the handshake on `stream` (an accepted connection, or one the caller connected to
    /// the URL's host) and starts the I/O thread; returns once the connection is open, or with
    /// the handshake's error. `timeout` bounds the handshake and every wait for a message.
    pub fn open(
        stream: TcpStream,
        handshake: Handshake,
        limits: TcpLimits,
        timeout: Duration,
    ) -> Result<WsTransport> {
        if limits.read_ahead == 0 || limits.write_queue == 0 || limits.max_frame == 0 {
            return Err(Error::out_of_range(
                "WebSocket limits",
                format!("{limits:?}"),
                "every limit positive",
            ));
        }
        stream.set_nodelay(true)?;
        stream.set_nonblocking(true)?;
        let (out_tx, out_rx) = tokio::sync::mpsc::channel::<Vec<u8>>(limits.write_queue);
        let (in_tx, in_rx) = channel::<Result<Vec<u8>>>(limits.read_ahead);
        let (opened_tx, opened_rx) = std::sync::mpsc::channel::<Result<()>>();
        let io = std::thread::spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = opened_tx.send(Err(e.into()));
                    return;
                }
            };
            rt.block_on(async move {
                let pumps = Pumps {
                    out_rx,
                    in_tx,
                    timeout,
                };
                let config = ws_config(limits.max_frame);
                match connect_stream(stream, handshake, config, timeout).await {
                    Ok(Socket::Plain(ws)) => {
                        let _ = opened_tx.send(Ok(()));
                        pumps.run(ws).await
                    }
                    Ok(Socket::Tls(ws)) => {
                        let _ = opened_tx.send(Ok(()));
                        pumps.run(ws).await
                    }
                    Ok(Socket::TlsClient(ws)) => {
                        let _ = opened_tx.send(Ok(()));
                        pumps.run(ws).await
                    }
                    Err(e) => {
                        let _ = opened_tx.send(Err(e));
                    }
                }
            });
        });
        match opened_rx.recv() {
            Ok(Ok(())) => Ok(WsTransport {
                tx: Some(out_tx),
                rx: in_rx,
                io: Some(io),
            }),
            Ok(Err(e)) => {
                let _ = io.join();
                Err(e)
            }
            Err(_) => {
                let _ = io.join();
                Err(Error::Protocol(
                    "the WebSocket I/O thread stopped during the handshake".into(),
                ))
            }
        }
    }
}

/// The limits tungstenite enforces: one message is one frame of at most `max_frame` bytes (the
/// header's length is checked before the payload is read).
fn ws_config(max_frame: usize) -> WebSocketConfig {
    WebSocketConfig::default()
        .max_message_size(Some(max_frame))
        .max_frame_size(Some(max_frame))
}

/// An open WebSocket over one of the three stream types.
enum Socket {
    Plain(WebSocketStream<tokio::net::TcpStream>),
    Tls(WebSocketStream<tokio_rustls::server::TlsStream<tokio::net::TcpStream>>),
    TlsClient(WebSocketStream<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>),
}

async fn within<T>(
    timeout: Duration,
    what: &str,
    f: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    tokio::time::timeout(timeout, f).await.map_err(|_| {
        Error::Protocol(format!(
            "{what}: no answer within {} s",
            timeout.as_secs_f64()
        ))
    })?
}

async fn connect_stream(
    stream: TcpStream,
    handshake: Handshake,
    config: WebSocketConfig,
    timeout: Duration,
) -> Result<Socket> {
    let stream = tokio::net::TcpStream::from_std(stream)?;
    let ws_err = |what: &'static str| {
        move |e: tokio_tungstenite::tungstenite::Error| {
            Error::Protocol(format!("WebSocket {what} failed: {e}"))
        }
    };
    match handshake {
        Handshake::Accept(None) => {
            within(timeout, "WebSocket handshake", async {
                tokio_tungstenite::accept_async_with_config(stream, Some(config))
                    .await
                    .map(Socket::Plain)
                    .map_err(ws_err("handshake"))
            })
            .await
        }
        Handshake::Accept(Some(tls)) => {
            within(timeout, "TLS and WebSocket handshake", async {
                let tls = tokio_rustls::TlsAcceptor::from(tls)
                    .accept(stream)
                    .await
                    .map_err(|e| Error::Protocol(format!("TLS handshake failed: {e}")))?;
                tokio_tungstenite::accept_async_with_config(tls, Some(config))
                    .await
                    .map(Socket::Tls)
                    .map_err(ws_err("handshake"))
            })
            .await
        }
        Handshake::Connect { url, tls } => {
            let target = WsUrl::parse(&url)?;
            within(timeout, "WebSocket connection", async {
                match (target.secure, tls) {
                    (false, _) => tokio_tungstenite::client_async_with_config(
                        url.as_str(),
                        stream,
                        Some(config),
                    )
                    .await
                    .map(|(ws, _)| Socket::Plain(ws))
                    .map_err(ws_err("upgrade")),
                    (true, None) => Err(Error::Endpoint(format!(
                        "{url}: a wss:// URL needs a TLS configuration"
                    ))),
                    (true, Some(tls)) => {
                        let name = rustls::pki_types::ServerName::try_from(target.host.clone())
                            .map_err(|e| {
                                Error::Endpoint(format!("{url}: bad TLS server name: {e}"))
                            })?;
                        let tls = tokio_rustls::TlsConnector::from(tls)
                            .connect(name, stream)
                            .await
                            .map_err(|e| Error::Protocol(format!("TLS handshake failed: {e}")))?;
                        tokio_tungstenite::client_async_with_config(url.as_str(), tls, Some(config))
                            .await
                            .map(|(ws, _)| Socket::TlsClient(ws))
                            .map_err(ws_err("upgrade"))
                    }
                }
            })
            .await
        }
    }
}

/// The two queues the I/O thread pumps.
struct Pumps {
    out_rx: tokio::sync::mpsc::Receiver<Vec<u8>>,
    in_tx: Sender<Result<Vec<u8>>>,
    timeout: Duration,
}

impl Pumps {
    /// Until the local side drops its end (after the queued messages are written and the
    /// connection is closed) or the connection fails (the error is the last item received).
    async fn run<S: AsyncRead + AsyncWrite + Unpin>(self, ws: WebSocketStream<S>) {
        let Pumps {
            mut out_rx,
            mut in_tx,
            timeout,
        } = self;
        let (mut sink, mut stream) = ws.split();
        let writer = async {
            while let Some(frame) = out_rx.recv().await {
                let sent = tokio::time::timeout(timeout, sink.send(Message::binary(frame))).await;
                if !matches!(sent, Ok(Ok(()))) {
                    return;
                }
            }
            let _ = tokio::time::timeout(timeout, sink.close()).await;
        };
        let reader = async {
            loop {
                let item = match tokio::time::timeout(timeout, stream.next()).await {
                    Err(_) => Err(Error::Protocol(format!(
                        "no message for {} s",
                        timeout.as_secs_f64()
                    ))),
                    Ok(None) | Ok(Some(Ok(Message::Close(_)))) => Err(Error::ConnectionClosed {
                        peer: "the WebSocket peer".into(),
                    }),
                    Ok(Some(Err(e))) => Err(Error::Protocol(format!("WebSocket error: {e}"))),
                    Ok(Some(Ok(Message::Binary(b)))) => Ok(b.to_vec()),
                    Ok(Some(Ok(Message::Text(_)))) => Err(Error::Protocol(
                        "the peer sent a text message; every message is binary".into(),
                    )),
                    Ok(Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_)))) => {
                        continue
                    }
                };
                let last = item.is_err();
                // Waits while `read_ahead` messages are unconsumed: back-pressure to the sender.
                if in_tx.send(item).await.is_err() || last {
                    return;
                }
            }
        };
        // The writer ends when the local side is done; the reader when the peer is. Either way
        // the connection has nothing more to carry.
        tokio::select! {
            () = writer => {}
            () = reader => {}
        }
    }
}

impl Drop for WsTransport {
    /// Waits until every queued message is on the wire and the close is sent (bounded by the
    /// timeout), as [`super::tcp::TcpTransport`] does.
    fn drop(&mut self) {
        drop(self.tx.take());
        if let Some(h) = self.io.take() {
            let _ = h.join();
        }
    }
}

impl Transport for WsTransport {
    fn send(&mut self, frame: Vec<u8>) -> Result<()> {
        self.tx
            .as_ref()
            .ok_or_else(|| Error::Protocol("WebSocket transport closed".into()))?
            .blocking_send(frame)
            .map_err(|_| Error::Protocol("the WebSocket connection failed".into()))
    }

    fn recv(&mut self) -> LocalBoxFuture<'_, Result<Vec<u8>>> {
        Box::pin(async move {
            match self.rx.next().await {
                Some(r) => r,
                None => Err(Error::ConnectionClosed {
                    peer: "the WebSocket peer".into(),
                }),
            }
        })
    }
}

/// The parts of a `ws://` or `wss://` URL the transport needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WsUrl {
    /// `wss://`.
    pub secure: bool,
    /// The host name or address (without brackets for IPv6).
    pub host: String,
    /// The port (default 80 for `ws://`, 443 for `wss://`).
    pub port: u16,
}

impl WsUrl {
    /// Parses `ws://host[:port][/path]` or `wss://…`.
    pub fn parse(url: &str) -> Result<WsUrl> {
        let bad = |why: &str| Error::Endpoint(format!("'{url}' is not a WebSocket URL: {why}"));
        let uri: tokio_tungstenite::tungstenite::http::Uri =
            url.parse().map_err(|e| bad(&format!("{e}")))?;
        let secure = match uri.scheme_str() {
            Some("ws") => false,
            Some("wss") => true,
            _ => return Err(bad("it must start with ws:// or wss://")),
        };
        let host = uri
            .host()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| bad("no host"))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let port = uri.port_u16().unwrap_or(if secure { 443 } else { 80 });
        Ok(WsUrl { secure, host, port })
    }

    /// The socket addresses to connect to.
    pub fn resolve(&self) -> Result<Vec<SocketAddr>> {
        use std::net::ToSocketAddrs;
        let addrs: Vec<SocketAddr> = (self.host.as_str(), self.port)
            .to_socket_addrs()
            .map_err(|e| Error::Endpoint(format!("cannot resolve '{}': {e}", self.host)))?
            .collect();
        if addrs.is_empty() {
            return Err(Error::Endpoint(format!(
                "'{}' resolves to no address",
                self.host
            )));
        }
        Ok(addrs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::executor::block_on;
    use std::net::TcpListener;

    fn pair(limits: TcpLimits) -> (WsTransport, WsTransport) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("ws://{}/", l.local_addr().unwrap());
        let server = std::thread::spawn(move || {
            let (s, _) = l.accept().unwrap();
            WsTransport::open(s, Handshake::Accept(None), limits, Duration::from_secs(10))
        });
        let s = TcpStream::connect(WsUrl::parse(&url).unwrap().resolve().unwrap()[0]).unwrap();
        let client = WsTransport::open(
            s,
            Handshake::Connect { url, tls: None },
            limits,
            Duration::from_secs(10),
        )
        .unwrap();
        (client, server.join().unwrap().unwrap())
    }

    #[test]
    fn messages_round_trip_in_order_both_ways() {
        let (mut a, mut b) = pair(TcpLimits::default());
        for i in 0..20u8 {
            a.send(vec![i; 1 + i as usize * 1000]).unwrap();
            b.send(vec![255 - i]).unwrap();
        }
        for i in 0..20u8 {
            assert_eq!(block_on(b.recv()).unwrap(), vec![i; 1 + i as usize * 1000]);
            assert_eq!(block_on(a.recv()).unwrap(), vec![255 - i]);
        }
        drop(a);
        let e = block_on(b.recv()).unwrap_err().to_string();
        assert!(e.contains("closed"), "{e}");
    }

    #[test]
    fn a_message_over_the_limit_ends_the_connection_with_an_error() {
        let limits = TcpLimits {
            max_frame: 1000,
            ..TcpLimits::default()
        };
        let (mut a, mut b) = pair(limits);
        a.send(vec![1; 1001]).unwrap();
        let e = block_on(b.recv()).unwrap_err().to_string();
        assert!(e.contains("WebSocket error"), "{e}");
    }

    #[test]
    fn a_silent_peer_is_reported_after_the_timeout() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("ws://{}/", l.local_addr().unwrap());
        let (mut server, _raw) = {
            let h = std::thread::spawn(move || {
                let (s, _) = l.accept().unwrap();
                WsTransport::open(
                    s,
                    Handshake::Accept(None),
                    TcpLimits::default(),
                    Duration::from_millis(300),
                )
                .unwrap()
            });
            let raw =
                TcpStream::connect(WsUrl::parse(&url).unwrap().resolve().unwrap()[0]).unwrap();
            let c = WsTransport::open(
                raw.try_clone().unwrap(),
                Handshake::Connect { url, tls: None },
                TcpLimits::default(),
                Duration::from_secs(10),
            )
            .unwrap();
            (h.join().unwrap(), (c, raw))
        };
        let e = block_on(server.recv()).unwrap_err().to_string();
        assert!(e.contains("no message for 0.3 s"), "{e}");
    }

    #[test]
    fn a_plain_tcp_peer_fails_the_handshake_within_the_timeout() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let h = std::thread::spawn(move || {
            let (s, _) = l.accept().unwrap();
            WsTransport::open(
                s,
                Handshake::Accept(None),
                TcpLimits::default(),
                Duration::from_millis(300),
            )
            .map(|_| ())
        });
        let mut raw = TcpStream::connect(addr).unwrap();
        std::io::Write::write_all(&mut raw, &[4, 0, 0, 0, 1, 2, 3, 4]).unwrap();
        let e = h.join().unwrap().unwrap_err().to_string();
        assert!(e.contains("handshake"), "{e}");
    }

    #[test]
    fn urls_parse_with_default_ports() {
        let u = WsUrl::parse("ws://localhost/x").unwrap();
        assert_eq!(
            (u.secure, u.host.as_str(), u.port),
            (false, "localhost", 80)
        );
        let u = WsUrl::parse("wss://example.org:8443").unwrap();
        assert_eq!(
            (u.secure, u.host.as_str(), u.port),
            (true, "example.org", 8443)
        );
        let u = WsUrl::parse("ws://[::1]:9000/").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("::1", 9000));
        for bad in ["http://x:1", "127.0.0.1:80", "ws://", ""] {
            assert!(
                matches!(WsUrl::parse(bad), Err(Error::Endpoint(_))),
                "{bad} parsed"
            );
        }
    }
}
