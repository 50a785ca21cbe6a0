//! The private-inference participants as the page's Web Workers run them. Each worker owns one
//! wasm instance and talks to its peers only through `MessagePort`s, moving every frame as a
//! transferred `ArrayBuffer`: the client (party 0), the server (party 1) and the dealer. The
//! protocol programs are [`crate::secure::programs`]; this file only wires ports to them.

use std::rc::Rc;

use futures::future::LocalBoxFuture;
use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{MessageEvent, MessagePort};

use super::js_err;
use crate::io::{load_model, Manifest};
use crate::model::ViT;
use crate::mpc::setup::{join_dealer, start_dealer};
use crate::mpc::transport::{Shaped, Sleeper, Transport};
use crate::mpc::{NetworkProfile, ProtocolFamily, Report, SessionConfig};
use crate::secure::programs::{client_observed, dealer, server};
use crate::secure::session::probabilities;
use crate::secure::{CostSummary, Stage};

/// A transport over a `MessagePort`: a frame leaves through `postMessage` as it is sent (its
/// buffer transferred, not copied), and arrives from `onmessage`. Posting at once, not from a
/// task that waits for this worker's event loop, is what lets the dealer's frames reach the
/// parties while it is still computing the next ones (a dealer that never yields would
/// otherwise hold every frame, its seed first, until its whole run had ended). A message that
/// is not binary is turned into an empty frame, which the protocol's frame check rejects with
/// a clear error.
struct PortTransport {
    port: MessagePort,
    incoming: futures::channel::mpsc::UnboundedReceiver<Vec<u8>>,
}

impl Transport for PortTransport {
    fn send(&mut self, frame: Vec<u8>) -> crate::Result<()> {
        let buf = js_sys::Uint8Array::from(frame.as_slice()).buffer();
        let transfer = js_sys::Array::of1(&buf);
        self.port
            .post_message_with_transferable(&buf, &transfer)
            .map_err(|_| crate::Error::ConnectionClosed {
                peer: "the peer's message port".into(),
            })
    }

    fn recv(&mut self) -> LocalBoxFuture<'_, crate::Result<Vec<u8>>> {
        Box::pin(crate::mpc::transport::next_queued(
            &mut self.incoming,
            "the peer's message port",
        ))
    }
}

fn port_transport(port: &MessagePort) -> Box<dyn Transport> {
    let (incoming_tx, incoming) = futures::channel::mpsc::unbounded();
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
        let bytes = e
            .data()
            .dyn_into::<js_sys::ArrayBuffer>()
            .map(|b| js_sys::Uint8Array::new(&b).to_vec())
            .unwrap_or_default();
        let _ = incoming_tx.unbounded_send(bytes);
    });
    port.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    // The handler lives as long as the port: the worker ends with the session.
    on_message.forget();
    port.start();
    Box::new(PortTransport {
        port: port.clone(),
        incoming,
    })
}

/// `setTimeout` as the shaping wrapper's clock (works in a page and in a worker).
struct TimeoutSleeper;

impl Sleeper for TimeoutSleeper {
    fn sleep(&self, seconds: f64) -> LocalBoxFuture<'static, ()> {
        let ms = (seconds * 1000.0).max(0.0);
        let promise = js_sys::Promise::new(&mut |resolve, _| {
            let global = js_sys::global();
            if let Ok(f) = js_sys::Reflect::get(&global, &"setTimeout".into())
                .and_then(|f| f.dyn_into::<js_sys::Function>())
            {
                let _ = f.call2(&global, &resolve, &JsValue::from_f64(ms));
            }
        });
        Box::pin(async move {
            let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
        })
    }
}

/// A network profile chosen in the page (`null` for none).
#[derive(Deserialize)]
struct ProfileArg {
    name: String,
    rtt_ms: f64,
    mbytes_per_s: f64,
}

fn shaped(t: Box<dyn Transport>, profile: JsValue) -> Result<Box<dyn Transport>, JsError> {
    if profile.is_null() || profile.is_undefined() {
        return Ok(t);
    }
    let p: ProfileArg = serde_wasm_bindgen::from_value(profile).map_err(js_err)?;
    if !(p.rtt_ms >= 0.0 && p.mbytes_per_s > 0.0) {
        return Err(JsError::new(
            "network profile: RTT must be >= 0 and bandwidth > 0",
        ));
    }
    let profile = NetworkProfile {
        name: p.name,
        rtt_s: p.rtt_ms / 1000.0,
        bandwidth_bytes_per_s: p.mbytes_per_s * 1e6,
    };
    Ok(Box::new(Shaped::new(t, profile, Rc::new(TimeoutSleeper))))
}

