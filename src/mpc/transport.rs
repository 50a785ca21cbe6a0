//! Transports: asynchronous, ordered delivery of byte messages between two endpoints, and the
//! frame format every protocol message (and every dealer correction) travels in.
//!
//! [`Transport`] is deliberately minimal so it can be implemented from anything that moves
//! bytes: `send` queues a frame and never blocks (protocol code sends before it receives, in
//! both parties at once, so a blocking send could deadlock); `recv` is a future resolving to
//! the next frame. Implementations here:
//!
//! * [`ChannelTransport`]: an unbounded `futures` channel pair. [`mem_pair`] cross-wires two of
//!   them (both parties in one thread: tests, CLI, benches). [`pumped`] gives one end to the
//!   protocol and the raw queues to glue code: a Web Worker pumps `outgoing` into
//!   `MessagePort.postMessage` and feeds `onmessage` data into `incoming`.
//! * [`Shaped`]: imposes a [`NetworkProfile`] for real, through a pluggable async [`Sleeper`]
//!   (a thread timer natively, `setTimeout` in a page).
//! * [`Recording`]: keeps a copy of every frame received (security audits, debugging).
//! * `super::tcp::TcpTransport` (native only).
//!
//! **Frames.** `magic (4) | seq (u64) | step (u32) | len (u32) | payload`, little-endian,
//! [`HEADER_LEN`] = 20 bytes. `seq` counts frames per direction from 0, `step` names the
//! protocol operation (a hash of its name) or the correlation kind, `len` is the payload length.
//! [`decode_frame`] checks all four against what the receiver expects, so a lost, duplicated,
//! reordered, truncated or foreign message, or two parties running different programs, is
//! reported as [`Error::Protocol`] rather than a panic or a silent wrong answer. A peer that
//! went away closes the channel, which `recv` reports as an error; a message that is lost while
//! the peer stays alive and silent is detected by the next frame's sequence number, or by
//! [`super::exec::block_on_local`]'s deadlock detection in the joined harness.

use std::cell::RefCell;
use std::rc::Rc;

use futures::channel::mpsc::{unbounded, UnboundedReceiver, UnboundedSender};
use futures::future::LocalBoxFuture;
use futures::StreamExt;

use super::network::NetworkProfile;
use crate::{Error, Result};

/// Header bytes in front of every payload.
pub const HEADER_LEN: usize = 20;
/// Magic of party-to-party frames: "MPCV".
pub const MAGIC_PARTY: u32 = u32::from_le_bytes(*b"MPCV");
/// Magic of dealer-to-party correction frames: "MPCD".
pub const MAGIC_DEALER: u32 = u32::from_le_bytes(*b"MPCD");

/// Ordered, reliable delivery of byte frames to one peer.
pub trait Transport {
    /// Queues `frame` for the peer. Must not block or wait for the peer.
    fn send(&mut self, frame: Vec<u8>) -> Result<()>;
    /// The next frame from the peer; an error if the peer went away.
    fn recv(&mut self) -> LocalBoxFuture<'_, Result<Vec<u8>>>;
}

impl<T: Transport + ?Sized> Transport for Box<T> {
    fn send(&mut self, frame: Vec<u8>) -> Result<()> {
        (**self).send(frame)
    }
    fn recv(&mut self) -> LocalBoxFuture<'_, Result<Vec<u8>>> {
        (**self).recv()
    }
}

/// Builds a frame.
pub fn encode_frame(magic: u32, seq: u64, step: u32, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(HEADER_LEN + payload.len());
    f.extend_from_slice(&magic.to_le_bytes());
    f.extend_from_slice(&seq.to_le_bytes());
    f.extend_from_slice(&step.to_le_bytes());
    f.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    f.extend_from_slice(payload);
    f
}

