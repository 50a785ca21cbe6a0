//! The page's remote mode: the client worker as party 0 against a native `mpcvit serve` and a
//! `mpcvit dealer` reached over WebSocket. Only the client runs in the tab; the weights never
//! come near it. The session is [`crate::secure::remote::session`], the same code as the native
//! `mpcvit classify`.

use serde::Serialize;
use wasm_bindgen::prelude::*;

use super::websocket::BrowserSocket;
use super::{js_err, to_js};
use crate::data::preprocess_rgba;
use crate::model::{Plan, ViTConfig};
use crate::mpc::{SessionConfig, Transport};
use crate::secure::remote::session::{self, DealerPolicy};
use crate::secure::remote::ServerHello;
use crate::secure::{CostSummary, Stage};
use crate::Error;

/// What the page shows of a server before classifying: its hello.
#[derive(Serialize)]
struct HelloView<'a> {
    config: &'a ViTConfig,
    plan: &'a Plan,
    class_names: &'a Option<Vec<String>>,
    session: SessionConfig,
    dealer: &'a str,
    dealer_in_server: bool,
}

impl<'a> HelloView<'a> {
    fn of(h: &'a ServerHello) -> Self {
        HelloView {
            config: &h.config,
            plan: &h.plan,
            class_names: &h.class_names,
            session: h.session,
            dealer: &h.dealer,
            dealer_in_server: h.dealer_in_server,
        }
    }
}

async fn hello_of(server_url: &str) -> crate::Result<(BrowserSocket, ServerHello)> {
    let mut server = BrowserSocket::connect(server_url, "server").await?;
    let peer = server.peer().to_string();
    let hello = session::read_hello(&mut server, &peer).await?;
    Ok((server, hello))
}

/// Connects to the server at `server_url` (`ws://…` or `wss://…`), reads its hello and closes:
/// `{config, plan, class_names, session, dealer, dealer_in_server}`.
#[wasm_bindgen]
pub async fn remote_hello(server_url: String) -> Result<JsValue, JsError> {
    let (_server, hello) = hello_of(&server_url).await.map_err(js_err)?;
    to_js(&HelloView::of(&hello))
}

/// The image to classify: the model's input bytes, or a drawn / uploaded RGBA picture that is
/// prepared for the server's model here (as MNIST was made).
enum Input {
    Pixels(Vec<u8>),
    Rgba {
        rgba: Vec<u8>,
        width: usize,
        height: usize,
    },
}

impl Input {
    /// The model input bytes for `cfg`.
    fn prepare(self, cfg: &ViTConfig) -> crate::Result<Vec<u8>> {
        let bytes = match self {
            Input::Pixels(pixels) => pixels,
            Input::Rgba {
                rgba,
                width,
                height,
            } => {
                if cfg.channels != 1 {
                    return Err(Error::Unsupported(format!(
                        "drawn and uploaded images need a greyscale model; the server's expects \
                         {} channels",
                        cfg.channels
                    )));
                }
                preprocess_rgba(width, height, &rgba, cfg.image_size)?
            }
        };
        cfg.check_image(bytes.len())?;
        Ok(bytes)
    }
}

#[derive(Serialize)]
struct RemoteResult<'a> {
    hello: HelloView<'a>,
    prediction: usize,
    probabilities: Vec<f32>,
    logits: Vec<f64>,
    /// The model input that was classified (for display).
    input: Vec<u8>,
    cost: CostSummary,
    /// Connect to result, over the real network, seconds.
    measured_s: f64,
}

/// Whether two WebSocket URLs name the same service: the same scheme, host and port (the
/// browser's URL parser fills in default ports and normalises the host).
fn same_service(a: &str, b: &str) -> crate::Result<bool> {
    let parse = |u: &str| {
        web_sys::Url::new(u.trim())
            .map(|u| (u.protocol(), u.hostname().to_lowercase(), u.port()))
            .map_err(|_| Error::Endpoint(format!("'{u}' is not a URL")))
    };
    Ok(parse(a)? == parse(b)?)
}

/// Classifies one image privately with the server at `server_url`, through the dealer at
/// `dealer_url` (the one this user trusts; the server must use the same one) or, when it is
/// `null`, the dealer the server proposes (the page warns first). `token` is the dealer's
/// access token, if it has one. `image` is the model's input bytes when `rgba_size` is `null`,
/// else an RGBA picture of `[width, height]`. `on_progress` receives the forward's stages as
/// the local client does. Returns `{hello, prediction, probabilities, logits, input, cost,
/// measured_s}`.
#[wasm_bindgen]
pub async fn classify_remote(
    server_url: String,
    dealer_url: Option<String>,
    token: Option<String>,
    image: Vec<u8>,
    rgba_size: Option<Vec<u32>>,
    on_progress: Option<js_sys::Function>,
) -> Result<JsValue, JsError> {
    let input = match rgba_size.as_deref() {
        None => Input::Pixels(image),
        Some(&[w, h]) => Input::Rgba {
            rgba: image,
            width: w as usize,
            height: h as usize,
        },
        Some(_) => return Err(JsError::new("rgba_size must be [width, height]")),
    };
    let t0 = crate::mpc::network::now_s();
    let (server, hello) = hello_of(&server_url).await.map_err(js_err)?;
    let policy = match dealer_url {
        Some(u) if !u.trim().is_empty() => DealerPolicy::Trusted(u.trim().to_string()),
        _ => DealerPolicy::AcceptServers,
    };
    let dealer = policy.choose(&hello, same_service).map_err(js_err)?;
    let bytes = input.prepare(&hello.config).map_err(js_err)?;
    let image: Vec<f32> = bytes.iter().map(|&p| p as f32 / 255.0).collect();
    let s = serde_wasm_bindgen::Serializer::json_compatible();
    let mut on_stage = |p: session::Progress| {
        if let (Some(f), Ok(v)) = (&on_progress, Stage::serialize(&p.stage, &s)) {
            // A failing progress display must not stop the inference.
            let _ = f.call1(&JsValue::NULL, &v);
        }
    };
    let connect = || async move {
        let d = BrowserSocket::connect(&dealer, "dealer").await?;
        Ok(Box::new(d) as Box<dyn Transport>)
    };
    let peer = server.peer().to_string();
    let token = token.filter(|t| !t.trim().is_empty());
    let mut results = session::classify(
        Box::new(server),
        &peer,
        &hello,
        &[image],
        token.as_deref().map(|t| t.trim().as_bytes()),
        connect,
        &mut on_stage,
    )
    .await
    .map_err(js_err)?;
    let r = results
        .pop()
        .ok_or_else(|| JsError::new("the session returned no result"))?;
    to_js(&RemoteResult {
        hello: HelloView::of(&hello),
        prediction: r.prediction,
        probabilities: r.probabilities,
        logits: r.logits,
        input: bytes,
        cost: r.cost,
        measured_s: crate::mpc::network::now_s() - t0,
    })
}