/// The session of a page run: the default fixed point and truncation, with the protocol family
/// the page chose (`"classic"` or `"fss"`; absent: classic). All three workers must be given
/// the same family: a mismatch shows as a frame error, never as a wrong answer.
fn session(protocols: Option<String>) -> Result<SessionConfig, JsError> {
    let family = match protocols.as_deref() {
        None => ProtocolFamily::default(),
        Some(name) => ProtocolFamily::from_name(name).map_err(js_err)?,
    };
    Ok(SessionConfig {
        family,
        ..SessionConfig::default()
    })
}

#[derive(Serialize)]
struct ClientResult {
    prediction: usize,
    probabilities: Vec<f32>,
    logits: Vec<f64>,
    cost: CostSummary,
    measured_s: f64,
}

/// Party 0 (the client, who owns the image): classifies `pixels` (the model's input bytes,
/// 0-255) with the server's model, whose public shape is in `manifest_json`. Returns
/// `{prediction, probabilities, logits, cost, measured_s}`; only this party learns them.
/// `on_progress`, if given, is called as each stage starts with a small control object
/// `{stage: "weights" | "embed" | "layer" | "head", layer?, layers?}` (public positions in the
/// public architecture, never a share or a value). `protocols` is the family (`"classic"`,
/// `"fss"`; absent: classic); with `fss` the dealer's port also carries party 0's key bundles.
#[wasm_bindgen]
pub async fn run_client(
    manifest_json: String,
    pixels: Vec<u8>,
    peer: MessagePort,
    dealer_port: MessagePort,
    profile: JsValue,
    on_progress: Option<js_sys::Function>,
    protocols: Option<String>,
) -> Result<JsValue, JsError> {
    let cfg = session(protocols)?;
    let m = Manifest::from_json(&manifest_json).map_err(js_err)?;
    let image: Vec<f32> = pixels.iter().map(|&p| p as f32 / 255.0).collect();
    m.config.check_image(image.len()).map_err(js_err)?;
    let t = shaped(port_transport(&peer), profile)?;
    let mut p = join_dealer(0, cfg, t, port_transport(&dealer_port))
        .await
        .map_err(js_err)?;
    let t0 = crate::mpc::network::now_s();
    let s = serde_wasm_bindgen::Serializer::json_compatible();
    let mut on_stage = |stage: Stage| {
        if let (Some(f), Ok(v)) = (&on_progress, stage.serialize(&s)) {
            // A failing progress display must not stop the inference.
            let _ = f.call1(&JsValue::NULL, &v);
        }
    };
    let logits = client_observed(&mut p, &m.config, &m.plan, &image, &mut on_stage)
        .await
        .map_err(js_err)?;
    let measured_s = crate::mpc::network::now_s() - t0;
    let probabilities = probabilities(&logits);
    let prediction = crate::model::argmax(probabilities.iter().copied());
    let cost = CostSummary::from_report(&p.meter.report(), p.config().family);
    let s = serde_wasm_bindgen::Serializer::json_compatible();
    ClientResult {
        prediction,
        probabilities,
        logits,
        cost,
        measured_s,
    }
    .serialize(&s)
    .map_err(js_err)
}

/// Party 1 (the server, who owns the weights): serves one inference with the protocol family
/// `protocols` (as [`run_client`]). Returns its own view of the cost (it learns no result).
#[wasm_bindgen]
pub async fn run_server(
    weights: Vec<u8>,
    manifest_json: String,
    peer: MessagePort,
    dealer_port: MessagePort,
    profile: JsValue,
    protocols: Option<String>,
) -> Result<JsValue, JsError> {
    let cfg = session(protocols)?;
    let (m, params) = load_model(&weights, &manifest_json).map_err(js_err)?;
    let vit = ViT::new(m.config, m.plan, params).map_err(js_err)?;
    let t = shaped(port_transport(&peer), profile)?;
    let mut p = join_dealer(1, cfg, t, port_transport(&dealer_port))
        .await
        .map_err(js_err)?;
    server(&mut p, &vit).await.map_err(js_err)?;
    report_value(&p.meter.report(), p.config().family)
}

/// The dealer: draws both parties' seeds, sends each its own, then runs the server's program
/// on shapes only and streams party 1's corrections (offline traffic), and with the `fss`
/// family both parties' key bundles. Returns its cost view.
#[wasm_bindgen]
pub async fn run_dealer(
    manifest_json: String,
    to_client: MessagePort,
    to_server: MessagePort,
    protocols: Option<String>,
) -> Result<JsValue, JsError> {
    let cfg = session(protocols)?;
    let m = Manifest::from_json(&manifest_json).map_err(js_err)?;
    let mut d = start_dealer(cfg, port_transport(&to_client), port_transport(&to_server))
        .map_err(js_err)?;
    dealer(&mut d, &m.config, &m.plan).await.map_err(js_err)?;
    report_value(&d.meter.report(), d.config().family)
}

fn report_value(r: &Report, protocols: ProtocolFamily) -> Result<JsValue, JsError> {
    let s = serde_wasm_bindgen::Serializer::json_compatible();
    CostSummary::from_report(r, protocols)
        .serialize(&s)
        .map_err(js_err)
}
