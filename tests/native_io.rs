//! Native integration tests of the file formats: model files (safetensors + manifest + index),
//! every way a model file can be broken, the committed page samples, and image preprocessing
//! against real MNIST digits.

#![cfg(not(target_arch = "wasm32"))]

use std::path::PathBuf;

use mpcvit::data::{self, preprocess_rgba, samples, MNIST_SIZE};
use mpcvit::io::{self, load_model, Manifest};
use mpcvit::model::{Attention, AttentionPlan, Params, Plan, ViTConfig};
use mpcvit::Error;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use safetensors::tensor::{Dtype, TensorView};

fn cfg() -> ViTConfig {
    ViTConfig {
        dim: 8,
        classes: 10,
        linformer_k: 2,
        ..ViTConfig::tiny()
    }
}

fn model() -> (Manifest, Params) {
    let cfg = cfg();
    let plan = Plan {
        attention: AttentionPlan::Head(vec![
            vec![Attention::RsAttn, Attention::ScaleAttn],
            vec![Attention::ScaleAttn, Attention::ScaleAttn],
        ]),
        gelu: None,
    };
    let mut m = Manifest::new("tiny-mixed", "mnist", cfg.clone(), plan);
    m.metrics.test_accuracy = Some(0.5);
    let p = Params::init(&cfg, &mut ChaCha8Rng::seed_from_u64(9));
    (m, p)
}

