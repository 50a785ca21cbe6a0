//! Small committed image samples for the page (`www/samples/*.json`), so that "pick a sample"
//! works offline and without the 100 MB of converted datasets.
//!
//! Format (one image per line, so diffs stay readable):
//!
//! ```json
//! {"dataset": "mnist", "split": "test", "rows": 28, "cols": 28, "channels": 1,
//!  "classes": ["0", "1", ...],
//!  "images": [
//!   {"index": 3, "label": 0, "pixels": [0, 0, ...]},
//!   ...
//!  ]}
//! ```
//!
//! `pixels` holds `channels * rows * cols` integers 0..=255 in `(C, H, W)` order, the bytes of
//! [`Dataset::image`]; divide by 255 for model input. `index` is the image's position in the
//! source split. Images are grouped by class (label 0 first), each group in split order, and
//! the choice is deterministic: the first `n_per_class` images of each class.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::convert::class_names;
use super::Dataset;
use crate::{Error, Result};

/// One sample image.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sample {
    /// Position in the source split.
    pub index: usize,
    /// Class label.
    pub label: u8,
    /// `channels * rows * cols` bytes, `(C, H, W)` order.
    pub pixels: Vec<u8>,
}

/// A sample file, as written by [`write_samples`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Samples {
    /// Dataset name.
    pub dataset: String,
    /// Split the images come from (`test` for the shipped files).
    pub split: String,
    /// Image height.
    pub rows: usize,
    /// Image width.
    pub cols: usize,
    /// Channels.
    pub channels: usize,
    /// Class names by label.
    pub classes: Vec<String>,
    /// The images.
    pub images: Vec<Sample>,
}

/// Picks the first `n_per_class` images of each class of `dataset` (which came from `split`).
/// Class names come from [`class_names`] for the known datasets, else the label numbers.
pub fn select(dataset: &Dataset, split: &str, n_per_class: usize) -> Samples {
    let classes = match class_names(&dataset.name) {
        Ok(names) if names.len() == dataset.classes => {
            names.iter().map(|s| s.to_string()).collect()
        }
        _ => (0..dataset.classes).map(|c| c.to_string()).collect(),
    };
    let mut images = Vec::new();
    for class in 0..dataset.classes {
        let picked = (0..dataset.len())
            .filter(|&i| dataset.labels[i] as usize == class)
            .take(n_per_class);
        images.extend(picked.map(|i| Sample {
            index: i,
            label: class as u8,
            pixels: dataset.image(i).to_vec(),
        }));
    }
    Samples {
        dataset: dataset.name.clone(),
        split: split.to_string(),
        rows: dataset.rows,
        cols: dataset.cols,
        channels: dataset.channels,
        classes,
        images,
    }
}

/// The JSON text of `samples`, one image per line (see the [module docs](self)).
pub fn to_json(samples: &Samples) -> Result<String> {
    let mut out = String::from("{");
    out += &format!(
        "\"dataset\": {}, \"split\": {}, \"rows\": {}, \"cols\": {}, \"channels\": {},\n",
        serde_json::to_string(&samples.dataset)?,
        serde_json::to_string(&samples.split)?,
        samples.rows,
        samples.cols,
        samples.channels
    );
    out += &format!(
        " \"classes\": {},\n \"images\": [\n",
        serde_json::to_string(&samples.classes)?
    );
    let lines: Vec<String> = samples
        .images
        .iter()
        .map(serde_json::to_string)
        .collect::<std::result::Result<_, _>>()?;
    out += &lines
        .iter()
        .map(|l| format!("  {l}"))
        .collect::<Vec<_>>()
        .join(",\n");
    out += "\n ]}\n";
    Ok(out)
}

/// Parses a sample file, checking every image's size and label.
pub fn from_json(json: &str) -> Result<Samples> {
    let s: Samples = serde_json::from_str(json)?;
    let len = s.channels * s.rows * s.cols;
    for (i, img) in s.images.iter().enumerate() {
        if img.pixels.len() != len || img.label as usize >= s.classes.len() {
            return Err(Error::Data(format!(
                "sample {i}: {} pixels (expected {len}), label {} of {} classes",
                img.pixels.len(),
                img.label,
                s.classes.len()
            )));
        }
    }
    Ok(s)
}

/// Writes the first `n_per_class` images of each class of `dataset` (taken from the test
/// split) to `path` as JSON; creates the parent directory if needed.
pub fn write_samples(dataset: &Dataset, n_per_class: usize, path: &Path) -> Result<()> {
    let json = to_json(&select(dataset, "test", n_per_class))?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::Data(format!("cannot create {}: {e}", dir.display())))?;
    }
    std::fs::write(path, json)
        .map_err(|e| Error::Data(format!("cannot write {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_first_per_class_and_round_trips() {
        let labels = vec![1, 0, 1, 1, 0, 2];
        let pixels = (0..6u8).flat_map(|i| [i; 4]).collect();
        let d = Dataset::new("mnist", 2, 2, 1, 10, labels, pixels).unwrap();
        let s = select(&d, "test", 2);
        let picked: Vec<(usize, u8)> = s.images.iter().map(|i| (i.index, i.label)).collect();
        assert_eq!(picked, vec![(1, 0), (4, 0), (0, 1), (2, 1), (5, 2)]);
        assert_eq!(s.images[2].pixels, vec![0; 4]);
        assert_eq!(s.classes[3], "3");
        let json = to_json(&s).unwrap();
        assert_eq!(json.lines().count(), 4 + 5);
        assert_eq!(from_json(&json).unwrap(), s);

        let path = std::env::temp_dir()
            .join(format!("mpcvit-samples-{}", std::process::id()))
            .join("mnist.json");
        write_samples(&d, 1, &path).unwrap();
        let back = from_json(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(back.images.len(), 3);
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();

        let bad = json.replacen("\"label\":0", "\"label\":10", 1);
        assert_err!(from_json(&bad), crate::Error::Data(_));
    }
}
