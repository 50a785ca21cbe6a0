//! A loaded model that classifies images in plaintext (the client's own comparison result) and
//! describes itself to the page.

use serde::Serialize;
use wasm_bindgen::prelude::*;

use super::js_err;
use crate::data::{class_names, preprocess_rgba};
use crate::io::{load_model, Manifest};
use crate::model::ViT;

/// A model loaded from its safetensors weights and JSON manifest.
#[wasm_bindgen]
pub struct Classifier {
    vit: ViT,
    manifest: Manifest,
    labels: Option<Vec<String>>,
}

/// What `classify` and `classify_rgba` return to JavaScript.
#[derive(Serialize)]
struct Prediction {
    /// Index of the most probable class.
    prediction: usize,
    /// Softmax of the logits, one per class (sums to 1).
    probabilities: Vec<f32>,
    /// Class names, when the manifest's dataset is a known one.
    #[serde(skip_serializing_if = "Option::is_none")]
    labels: Option<Vec<String>>,
    /// The model input the image was turned into (only for `classify_rgba`), so the same bytes
    /// can be classified privately.
    #[serde(skip_serializing_if = "Option::is_none")]
    input: Option<Vec<u8>>,
}

#[wasm_bindgen]
impl Classifier {
    /// Loads and validates a model; a corrupt file is an error naming what is wrong.
    pub fn load(weights: &[u8], manifest_json: &str) -> Result<Classifier, JsError> {
        let (manifest, params) = load_model(weights, manifest_json).map_err(js_err)?;
        let vit =
            ViT::new(manifest.config.clone(), manifest.plan.clone(), params).map_err(js_err)?;
        let labels = class_names(&manifest.dataset)
            .ok()
            .filter(|names| names.len() == vit.config.classes)
            .map(|names| names.iter().map(|s| s.to_string()).collect());
        Ok(Classifier {
            vit,
            manifest,
            labels,
        })
    }

    /// Classifies an image given as `channels * size * size` bytes (0-255, the dataset's form):
    /// `{prediction, probabilities, labels?}`.
    pub fn classify(&self, pixels: &[u8]) -> Result<JsValue, JsError> {
        self.predict(pixels, None)
    }

    /// Classifies a drawn or uploaded RGBA image (`width * height * 4` bytes, as `ImageData`
    /// gives it) after preparing it as MNIST was made (grey, cropped, scaled, centred):
    /// `{prediction, probabilities, labels?, input}` where `input` is the prepared image.
    pub fn classify_rgba(
        &self,
        rgba: &[u8],
        width: usize,
        height: usize,
    ) -> Result<JsValue, JsError> {
        let input = self.prepare_rgba(rgba, width, height)?;
        self.predict(&input, Some(input.clone()))
    }

    /// Converts a drawn or uploaded RGBA image to the model's input (grey, cropped, scaled and
    /// centred as MNIST was made) and returns those bytes.
    pub fn prepare_rgba(
        &self,
        rgba: &[u8],
        width: usize,
        height: usize,
    ) -> Result<Vec<u8>, JsError> {
        let c = &self.vit.config;
        if c.channels != 1 {
            return Err(JsError::new(&format!(
                "drawn and uploaded images need a greyscale model; this one expects {} channels",
                c.channels
            )));
        }
        preprocess_rgba(width, height, rgba, c.image_size).map_err(js_err)
    }

    /// The manifest (name, dataset, config, plan, metrics, cost) as an object.
    pub fn info(&self) -> Result<JsValue, JsError> {
        let s = serde_wasm_bindgen::Serializer::json_compatible();
        self.manifest.serialize(&s).map_err(js_err)
    }

    /// Pixels per input image.
    #[wasm_bindgen(getter)]
    pub fn input_len(&self) -> usize {
        self.vit.config.input_len()
    }

    /// Side of the (square) input image.
    #[wasm_bindgen(getter)]
    pub fn image_size(&self) -> usize {
        self.vit.config.image_size
    }

    fn predict(&self, pixels: &[u8], input: Option<Vec<u8>>) -> Result<JsValue, JsError> {
        let x: Vec<f32> = pixels.iter().map(|&p| p as f32 / 255.0).collect();
        let probabilities = self.vit.classify(&x).map_err(js_err)?;
        let prediction = crate::model::argmax(probabilities.iter().copied());
        serde_wasm_bindgen::to_value(&Prediction {
            prediction,
            probabilities,
            labels: self.labels.clone(),
            input,
        })
        .map_err(js_err)
    }
}
