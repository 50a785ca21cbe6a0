//! A native TCP transport (e.g. both parties on loopback, or across a real network).
//!
//! Frames are sent with a 4-byte little-endian length prefix. A writer thread drains an
//! unbounded queue (so `send` never blocks, even when both parties send large messages at
//! once and the socket buffers are full) and a reader thread feeds an async channel that
//! `recv` awaits. Use a parking executor (`futures::executor::block_on`) with it.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::mpsc;
use std::thread::JoinHandle;

use futures::channel::mpsc::{channel, Receiver};
use futures::executor::block_on;
use futures::future::LocalBoxFuture;
use futures::{SinkExt, StreamExt};

use super::transport::Transport;
use crate::{Error, Result};

/// Largest frame accepted from the wire by default (guards allocations against garbage
/// lengths); sessions that know their program set a tighter [`TcpLimits::max_frame`].
pub const MAX_FRAME: usize = 1 << 30;

/// How much a connection may hold in memory: the reader stops reading the socket when
/// `read_ahead` frames wait unconsumed (TCP flow control then slows the sender), and `send`
/// blocks when `write_queue` frames wait for the wire. Both counts are far above what one
/// protocol round queues (each party sends one frame, then waits for the other's), so the
/// blocking never closes a cycle between two parties; it bounds a dealer that runs ahead of
/// its party, or a peer that floods.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpLimits {
    /// Largest frame accepted; a larger length prefix ends the connection with an error
    /// before anything is allocated.
    pub max_frame: usize,
    /// Frames read ahead of the consumer.
    pub read_ahead: usize,
    /// Frames queued for the writer before `send` blocks.
    pub write_queue: usize,
}

impl Default for TcpLimits {
    fn default() -> Self {
        TcpLimits {
            max_frame: MAX_FRAME,
            read_ahead: 16,
            write_queue: 64,
        }
    }
}

/// A TCP connection to the peer.
pub struct TcpTransport {
    /// `None` once dropped (closing the writer's queue).
    tx: Option<mpsc::SyncSender<Vec<u8>>>,
    rx: Receiver<Result<Vec<u8>>>,
    writer: Option<JoinHandle<()>>,
}

impl TcpTransport {
    /// Connects to a listening peer.
    pub fn connect(addr: impl ToSocketAddrs) -> Result<Self> {
        Self::from_stream(TcpStream::connect(addr)?)
    }

    /// Accepts one peer on `listener`.
    pub fn accept(listener: &TcpListener) -> Result<Self> {
        let (s, _) = listener.accept()?;
        Self::from_stream(s)
    }

    /// Wraps a connected stream with the default [`TcpLimits`].
    pub fn from_stream(stream: TcpStream) -> Result<Self> {
        Self::with_limits(stream, TcpLimits::default())
    }

    /// Wraps a connected stream.
    pub fn with_limits(stream: TcpStream, limits: TcpLimits) -> Result<Self> {
        if limits.max_frame > MAX_FRAME || limits.read_ahead == 0 || limits.write_queue == 0 {
            return Err(Error::out_of_range(
                "TCP limits",
                format!("{limits:?}"),
                format!("positive limits, frames of at most {MAX_FRAME} bytes"),
            ));
        }
        stream.set_nodelay(true)?;
        let mut reader = stream.try_clone()?;
        let mut writer = stream;
        let (tx, wrx) = mpsc::sync_channel::<Vec<u8>>(limits.write_queue);
        let writer_thread = std::thread::spawn(move || {
            while let Ok(frame) = wrx.recv() {
                let len = (frame.len() as u32).to_le_bytes();
                if writer
                    .write_all(&len)
                    .and_then(|_| writer.write_all(&frame))
                    .is_err()
                {
                    break;
                }
            }
            let _ = writer.shutdown(Shutdown::Write);
        });
        let (mut rtx, rx) = channel(limits.read_ahead);
        std::thread::spawn(move || loop {
            let frame = read_frame(&mut reader, limits.max_frame);
            let last = frame.is_err();
            // Blocks while `read_ahead` frames wait: back-pressure to the sender.
            if block_on(rtx.send(frame)).is_err() || last {
                break;
            }
        });
        Ok(TcpTransport {
            tx: Some(tx),
            rx,
            writer: Some(writer_thread),
        })
    }
}