fn temp(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mpcvit-native-io-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The message of an `Error::Model`, failing the test on any other outcome.
fn model_err<T: std::fmt::Debug>(r: mpcvit::Result<T>) -> String {
    match r {
        Err(Error::Model(m)) => m,
        other => panic!("expected Error::Model, got {other:?}"),
    }
}

/// Safetensors bytes of `p` with tensor `name` replaced by (`dtype`, `shape`, `bytes`), or
/// dropped when `replace` is `None`, plus any `extra` tensors.
fn tamper(
    p: &Params,
    name: &str,
    replace: Option<(Dtype, Vec<usize>, Vec<u8>)>,
    extra: &[&str],
) -> Vec<u8> {
    let mut tensors: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = Vec::new();
    p.for_each(|n, t| {
        let bytes = t.iter().flat_map(|v| v.to_le_bytes()).collect();
        tensors.push((n.to_string(), Dtype::F32, t.shape().to_vec(), bytes));
    });
    tensors.retain(|t| t.0 != name);
    if let Some((dtype, shape, bytes)) = replace {
        tensors.push((name.to_string(), dtype, shape, bytes));
    }
    for e in extra {
        tensors.push((e.to_string(), Dtype::F32, vec![1], vec![0; 4]));
    }
    let views: Vec<(String, TensorView<'_>)> = tensors
        .iter()
        .map(|(n, d, s, b)| (n.clone(), TensorView::new(*d, s.clone(), b).unwrap()))
        .collect();
    safetensors::serialize(views, &None).unwrap()
}

#[test]
fn model_files_round_trip_with_index() {
    let dir = temp("roundtrip");
    let (m, p) = model();
    let (wp, mp) = io::save_model(&dir, &m, &p).unwrap();
    assert!(wp.ends_with("tiny-mixed.safetensors") && mp.ends_with("tiny-mixed.json"));
    let (m2, p2) = io::load_model_dir(&dir, "tiny-mixed").unwrap();
    assert_eq!((&m2, &p2), (&m, &p));
    let (m3, p3) = load_model(
        &std::fs::read(&wp).unwrap(),
        &std::fs::read_to_string(&mp).unwrap(),
    )
    .unwrap();
    assert_eq!((m3, p3), (m, p.clone()));

    let mut other = model().0;
    other.name = "another".into();
    other.dataset = "fashion".into();
    io::save_model(&dir, &other, &p).unwrap();
    let index_path = io::write_index(&dir).unwrap();
    let index: io::ModelIndex =
        serde_json::from_str(&std::fs::read_to_string(index_path).unwrap()).unwrap();
    let names: Vec<&str> = index.models.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["another", "tiny-mixed"]);
    assert_eq!(index.models[1].weights, "tiny-mixed.safetensors");
    assert_eq!(index.models[1].test_accuracy, Some(0.5));
    assert_eq!(
        index.models[1].weights_bytes,
        std::fs::metadata(&wp).unwrap().len()
    );

    // A manifest without weights, or under the wrong file name, breaks the index.
    std::fs::remove_file(dir.join("another.safetensors")).unwrap();
    assert!(model_err(io::build_index(&dir)).contains("another.safetensors"));
    std::fs::remove_file(dir.join("another.json")).unwrap();
    std::fs::copy(&mp, dir.join("renamed.json")).unwrap();
    assert!(model_err(io::build_index(&dir)).contains("rename"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn save_rejects_params_of_another_config() {
    let dir = temp("save");
    let (m, _) = model();
    let wrong = Params::init(
        &ViTConfig {
            classes: 3,
            ..cfg()
        },
        &mut ChaCha8Rng::seed_from_u64(1),
    );
    assert!(matches!(
        io::save_model(&dir, &m, &wrong),
        Err(Error::TensorShape { tensor, .. }) if tensor == "head.weight"
    ));
    let deeper = Params::init(
        &ViTConfig { depth: 3, ..cfg() },
        &mut ChaCha8Rng::seed_from_u64(1),
    );
    assert!(matches!(
        io::save_model(&dir, &m, &deeper),
        Err(Error::ShapeMismatch {
            op: "model blocks",
            ..
        })
    ));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn every_corruption_is_an_error_naming_the_tensor_or_field() {
    let (m, p) = model();
    let json = m.to_json().unwrap();
    let good = io::to_safetensors(&p, &[]).unwrap();
    load_model(&good, &json).unwrap();

    // Truncated file, at the header and inside the data.
    for cut in [0, 5, 8, 40, good.len() / 2, good.len() - 1] {
        let e = model_err(load_model(&good[..cut], &json));
        assert!(e.contains("tiny-mixed"), "cut {cut}: {e}");
    }
    // Garbage.
    let e = model_err(load_model(b"this is not a safetensors file at all", &json));
    assert!(e.contains("not a valid safetensors"), "{e}");
    // Wrong dtype.
    let b = tamper(
        &p,
        "blocks.1.attn.qkv.bias",
        Some((Dtype::F64, vec![24], vec![0; 24 * 8])),
        &[],
    );
    let e = model_err(load_model(&b, &json));
    assert!(
        e.contains("`blocks.1.attn.qkv.bias`") && e.contains("F64"),
        "{e}"
    );
    // Wrong shape (same element count, transposed).
    let b = tamper(
        &p,
        "blocks.0.attn.qkv.weight",
        Some((Dtype::F32, vec![24, 8], vec![0; 24 * 8 * 4])),
        &[],
    );
    // `load_model` names the model around the loader's typed error.
    let e = model_err(load_model(&b, &json));
    assert!(
        e.contains("`blocks.0.attn.qkv.weight` has shape [24, 8], expected [8, 24]"),
        "{e}"
    );
    // Missing tensor.
    let e = model_err(load_model(&tamper(&p, "norm.bias", None, &[]), &json));
    assert!(e.contains("`norm.bias` is missing"), "{e}");
    // Extra tensor.
    let e = model_err(load_model(
        &tamper(&p, "", None, &["blocks.2.norm1.weight"]),
        &json,
    ));
    assert!(e.contains("`blocks.2.norm1.weight`"), "{e}");
    // Non-finite weights.
    let nan: Vec<u8> = (0..10).flat_map(|_| f32::NAN.to_le_bytes()).collect();
    let e = model_err(load_model(
        &tamper(&p, "head.bias", Some((Dtype::F32, vec![10], nan)), &[]),
        &json,
    ));
    assert!(e.contains("`head.bias`") && e.contains("non-finite"), "{e}");

    // Bad manifest JSON.
    assert!(model_err(load_model(&good, "{\"name\": ")).contains("manifest"));
    assert!(model_err(load_model(&good, "[]")).contains("manifest"));
    let mut v: serde_json::Value = serde_json::from_str(&json).unwrap();
    v.as_object_mut().unwrap().remove("plan");
    assert!(model_err(load_model(&good, &v.to_string())).contains("plan"));
    // Plan not matching the config.
    let mut v: serde_json::Value = serde_json::from_str(&json).unwrap();
    v["plan"]["attention"]["variants"][1] = serde_json::json!(["rsattn", "rsattn", "rsattn"]);
    let e = model_err(load_model(&good, &v.to_string()));
    assert!(e.contains("`plan`"), "{e}");
    // Config not matching the weights.
    let mut v: serde_json::Value = serde_json::from_str(&json).unwrap();
    v["config"]["dim"] = 16.into();
    let e = model_err(load_model(&good, &v.to_string()));
    assert!(e.contains("`patch_embed.weight`"), "{e}");
}

fn committed_samples(name: &str) -> samples::Samples {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("www/samples")
        .join(format!("{name}.json"));
    samples::from_json(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

#[test]
fn committed_samples_are_complete() {
    for name in data::DATASETS {
        let s = committed_samples(name);
        assert_eq!(s.dataset, name);
        assert_eq!(s.split, "test");
        assert_eq!((s.rows, s.cols, s.channels), (28, 28, 1));
        assert_eq!(s.classes, data::class_names(name).unwrap());
        assert_eq!(s.images.len(), 100);
        for c in 0..10u8 {
            assert_eq!(s.images.iter().filter(|i| i.label == c).count(), 10);
        }
    }
}

#[test]
fn committed_samples_match_converted_data() {
    let data_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data");
    for name in data::DATASETS {
        let test = data::load(&data_dir, name, data::Split::Test)
            .unwrap_or_else(|e| panic!("{e}: run ./scripts/setup.sh to convert the datasets"));
        let expected = samples::select(&test, "test", 10);
        assert_eq!(
            committed_samples(name),
            expected,
            "www/samples/{name}.json is stale: run `mpcvit convert`"
        );
    }
}

/// An MNIST digit is already size-normalised and centred, so drawing it large, dark on light,
/// and preprocessing it must give back (nearly) the same 28x28 image.
#[test]
fn preprocessing_an_enlarged_mnist_digit_recovers_it() {
    let s = committed_samples("mnist");
    let scale = 6;
    let side = 28 * scale;
    let mut total_diff = 0.0;
    for img in &s.images {
        let mut rgba = Vec::with_capacity(side * side * 4);
        for y in 0..side {
            for x in 0..side {
                let v = 255 - img.pixels[(y / scale) * 28 + x / scale];
                rgba.extend_from_slice(&[v, v, v, 255]);
            }
        }
        let out = preprocess_rgba(side, side, &rgba, MNIST_SIZE).unwrap();
        // MNIST's own centring differs from ours by rounding, so allow a shift of up to 2 px.
        let mut best = (f64::MAX, 0i64, 0i64);
        for dy in -2i64..=2 {
            for dx in -2i64..=2 {
                let mut sum = 0.0;
                for y in 0..28i64 {
                    for x in 0..28i64 {
                        let (sx, sy) = (x + dx, y + dy);
                        let a = if (0..28).contains(&sx) && (0..28).contains(&sy) {
                            out[(sy * 28 + sx) as usize] as f64
                        } else {
                            0.0
                        };
                        sum += (a - img.pixels[(y * 28 + x) as usize] as f64).abs();
                    }
                }
                let d = sum / (28.0 * 28.0 * 255.0);
                if d < best.0 {
                    best = (d, dx, dy);
                }
            }
        }
        total_diff += best.0;
        assert!(
            best.0 < 0.01 && best.1.abs() <= 1 && best.2.abs() <= 1,
            "sample {} (label {}): mean abs difference {} at shift ({}, {})",
            img.index,
            img.label,
            best.0,
            best.1,
            best.2
        );
    }
    let mean = total_diff / s.images.len() as f64;
    assert!(mean < 0.005, "mean abs difference {mean}");
}

#[test]
fn index_passes_over_json_that_is_not_a_manifest() {
    let dir = std::env::temp_dir().join(format!("mpcvit-index-other-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (m, p) = model();
    io::save_model(&dir, &m, &p).unwrap();
    std::fs::write(
        dir.join("search.json"),
        r#"{"config": {}, "alphas": [1.0]}"#,
    )
    .unwrap();
    let index = io::build_index(&dir).unwrap();
    assert_eq!(index.models.len(), 1);
    std::fs::write(dir.join("broken.json"), "{ not json").unwrap();
    assert!(
        matches!(io::build_index(&dir), Err(Error::Model(m)) if m.contains("broken.json")),
        "unparseable JSON in a models folder is still an error"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
