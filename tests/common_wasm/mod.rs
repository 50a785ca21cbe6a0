//! The wasm test suite, run in three environments (Node, a browser page, a dedicated worker) by
//! tests/wasm_node.rs, tests/wasm_browser.rs and tests/wasm_worker.rs.

use mpcvit::data::Dataset;
use mpcvit::io::{to_safetensors, Manifest};
use mpcvit::model::{Attention, Params, Plan, ViT, ViTConfig};
use mpcvit::mpc::exec::run_joined;
use mpcvit::mpc::protocols::{relu_softmax, reveal, share_input};
use mpcvit::mpc::{local_pair_with, transport::mem_pair, SessionConfig, SessionSeeds};
use mpcvit::secure::infer_local;
use mpcvit::wasm::{run_client, run_dealer, run_server, Classifier, TrainerHandle};
use ndarray::ArrayD;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::wasm_bindgen_test;

mod search;

fn cfg() -> ViTConfig {
    ViTConfig::tiny()
}

fn model(attention: Attention) -> (Vec<u8>, String) {
    let c = cfg();
    let p = Params::init(&c, &mut ChaCha8Rng::seed_from_u64(1));
    let m = Manifest::new("tiny", "toy", c.clone(), Plan::uniform(&c, attention));
    (to_safetensors(&p, &[]).unwrap(), m.to_json().unwrap())
}

/// The message of a binding's error. The bindings return `JsError`, which carries the library
/// error's text, so the text is what tells one kind of error from another here.
pub(crate) fn error_text<T>(r: Result<T, wasm_bindgen::JsError>) -> String {
    match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => js_sys::Reflect::get(&JsValue::from(e), &"message".into())
            .ok()
            .and_then(|m| m.as_string())
            .unwrap_or_default(),
    }
}

/// Asserts that `r` failed with a message containing `want`.
#[track_caller]
pub(crate) fn assert_error<T>(r: Result<T, wasm_bindgen::JsError>, want: &str, case: &str) {
    let text = error_text(r);
    if !text.contains(want) {
        wasm_bindgen_test::console_log!(
            "MISMATCH {case}: expected an error containing {want:?}, got {text:?}"
        );
    }
}

fn field(v: &JsValue, name: &str) -> JsValue {
    js_sys::Reflect::get(v, &name.into()).unwrap()
}

#[wasm_bindgen_test]
fn classifier_returns_probabilities_for_every_variant() {
    for a in Attention::ALL {
        let (w, m) = model(a);
        let c = Classifier::load(&w, &m).unwrap();
        let r = c.classify(&[128u8; 64]).unwrap();
        let probs: Vec<f32> = serde_wasm_bindgen::from_value(field(&r, "probabilities")).unwrap();
        assert_eq!(probs.len(), 3);
        assert!(probs.iter().all(|p| p.is_finite()), "{a:?}");
        assert!((probs.iter().sum::<f32>() - 1.0).abs() < 1e-4);
    }
}

#[wasm_bindgen_test]
fn classifier_matches_the_model_run_directly() {
    let c = cfg();
    let p = Params::init(&c, &mut ChaCha8Rng::seed_from_u64(1));
    let plan = Plan::uniform(&c, Attention::RsAttn);
    let vit = ViT::new(c.clone(), plan.clone(), p).unwrap();
    let (w, m) = model(Attention::RsAttn);
    let classifier = Classifier::load(&w, &m).unwrap();
    let pixels: Vec<u8> = (0..64u32).map(|i| (i * 37 % 256) as u8).collect();
    let r = classifier.classify(&pixels).unwrap();
    let got: Vec<f32> = serde_wasm_bindgen::from_value(field(&r, "probabilities")).unwrap();
    let input: Vec<f32> = pixels.iter().map(|&p| p as f32 / 255.0).collect();
    let want = vit.classify(&input).unwrap();
    assert_eq!(
        got, want,
        "the binding adds nothing to the model's arithmetic"
    );
    assert!((want.iter().sum::<f32>() - 1.0).abs() < 1e-5);
    let pred = field(&r, "prediction").as_f64().unwrap() as usize;
    assert!(want.iter().all(|&p| p <= want[pred]));
    assert!(
        field(&r, "labels").is_undefined(),
        "dataset 'toy' has no names"
    );
    assert_eq!(classifier.input_len(), 64);
    assert_eq!(classifier.image_size(), 8);
    let info = classifier.info().unwrap();
    assert_eq!(field(&info, "name").as_string().unwrap(), "tiny");
    assert_eq!(
        field(&field(&info, "config"), "dim").as_f64().unwrap(),
        16.0
    );
}

