//! The JSON manifest that travels with every weights file: what the model is (config and
//! attention plan), what it was trained on, how well it does and what it costs.
//!
//! The weights alone cannot be interpreted: the same tensors run under any attention plan, so
//! the plan must be stored beside them, and the page needs accuracy and cost to show without
//! re-running anything. Optional parts use `#[serde(default)]` and the metric and training
//! records keep unknown fields in `extra`, so later versions can add fields without breaking
//! older files (and older code does not drop what it does not know).
//!
//! ```json
//! {
//!   "name": "mnist-rsattn",
//!   "dataset": "mnist",
//!   "description": "...",
//!   "config": {"image_size": 28, "channels": 1, "patch": 7, "dim": 64, "depth": 4,
//!              "heads": 4, "mlp_ratio": 2, "classes": 10, "linformer_k": 8},
//!   "plan": {"attention": {"granularity": "layer", "variants": ["rsattn", ...]}},
//!   "metrics": {"test_accuracy": 0.97, "test_images": 10000},
//!   "training": {"command": "mpcvit train ...", "epochs": 10, "seed": 1},
//!   "cost": { ... }
//! }
//! ```

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::model::{Plan, ViTConfig};
use crate::{Error, Result};

/// Accuracy and other measured quality numbers.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Metrics {
    /// Top-1 accuracy on the test split, in `[0, 1]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test_accuracy: Option<f64>,
    /// Number of test images `test_accuracy` was measured on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test_images: Option<usize>,
    /// Top-1 accuracy on the training split, in `[0, 1]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub train_accuracy: Option<f64>,
    /// Any other metric (kept on load, written back on save).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// How the weights were produced, so a shipped model can be reproduced.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TrainingRecord {
    /// The exact command line that trained the model.
    pub command: String,
    /// Epochs trained.
    pub epochs: usize,
    /// RNG seed.
    pub seed: u64,
    /// Training throughput.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub images_per_sec: Option<f64>,
    /// Wall-clock training time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seconds: Option<f64>,
    /// Name of the teacher model for knowledge distillation, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub teacher: Option<String>,
    /// Any other training detail (kept on load, written back on save).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The manifest of one model; see the [module docs](self).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Model name; also the file stem of `<name>.safetensors` and `<name>.json`.
    pub name: String,
    /// Dataset the model classifies (`mnist` or `fashion`).
    pub dataset: String,
    /// Free-text description for the page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The ViT shape.
    pub config: ViTConfig,
    /// Attention (and GeLU) plan.
    pub plan: Plan,
    /// Measured quality.
    #[serde(default)]
    pub metrics: Metrics,
    /// How it was trained.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub training: Option<TrainingRecord>,
    /// Protocol cost report (rounds, bytes, latency per profile), free-form for now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<Value>,
}

/// Whether `name` is usable as a model name: 1 to 64 characters of `[A-Za-z0-9._-]`, not
/// starting with `.`, and not `index` (reserved for `index.json`). Names become file names
/// and URL paths, hence the restriction.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name != "index"
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

impl Manifest {
    /// A manifest with empty metrics and no training or cost record.
    pub fn new(
        name: impl Into<String>,
        dataset: impl Into<String>,
        config: ViTConfig,
        plan: Plan,
    ) -> Self {
        Manifest {
            name: name.into(),
            dataset: dataset.into(),
            description: None,
            config,
            plan,
            metrics: Metrics::default(),
            training: None,
            cost: None,
        }
    }

    /// Checks the name, the config, the plan against the config and the metric ranges; every
    /// error is an [`Error::Model`] naming the manifest field.
    pub fn validate(&self) -> Result<()> {
        let field = |f: &str, e: String| Err(Error::Model(format!("manifest field `{f}`: {e}")));
        if !valid_name(&self.name) {
            return field(
                "name",
                format!(
                    "'{}' must be 1-64 characters of A-Z a-z 0-9 . _ - (not 'index')",
                    self.name
                ),
            );
        }
        if self.dataset.is_empty() {
            return field("dataset", "must not be empty".into());
        }
        if let Err(e) = self.config.validate() {
            return field("config", e.to_string());
        }
        if let Err(e) = self.plan.validate(&self.config) {
            return field("plan", format!("does not match the config: {e}"));
        }
        for (f, v) in [
            ("metrics.test_accuracy", self.metrics.test_accuracy),
            ("metrics.train_accuracy", self.metrics.train_accuracy),
        ] {
            if let Some(a) = v {
                if !(0.0..=1.0).contains(&a) {
                    return field(f, format!("{a} is not in [0, 1]"));
                }
            }
        }
        Ok(())
    }

