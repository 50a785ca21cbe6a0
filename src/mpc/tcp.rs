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

use futures::channel::mpsc::{unbounded, UnboundedReceiver};
use futures::future::LocalBoxFuture;
use futures::StreamExt;

use super::transport::Transport;
use crate::{Error, Result};

/// Largest frame accepted from the wire (guards allocations against garbage lengths).
pub const MAX_FRAME: usize = 1 << 30;

/// A TCP connection to the peer.
pub struct TcpTransport {
    /// `None` once dropped (closing the writer's queue).
    tx: Option<mpsc::Sender<Vec<u8>>>,
    rx: UnboundedReceiver<Result<Vec<u8>>>,
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

    /// Wraps a connected stream.
    pub fn from_stream(stream: TcpStream) -> Result<Self> {
        stream.set_nodelay(true)?;
        let mut reader = stream.try_clone()?;
        let mut writer = stream;
        let (tx, wrx) = mpsc::channel::<Vec<u8>>();
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
        let (rtx, rx) = unbounded();
        std::thread::spawn(move || loop {
            let mut len = [0u8; 4];
            if reader.read_exact(&mut len).is_err() {
                break; // closed: the channel end reports it
            }
            let n = u32::from_le_bytes(len) as usize;
            if n > MAX_FRAME {
                let _ = rtx.unbounded_send(Err(Error::Protocol(format!("frame of {n} bytes"))));
                break;
            }
            let mut buf = vec![0u8; n];
            if let Err(e) = reader.read_exact(&mut buf) {
                let _ = rtx.unbounded_send(Err(Error::Protocol(format!("truncated frame: {e}"))));
                break;
            }
            if rtx.unbounded_send(Ok(buf)).is_err() {
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
            .map_err(|_| Error::Protocol("TCP writer stopped".into()))
    }
    fn recv(&mut self) -> LocalBoxFuture<'_, Result<Vec<u8>>> {
        Box::pin(async move {
            match self.rx.next().await {
                Some(r) => r,
                None => Err(Error::Protocol("peer closed the TCP connection".into())),
            }
        })
    }
}