/// Checks a frame against what the receiver expects and returns its payload.
pub fn decode_frame(
    frame: &[u8],
    magic: u32,
    expect_seq: u64,
    expect_step: u32,
    expect_len: usize,
) -> Result<&[u8]> {
    if frame.len() < HEADER_LEN {
        return Err(Error::Protocol(format!(
            "truncated frame: {} bytes, shorter than the {HEADER_LEN}-byte header",
            frame.len()
        )));
    }
    let m = u32::from_le_bytes(frame[0..4].try_into().expect("4 bytes"));
    let seq = u64::from_le_bytes(frame[4..12].try_into().expect("8 bytes"));
    let step = u32::from_le_bytes(frame[12..16].try_into().expect("4 bytes"));
    let len = u32::from_le_bytes(frame[16..20].try_into().expect("4 bytes")) as usize;
    if m != magic {
        return Err(Error::Protocol(format!(
            "bad frame magic {m:#010x}, expected {magic:#010x}"
        )));
    }
    if seq != expect_seq {
        let what = if seq < expect_seq {
            "duplicated or replayed"
        } else {
            "lost or reordered"
        };
        return Err(Error::Protocol(format!(
            "{what} message: got frame {seq}, expected frame {expect_seq}"
        )));
    }
    if frame.len() - HEADER_LEN != len {
        return Err(Error::Protocol(format!(
            "truncated frame {seq}: header says {len} payload bytes, {} arrived",
            frame.len() - HEADER_LEN
        )));
    }
    if step != expect_step {
        return Err(Error::Protocol(format!(
            "frame {seq} belongs to step {step:#010x}, expected step {expect_step:#010x}: \
             the parties are not running the same program"
        )));
    }
    if len != expect_len {
        return Err(Error::Protocol(format!(
            "frame {seq} carries {len} payload bytes, expected {expect_len}"
        )));
    }
    Ok(&frame[HEADER_LEN..])
}

/// One end of a pair of unbounded in-memory queues.
pub struct ChannelTransport {
    tx: UnboundedSender<Vec<u8>>,
    rx: UnboundedReceiver<Vec<u8>>,
}

impl ChannelTransport {
    /// An endpoint that sends into `tx` and receives from `rx`.
    pub fn new(tx: UnboundedSender<Vec<u8>>, rx: UnboundedReceiver<Vec<u8>>) -> Self {
        ChannelTransport { tx, rx }
    }
}

impl Transport for ChannelTransport {
    fn send(&mut self, frame: Vec<u8>) -> Result<()> {
        self.tx
            .unbounded_send(frame)
            .map_err(|_| Error::ConnectionClosed {
                peer: "the peer's channel".into(),
            })
    }
    fn recv(&mut self) -> LocalBoxFuture<'_, Result<Vec<u8>>> {
        Box::pin(next_queued(&mut self.rx, "the peer's channel"))
    }
}

/// The next frame of an in-memory queue, or [`Error::ConnectionClosed`] naming `peer` once the
/// sending side is gone (for [`ChannelTransport`] and the page's message ports alike).
pub(crate) async fn next_queued(
    rx: &mut UnboundedReceiver<Vec<u8>>,
    peer: &str,
) -> Result<Vec<u8>> {
    rx.next().await.ok_or_else(|| Error::ConnectionClosed {
        peer: peer.to_string(),
    })
}

/// Two cross-wired in-memory endpoints.
pub fn mem_pair() -> (ChannelTransport, ChannelTransport) {
    let (tx_a, rx_b) = unbounded();
    let (tx_b, rx_a) = unbounded();
    (
        ChannelTransport::new(tx_a, rx_a),
        ChannelTransport::new(tx_b, rx_b),
    )
}

/// The raw side of a [`pumped`] transport, for glue code.
pub struct PumpEnd {
    /// Frames the protocol sent: forward each one to the peer (e.g. `postMessage`).
    pub outgoing: UnboundedReceiver<Vec<u8>>,
    /// Push each frame that arrives from the peer (e.g. in `onmessage`).
    pub incoming: UnboundedSender<Vec<u8>>,
}

/// A transport whose other side is pumped by glue code (a `MessagePort`, a WebSocket, ...).
pub fn pumped() -> (ChannelTransport, PumpEnd) {
    let (out_tx, out_rx) = unbounded();
    let (in_tx, in_rx) = unbounded();
    (
        ChannelTransport::new(out_tx, in_rx),
        PumpEnd {
            outgoing: out_rx,
            incoming: in_tx,
        },
    )
}

/// An asynchronous timer, supplied by the platform (no blocking sleeps inside async code).
pub trait Sleeper {
    /// A future that completes after `seconds`.
    fn sleep(&self, seconds: f64) -> LocalBoxFuture<'static, ()>;
}

/// A native timer: one short-lived thread per sleep completes a oneshot channel, so any
/// executor (including `futures::executor::block_on`) is woken.
#[cfg(not(target_arch = "wasm32"))]
#[derive(Clone, Copy, Debug, Default)]
pub struct ThreadSleeper;