    /// Parses and validates a manifest.
    pub fn from_json(json: &str) -> Result<Manifest> {
        let m: Manifest = serde_json::from_str(json)
            .map_err(|e| Error::Model(format!("manifest is not valid: {e}")))?;
        m.validate()?;
        Ok(m)
    }

    /// Validates and serialises the manifest as pretty JSON (with a trailing newline).
    pub fn to_json(&self) -> Result<String> {
        self.validate()?;
        Ok(serde_json::to_string_pretty(self)? + "\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Attention, AttentionPlan};

    fn manifest() -> Manifest {
        let cfg = ViTConfig::demo();
        let mut m = Manifest::new(
            "demo-rs",
            "mnist",
            cfg.clone(),
            Plan::uniform(&cfg, Attention::RsAttn),
        );
        m.metrics.test_accuracy = Some(0.975);
        m.metrics.test_images = Some(10000);
        m.training = Some(TrainingRecord {
            command: "mpcvit train".into(),
            epochs: 3,
            seed: 7,
            ..Default::default()
        });
        m
    }

    #[test]
    fn round_trip_and_unknown_fields_survive() {
        let m = manifest();
        let json = m.to_json().unwrap();
        assert_eq!(Manifest::from_json(&json).unwrap(), m);
        let mut v: Value = serde_json::from_str(&json).unwrap();
        v["metrics"]["top5"] = 0.99.into();
        v["training"]["optimizer"] = "adamw".into();
        let back = Manifest::from_json(&v.to_string()).unwrap();
        assert_eq!(back.metrics.extra["top5"], 0.99);
        let again: Value = serde_json::from_str(&back.to_json().unwrap()).unwrap();
        assert_eq!(again["training"]["optimizer"], "adamw");
        // Minimal manifest: only the required fields.
        let minimal = serde_json::json!({
            "name": "m", "dataset": "fashion", "config": ViTConfig::demo(),
            "plan": {"attention": {"granularity": "layer", "variants": ["softmax", "softmax", "softmax", "softmax"]}}
        });
        let m = Manifest::from_json(&minimal.to_string()).unwrap();
        assert_eq!(m.metrics, Metrics::default());
        assert!(m.training.is_none());
    }

    fn err(json: &str) -> String {
        match Manifest::from_json(json) {
            Err(Error::Model(m)) => m,
            other => panic!("expected Error::Model, got {other:?}"),
        }
    }

    #[test]
    fn bad_manifests_name_the_field() {
        let good: Value = serde_json::from_str(&manifest().to_json().unwrap()).unwrap();
        assert!(err("{not json").contains("not valid"));
        let mut v = good.clone();
        v.as_object_mut().unwrap().remove("config");
        assert!(err(&v.to_string()).contains("config"));
        let mut v = good.clone();
        v["plan"]["attention"]["variants"] = serde_json::json!(["rsattn", "rsattn"]);
        let e = err(&v.to_string());
        assert!(e.contains("`plan`") && e.contains("2 layers"), "{e}");
        let mut v = good.clone();
        v["config"]["heads"] = 3.into();
        assert!(err(&v.to_string()).contains("`config`"));
        let mut v = good.clone();
        v["name"] = "../etc".into();
        assert!(err(&v.to_string()).contains("`name`"));
        let mut v = good.clone();
        v["metrics"]["test_accuracy"] = 97.5.into();
        assert!(err(&v.to_string()).contains("metrics.test_accuracy"));
        let mut v = good;
        v["plan"]["attention"]["variants"][0] = "nope".into();
        assert!(err(&v.to_string()).contains("nope"));
        let heads = vec![vec![Attention::ScaleAttn; 4]; 4];
        let mut m = manifest();
        m.plan.attention = AttentionPlan::Head(heads);
        m.validate().unwrap();
    }
}
