//! The model file format: safetensors weights plus a JSON manifest, nothing else.
//!
//! * [`weights`]: [`crate::model::Params`] to and from safetensors bytes, strictly checked
//!   against a [`crate::model::ViTConfig`];
//! * [`manifest`]: config, attention plan, metrics, training record and cost of a model;
//! * [`model_file`]: the pair of files per model and the `index.json` of a models directory;
//! * [`checkpoint`]: a resumable training checkpoint's folder.
//!
//! Everything that parses works on bytes and strings so the browser can use it on fetched
//! files; the path-based helpers are thin wrappers for the CLI.

pub mod checkpoint;
pub mod manifest;
pub mod model_file;
pub mod weights;

pub use manifest::{Manifest, Metrics, TrainingRecord};
pub use model_file::{
    build_index, load_model, load_model_dir, save_manifest, save_model, write_index, IndexEntry,
    ModelIndex,
};
pub use weights::{from_safetensors, to_safetensors, zero_params};
