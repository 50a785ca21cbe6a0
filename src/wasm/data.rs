//! Dataset bytes for the page's trainer: the first images of a dataset file, so the page can
//! train on a subset of the size the user picks.

use wasm_bindgen::prelude::*;

use super::js_err;
use crate::data::Dataset;

/// The first `n` images of a dataset (binary form, checked) as a new dataset file. The shipped
/// splits are ordered round-robin by class, so every prefix is class-balanced. `n` must be
/// between 1 and the number of images.
#[wasm_bindgen]
pub fn dataset_subset(dataset: &[u8], n: usize) -> Result<Vec<u8>, JsError> {
    let d = Dataset::from_bytes(dataset).map_err(js_err)?;
    if n == 0 || n > d.len() {
        return Err(JsError::new(&format!(
            "a subset of {n} images of a dataset of {}: pick 1 to {}",
            d.len(),
            d.len()
        )));
    }
    d.take(n).to_bytes().map_err(js_err)
}
