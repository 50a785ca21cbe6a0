//! An in-memory labelled image set and its compact, checksummed binary form.
//!
//! # Binary format (`*.bin`, version 1)
//!
//! Every integer is a little-endian `u32`. The layout is
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 8 | magic `MPCVDS01` (ASCII) |
//! | 8 | 4 | `count`: number of images |
//! | 12 | 4 | `rows`: image height |
//! | 16 | 4 | `cols`: image width |
//! | 20 | 4 | `channels` |
//! | 24 | 4 | `classes`: every label is `< classes` |
//! | 28 | 4 | `name_len`: length of the dataset name (at most [`MAX_NAME_LEN`]) |
//! | 32 | `name_len` | dataset name, UTF-8 (e.g. `mnist`, `fashion`) |
//! | ... | `count` | labels, one byte each |
//! | ... | `count * channels * rows * cols` | pixels, one byte each, image after image; inside an image channel-major then row-major (`[c][y][x]`, the model's `(C, H, W)` order) |
//! | end - 32 | 32 | SHA-256 of every byte before it |
//!
//! The checksum is there because the files are produced once by `mpcvit convert` and then
//! trusted by every training run: a silently truncated or corrupted download would otherwise
//! show up only as a mysteriously bad accuracy.

use std::path::Path;

use ndarray::Array4;
use sha2::{Digest, Sha256};

use crate::{Error, Result};

/// The 8-byte file magic of the binary form, version 1.
pub const MAGIC: &[u8; 8] = b"MPCVDS01";

/// Longest dataset name the binary form accepts, in bytes.
pub const MAX_NAME_LEN: usize = 64;

/// Size of the fixed part of the header (magic and six `u32` fields).
const FIXED_HEADER: usize = 8 + 6 * 4;

/// Length of the trailing SHA-256.
const DIGEST_LEN: usize = 32;

/// A labelled set of small images, stored as bytes exactly as the source dataset gives them.
///
/// Pixels stay `u8` (not `f32`) so that the 60,000 training images take 47 MB instead of 188 MB;
/// [`Dataset::to_input`] converts a batch to the model's `f32` input on demand.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dataset {
    /// Short name, e.g. `mnist` or `fashion`.
    pub name: String,
    /// Image height in pixels.
    pub rows: usize,
    /// Image width in pixels.
    pub cols: usize,
    /// Channels per pixel (1 for the grey datasets).
    pub channels: usize,
    /// Number of classes; every label is below it.
    pub classes: usize,
    /// One label per image.
    pub labels: Vec<u8>,
    /// `len() * image_len()` bytes, image after image, each in `(C, H, W)` order.
    pub pixels: Vec<u8>,
}

impl Dataset {
    /// Checks that this dataset's images are `channels x size x size` for `op` (the model's
    /// input), naming the dataset as `source` in the error.
    pub fn check_image_shape(
        &self,
        op: &'static str,
        source: &str,
        channels: usize,
        size: usize,
    ) -> Result<()> {
        if (self.channels, self.rows, self.cols) == (channels, size, size) {
            return Ok(());
        }
        Err(Error::shape(
            op,
            format!("{channels}x{size}x{size} images (the model's input)"),
            format!("{source}: {}x{}x{}", self.channels, self.rows, self.cols),
        ))
    }

    /// Builds a dataset and checks that every size agrees, so later indexing cannot fail.
    pub fn new(
        name: impl Into<String>,
        rows: usize,
        cols: usize,
        channels: usize,
        classes: usize,
        labels: Vec<u8>,
        pixels: Vec<u8>,
    ) -> Result<Self> {
        let d = Dataset {
            name: name.into(),
            rows,
            cols,
            channels,
            classes,
            labels,
            pixels,
        };
        d.validate()?;
        Ok(d)
    }

