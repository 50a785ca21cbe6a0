//! The trainer worker's search / binarise / retrain API (paper section 4) as the page uses it:
//! a short search on a tiny synthetic dataset, binarisation, retraining with a teacher, export
//! through the classifier, and errors (not panics) for bad inputs.

use mpcvit::data::Dataset;
use mpcvit::io::{to_safetensors, Manifest};
use mpcvit::model::{Attention, Params, Plan, ViTConfig};
use mpcvit::wasm::{dataset_subset, Classifier, SearchHandle, TrainerHandle};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use wasm_bindgen::JsValue;
use wasm_bindgen_test::wasm_bindgen_test;

use super::assert_error;

fn cfg() -> String {
    serde_json::to_string(&ViTConfig::tiny()).unwrap()
}

/// The shared toy set (see [`super::toy`]).
fn toy(n: usize) -> Vec<u8> {
    super::toy(n, 11)
}

fn train(epochs: usize) -> String {
    format!(
        r#"{{"epochs":{epochs},"batch_size":16,"lr":0.003,"min_lr":0.0001,"warmup_epochs":0.5,"weight_decay":0.0,"augment":{{"max_shift":0,"hflip":false}},"seed":7}}"#
    )
}

fn get(v: &JsValue, name: &str) -> JsValue {
    js_sys::Reflect::get(v, &name.into()).unwrap()
}

fn num(v: &JsValue, name: &str) -> f64 {
    get(v, name).as_f64().unwrap_or(f64::NAN)
}

fn search(granularity: &str, lambda: f32, data: &[u8]) -> SearchHandle {
    // Given latencies skip the protocol runs; the measured path is tested once below.
    let s = format!(
        r#"{{"granularity":"{granularity}","lambda":{lambda},"alpha_lr":0.05,"latency":{{"rs_attn_head":0.2,"gelu_token":0.01}}}}"#
    );
    SearchHandle::new(&cfg(), &train(2), &s, data).unwrap()
}

#[wasm_bindgen_test]
fn search_moves_alphas_within_bounds_and_binarises_to_the_budget() {
    let data = toy(64);
    let mut s = search("head", 0.5, &data);
    assert_eq!(s.alphas(), vec![1.0; 4], "alpha starts at 1 (section 4.3)");
    let mut last = JsValue::NULL;
    while !s.done() {
        last = s.step(2).unwrap();
        let alphas: Vec<f32> = serde_wasm_bindgen::from_value(get(&last, "alphas")).unwrap();
        assert_eq!(alphas.len(), 4);
        assert!(alphas.iter().all(|a| (0.0..=1.0).contains(a)), "{alphas:?}");
    }
    assert_eq!(num(&last, "step"), num(&last, "total"));
    assert_eq!(
        num(&last, "total"),
        8.0,
        "64 images / 16 per batch x 2 epochs"
    );
    for key in [
        "loss",
        "accuracy",
        "images_per_sec",
        "penalty",
        "epoch",
        "lr",
    ] {
        assert!(num(&last, key).is_finite(), "{key}");
    }
    assert!(s.alphas().iter().any(|a| *a < 1.0), "{:?}", s.alphas());

    let b = s.binarise(0.5, false).unwrap();
    assert_eq!(num(&b, "rsattn_units"), 2.0);
    assert_eq!(num(&b, "units"), 4.0);
    let plan: Plan = serde_wasm_bindgen::from_value(get(&b, "plan")).unwrap();
    plan.validate(&ViTConfig::tiny()).unwrap();
    let cost = get(&b, "cost");
    assert!(num(&cost, "rounds") > 0.0 && num(&cost, "wan_s") > 0.0);
    // The per-layer baseline keeps one head of two in each layer.
    let b = s.binarise(0.5, true).unwrap();
    let plan: Plan = serde_wasm_bindgen::from_value(get(&b, "plan")).unwrap();
    for l in 0..2 {
        let kept = (0..2)
            .filter(|&h| plan.attention.variant(l, h, 0) == Attention::RsAttn)
            .count();
        assert_eq!(kept, 1, "layer {l}");
    }
    let none = s.binarise(0.0, false).unwrap();
    let all = s.binarise(1.0, false).unwrap();
    assert!(num(&get(&none, "cost"), "wan_s") < num(&get(&all, "cost"), "wan_s"));
}

