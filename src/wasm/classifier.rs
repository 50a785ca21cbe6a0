//! A loaded model that classifies images in plaintext (the client's own comparison result) and
//! describes itself to the page.

use serde::Serialize;
use wasm_bindgen::prelude::*;

use super::js_err;
use crate::data::preprocess_rgba;
use crate::io::{load_model, Manifest};
use crate::model::ViT;

/// A model loaded from its safetensors weights and JSON manifest.
#[wasm_bindgen]
pub struct Classifier {
    vit: ViT,
    manifest: Manifest,
}

#[derive(Serialize)]
struct Prediction {
    prediction: usize,
    probabilities: Vec<f32>,
}

#[wasm_bindgen]
impl Classifier {
    /// Loads and validates a model; a corrupt file is an error naming what is wrong.
    pub fn load(weights: &[u8], manifest_json: &str) -> Result<Classifier, JsError> {
        let (manifest, params) = load_model(weights, manifest_json).map_err(js_err)?;
        let vit =
            ViT::new(manifest.config.clone(), manifest.plan.clone(), params).map_err(js_err)?;
        Ok(Classifier { vit, manifest })
    }

    /// Classifies an image given as `channels * size * size` bytes (0-255, the dataset's form):
    /// `{prediction, probabilities}`.
    pub fn classify(&self, pixels: &[u8]) -> Result<JsValue, JsError> {
        let input: Vec<f32> = pixels.iter().map(|&p| p as f32 / 255.0).collect();
        let probabilities = self.vit.classify(&input).map_err(js_err)?;
        let prediction = crate::train::loss::argmax(probabilities.iter().copied());
        serde_wasm_bindgen::to_value(&Prediction {
            prediction,
            probabilities,
        })
        .map_err(js_err)
    }

    /// Converts a drawn or uploaded RGBA image to the model's input (grey, cropped, scaled and
    /// centred as MNIST was made) and returns those bytes.
    pub fn prepare_rgba(
        &self,
        rgba: &[u8],
        width: usize,
        height: usize,
    ) -> Result<Vec<u8>, JsError> {
        preprocess_rgba(width, height, rgba, self.vit.config.image_size).map_err(js_err)
    }

    /// The manifest (config, plan, dataset, metrics, cost) as an object.
    pub fn info(&self) -> Result<JsValue, JsError> {
        let s = serde_wasm_bindgen::Serializer::json_compatible();
        self.manifest.serialize(&s).map_err(js_err)
    }

    /// Pixels per input image.
    #[wasm_bindgen(getter)]
    pub fn input_len(&self) -> usize {
        self.vit.config.input_len()
    }
}