#[wasm_bindgen_test]
fn known_datasets_give_class_names() {
    let mut c = cfg();
    c.classes = 10;
    let p = Params::init(&c, &mut ChaCha8Rng::seed_from_u64(2));
    let w = to_safetensors(&p, &[]).unwrap();
    for (dataset, third) in [("mnist", "2"), ("fashion", "Pullover")] {
        let m = Manifest::new(
            "named",
            dataset,
            c.clone(),
            Plan::uniform(&c, Attention::Softmax),
        );
        let r = Classifier::load(&w, &m.to_json().unwrap())
            .unwrap()
            .classify(&[0u8; 64])
            .unwrap();
        let labels: Vec<String> = serde_wasm_bindgen::from_value(field(&r, "labels")).unwrap();
        assert_eq!(labels.len(), 10);
        assert_eq!(labels[2], third);
    }
}

#[wasm_bindgen_test]
fn bad_inputs_are_errors_not_panics() {
    let (w, m) = model(Attention::RsAttn);
    let c = Classifier::load(&w, &m).unwrap();
    assert_error(c.classify(&[0u8; 10]), "expected 64", "wrong image size");
    assert_error(
        Classifier::load(&w[..w.len() / 2], &m),
        "safetensors",
        "truncated weights",
    );
    assert_error(
        Classifier::load(b"garbage", &m),
        "safetensors",
        "garbage weights",
    );
    assert_error(Classifier::load(&[], &m), "safetensors", "empty weights");
    let mut header = w.clone();
    header[8..16].copy_from_slice(b"{\"x\":!!}");
    assert_error(
        Classifier::load(&header, &m),
        "safetensors",
        "corrupt header",
    );
    let mut huge = w.clone();
    huge[..8].copy_from_slice(&u64::MAX.to_le_bytes());
    assert_error(
        Classifier::load(&huge, &m),
        "safetensors",
        "absurd header length",
    );
    let other = Manifest::new(
        "other",
        "toy",
        ViTConfig { dim: 32, ..cfg() },
        Plan::uniform(&cfg(), Attention::RsAttn),
    );
    assert_error(
        Classifier::load(&w, &other.to_json().unwrap()),
        "has shape",
        "weights of another shape",
    );
    assert_error(c.classify(&[0u8; 65]), "expected 64", "one pixel too many");
    assert_error(
        c.classify_rgba(&[0u8; 12], 4, 4),
        "expected 64",
        "rgba of the wrong length",
    );
    assert_error(c.classify_rgba(&[], 0, 0), "empty", "empty rgba");
    assert_error(
        Classifier::load(&w, "{"),
        "manifest is not valid",
        "bad manifest",
    );
    assert_error(
        c.prepare_rgba(&[0u8; 12], 2, 2),
        "expected 16 bytes",
        "rgba shorter than its size",
    );
    assert_error(
        c.prepare_rgba(&[0u8; 16], 2, 2),
        "image is blank",
        "blank drawing",
    );
}

#[wasm_bindgen_test]
fn drawn_rgba_is_prepared_to_model_input() {
    let (w, m) = model(Attention::Softmax);
    let c = Classifier::load(&w, &m).unwrap();
    let (wd, ht) = (40usize, 40usize);
    let mut rgba = vec![255u8; wd * ht * 4];
    for y in 10..30 {
        for x in 18..22 {
            let i = (y * wd + x) * 4;
            rgba[i..i + 3].copy_from_slice(&[0, 0, 0]);
        }
    }
    let px = c.prepare_rgba(&rgba, wd, ht).unwrap();
    assert_eq!(px.len(), 64);
    assert!(
        px.iter().any(|&p| p > 128),
        "the stroke is bright after preparation"
    );
    let direct = c.classify(&px).unwrap();
    let r = c.classify_rgba(&rgba, wd, ht).unwrap();
    let input: Vec<u8> = serde_wasm_bindgen::from_value(field(&r, "input")).unwrap();
    assert_eq!(input, px, "classify_rgba reports the input it classified");
    let a: Vec<f32> = serde_wasm_bindgen::from_value(field(&r, "probabilities")).unwrap();
    let b: Vec<f32> = serde_wasm_bindgen::from_value(field(&direct, "probabilities")).unwrap();
    assert_eq!(a, b);
}