    /// Checks the invariants every method relies on: positive dimensions, a name that fits the
    /// binary form, a pixel buffer of exactly `len() * image_len()` bytes, labels below
    /// `classes`.
    pub fn validate(&self) -> Result<()> {
        if self.name.is_empty() || self.name.len() > MAX_NAME_LEN {
            return Err(Error::Data(format!(
                "dataset name must be 1 to {MAX_NAME_LEN} bytes, got {}",
                self.name.len()
            )));
        }
        for (field, v) in [
            ("rows", self.rows),
            ("cols", self.cols),
            ("channels", self.channels),
            ("classes", self.classes),
        ] {
            if v == 0 || v > u32::MAX as usize {
                return Err(Error::Data(format!(
                    "dataset '{}': {field} = {v} is out of range",
                    self.name
                )));
            }
        }
        if self.classes > 256 {
            return Err(Error::Data(format!(
                "dataset '{}': {} classes do not fit u8 labels",
                self.name, self.classes
            )));
        }
        let expected = self
            .image_len_checked()
            .and_then(|l| l.checked_mul(self.labels.len()))
            .ok_or_else(|| Error::Data(format!("dataset '{}': image size overflows", self.name)))?;
        if self.pixels.len() != expected {
            return Err(Error::Data(format!(
                "dataset '{}': {} pixel bytes for {} images of {}x{}x{} (expected {expected})",
                self.name,
                self.pixels.len(),
                self.labels.len(),
                self.channels,
                self.rows,
                self.cols
            )));
        }
        if let Some((i, l)) = self
            .labels
            .iter()
            .enumerate()
            .find(|(_, l)| **l as usize >= self.classes)
        {
            return Err(Error::Data(format!(
                "dataset '{}': label {l} of image {i} is not below {} classes",
                self.name, self.classes
            )));
        }
        Ok(())
    }