#[wasm_bindgen_test]
fn row_and_layer_searches_have_their_unit_counts_and_latency_is_measured() {
    let data = toy(32);
    let mut rows = search("row", 0.1, &data);
    while !rows.done() {
        rows.step(2).unwrap();
    }
    let alphas = rows.alphas();
    assert_eq!(alphas.len(), 2 * 2 * 5, "layers x heads x tokens");
    // Top-k: the 6th largest alpha is the threshold; ties with it are kept too.
    let mut sorted = alphas.clone();
    sorted.sort_by(|a, b| b.total_cmp(a));
    let kept = alphas.iter().filter(|a| **a >= sorted[5]).count();
    assert_eq!(
        num(&rows.binarise(0.3, false).unwrap(), "rsattn_units"),
        kept as f64
    );
    let layers = search("layer", 0.1, &data);
    assert_eq!(layers.alphas().len(), 2);
    // Without given latencies, the penalty's latencies come from the real protocol (WAN).
    let measured = SearchHandle::new(
        &cfg(),
        &train(1),
        r#"{"granularity":"head","lambda":0.1}"#,
        &data,
    )
    .unwrap();
    let l = measured.latency().unwrap();
    assert!(num(&l, "rs_attn_head") > 0.0);
    assert_eq!(get(&l, "profile").as_string().unwrap(), "WAN");
}

