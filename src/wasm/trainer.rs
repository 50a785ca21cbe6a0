//! A step-wise trainer for the page's trainer worker: the worker calls `step` in small slices
//! so progress can be posted between them. It trains a fixed plan from scratch, optionally
//! distilling a teacher (the retraining of paper section 4.4), then exports the model with its
//! test accuracy and measured private cost.

use serde::Serialize;
use serde_json::{Map, Value};
use wasm_bindgen::prelude::*;

use super::progress::Tally;
use super::{js_err, to_js};
use crate::data::Dataset;
use crate::io::{load_model, to_safetensors, Manifest, Metrics, TrainingRecord};
use crate::model::{Plan, ViT, ViTConfig};
use crate::mpc::SessionConfig;
use crate::secure::measure_cost;
use crate::train::distill::{kd_loss, DistillConfig};
use crate::train::{evaluate, evaluate_ood, TrainConfig, Trainer};

/// A model being trained on a dataset held in wasm memory.
#[wasm_bindgen]
pub struct TrainerHandle {
    trainer: Trainer,
    data: Dataset,
    tally: Tally,
    teacher: Option<(String, ViT, DistillConfig)>,
    metrics: Metrics,
    extra: Map<String, Value>,
}

#[wasm_bindgen]
impl TrainerHandle {
    /// `config`, `plan` and `train` are JSON (`ViTConfig`, `Plan`, `TrainConfig`); `dataset` is
    /// the compact binary dataset form.
    #[wasm_bindgen(constructor)]
    pub fn new(
        config: &str,
        plan: &str,
        train: &str,
        dataset: &[u8],
    ) -> Result<TrainerHandle, JsError> {
        let config: ViTConfig = serde_json::from_str(config).map_err(js_err)?;
        let plan: Plan = serde_json::from_str(plan).map_err(js_err)?;
        let train: TrainConfig = serde_json::from_str(train).map_err(js_err)?;
        let data = Dataset::from_bytes(dataset).map_err(js_err)?;
        config.validate().map_err(js_err)?;
        plan.validate(&config).map_err(js_err)?;
        let trainer = Trainer::new(config, plan, train, data.len()).map_err(js_err)?;
        Ok(TrainerHandle {
            trainer,
            data,
            tally: Tally::default(),
            teacher: None,
            metrics: Metrics::default(),
            extra: Map::new(),
        })
    }

    /// Distils `teacher` (safetensors bytes and JSON manifest, e.g. a shipped Softmax model)
    /// into this model from the next step on, with `distill` JSON `{chi, beta, gamma,
    /// temperature}` (paper section 4.4; a zero weight switches a term off). The feature term
    /// (`gamma`) needs the teacher's width and token count.
    pub fn distil_from(
        &mut self,
        teacher_weights: &[u8],
        teacher_manifest: &str,
        distill: &str,
    ) -> Result<(), JsError> {
        let kd: DistillConfig = serde_json::from_str(distill).map_err(js_err)?;
        kd.validate().map_err(js_err)?;
        let (m, params) = load_model(teacher_weights, teacher_manifest).map_err(js_err)?;
        let vit = ViT::new(m.config, m.plan, params).map_err(js_err)?;
        // Checks now that the teacher fits the student (input, classes, width for features).
        drop(kd_loss(&vit, &self.trainer.config, kd).map_err(js_err)?);
        self.teacher = Some((m.name, vit, kd));
        Ok(())
    }

    /// Runs up to `n` steps (fewer at the end of training): `{step, total, epoch, loss,
    /// accuracy, lr, images_per_sec}`, loss and accuracy averaged over the steps run.
    pub fn step(&mut self, n: usize) -> Result<JsValue, JsError> {
        for _ in 0..n {
            if self.trainer.done() {
                break;
            }
            let (trainer, data) = (&mut self.trainer, &self.data);
            match &self.teacher {
                Some((_, t, kd)) => {
                    let loss = kd_loss(t, &trainer.config, *kd).map_err(js_err)?;
                    self.tally
                        .time(|| trainer.step_with(data, loss).map(|(s, _)| s))
                }
                None => self.tally.time(|| trainer.step(data)),
            }
            .map_err(js_err)?;
        }
        let p = self
            .tally
            .slice(self.trainer.step_count(), self.trainer.total_steps());
        to_js(&p)
    }

    /// Whether every step of the run has been taken.
    #[wasm_bindgen(getter)]
    pub fn done(&self) -> bool {
        self.trainer.done()
    }

