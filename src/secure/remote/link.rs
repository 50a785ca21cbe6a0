//! A connection to a named peer, over TCP or WebSocket ([`super::endpoint`]), with the
//! session's limits: a timeout on every read and write, a deadline for the whole session (a peer
//! that trickles one byte per timeout cannot keep a session alive), per-kind size limits on
//! control messages and a frame limit and bounded read-ahead on the socket ([`TcpLimits`]).

use std::cell::RefCell;
use std::net::{Shutdown, TcpStream};
use std::rc::Rc;
use std::sync::mpsc;
use std::time::Instant;

use futures::future::LocalBoxFuture;

use super::wire::{Control, Kind};
use super::RemoteOptions;
use crate::mpc::setup::parse_seed_message;
use crate::mpc::tcp::{TcpLimits, TcpTransport};
use crate::mpc::websocket::{Handshake, WsTransport};
use crate::mpc::{Seed, Transport};
use crate::{Error, Result};

/// Shuts a socket down when the session's deadline passes, unless dropped first.
struct Watchdog {
    stop: mpsc::Sender<()>,
}

impl Watchdog {
    fn arm(stream: &TcpStream, deadline: Instant) -> Result<Watchdog> {
        let s = stream.try_clone()?;
        let (stop, stopped) = mpsc::channel::<()>();
        std::thread::spawn(move || {
            let left = deadline.saturating_duration_since(Instant::now());
            // A message or a disconnect (the link was dropped) both mean "stand down".
            if let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(left) {
                let _ = s.shutdown(Shutdown::Both);
            }
        });
        Ok(Watchdog { stop })
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        let _ = self.stop.send(());
    }
}

/// A connection to a named peer. Cloning shares it: the protocol party borrows it as its
/// transport and control messages go through it before and after. Errors name the peer. While
/// a receive is pending the connection is out of its slot (no borrow is held across the wait);
/// a receive future dropped before completion closes the connection.
#[derive(Clone)]
pub(super) struct Link {
    inner: Rc<RefCell<Option<Connection>>>,
    peer: Rc<str>,
    opts: RemoteOptions,
    deadline: Instant,
    _watchdog: Rc<Watchdog>,
}

impl Link {
    /// Wraps an accepted or connected stream speaking length-prefixed frames; the session
    /// deadline starts now.
    pub(super) fn tcp(stream: TcpStream, peer: String, opts: &RemoteOptions) -> Result<Link> {
        stream.set_read_timeout(Some(opts.timeout))?;
        stream.set_write_timeout(Some(opts.timeout))?;
        let socket = stream.try_clone()?;
        let t = TcpTransport::with_limits(stream, Link::limits(opts))?;
        Link::new(Box::new(t), socket, peer, opts)
    }

    /// Runs the WebSocket `handshake` on an accepted or connected stream; the session deadline
    /// starts now.
    pub(super) fn websocket(
        stream: TcpStream,
        handshake: Handshake,
        peer: String,
        opts: &RemoteOptions,
    ) -> Result<Link> {
        let socket = stream.try_clone()?;
        let t = WsTransport::open(stream, handshake, Link::limits(opts), opts.timeout)
            .map_err(|e| Error::Protocol(format!("{peer}: {e}")))?;
        Link::new(Box::new(t), socket, peer, opts)
    }

    fn limits(opts: &RemoteOptions) -> TcpLimits {
        TcpLimits {
            max_frame: opts.max_frame,
            ..TcpLimits::default()
        }
    }

    fn new(
        transport: Connection,
        socket: TcpStream,
        peer: String,
        opts: &RemoteOptions,
    ) -> Result<Link> {
        let deadline = Instant::now() + opts.session_limit;
        let watchdog = Watchdog::arm(&socket, deadline)?;
        Ok(Link {
            inner: Rc::new(RefCell::new(Some(transport))),
            peer: peer.into(),
            opts: opts.clone(),
            deadline,
            _watchdog: Rc::new(watchdog),
        })
    }

    /// Who is at the other end, as messages name it ("the server at ws://…").
    pub(super) fn peer(&self) -> &str {
        &self.peer
    }

