//! Decoding an uploaded PNG or JPEG (the CLI's `classify` files) into the RGBA buffer
//! [`super::preprocess_rgba`] takes, with bounded memory.
//!
//! A few kilobytes of PNG or JPEG can claim a 65535 x 65535 image, and a decoder allocates its
//! output from the claimed size before it finds out the data is short. So the format must be
//! PNG or JPEG (by content, not file name), each side at most [`MAX_SIDE`] and the image at
//! most [`super::preprocess::MAX_PIXELS`] (the preprocessing bound) *before* anything is
//! decoded, and the decoder's own buffers are capped at [`MAX_DECODE_BYTES`]. The peak is then
//! that cap plus the 4-byte-per-pixel RGBA copy. Errors are [`Error::Data`], never a panic.

use std::io::Cursor;

use image::{ImageFormat, ImageReader, Limits};

use super::preprocess::MAX_PIXELS;
use crate::{Error, Result};

/// Longest accepted side of an uploaded image, in pixels.
pub const MAX_SIDE: u32 = 8192;

/// Most bytes the decoder may allocate for one image (the `image` crate's default cap):
/// enough for an 8192 x 8192 RGB image at 8 bits, or a 16-bit one of half the pixels.
pub const MAX_DECODE_BYTES: u64 = 512 * 1024 * 1024;

/// A decoded image: width, height and `width * height * 4` RGBA bytes, row-major.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rgba {
    /// Pixels per row.
    pub width: u32,
    /// Rows.
    pub height: u32,
    /// `width * height * 4` bytes: R, G, B, A per pixel, row-major.
    pub pixels: Vec<u8>,
}

/// Decodes PNG or JPEG `bytes` with the bounds of the [module docs](self).
pub fn decode_image(bytes: &[u8]) -> Result<Rgba> {
    decode_image_within(bytes, MAX_SIDE, MAX_PIXELS)
}

/// [`decode_image`] with a smaller side and pixel bound (tests, or a caller that knows its
/// inputs are small); values above the defaults are clamped to them.
pub fn decode_image_within(bytes: &[u8], max_side: u32, max_pixels: usize) -> Result<Rgba> {
    let (max_side, max_pixels) = (max_side.min(MAX_SIDE), max_pixels.min(MAX_PIXELS));
    let bad = |m: String| Error::Data(format!("image: {m}"));
    let reader = || {
        let mut r = ImageReader::new(Cursor::new(bytes))
            .with_guessed_format()
            .map_err(|e| bad(e.to_string()))?;
        match r.format() {
            Some(ImageFormat::Png | ImageFormat::Jpeg) => {}
            _ => return Err(bad("not a PNG or JPEG file".into())),
        }
        let mut limits = Limits::default();
        limits.max_image_width = Some(max_side);
        limits.max_image_height = Some(max_side);
        limits.max_alloc = Some(MAX_DECODE_BYTES);
        r.limits(limits);
        Ok(r)
    };
    let (w, h) = reader()?
        .into_dimensions()
        .map_err(|e| bad(e.to_string()))?;
    let pixels = (w as usize).saturating_mul(h as usize);
    if w == 0 || h == 0 || pixels > max_pixels {
        return Err(bad(format!(
            "{w}x{h} is empty or larger than {max_pixels} pixels"
        )));
    }
    let img = reader()?.decode().map_err(|e| bad(e.to_string()))?;
    let rgba = img.into_rgba8();
    let (width, height) = rgba.dimensions();
    Ok(Rgba {
        width,
        height,
        pixels: rgba.into_raw(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(w: u32, h: u32) -> Vec<u8> {
        let img =
            image::GrayImage::from_fn(w, h, |x, y| image::Luma([((x * 7 + y * 3) % 256) as u8]));
        let mut out = Vec::new();
        img.write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
            .unwrap();
        out
    }

    fn data_error(r: Result<Rgba>) -> String {
        match r {
            Err(Error::Data(m)) => m,
            other => panic!("expected Error::Data, got {other:?}"),
        }
    }

    #[test]
    fn png_and_jpeg_decode_to_rgba() {
        let d = decode_image(&png(5, 3)).unwrap();
        assert_eq!((d.width, d.height, d.pixels.len()), (5, 3, 60));
        assert_eq!(&d.pixels[4..8], &[7, 7, 7, 255]);
        let img = image::RgbImage::from_pixel(16, 8, image::Rgb([200, 10, 10]));
        let mut jpeg = Vec::new();
        img.write_to(&mut Cursor::new(&mut jpeg), ImageFormat::Jpeg)
            .unwrap();
        let d = decode_image(&jpeg).unwrap();
        assert_eq!((d.width, d.height, d.pixels.len()), (16, 8, 512));
    }

    #[test]
    fn other_formats_and_oversized_images_are_refused_before_decoding() {
        assert!(data_error(decode_image(b"GIF89a....")).contains("not a PNG or JPEG"));
        assert!(data_error(decode_image(b"")).contains("not a PNG or JPEG"));
        let e = data_error(decode_image_within(&png(40, 30), 64, 1000));
        assert!(e.contains("40x30") && e.contains("1000 pixels"), "{e}");
        assert_err!(
            decode_image_within(&png(40, 30), 32, 1 << 20),
            crate::Error::Data(_)
        );
    }

    /// A PNG whose header claims 60000 x 60000 (with a valid CRC) and no data: refused from
    /// the header, nothing allocated for the claimed 3.6 G pixels.
    #[test]
    fn a_png_claiming_a_huge_size_is_refused() {
        let mut bytes = png(4, 4);
        // IHDR data starts at byte 16 (8 signature + 4 length + 4 type); CRC covers type + data.
        bytes[16..20].copy_from_slice(&60000u32.to_be_bytes());
        bytes[20..24].copy_from_slice(&60000u32.to_be_bytes());
        let crc = crc32(&bytes[12..29]);
        bytes[29..33].copy_from_slice(&crc.to_be_bytes());
        let e = data_error(decode_image(&bytes));
        assert!(e.contains("limit") || e.contains("larger"), "{e}");
    }

    fn crc32(data: &[u8]) -> u32 {
        let mut c = 0xffff_ffffu32;
        for &b in data {
            c ^= b as u32;
            for _ in 0..8 {
                c = if c & 1 != 0 {
                    0xedb8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
            }
        }
        !c
    }
}