#[wasm_bindgen_test]
fn retrain_with_a_teacher_exports_a_model_the_classifier_loads() {
    let data = toy(64);
    let mut s = search("head", 0.1, &data);
    while !s.done() {
        s.step(4).unwrap();
    }
    let b = s.binarise(0.5, false).unwrap();
    let plan = js_sys::JSON::stringify(&get(&b, "plan"))
        .unwrap()
        .as_string()
        .unwrap();
    let c = ViTConfig::tiny();
    let teacher_params = Params::init(&c, &mut ChaCha8Rng::seed_from_u64(3));
    let teacher_w = to_safetensors(&teacher_params, &[]).unwrap();
    let teacher_m = Manifest::new(
        "teacher",
        "toy",
        c.clone(),
        Plan::uniform(&c, Attention::Softmax),
    )
    .to_json()
    .unwrap();
    let mut t = TrainerHandle::new(&cfg(), &plan, &train(4), &data).unwrap();
    t.distil_from(
        &teacher_w,
        &teacher_m,
        r#"{"chi":1,"beta":1,"gamma":1,"temperature":1}"#,
    )
    .unwrap();
    t.record("search", r#"{"mu":0.5}"#).unwrap();
    let first = num(&t.step(2).unwrap(), "loss");
    while !t.done() {
        assert!(num(&t.step(3).unwrap(), "loss").is_finite());
    }
    assert!(first.is_finite());
    let acc = t.evaluate(&data).unwrap();
    assert!((0.0..=1.0).contains(&acc));
    let e = t.export("tab-model").unwrap();
    let w = js_sys::Uint8Array::new(&get(&e, "weights")).to_vec();
    let m = Manifest::from_json(&get(&e, "manifest").as_string().unwrap()).unwrap();
    assert_eq!(m.metrics.test_accuracy, Some(acc));
    assert_eq!(m.metrics.test_images, Some(64));
    let tr = m.training.as_ref().unwrap();
    assert_eq!(tr.teacher.as_deref(), Some("teacher"));
    assert_eq!(tr.epochs, 4);
    assert_eq!(tr.extra["search"]["mu"], 0.5);
    assert!(m.cost.as_ref().unwrap()["rounds"].as_u64().unwrap() > 0);
    assert_eq!(
        serde_json::to_value(&m.plan).unwrap(),
        serde_json::from_str::<serde_json::Value>(&plan).unwrap()
    );
    let classifier = Classifier::load(&w, &m.to_json().unwrap()).unwrap();
    let r = classifier.classify(&[100u8; 64]).unwrap();
    assert!(num(&r, "prediction") < 3.0);
}

#[wasm_bindgen_test]
fn bad_search_and_retrain_inputs_are_errors_not_panics() {
    let data = toy(32);
    let bad = |search: &str, want: &str, case: &str| {
        assert_error(
            SearchHandle::new(&cfg(), &train(1), search, &data),
            want,
            case,
        )
    };
    bad(
        r#"{"granularity":"block","lambda":0.1}"#,
        "unknown variant `block`",
        "granularity",
    );
    bad(
        r#"{"granularity":"head","lambda":-1}"#,
        "lambda",
        "negative lambda",
    );
    bad(
        r#"{"granularity":"head","lambda":0.1,"alpha_lr":0}"#,
        "alpha_lr",
        "alpha_lr",
    );
    bad(
        r#"{"granularity":"head","lambda":0.1,"profile":"moon"}"#,
        "moon",
        "profile",
    );
    bad(
        r#"{"granularity":"head","lambda":0.1,"latency":{"rs_attn_head":-1,"gelu_token":0}}"#,
        "latencies must be non-negative",
        "negative latency",
    );
    bad(
        r#"{"granularity":"head","lambda":0.1,"typo":1}"#,
        "typo",
        "unknown field",
    );
    bad("not json", "expected", "not json");
    let s =
        r#"{"granularity":"head","lambda":0.1,"latency":{"rs_attn_head":0.2,"gelu_token":0.01}}"#;
    assert_error(
        SearchHandle::new(&cfg(), &train(1), s, &data[..40]),
        "dataset",
        "truncated dataset",
    );
    assert_error(
        SearchHandle::new("{}", &train(1), s, &data),
        "missing field",
        "config",
    );
    let mut big = ViTConfig::tiny();
    big.image_size = 12;
    let big = serde_json::to_string(&big).unwrap();
    let mut wrong = SearchHandle::new(&big, &train(1), s, &data).unwrap();
    assert_error(
        wrong.step(1),
        "expected 1x12x12 images",
        "8x8 images for a 12x12 model",
    );

    let h = SearchHandle::new(&cfg(), &train(1), s, &data).unwrap();
    assert_error(h.binarise(1.5, false), "not in [0, 1]", "mu above 1");
    assert_error(h.binarise(f32::NAN, false), "not in [0, 1]", "mu NaN");
    assert_error(h.binarise(-0.1, true), "not in [0, 1]", "mu below 0");

    let c = ViTConfig::tiny();
    let plan = serde_json::to_string(&Plan::uniform(&c, Attention::RsAttn)).unwrap();
    let mut t = TrainerHandle::new(&cfg(), &plan, &train(1), &data).unwrap();
    let kd = r#"{"chi":1,"beta":1,"gamma":1,"temperature":1}"#;
    let m = Manifest::new(
        "teacher",
        "toy",
        c.clone(),
        Plan::uniform(&c, Attention::Softmax),
    );
    assert_error(
        t.distil_from(b"garbage", &m.to_json().unwrap(), kd),
        "safetensors",
        "garbage teacher weights",
    );
    let wide = ViTConfig {
        dim: 32,
        ..c.clone()
    };
    let wide_w =
        to_safetensors(&Params::init(&wide, &mut ChaCha8Rng::seed_from_u64(1)), &[]).unwrap();
    let wide_m = Manifest::new(
        "wide",
        "toy",
        wide.clone(),
        Plan::uniform(&wide, Attention::Softmax),
    )
    .to_json()
    .unwrap();
    assert_error(
        t.distil_from(&wide_w, &wide_m, kd),
        "tokens x width",
        "feature distillation from another width",
    );
    t.distil_from(
        &wide_w,
        &wide_m,
        r#"{"chi":1,"beta":1,"gamma":0,"temperature":2}"#,
    )
    .unwrap();
    assert!(t.step(1).is_ok(), "logit distillation works across widths");
    assert_error(
        t.distil_from(
            &wide_w,
            &wide_m,
            r#"{"chi":1,"beta":1,"gamma":0,"temperature":0}"#,
        ),
        "temperature > 0",
        "temperature 0",
    );
    assert_error(
        t.distil_from(
            &wide_w,
            &wide_m,
            r#"{"chi":-1,"beta":1,"gamma":0,"temperature":1}"#,
        ),
        "weights >= 0",
        "negative chi",
    );
    assert_error(
        t.record("k", "{not json"),
        "at line 1",
        "a record that is not JSON",
    );
    assert_error(
        TrainerHandle::new(
            &cfg(),
            r#"{"attention":{"granularity":"head","variants":[["rsattn"]]}}"#,
            &train(1),
            &data,
        ),
        "attention plan",
        "plan of another shape",
    );

    assert_eq!(
        Dataset::from_bytes(&dataset_subset(&data, 5).unwrap())
            .unwrap()
            .len(),
        5
    );
    assert_error(dataset_subset(&data, 0), "images", "an empty subset");
    assert_error(
        dataset_subset(&data, 33),
        "images",
        "more images than the set",
    );
    assert_error(dataset_subset(b"junk", 1), "dataset", "not a dataset");
}