/// `n` 8x8 images of two classes a tiny ViT separates (bright top half or bright bottom
/// half), as a dataset file with 3 classes (the tiny config's).
fn toy(n: usize, seed: u64) -> Vec<u8> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (mut labels, mut pixels) = (Vec::new(), Vec::new());
    for _ in 0..n {
        let y = rng.gen_range(0..2u8);
        labels.push(y);
        pixels.extend((0..64).map(|i| {
            if (i < 32) == (y == 0) {
                220u8
            } else {
                rng.gen_range(0..30)
            }
        }));
    }
    Dataset::new("toy", 8, 8, 1, 3, labels, pixels)
        .unwrap()
        .to_bytes()
        .unwrap()
}

#[wasm_bindgen_test]
fn trainer_reduces_loss_on_a_separable_task() {
    let c = cfg();
    let data = toy(96, 3);
    let train = r#"{"epochs":20,"batch_size":16,"lr":0.003,"min_lr":0.0001,"warmup_epochs":0.5,"weight_decay":0.0,"augment":{"max_shift":0,"hflip":false},"seed":5}"#;
    let plan = serde_json::to_string(&Plan::uniform(&c, Attention::RsAttn)).unwrap();
    let mut t =
        TrainerHandle::new(&serde_json::to_string(&c).unwrap(), &plan, train, &data).unwrap();
    let first: f64 = field(&t.step(6).unwrap(), "loss").as_f64().unwrap();
    let mut last = first;
    for _ in 0..15 {
        last = field(&t.step(6).unwrap(), "loss").as_f64().unwrap();
    }
    assert!(last < first * 0.8, "loss {first} -> {last}");
    assert!(t.evaluate(&data).unwrap() > 0.9);
    let w = t.export_weights().unwrap();
    let m = t.export_manifest("trained-in-tab").unwrap();
    Classifier::load(&w, &m).unwrap();
    let e = t.export("trained-in-tab").unwrap();
    let ew = js_sys::Uint8Array::new(&field(&e, "weights")).to_vec();
    let em = field(&e, "manifest").as_string().unwrap();
    assert_eq!(ew, w);
    let trained = Classifier::load(&ew, &em).unwrap();
    let r = trained.classify(&data_image(&data, 0)).unwrap();
    assert!(field(&r, "prediction").as_f64().is_some());
    assert_error(t.export("bad name!"), "name", "an invalid model name");
    while !t.done() {
        t.step(50).unwrap();
    }
    let after = t.step(3).unwrap();
    assert_eq!(
        field(&after, "step").as_f64(),
        field(&after, "total").as_f64()
    );
    assert_error(
        TrainerHandle::new("{}", &plan, train, &data),
        "missing field",
        "an empty config",
    );
    assert_error(
        TrainerHandle::new(
            &serde_json::to_string(&c).unwrap(),
            &plan,
            train,
            &data[..20],
        ),
        "dataset",
        "truncated dataset",
    );
    let wrong = ViTConfig {
        image_size: 12,
        ..c.clone()
    };
    let wrong_plan = serde_json::to_string(&Plan::uniform(&wrong, Attention::RsAttn)).unwrap();
    let mut t = TrainerHandle::new(
        &serde_json::to_string(&wrong).unwrap(),
        &wrong_plan,
        train,
        &data,
    )
    .unwrap();
    assert_error(
        t.step(1),
        "expected 1x12x12 images",
        "8x8 images for a 12x12 model",
    );
}

/// Image `i` of a dataset in its binary form, as the model's input bytes.
fn data_image(bytes: &[u8], i: usize) -> Vec<u8> {
    Dataset::from_bytes(bytes).unwrap().image(i).to_vec()
}

/// A `MessageChannel` made through the global constructor (browsers, workers and Node have it).
fn channel() -> (web_sys::MessagePort, web_sys::MessagePort) {
    let ctor: js_sys::Function = js_sys::Reflect::get(&js_sys::global(), &"MessageChannel".into())
        .unwrap()
        .unchecked_into();
    let ch = js_sys::Reflect::construct(&ctor, &js_sys::Array::new()).unwrap();
    (
        field(&ch, "port1").unchecked_into(),
        field(&ch, "port2").unchecked_into(),
    )
}

#[wasm_bindgen_test]
async fn party_bindings_classify_privately_over_message_ports() {
    classify_over_ports("classic").await;
}

#[wasm_bindgen_test]
async fn party_bindings_classify_privately_with_the_fss_family() {
    classify_over_ports("fss").await;
}