/// One length-prefixed frame; the length is checked before the buffer is allocated.
fn read_frame(reader: &mut impl Read, max_frame: usize) -> Result<Vec<u8>> {
    let mut len = [0u8; 4];
    reader.read_exact(&mut len).map_err(|e| match e.kind() {
        std::io::ErrorKind::UnexpectedEof => Error::ConnectionClosed {
            peer: "the TCP peer".into(),
        },
        _ => Error::Protocol(format!("the TCP connection failed ({e})")),
    })?;
    let n = u32::from_le_bytes(len) as usize;
    if n > max_frame {
        return Err(Error::Protocol(format!(
            "the peer sent a frame of {n} bytes; at most {max_frame} are accepted"
        )));
    }
    let mut buf = vec![0u8; n];
    reader
        .read_exact(&mut buf)
        .map_err(|e| Error::Protocol(format!("truncated frame: {e}")))?;
    Ok(buf)
}

impl Drop for TcpTransport {
    /// Waits until every queued frame is on the wire (or the socket failed, which its write
    /// timeout bounds): a process that exits right after its last `send` would otherwise lose
    /// it, and its peer would see the connection close instead of the final message.
    fn drop(&mut self) {
        drop(self.tx.take());
        if let Some(h) = self.writer.take() {
            let _ = h.join();
        }
    }
}

impl Transport for TcpTransport {
    fn send(&mut self, frame: Vec<u8>) -> Result<()> {
        self.tx
            .as_ref()
            .ok_or_else(|| Error::Protocol("TCP transport closed".into()))?
            .send(frame)
            .map_err(|_| Error::Protocol("TCP writer stopped (the connection failed)".into()))
    }
    fn recv(&mut self) -> LocalBoxFuture<'_, Result<Vec<u8>>> {
        Box::pin(async move {
            match self.rx.next().await {
                Some(r) => r,
                None => Err(Error::ConnectionClosed {
                    peer: "the TCP peer".into(),
                }),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(limits: TcpLimits) -> (TcpStream, TcpTransport) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let raw = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (s, _) = l.accept().unwrap();
        (raw, TcpTransport::with_limits(s, limits).unwrap())
    }

    #[test]
    fn an_oversized_length_prefix_is_an_error_before_any_allocation() {
        let (mut raw, mut t) = pair(TcpLimits {
            max_frame: 1000,
            ..TcpLimits::default()
        });
        raw.write_all(&u32::MAX.to_le_bytes()).unwrap();
        let e = block_on(t.recv()).unwrap_err().to_string();
        assert!(e.contains("at most 1000"), "{e}");
    }

    #[test]
    fn frames_round_trip_and_a_truncated_frame_is_reported() {
        let (mut raw, mut t) = pair(TcpLimits::default());
        raw.write_all(&3u32.to_le_bytes()).unwrap();
        raw.write_all(b"abc").unwrap();
        assert_eq!(block_on(t.recv()).unwrap(), b"abc");
        raw.write_all(&10u32.to_le_bytes()).unwrap();
        raw.write_all(b"abc").unwrap();
        raw.shutdown(Shutdown::Write).unwrap();
        let e = block_on(t.recv()).unwrap_err().to_string();
        assert!(e.contains("truncated"), "{e}");
    }

    #[test]
    fn the_reader_stops_after_its_read_ahead() {
        // A peer floods 1 MiB frames; the transport holds at most `read_ahead` of them (plus
        // the one the reader thread is filling), and the rest wait in the socket buffers.
        let (raw, t) = pair(TcpLimits {
            read_ahead: 2,
            ..TcpLimits::default()
        });
        let frame = vec![7u8; 1 << 20];
        let flood = std::thread::spawn(move || {
            let mut raw = raw;
            raw.set_write_timeout(Some(std::time::Duration::from_millis(500)))
                .unwrap();
            let mut sent = 0usize;
            while raw
                .write_all(&(frame.len() as u32).to_le_bytes())
                .and_then(|_| raw.write_all(&frame))
                .is_ok()
            {
                sent += 1;
                if sent == 64 {
                    break;
                }
            }
            sent
        });
        let sent = flood.join().unwrap();
        // Socket buffers hold a few MiB at most; 64 MiB never got through.
        assert!(
            sent < 64,
            "the sender was never slowed down ({sent} frames)"
        );
        drop(t);
    }
}