    /// Accuracy of the current model on a dataset (binary form); it becomes the exported
    /// manifest's `metrics.test_accuracy`.
    pub fn evaluate(&mut self, dataset: &[u8]) -> Result<f64, JsError> {
        let data = Dataset::from_bytes(dataset).map_err(js_err)?;
        let model = self.trainer.model().map_err(js_err)?;
        let e = evaluate(&model, &data, 256).map_err(js_err)?;
        self.metrics.test_accuracy = Some(e.accuracy);
        self.metrics.test_images = Some(e.images);
        Ok(e.accuracy)
    }

    /// Accuracy of the current model on an out-of-domain set (binary form, [`crate::data::ood`]),
    /// prepared as an upload would be: `{set, accuracy, images, unreadable}`. The exported
    /// manifest's `metrics.ood` records it by set name.
    pub fn evaluate_ood(&mut self, set: &[u8]) -> Result<JsValue, JsError> {
        let data = Dataset::from_bytes(set).map_err(js_err)?;
        let model = self.trainer.model().map_err(js_err)?;
        let score = evaluate_ood(&model, &data, None).map_err(js_err)?;
        let all = self
            .metrics
            .extra
            .entry("ood")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(all) = all {
            all.insert(
                score.set.clone(),
                serde_json::to_value(&score).map_err(js_err)?,
            );
        }
        to_js(&score)
    }

    /// Adds `value` (JSON) under `key` to the exported manifest's training record (the page
    /// stores the search that produced the plan this way).
    pub fn record(&mut self, key: &str, value: &str) -> Result<(), JsError> {
        let v: Value = serde_json::from_str(value).map_err(js_err)?;
        self.extra.insert(key.to_string(), v);
        Ok(())
    }

    /// The trained model, ready for [`super::Classifier::load`] or the private workers:
    /// `{weights: Uint8Array (safetensors), manifest: string (JSON)}`, named `name`.
    pub fn export(&self, name: &str) -> Result<js_sys::Object, JsError> {
        let manifest = JsValue::from_str(&self.export_manifest(name)?);
        let weights = js_sys::Uint8Array::from(self.export_weights()?.as_slice());
        let out = js_sys::Object::new();
        for (key, value) in [("weights", JsValue::from(weights)), ("manifest", manifest)] {
            js_sys::Reflect::set(&out, &key.into(), &value)
                .map_err(|_| JsError::new("cannot build the export object"))?;
        }
        Ok(out)
    }

    /// The trained weights as safetensors bytes.
    pub fn export_weights(&self) -> Result<Vec<u8>, JsError> {
        to_safetensors(&self.trainer.params, &[]).map_err(js_err)
    }

    /// A manifest for the trained model, named `name`: config, plan, the last
    /// [`TrainerHandle::evaluate`] as its test accuracy, the training record (epochs, seed,
    /// speed, teacher) and the private-inference cost measured now on the real protocol.
    pub fn export_manifest(&self, name: &str) -> Result<String, JsError> {
        let t = &self.trainer;
        let mut m = Manifest::new(
            name,
            self.data.name.clone(),
            t.config.clone(),
            t.plan.clone(),
        );
        m.validate().map_err(js_err)?;
        m.description = Some(format!(
            "Trained in a browser tab (wasm) on {} {} training images",
            self.data.len(),
            self.data.name
        ));
        m.metrics = self.metrics.clone();
        let mut extra = self.extra.clone();
        extra.insert("trained_in".into(), "browser (wasm)".into());
        extra.insert("train_images".into(), self.data.len().into());
        extra.insert("settings".into(), to_value(&t.train)?);
        if let Some((_, _, kd)) = &self.teacher {
            extra.insert("distill".into(), to_value(kd)?);
        }
        m.training = Some(TrainingRecord {
            command: "trained in a browser tab (the page's Search live)".into(),
            epochs: t.step_count() / t.steps_per_epoch(),
            seed: t.train.seed.unwrap_or_default(),
            images_per_sec: Some(self.tally.images_per_sec()),
            seconds: Some(self.tally.run_seconds),
            teacher: self.teacher.as_ref().map(|(n, _, _)| n.clone()),
            extra,
        });
        let cost =
            measure_cost(&t.model().map_err(js_err)?, SessionConfig::default()).map_err(js_err)?;
        m.cost = Some(cost.manifest_value());
        m.to_json().map_err(js_err)
    }
}

fn to_value(v: &impl Serialize) -> Result<Value, JsError> {
    serde_json::to_value(v).map_err(js_err)
}
