//! A model on disk (or fetched by the page) is two files named after it, in one directory:
//!
//! * `<name>.safetensors`: the weights ([`super::weights`]);
//! * `<name>.json`: the [`Manifest`] (config, plan, metrics, training record, cost).
//!
//! and the directory's `index.json` lists every model, so the page can offer them without a
//! directory listing from the server:
//!
//! ```json
//! {"models": [{"name": "mnist-rsattn", "dataset": "mnist", "weights": "mnist-rsattn.safetensors",
//!              "manifest": "mnist-rsattn.json", "test_accuracy": 0.97, "weights_bytes": 123456}]}
//! ```

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::manifest::Manifest;
use super::weights::{from_safetensors, to_safetensors};
use crate::model::vit::check_param_shapes;
use crate::model::Params;
use crate::{Error, Result};

/// Name of the model list in a models directory.
pub const INDEX_FILE: &str = "index.json";

/// One row of `index.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IndexEntry {
    /// Model name.
    pub name: String,
    /// Dataset it classifies.
    pub dataset: String,
    /// Weights file, relative to the index.
    pub weights: String,
    /// Manifest file, relative to the index.
    pub manifest: String,
    /// Test accuracy from the manifest, if measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_accuracy: Option<f64>,
    /// Size of the weights file.
    pub weights_bytes: u64,
    /// Description from the manifest, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// The content of `index.json`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelIndex {
    /// Every model of the directory, sorted by name.
    pub models: Vec<IndexEntry>,
}

/// Parses a manifest and the weights it describes; works on bytes so the page can use it on
/// fetched files. Errors name the manifest field or the tensor at fault.
pub fn load_model(weights: &[u8], manifest_json: &str) -> Result<(Manifest, Params)> {
    let manifest = Manifest::from_json(manifest_json)?;
    let params = from_safetensors(weights, &manifest.config).map_err(|e| {
        Error::Model(format!(
            "weights of model '{}': {}",
            manifest.name,
            strip(e)
        ))
    })?;
    Ok((manifest, params))
}

/// The message of an error without its "invalid model file:" prefix, for re-wrapping.
fn strip(e: Error) -> String {
    match e {
        Error::Model(m) => m,
        other => other.to_string(),
    }
}

/// Paths of `<dir>/<name>.safetensors` and `<dir>/<name>.json`.
pub fn model_paths(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    (
        dir.join(format!("{name}.safetensors")),
        dir.join(format!("{name}.json")),
    )
}

/// Writes `<dir>/<manifest.name>.safetensors` and `.json` (creating `dir`), after checking that
/// the manifest is valid and `params` has exactly the shapes of `manifest.config`. Returns the
/// two paths.
pub fn save_model(dir: &Path, manifest: &Manifest, params: &Params) -> Result<(PathBuf, PathBuf)> {
    let json = manifest.to_json()?;
    manifest.config.validate()?;
    check_param_shapes(&manifest.config, params)?;
    let bytes = to_safetensors(
        params,
        &[("name", &manifest.name), ("dataset", &manifest.dataset)],
    )?;
    std::fs::create_dir_all(dir)?;
    let (wp, mp) = model_paths(dir, &manifest.name);
    std::fs::write(&wp, bytes)?;
    std::fs::write(&mp, json)?;
    Ok((wp, mp))
}

/// Rewrites only the manifest of an existing model of `dir` (new metrics or cost): its weights
/// file stays byte for byte.
pub fn save_manifest(dir: &Path, manifest: &Manifest) -> Result<PathBuf> {
    let json = manifest.to_json()?;
    let (wp, mp) = model_paths(dir, &manifest.name);
    if !wp.exists() {
        return Err(Error::Model(format!(
            "no weights file {} for this manifest",
            wp.display()
        )));
    }
    std::fs::write(&mp, json)?;
    Ok(mp)
}

/// Reads and checks model `name` from `dir`.
pub fn load_model_dir(dir: &Path, name: &str) -> Result<(Manifest, Params)> {
    let (wp, mp) = model_paths(dir, name);
    let read_err =
        |p: &Path, e: std::io::Error| Error::Model(format!("cannot read {}: {e}", p.display()));
    let json = std::fs::read_to_string(&mp).map_err(|e| read_err(&mp, e))?;
    let weights = std::fs::read(&wp).map_err(|e| read_err(&wp, e))?;
    let (m, p) = load_model(&weights, &json)?;
    if m.name != name {
        return Err(Error::Model(format!(
            "{} names model '{}', not '{name}'",
            mp.display(),
            m.name
        )));
    }
    Ok((m, p))
}

/// Builds the index of `dir`: every `*.json` that claims to be a manifest (a JSON object with
/// `name` and `plan`) must be a valid one whose name matches its file and whose weights file
/// exists. Other JSON files (search results, reports) are not models and are passed over.
pub fn build_index(dir: &Path) -> Result<ModelIndex> {
    let mut models = Vec::new();
    let entries = std::fs::read_dir(dir)
        .map_err(|e| Error::Model(format!("cannot list {}: {e}", dir.display())))?;
    for entry in entries {
        let path = entry?.path();
        let file = path
            .file_name()
            .and_then(|f| f.to_str())
            .unwrap_or_default()
            .to_string();
        if !file.ends_with(".json") || file == INDEX_FILE {
            continue;
        }
        let json = std::fs::read_to_string(&path)?;
        let claims_manifest = serde_json::from_str::<serde_json::Value>(&json)
            .map(|v| v.get("name").is_some() && v.get("plan").is_some())
            .unwrap_or(true);
        if !claims_manifest {
            continue;
        }
        let m = Manifest::from_json(&json)
            .map_err(|e| Error::Model(format!("{}: {}", path.display(), strip(e))))?;
        let (wp, _) = model_paths(dir, &m.name);
        if file != format!("{}.json", m.name) {
            return Err(Error::Model(format!(
                "{} holds model '{}': rename it",
                path.display(),
                m.name
            )));
        }
        let weights_bytes = std::fs::metadata(&wp)
            .map_err(|e| {
                Error::Model(format!("{}: weights {}: {e}", path.display(), wp.display()))
            })?
            .len();
        models.push(IndexEntry {
            weights: format!("{}.safetensors", m.name),
            manifest: file,
            test_accuracy: m.metrics.test_accuracy,
            description: m.description.clone(),
            weights_bytes,
            name: m.name,
            dataset: m.dataset,
        });
    }
    models.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(ModelIndex { models })
}

/// Writes `<dir>/index.json` from [`build_index`] and returns its path.
pub fn write_index(dir: &Path) -> Result<PathBuf> {
    let index = build_index(dir)?;
    let path = dir.join(INDEX_FILE);
    std::fs::write(&path, serde_json::to_string_pretty(&index)? + "\n")?;
    Ok(path)
}
