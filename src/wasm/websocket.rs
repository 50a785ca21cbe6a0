//! The browser's `WebSocket` as a [`Transport`]: the page's client worker reaches a native
//! `mpcvit serve` and `mpcvit dealer` with it (`ws://` or `wss://`). Every frame is one binary
//! message; `send` hands it to the browser's buffer (never blocks), `recv` awaits the next one.
//! A message over the frame limit, a text message, or the socket closing ends the connection
//! with an error naming the peer; an error message from the peer ([`Control::error_text`])
//! becomes that error.

use futures::channel::mpsc::{unbounded, UnboundedReceiver};
use futures::channel::oneshot;
use futures::future::LocalBoxFuture;
use futures::StreamExt;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{BinaryType, CloseEvent, MessageEvent, WebSocket};

use crate::mpc::Transport;
use crate::secure::remote::wire::Control;
use crate::{Error, Result};

/// Largest message accepted from a peer (the native services' default frame limit).
pub(crate) const MAX_FRAME: usize = 512 << 20;

/// An open browser WebSocket to a named peer.
pub(crate) struct BrowserSocket {
    ws: WebSocket,
    rx: UnboundedReceiver<Result<Vec<u8>>>,
    peer: String,
    // The handlers live as long as the socket.
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_close: Closure<dyn FnMut(CloseEvent)>,
    _on_error: Closure<dyn FnMut(JsValue)>,
}

fn closed_text(peer: &str, e: &CloseEvent) -> String {
    let reason = e.reason();
    let reason = if reason.is_empty() {
        String::new()
    } else {
        format!(": {}", crate::secure::remote::wire::printable(&reason))
    };
    format!("{peer} closed the connection (code {}{reason})", e.code())
}

impl BrowserSocket {
    /// Opens `url`; `what` names the peer in messages ("server", "dealer").
    pub(crate) async fn connect(url: &str, what: &str) -> Result<BrowserSocket> {
        let peer = format!("the {what} at {url}");
        if !(url.starts_with("ws://") || url.starts_with("wss://")) {
            return Err(Error::Endpoint(format!(
                "{url}: the {what}'s address must start with ws:// or wss://"
            )));
        }
        let ws = WebSocket::new(url)
            .map_err(|e| Error::Endpoint(format!("cannot open {peer}: {}", js_text(&e))))?;
        ws.set_binary_type(BinaryType::Arraybuffer);
        let (tx, rx) = unbounded::<Result<Vec<u8>>>();
        let (opened_tx, opened_rx) = oneshot::channel::<Result<()>>();
        let opened = std::rc::Rc::new(std::cell::RefCell::new(Some(opened_tx)));

        let on_message = {
            let (tx, peer) = (tx.clone(), peer.clone());
            Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
                let item = match e.data().dyn_into::<js_sys::ArrayBuffer>() {
                    Ok(b) if b.byte_length() as usize <= MAX_FRAME => {
                        Ok(js_sys::Uint8Array::new(&b).to_vec())
                    }
                    Ok(b) => Err(Error::Protocol(format!(
                        "{peer} sent a message of {} bytes; at most {MAX_FRAME} are accepted",
                        b.byte_length()
                    ))),
                    Err(_) => Err(Error::Protocol(format!(
                        "{peer} sent a text message; every message is binary"
                    ))),
                };
                let _ = tx.unbounded_send(item);
            })
        };
        let on_close = {
            let (tx, peer, opened) = (tx.clone(), peer.clone(), opened.clone());
            Closure::<dyn FnMut(CloseEvent)>::new(move |e: CloseEvent| {
                let text = closed_text(&peer, &e);
                if let Some(o) = opened.borrow_mut().take() {
                    // Closed before it opened: unreachable, refused, or a failed TLS handshake
                    // (browsers do not say which, for privacy).
                    let _ = o.send(Err(Error::Protocol(format!(
                        "cannot reach {peer} (code {}): is it running, and is the address right?",
                        e.code()
                    ))));
                }
                let _ = tx.unbounded_send(Err(Error::Protocol(text)));
                tx.close_channel();
            })
        };
        // An `error` event is always followed by `close`, which says more.
        let on_error = Closure::<dyn FnMut(JsValue)>::new(move |_e: JsValue| {});
        let on_open = {
            let opened = opened.clone();
            Closure::<dyn FnMut(JsValue)>::new(move |_e: JsValue| {
                if let Some(o) = opened.borrow_mut().take() {
                    let _ = o.send(Ok(()));
                }
            })
        };
        ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        ws.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        let result = opened_rx.await.unwrap_or_else(|_| {
            Err(Error::Protocol(format!(
                "{peer}: the connection was dropped"
            )))
        });
        ws.set_onopen(None);
        drop(on_open);
        result?;
        Ok(BrowserSocket {
            ws,
            rx,
            peer,
            _on_message: on_message,
            _on_close: on_close,
            _on_error: on_error,
        })
    }

    /// Who is at the other end ("the server at ws://…").
    pub(crate) fn peer(&self) -> &str {
        &self.peer
    }
}

fn js_text(v: &JsValue) -> String {
    v.dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| v.as_string())
        .unwrap_or_else(|| "unknown error".into())
}

impl Drop for BrowserSocket {
    fn drop(&mut self) {
        self.ws.set_onmessage(None);
        self.ws.set_onclose(None);
        self.ws.set_onerror(None);
        let _ = self.ws.close();
    }
}

impl Transport for BrowserSocket {
    fn send(&mut self, frame: Vec<u8>) -> Result<()> {
        if self.ws.ready_state() != WebSocket::OPEN {
            return Err(Error::Protocol(format!(
                "the connection to {} is closed",
                self.peer
            )));
        }
        self.ws
            .send_with_u8_array(&frame)
            .map_err(|e| Error::Protocol(format!("cannot send to {}: {}", self.peer, js_text(&e))))
    }

    fn recv(&mut self) -> LocalBoxFuture<'_, Result<Vec<u8>>> {
        Box::pin(async move {
            let frame = match self.rx.next().await {
                Some(r) => r?,
                None => {
                    return Err(Error::Protocol(format!(
                        "the connection to {} is closed",
                        self.peer
                    )))
                }
            };
            // A peer that fails mid-protocol says why instead of sending its next frame.
            if let Some(message) = Control::error_text(&frame) {
                return Err(Error::Protocol(format!(
                    "{} reported an error: {message}",
                    self.peer
                )));
            }
            Ok(frame)
        })
    }
}