/// The three party bindings over `MessageChannel`s with protocol family `protocols`: the
/// private probabilities match the plaintext ones, each party reports its cost, the client's
/// progress carries only public positions, and bad inputs are errors.
async fn classify_over_ports(protocols: &str) {
    let c = cfg();
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    let mut p = Params::init(&c, &mut rng);
    p.for_each_mut(|name, mut t| {
        if t.ndim() == 2 && !name.contains("linformer") {
            t.mapv_inplace(|_| rng.gen_range(-0.5..0.5));
        }
    });
    let plan = Plan {
        attention: mpcvit::model::AttentionPlan::Head(vec![
            vec![
                Attention::RsAttn,
                Attention::ScaleAttn
            ];
            2
        ]),
        gelu: None,
    };
    let manifest = Manifest::new("tiny", "toy", c.clone(), plan.clone())
        .to_json()
        .unwrap();
    let weights = to_safetensors(&p, &[]).unwrap();
    let pixels: Vec<u8> = (0..64).map(|_| rng.gen()).collect();
    let plain = Classifier::load(&weights, &manifest).unwrap();
    let want: Vec<f32> =
        serde_wasm_bindgen::from_value(field(&plain.classify(&pixels).unwrap(), "probabilities"))
            .unwrap();

    let (client_peer, server_peer) = channel();
    let (dealer_to_client, client_from_dealer) = channel();
    let (dealer_to_server, server_from_dealer) = channel();
    // The client's progress: one small control object per stage.
    let stages = std::rc::Rc::new(std::cell::RefCell::new(Vec::<String>::new()));
    let seen = stages.clone();
    let on_progress =
        wasm_bindgen::closure::Closure::<dyn FnMut(JsValue)>::new(move |v: JsValue| {
            let keys = js_sys::Object::keys(v.unchecked_ref::<js_sys::Object>()).length();
            let stage = field(&v, "stage").as_string().unwrap_or_default();
            let layer = field(&v, "layer")
                .as_f64()
                .map(|l| format!(" {l}"))
                .unwrap_or_default();
            seen.borrow_mut()
                .push(format!("{stage}{layer} ({keys} keys)"));
        });
    let (client, server, dealer) = futures::join!(
        run_client(
            manifest.clone(),
            pixels.clone(),
            client_peer,
            client_from_dealer,
            JsValue::NULL,
            Some(
                on_progress
                    .as_ref()
                    .unchecked_ref::<js_sys::Function>()
                    .clone()
            ),
            Some(protocols.to_string()),
        ),
        run_server(
            weights.clone(),
            manifest.clone(),
            server_peer,
            server_from_dealer,
            JsValue::NULL,
            Some(protocols.to_string()),
        ),
        run_dealer(
            manifest.clone(),
            dealer_to_client,
            dealer_to_server,
            Some(protocols.to_string())
        ),
    );
    let (client, server, dealer) = (
        client.map_err(JsValue::from).unwrap(),
        server.map_err(JsValue::from).unwrap(),
        dealer.map_err(JsValue::from).unwrap(),
    );
    let got: Vec<f32> = serde_wasm_bindgen::from_value(field(&client, "probabilities")).unwrap();
    let err = want
        .iter()
        .zip(&got)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(err < 0.02, "private vs plaintext probability error {err}");
    let rounds = |v: &JsValue| field(&field(v, "cost"), "rounds").as_f64().unwrap_or(0.0);
    assert!(rounds(&client) > 0.0);
    assert!(field(&server, "rounds").as_f64().unwrap() > 0.0);
    assert!(field(&dealer, "offline_bytes").as_f64().unwrap() > 0.0);
    let family = field(&field(&client, "cost"), "protocols")
        .as_string()
        .unwrap_or_default();
    assert!(
        family.eq_ignore_ascii_case(protocols),
        "the cost names the family that measured it: {family}"
    );
    assert_eq!(
        *stages.borrow(),
        [
            "weights (1 keys)",
            "embed (1 keys)",
            "layer 0 (3 keys)",
            "layer 1 (3 keys)",
            "head (1 keys)"
        ],
        "stages in order, carrying only the public position"
    );

    // A wrong-sized image fails before any message is sent.
    let (a, _b) = channel();
    let (d, _e) = channel();
    let wrong_size = run_client(
        manifest.clone(),
        vec![0u8; 10],
        a,
        d,
        JsValue::NULL,
        None,
        Some(protocols.to_string()),
    )
    .await;
    assert_error(wrong_size, "expected 64", "a wrong-sized image");
    // So does a family the library does not have.
    let (a, _b) = channel();
    let (d, _e) = channel();
    let garbled = run_client(
        manifest,
        pixels,
        a,
        d,
        JsValue::NULL,
        None,
        Some("garbled".into()),
    )
    .await;
    assert_error(garbled, "classic or fss", "an unknown protocol family");
}

