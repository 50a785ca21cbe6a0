//! A step-wise trainer for the page's trainer worker: the worker calls `step` in small slices
//! so progress can be posted between them.

use serde::Serialize;
use wasm_bindgen::prelude::*;

use super::js_err;
use crate::data::Dataset;
use crate::io::{to_safetensors, Manifest};
use crate::model::{Plan, ViTConfig};
use crate::train::{evaluate, TrainConfig, Trainer};

/// A model being trained on a dataset held in wasm memory.
#[wasm_bindgen]
pub struct TrainerHandle {
    trainer: Trainer,
    data: Dataset,
    dataset: String,
}

#[derive(Serialize)]
struct Progress {
    step: usize,
    total: usize,
    loss: f32,
    accuracy: f64,
    lr: f32,
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
        let dataset = data.name.clone();
        let trainer = Trainer::new(config, plan, train, data.len()).map_err(js_err)?;
        Ok(TrainerHandle {
            trainer,
            data,
            dataset,
        })
    }

    /// Runs up to `n` steps (fewer at the end of training): `{step, total, loss, accuracy, lr}`
    /// averaged over the steps run.
    pub fn step(&mut self, n: usize) -> Result<JsValue, JsError> {
        let (mut loss, mut right, mut count, mut lr) = (0.0f32, 0usize, 0usize, 0.0);
        for _ in 0..n {
            if self.trainer.done() {
                break;
            }
            let s = self.trainer.step(&self.data).map_err(js_err)?;
            loss += s.loss * s.images as f32;
            right += s.correct;
            count += s.images;
            lr = s.lr;
        }
        let c = count.max(1);
        let p = Progress {
            step: self.trainer.step_count(),
            total: self.trainer.total_steps(),
            loss: loss / c as f32,
            accuracy: right as f64 / c as f64,
            lr,
        };
        serde_wasm_bindgen::to_value(&p).map_err(js_err)
    }

    /// Whether every step of the run has been taken.
    #[wasm_bindgen(getter)]
    pub fn done(&self) -> bool {
        self.trainer.done()
    }

    /// Accuracy of the current model on a dataset (binary form).
    pub fn evaluate(&self, dataset: &[u8]) -> Result<f64, JsError> {
        let data = Dataset::from_bytes(dataset).map_err(js_err)?;
        Ok(evaluate(&self.trainer.model().map_err(js_err)?, &data, 256)
            .map_err(js_err)?
            .accuracy)
    }

    /// The trained model, ready for [`super::Classifier::load`] or the private workers:
    /// `{weights: Uint8Array (safetensors), manifest: string (JSON)}`, named `name`.
    pub fn export(&self, name: &str) -> Result<js_sys::Object, JsError> {
        let weights = js_sys::Uint8Array::from(self.export_weights()?.as_slice());
        let manifest = JsValue::from_str(&self.export_manifest(name)?);
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

    /// A manifest for the trained model, named `name`.
    pub fn export_manifest(&self, name: &str) -> Result<String, JsError> {
        let m = Manifest::new(
            name,
            self.dataset.clone(),
            self.trainer.config.clone(),
            self.trainer.plan.clone(),
        );
        m.validate().map_err(js_err)?;
        m.to_json().map_err(js_err)
    }
}