    fn image_len_checked(&self) -> Option<usize> {
        self.rows.checked_mul(self.cols)?.checked_mul(self.channels)
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether the set holds no image.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Bytes per image, `channels * rows * cols`.
    pub fn image_len(&self) -> usize {
        self.channels * self.rows * self.cols
    }

    /// The bytes of image `i` in `(C, H, W)` order. Panics only if `i >= len()`, like slice
    /// indexing; use [`Dataset::get`] for a checked variant.
    pub fn image(&self, i: usize) -> &[u8] {
        let l = self.image_len();
        &self.pixels[i * l..(i + 1) * l]
    }

    /// Image `i` and its label, or `None` when `i` is out of range.
    pub fn get(&self, i: usize) -> Option<(&[u8], u8)> {
        (i < self.len()).then(|| (self.image(i), self.labels[i]))
    }

    /// Count of images per class, indexed by label.
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.classes];
        for &l in &self.labels {
            counts[l as usize] += 1;
        }
        counts
    }

    fn check_indices(&self, indices: &[usize]) -> Result<()> {
        match indices.iter().find(|&&i| i >= self.len()) {
            Some(i) => Err(Error::Data(format!(
                "index {i} is out of range for dataset '{}' of {} images",
                self.name,
                self.len()
            ))),
            None => Ok(()),
        }
    }

    /// The images at `indices` as model input: shape `(B, C, H, W)`, value `pixel / 255.0`
    /// (the input convention every model in this crate is trained with).
    pub fn to_input(&self, indices: &[usize]) -> Result<Array4<f32>> {
        self.check_indices(indices)?;
        let l = self.image_len();
        let mut data = Vec::with_capacity(indices.len() * l);
        for &i in indices {
            data.extend(self.image(i).iter().map(|&p| p as f32 / 255.0));
        }
        Array4::from_shape_vec((indices.len(), self.channels, self.rows, self.cols), data)
            .map_err(Error::from)
    }

    /// The labels at `indices`, as `usize` class indices.
    pub fn labels_of(&self, indices: &[usize]) -> Result<Vec<usize>> {
        self.check_indices(indices)?;
        Ok(indices.iter().map(|&i| self.labels[i] as usize).collect())
    }

    /// A new dataset holding the images at `indices`, in that order (repeats allowed).
    pub fn subset(&self, indices: &[usize]) -> Result<Dataset> {
        self.check_indices(indices)?;
        let mut pixels = Vec::with_capacity(indices.len() * self.image_len());
        for &i in indices {
            pixels.extend_from_slice(self.image(i));
        }
        Ok(Dataset {
            name: self.name.clone(),
            rows: self.rows,
            cols: self.cols,
            channels: self.channels,
            classes: self.classes,
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
            pixels,
        })
    }

    /// The first `n` images (or all, if fewer).
    pub fn take(&self, n: usize) -> Dataset {
        let n = n.min(self.len());
        Dataset {
            name: self.name.clone(),
            rows: self.rows,
            cols: self.cols,
            channels: self.channels,
            classes: self.classes,
            labels: self.labels[..n].to_vec(),
            pixels: self.pixels[..n * self.image_len()].to_vec(),
        }
    }

    /// The binary form described in the [module docs](self).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        self.validate()?;
        let count = u32::try_from(self.len())
            .map_err(|_| Error::Data(format!("dataset '{}' has too many images", self.name)))?;
        let mut out = Vec::with_capacity(
            FIXED_HEADER + self.name.len() + self.labels.len() + self.pixels.len() + DIGEST_LEN,
        );
        out.extend_from_slice(MAGIC);
        // `validate` bounded every field by u32::MAX.
        for v in [
            count,
            self.rows as u32,
            self.cols as u32,
            self.channels as u32,
            self.classes as u32,
        ] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&(self.name.len() as u32).to_le_bytes());
        out.extend_from_slice(self.name.as_bytes());
        out.extend_from_slice(&self.labels);
        out.extend_from_slice(&self.pixels);
        let digest = Sha256::digest(&out);
        out.extend_from_slice(&digest);
        Ok(out)
    }

    /// Parses and verifies the binary form: magic, every size, the checksum, then the labels.
    pub fn from_bytes(bytes: &[u8]) -> Result<Dataset> {
        let bad = |what: String| Error::Data(format!("dataset file: {what}"));
        if bytes.len() < FIXED_HEADER + DIGEST_LEN {
            return Err(bad(format!(
                "{} bytes is too short for the header",
                bytes.len()
            )));
        }
        if &bytes[..8] != MAGIC {
            return Err(bad("bad magic (not an MPCVDS01 dataset file)".into()));
        }
        let field = |i: usize| {
            let at = 8 + 4 * i;
            u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]) as usize
        };
        let (count, rows, cols, channels, classes, name_len) =
            (field(0), field(1), field(2), field(3), field(4), field(5));
        if name_len == 0 || name_len > MAX_NAME_LEN {
            return Err(bad(format!("name length {name_len} is out of range")));
        }
        let image_len = rows
            .checked_mul(cols)
            .and_then(|v| v.checked_mul(channels))
            .ok_or_else(|| bad("image size overflows".into()))?;
        let expected = image_len
            .checked_mul(count)
            .and_then(|p| p.checked_add(count))
            .and_then(|p| p.checked_add(FIXED_HEADER + name_len + DIGEST_LEN))
            .ok_or_else(|| bad("sizes overflow".into()))?;
        if bytes.len() != expected {
            return Err(bad(format!(
                "{} bytes, but the header ({count} images of {channels}x{rows}x{cols}) implies \
                 {expected}: the file is truncated or has trailing data",
                bytes.len()
            )));
        }
        let body = &bytes[..expected - DIGEST_LEN];
        if Sha256::digest(body).as_slice() != &bytes[expected - DIGEST_LEN..] {
            return Err(bad(
                "SHA-256 checksum mismatch: the file is corrupted".into()
            ));
        }
        let name_at = FIXED_HEADER;
        let labels_at = name_at + name_len;
        let pixels_at = labels_at + count;
        let name = std::str::from_utf8(&bytes[name_at..labels_at])
            .map_err(|_| bad("name is not UTF-8".into()))?
            .to_string();
        let d = Dataset {
            name,
            rows,
            cols,
            channels,
            classes,
            labels: bytes[labels_at..pixels_at].to_vec(),
            pixels: bytes[pixels_at..expected - DIGEST_LEN].to_vec(),
        };
        d.validate()?;
        Ok(d)
    }

    /// Writes the binary form to `path`.
    pub fn write_to(&self, path: &Path) -> Result<()> {
        let bytes = self.to_bytes()?;
        std::fs::write(path, bytes)
            .map_err(|e| Error::Data(format!("cannot write {}: {e}", path.display())))
    }

    /// Reads and verifies the binary form from `path`.
    pub fn read_from(path: &Path) -> Result<Dataset> {
        let bytes = std::fs::read(path)
            .map_err(|e| Error::Data(format!("cannot read {}: {e}", path.display())))?;
        Dataset::from_bytes(&bytes).map_err(|e| match e {
            Error::Data(m) => Error::Data(format!("{}: {m}", path.display())),
            other => other,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> Dataset {
        // 3 images of 2x3, 1 channel; pixel value = 10 * image + position.
        let pixels = (0..3u8)
            .flat_map(|i| (0..6u8).map(move |p| 10 * i + p))
            .collect();
        Dataset::new("tiny", 2, 3, 1, 4, vec![0, 3, 1], pixels).unwrap()
    }

    #[test]
    fn accessors_and_input() {
        let d = tiny();
        assert_eq!(d.len(), 3);
        assert_eq!(d.image(1), &[10, 11, 12, 13, 14, 15]);
        assert_eq!(d.get(3), None);
        assert_eq!(d.class_counts(), vec![1, 1, 0, 1]);
        let x = d.to_input(&[2, 0]).unwrap();
        assert_eq!(x.shape(), &[2, 1, 2, 3]);
        assert_eq!(x[[0, 0, 1, 2]], 25.0 / 255.0);
        assert_eq!(x[[1, 0, 0, 1]], 1.0 / 255.0);
        assert_err!(d.to_input(&[3]), crate::Error::Data(_));
        assert_eq!(d.labels_of(&[1, 2]).unwrap(), vec![3, 1]);
        let s = d.subset(&[1, 1]).unwrap();
        assert_eq!(s.labels, vec![3, 3]);
        assert_eq!(s.image(1), d.image(1));
        assert_err!(d.subset(&[7]), crate::Error::Data(_));
        assert_eq!(d.take(2).len(), 2);
        assert_eq!(d.take(9).len(), 3);
    }

    #[test]
    fn new_rejects_inconsistent_sizes() {
        assert_err!(
            Dataset::new("x", 2, 2, 1, 2, vec![0], vec![0; 3]),
            crate::Error::Data(_)
        );
        assert_err!(
            Dataset::new("x", 2, 2, 1, 2, vec![2], vec![0; 4]),
            crate::Error::Data(_)
        );
        assert_err!(
            Dataset::new("", 2, 2, 1, 2, vec![0], vec![0; 4]),
            crate::Error::Data(_)
        );
        assert_err!(
            Dataset::new("x", 0, 2, 1, 2, vec![], vec![]),
            crate::Error::Data(_)
        );
    }

    #[test]
    fn binary_round_trip() {
        let d = tiny();
        let bytes = d.to_bytes().unwrap();
        assert_eq!(&bytes[..8], MAGIC);
        assert_eq!(Dataset::from_bytes(&bytes).unwrap(), d);
    }

    fn data_err(r: Result<Dataset>) -> String {
        match r {
            Err(Error::Data(m)) => m,
            other => panic!("expected Error::Data, got {other:?}"),
        }
    }

    #[test]
    fn binary_corruption_is_reported() {
        let bytes = tiny().to_bytes().unwrap();
        assert!(data_err(Dataset::from_bytes(&bytes[..bytes.len() - 1])).contains("truncated"));
        assert!(data_err(Dataset::from_bytes(&bytes[..10])).contains("too short"));
        let mut extra = bytes.clone();
        extra.push(0);
        assert!(data_err(Dataset::from_bytes(&extra)).contains("trailing"));
        let mut magic = bytes.clone();
        magic[0] = b'X';
        assert!(data_err(Dataset::from_bytes(&magic)).contains("magic"));
        let mut flipped = bytes.clone();
        let n = flipped.len();
        flipped[n - 40] ^= 1;
        assert!(data_err(Dataset::from_bytes(&flipped)).contains("checksum"));
        // A label out of range with a valid checksum (a writer bug, not corruption).
        let mut body = tiny().to_bytes().unwrap();
        body.truncate(body.len() - DIGEST_LEN);
        let labels_at = FIXED_HEADER + "tiny".len();
        body[labels_at] = 9;
        let digest = Sha256::digest(&body);
        body.extend_from_slice(&digest);
        assert!(data_err(Dataset::from_bytes(&body)).contains("label 9"));
        // Absurd header sizes must not allocate or overflow.
        let mut huge = bytes.clone();
        huge[12..16].copy_from_slice(&u32::MAX.to_le_bytes());
        huge[16..20].copy_from_slice(&u32::MAX.to_le_bytes());
        huge[20..24].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_err!(Dataset::from_bytes(&huge), crate::Error::Data(_));
        let mut name = bytes;
        name[28..32].copy_from_slice(&1000u32.to_le_bytes());
        assert!(data_err(Dataset::from_bytes(&name)).contains("name length"));
    }

    #[test]
    fn file_round_trip() {
        let dir = std::env::temp_dir().join(format!("mpcvit-dataset-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("tiny.bin");
        tiny().write_to(&path).unwrap();
        assert_eq!(Dataset::read_from(&path).unwrap(), tiny());
        let missing = data_err(Dataset::read_from(&dir.join("nope.bin")));
        assert!(missing.contains("nope.bin"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