#[wasm_bindgen_test]
fn private_inference_matches_plaintext_in_wasm() {
    let c = cfg();
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    let mut p = Params::init(&c, &mut rng);
    p.for_each_mut(|name, mut t| {
        if t.ndim() == 2 && !name.contains("linformer") {
            t.mapv_inplace(|_| rng.gen_range(-0.5..0.5));
        }
    });
    let heads = vec![vec![Attention::RsAttn, Attention::ScaleAttn]; 2];
    let plan = Plan {
        attention: mpcvit::model::AttentionPlan::Head(heads),
        gelu: None,
    };
    let vit = ViT::new(c.clone(), plan, p).unwrap();
    let img: Vec<f32> = (0..64).map(|_| rng.gen()).collect();
    let r = infer_local(&vit, &[&img], SessionConfig::default(), None)
        .unwrap()
        .remove(0);
    let want = vit.classify(&img).unwrap();
    let err = want
        .iter()
        .zip(&r.probabilities)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(err < 0.02, "probability error {err}");
    assert!(r.cost.rounds > 0 && r.cost.wan_s > 0.0);
}

#[wasm_bindgen_test]
fn mpc_protocol_runs_in_wasm() {
    let (t0, t1) = mem_pair();
    let (mut p0, mut p1) = local_pair_with(
        SessionConfig::default(),
        SessionSeeds::from_os().unwrap(),
        Box::new(t0),
        Box::new(t1),
    )
    .unwrap();
    let x = ArrayD::from_shape_vec(vec![2, 4], vec![1.0, -2.0, 3.0, 0.5, -1.0, -1.0, 2.0, 2.0])
        .unwrap();
    let a = async {
        let s = share_input(&mut p0, 0, Some(&x), &[2, 4]).await?;
        let r = relu_softmax(&mut p0, &s, 1e-8).await?;
        reveal(&mut p0, &r).await
    };
    let b = async {
        let s = share_input(&mut p1, 0, None, &[2, 4]).await?;
        let r = relu_softmax(&mut p1, &s, 1e-8).await?;
        reveal(&mut p1, &r).await
    };
    let (r0, r1) = run_joined(a, b).unwrap();
    assert_eq!(r0, r1);
    let want = [1.0 / 4.5, 0.0, 3.0 / 4.5, 0.5 / 4.5, 0.0, 0.0, 0.5, 0.5];
    for (g, w) in r0.iter().zip(want) {
        assert!((g - w).abs() < 1e-3, "{g} vs {w}");
    }
}

#[wasm_bindgen_test]
fn page_defaults_are_the_library_values() {
    use mpcvit::mpc::NetworkProfile;
    use mpcvit::train::{distill::DistillConfig, TrainConfig};
    let profiles = js_sys::Array::from(&mpcvit::wasm::network_profiles().unwrap());
    let wan = NetworkProfile::wan();
    let keys: Vec<String> = profiles
        .iter()
        .map(|p| field(&p, "key").as_string().unwrap())
        .collect();
    assert_eq!(keys, ["lan", "wan"]);
    let page_wan = profiles.get(1);
    assert_eq!(field(&page_wan, "rtt_ms").as_f64(), Some(wan.rtt_s * 1e3));
    assert_eq!(
        field(&page_wan, "mbytes_per_s").as_f64(),
        Some(wan.bandwidth_bytes_per_s / 1e6)
    );
    assert_eq!(field(&page_wan, "name").as_string(), Some(wan.name));
    // The page sends these objects back as JSON: they must parse as the library types.
    for dataset in ["mnist", "fashion"] {
        let js = mpcvit::wasm::train_defaults(dataset).unwrap();
        let back: TrainConfig = serde_wasm_bindgen::from_value(js).unwrap();
        assert_eq!(back, TrainConfig::default_for(dataset));
    }
    let kd: DistillConfig =
        serde_wasm_bindgen::from_value(mpcvit::wasm::distill_defaults().unwrap()).unwrap();
    assert_eq!(kd, DistillConfig::default());
}