    fn context(&self, e: Error) -> Error {
        let m = match e {
            // Before the deadline a close is the peer's doing: say who, keep the kind.
            Error::ConnectionClosed { .. } if Instant::now() < self.deadline => {
                return Error::ConnectionClosed {
                    peer: self.peer.to_string(),
                }
            }
            Error::Protocol(m) => m,
            other => other.to_string(),
        };
        let why = if Instant::now() >= self.deadline {
            format!(
                "the session's time limit of {} s passed",
                self.opts.session_limit.as_secs_f64()
            )
        } else {
            format!(
                "the peer stopped, closed the connection, or sent nothing for {} s",
                self.opts.timeout.as_secs_f64()
            )
        };
        Error::Protocol(format!("connection to {} failed: {m} ({why})", self.peer))
    }

    fn recv_blocking(&self) -> Result<Vec<u8>> {
        futures::executor::block_on(self.clone().recv())
    }

    pub(super) fn send_frame(&self, frame: Vec<u8>) -> Result<()> {
        let mut slot = self.inner.borrow_mut();
        let t = slot
            .as_mut()
            .ok_or_else(|| self.context(Error::Protocol("connection busy or closed".into())))?;
        t.send(frame).map_err(|e| self.context(e))
    }

    /// Sends a control message.
    pub(super) fn send_control(&self, c: &Control) -> Result<()> {
        self.send_frame(c.encode()?)
    }

    /// Tells the peer why the session ends (best effort: it may be the one that went away).
    pub(super) fn send_error(&self, message: &str) {
        let _ = self.send_control(&Control::Error {
            message: message.into(),
        });
    }

    /// The next control message, which must be of kind `expect`; an error message from the
    /// peer becomes an error here.
    pub(super) fn recv_control(&self, expect: Kind) -> Result<Control> {
        let frame = self.recv_blocking()?;
        Control::decode(&frame, expect, &self.peer)
    }

    /// The dealer's seed message (or its error).
    pub(super) fn recv_seed(&self) -> Result<Seed> {
        let frame = self.recv_blocking()?;
        parse_seed_message(&frame).map_err(|e| self.context(e))
    }
}

impl Transport for Link {
    fn send(&mut self, frame: Vec<u8>) -> Result<()> {
        self.send_frame(frame)
    }

    fn recv(&mut self) -> LocalBoxFuture<'_, Result<Vec<u8>>> {
        let link = self.clone();
        Box::pin(async move {
            let taken = link.inner.borrow_mut().take();
            let mut t = taken
                .ok_or_else(|| link.context(Error::Protocol("connection busy or closed".into())))?;
            let got = t.recv().await;
            *link.inner.borrow_mut() = Some(t);
            let frame = got.map_err(|e| link.context(e))?;
            // A peer that fails mid-protocol says why instead of sending its next frame.
            if let Some(message) = Control::error_text(&frame) {
                return Err(Error::Protocol(format!(
                    "{} reported an error: {message}",
                    link.peer
                )));
            }
            Ok(frame)
        })
    }
}

/// What a link carries its frames over: TCP or WebSocket, movable to another thread.
type Connection = Box<dyn Transport + Send>;

/// A [`Link`] that may move to another thread (the dealer hands the first party of a session
/// to the thread of the second).
pub(super) struct SendLink {
    transport: Connection,
    peer: String,
    opts: RemoteOptions,
    deadline: Instant,
    watchdog: Watchdog,
}

impl Link {
    /// This link as a [`SendLink`]; fails if a clone of it is still alive.
    pub(super) fn into_send(self) -> Result<SendLink> {
        let peer = self.peer.to_string();
        let busy = || Error::Protocol(format!("the connection to {peer} is still in use"));
        let transport = Rc::try_unwrap(self.inner)
            .map_err(|_| busy())?
            .into_inner()
            .ok_or_else(busy)?;
        let watchdog = Rc::try_unwrap(self._watchdog).map_err(|_| busy())?;
        Ok(SendLink {
            transport,
            peer: peer.clone(),
            opts: self.opts,
            deadline: self.deadline,
            watchdog,
        })
    }
}

impl SendLink {
    /// Back to a [`Link`] on this thread.
    pub(super) fn into_link(self) -> Link {
        Link {
            inner: Rc::new(RefCell::new(Some(self.transport))),
            peer: self.peer.into(),
            opts: self.opts,
            deadline: self.deadline,
            _watchdog: Rc::new(self.watchdog),
        }
    }
}
