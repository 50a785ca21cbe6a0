//! Out-of-domain evaluation sets (issue #13): what people really draw and upload, generated
//! by the project itself, reproducibly from a seed, and stored small in `ood/` in the dataset
//! binary format.
//!
//! | set | base | images | stored as |
//! |---|---|---|---|
//! | `mnist-fonts` | MNIST models | 1000 | 28x28, prepared: digits from 20 fonts, random slant / rotation, stroke width, blur |
//! | `mnist-drawn` | MNIST models | 500 | 56x56 raw canvas: digits drawn as on the page's canvas (brush, caps, jittered strokes) |
//! | `mnist-upload` | MNIST models | 500 | 56x56 raw photo: MNIST test digits dark on light paper, off-centre, uneven light, noise, JPEG |
//! | `fashion-photo` | Fashion models | 1000 | 28x28: Fashion-MNIST test images with photo-like changes |
//!
//! Raw sets (larger than the model's input) go through the upload preprocessing
//! ([`crate::data::preprocess_gray`]) at evaluation time, exactly as an upload or a canvas
//! drawing is prepared by the CLI and the page; so a change to the preprocessing is measured
//! without regenerating the sets.

pub mod brush;
pub mod drawn;
#[cfg(not(target_arch = "wasm32"))]
pub mod fonts;
#[cfg(not(target_arch = "wasm32"))]
pub mod generate;
#[cfg(not(target_arch = "wasm32"))]
pub mod photo;

use std::path::Path;

use super::{preprocess_gray, Dataset};
use crate::{Error, Result};

/// `(set name, the dataset whose models it evaluates)`.
pub const SETS: [(&str, &str); 4] = [
    ("mnist-fonts", "mnist"),
    ("mnist-drawn", "mnist"),
    ("mnist-upload", "mnist"),
    ("fashion-photo", "fashion"),
];

/// Default folder of the sets, relative to the repository root.
pub const DIR: &str = "ood";

/// File of set `name` in `dir`.
pub fn path(dir: &Path, name: &str) -> std::path::PathBuf {
    dir.join(format!("{name}.bin"))
}

/// Loads set `name` (checksum verified) from `dir`.
pub fn load(dir: &Path, name: &str) -> Result<Dataset> {
    let p = path(dir, name);
    if !p.is_file() {
        return Err(Error::Data(format!(
            "{} not found: generate the out-of-domain sets with `mpcvit ood` (scripts/ood.sh)",
            p.display()
        )));
    }
    let d = Dataset::read_from(&p)?;
    if d.name != name {
        return Err(Error::Data(format!(
            "{} holds set '{}', not '{name}'",
            p.display(),
            d.name
        )));
    }
    Ok(d)
}

/// The sets for models of `dataset`, loaded from `dir`.
pub fn sets_for(dir: &Path, dataset: &str) -> Result<Vec<Dataset>> {
    SETS.iter()
        .filter(|(_, base)| *base == dataset)
        .map(|(name, _)| load(dir, name))
        .collect()
}

/// A set as model input of side `size`: unchanged when it already has that size, otherwise
/// every image through the upload preprocessing. Returns the prepared set and how many images
/// the preprocessing rejected (kept as blank images, so they count as errors unless the model
/// happens to call a blank image by its label).
pub fn prepare(set: &Dataset, size: usize) -> Result<(Dataset, usize)> {
    if set.rows == size && set.cols == size {
        return Ok((set.clone(), 0));
    }
    if set.channels != 1 {
        return Err(Error::shape(
            "raw out-of-domain set",
            "1 (grey) channel",
            format!("'{}' with {} channels", set.name, set.channels),
        ));
    }
    let mut pixels = Vec::with_capacity(set.len() * size * size);
    let mut rejected = 0;
    for i in 0..set.len() {
        match preprocess_gray(set.cols, set.rows, set.image(i), size) {
            Ok(img) => pixels.extend(img),
            Err(_) => {
                rejected += 1;
                pixels.extend(std::iter::repeat_n(0u8, size * size));
            }
        }
    }
    let d = Dataset::new(
        set.name.clone(),
        size,
        size,
        1,
        set.classes,
        set.labels.clone(),
        pixels,
    )?;
    Ok((d, rejected))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prepare_passes_model_sized_sets_and_preprocesses_raw_ones() {
        let small = Dataset::new("s", 28, 28, 1, 10, vec![3], vec![7; 784]).unwrap();
        assert_eq!(prepare(&small, 28).unwrap(), (small.clone(), 0));
        // A 40x40 white page with one dark square and one blank page.
        let mut page = vec![255u8; 1600];
        for y in 10..20 {
            for x in 5..15 {
                page[y * 40 + x] = 0;
            }
        }
        page.extend(vec![255u8; 1600]);
        let raw = Dataset::new("r", 40, 40, 1, 10, vec![1, 2], page).unwrap();
        let (p, rejected) = prepare(&raw, 28).unwrap();
        assert_eq!((p.rows, p.cols, p.len(), rejected), (28, 28, 2, 1));
        assert_eq!(p.image(0)[14 * 28 + 14], 255, "the square is centred");
        assert!(p.image(1).iter().all(|&v| v == 0));
    }
}