#[cfg(not(target_arch = "wasm32"))]
impl Sleeper for ThreadSleeper {
    fn sleep(&self, seconds: f64) -> LocalBoxFuture<'static, ()> {
        let (tx, rx) = futures::channel::oneshot::channel::<()>();
        let d = std::time::Duration::from_secs_f64(seconds.max(0.0));
        std::thread::spawn(move || {
            std::thread::sleep(d);
            let _ = tx.send(());
        });
        Box::pin(async move {
            let _ = rx.await;
        })
    }
}

/// Imposes a network profile on received frames: each frame is released
/// `rtt + frame bytes / bandwidth` after it arrived from the inner transport. A protocol round
/// therefore costs one RTT plus serialisation, the same model as
/// [`super::meter::Stats::estimate`].
pub struct Shaped<T> {
    inner: T,
    profile: NetworkProfile,
    sleeper: Rc<dyn Sleeper>,
}

impl<T: Transport> Shaped<T> {
    /// Wraps `inner`.
    pub fn new(inner: T, profile: NetworkProfile, sleeper: Rc<dyn Sleeper>) -> Self {
        Shaped {
            inner,
            profile,
            sleeper,
        }
    }
}

impl<T: Transport> Transport for Shaped<T> {
    fn send(&mut self, frame: Vec<u8>) -> Result<()> {
        self.inner.send(frame)
    }
    fn recv(&mut self) -> LocalBoxFuture<'_, Result<Vec<u8>>> {
        Box::pin(async move {
            let f = self.inner.recv().await?;
            let delay = self.profile.rtt_s + f.len() as f64 / self.profile.bandwidth_bytes_per_s;
            self.sleeper.sleep(delay).await;
            Ok(f)
        })
    }
}

/// Frames seen by a [`Recording`] transport.
pub type FrameLog = Rc<RefCell<Vec<Vec<u8>>>>;

/// Keeps a copy of every frame received (and sent) through `inner`.
pub struct Recording<T> {
    inner: T,
    /// Frames received, in order.
    pub received: FrameLog,
    /// Frames sent, in order.
    pub sent: FrameLog,
}

impl<T: Transport> Recording<T> {
    /// Wraps `inner`; returns the transport and its two logs (received, sent).
    pub fn new(inner: T) -> (Self, FrameLog, FrameLog) {
        let received: FrameLog = Rc::default();
        let sent: FrameLog = Rc::default();
        (
            Recording {
                inner,
                received: received.clone(),
                sent: sent.clone(),
            },
            received,
            sent,
        )
    }
}

impl<T: Transport> Transport for Recording<T> {
    fn send(&mut self, frame: Vec<u8>) -> Result<()> {
        self.sent.borrow_mut().push(frame.clone());
        self.inner.send(frame)
    }
    fn recv(&mut self) -> LocalBoxFuture<'_, Result<Vec<u8>>> {
        Box::pin(async move {
            let f = self.inner.recv().await?;
            self.received.borrow_mut().push(f.clone());
            Ok(f)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_checks() {
        let f = encode_frame(MAGIC_PARTY, 3, 7, &[1, 2, 3]);
        assert_eq!(decode_frame(&f, MAGIC_PARTY, 3, 7, 3).unwrap(), &[1, 2, 3]);
        let msg = |r: Result<&[u8]>| format!("{}", r.unwrap_err());
        assert!(msg(decode_frame(&f, MAGIC_PARTY, 4, 7, 3)).contains("duplicated"));
        assert!(msg(decode_frame(&f, MAGIC_PARTY, 2, 7, 3)).contains("lost"));
        assert!(msg(decode_frame(&f, MAGIC_PARTY, 3, 8, 3)).contains("same program"));
        assert!(msg(decode_frame(&f[..f.len() - 1], MAGIC_PARTY, 3, 7, 3)).contains("truncated"));
        assert!(msg(decode_frame(&f[..5], MAGIC_PARTY, 3, 7, 3)).contains("truncated"));
        assert!(msg(decode_frame(&f, MAGIC_DEALER, 3, 7, 3)).contains("magic"));
        assert!(msg(decode_frame(&f, MAGIC_PARTY, 3, 7, 4)).contains("expected 4"));
    }

    #[test]
    fn mem_pair_delivers_in_order_and_reports_closure() {
        let (mut a, mut b) = mem_pair();
        a.send(vec![1]).unwrap();
        a.send(vec![2]).unwrap();
        let got = futures::executor::block_on(async {
            (b.recv().await.unwrap(), b.recv().await.unwrap())
        });
        assert_eq!(got, (vec![1], vec![2]));
        drop(a);
        assert_err!(
            futures::executor::block_on(b.recv()),
            crate::Error::ConnectionClosed { .. }
        );
    }
}
