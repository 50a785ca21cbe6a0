//! Photo-like degradations: what a phone photo or scan of paper does to an image. Uneven
//! lighting (a gradient across the page and a vignette), sensor noise, focus blur and JPEG
//! compression, plus, for uploads, the digit written dark on light paper, larger and off-centre
//! on a bigger page. Native only (JPEG goes through the `image` crate).

use ndarray::Array2;
use rand::Rng;
use rand_distr::{Distribution, Normal};

use crate::train::augment::geometry::{bilinear, blur, gaussian_kernel, warp, Affine};
use crate::{Error, Result};

/// Side of a stored upload page.
pub const PAGE: usize = 56;

/// Multiplicative lighting over a `side x side` page: a linear fall-off of up to `gradient` in
/// a random direction and a vignette of up to `vignette` toward the corners.
fn lighting(rng: &mut impl Rng, side: usize, gradient: f32, vignette: f32) -> Array2<f32> {
    let theta = rng.gen_range(0.0..std::f32::consts::TAU);
    let g = rng.gen_range(0.0..=gradient);
    let v = rng.gen_range(0.0..=vignette);
    let (dx, dy) = (theta.cos(), theta.sin());
    let c = (side as f32 - 1.0) / 2.0;
    Array2::from_shape_fn((side, side), |(y, x)| {
        let (u, w) = ((x as f32 - c) / c, (y as f32 - c) / c);
        let ramp = (u * dx + w * dy + 1.0) / 2.0; // 0..1 across the page
        1.0 - g * ramp - v * (u * u + w * w) / 2.0
    })
}

/// Gaussian blur of standard deviation `sigma` (no-op below 0.05), edges replicated by
/// renormalising so the paper does not darken at the border.
pub fn focus_blur(img: &Array2<f32>, sigma: f32) -> Array2<f32> {
    if sigma < 0.05 {
        return img.clone();
    }
    let k = gaussian_kernel(sigma);
    let ones = Array2::from_elem(img.dim(), 1.0f32);
    let weight = blur(ones.view(), &k);
    blur(img.view(), &k) / weight
}

/// Adds Gaussian noise of `sigma` grey levels, rounds to bytes.
fn noisy_bytes(img: &Array2<f32>, sigma: f32, rng: &mut impl Rng) -> Result<Vec<u8>> {
    let normal = Normal::new(0.0f32, sigma.max(1e-6))
        .map_err(|e| Error::out_of_range("noise sigma", e, "finite"))?;
    Ok(img
        .iter()
        .map(|&v| (v + normal.sample(rng)).round().clamp(0.0, 255.0) as u8)
        .collect())
}

/// Encodes a grey image as JPEG at `quality` (1 to 100) and decodes it again.
pub fn jpeg_roundtrip(gray: &[u8], width: usize, height: usize, quality: u8) -> Result<Vec<u8>> {
    use image::codecs::jpeg::JpegEncoder;
    let mut buf = Vec::new();
    JpegEncoder::new_with_quality(&mut buf, quality.clamp(1, 100))
        .encode(
            gray,
            width as u32,
            height as u32,
            image::ExtendedColorType::L8,
        )
        .map_err(|e| Error::Data(format!("jpeg encode: {e}")))?;
    let img = image::load_from_memory_with_format(&buf, image::ImageFormat::Jpeg)
        .map_err(|e| Error::Data(format!("jpeg decode: {e}")))?;
    Ok(img.to_luma8().into_raw())
}

/// A 28x28 MNIST digit (light on dark) as a photographed upload: written dark on light paper,
/// enlarged 1 to 1.6 times, slightly rotated and placed off-centre on a [`PAGE`]-sided page,
/// unevenly lit, blurred, noisy and JPEG-compressed. Returns `PAGE * PAGE` grey bytes.
pub fn upload_page(digit: &[u8], side: usize, rng: &mut impl Rng) -> Result<Vec<u8>> {
    let src = Array2::from_shape_fn((side, side), |(y, x)| digit[y * side + x] as f32 / 255.0);
    let scale = rng.gen_range(1.0f32..=1.6);
    let size = side as f32 * scale;
    let free = PAGE as f32 - size;
    let (ox, oy) = (rng.gen_range(0.0..=free), rng.gen_range(0.0..=free));
    let rot = rng.gen_range(-6f32..=6.0).to_radians();
    let (s, c) = rot.sin_cos();
    let centre = (side as f32 - 1.0) / 2.0;
    let paper = rng.gen_range(175.0f32..=240.0);
    let ink = rng.gen_range(15.0f32..=90.0);
    let light = lighting(rng, PAGE, 0.45, 0.3);
    let page = Array2::from_shape_fn((PAGE, PAGE), |(y, x)| {
        // Page pixel -> digit coordinates: undo placement, scale and rotation.
        let (u, v) = (
            (x as f32 - ox) / scale - centre,
            (y as f32 - oy) / scale - centre,
        );
        let (sx, sy) = (centre + c * u + s * v, centre - s * u + c * v);
        let amount = bilinear(src.view(), sx, sy);
        light[[y, x]] * (paper - (paper - ink) * amount)
    });
    let blurred = focus_blur(&page, rng.gen_range(0.0f32..=0.9));
    let noisy = noisy_bytes(&blurred, rng.gen_range(2.0f32..=9.0), rng)?;
    jpeg_roundtrip(&noisy, PAGE, PAGE, rng.gen_range(30..=85))
}

/// A 28x28 clothing image (light on dark) with the photo-like changes: a small rotation,
/// scale and shift, reduced or raised contrast, a background lifted from black, uneven
/// lighting, blur, noise and JPEG compression. Same size out.
pub fn photo_like(img: &[u8], side: usize, rng: &mut impl Rng) -> Result<Vec<u8>> {
    let src = Array2::from_shape_fn((side, side), |(y, x)| img[y * side + x] as f32);
    let affine = Affine::random(rng, 6.0, 0.08, 0.0, 1.5);
    let moved = warp(src.view(), &affine, None);
    let contrast = rng.gen_range(0.7f32..=1.1);
    let background = rng.gen_range(0.0f32..=45.0);
    let light = lighting(rng, side, 0.35, 0.25);
    let lit = Array2::from_shape_fn((side, side), |(y, x)| {
        light[[y, x]] * (background + contrast * moved[[y, x]] * (255.0 - background) / 255.0)
    });
    let blurred = focus_blur(&lit, rng.gen_range(0.0f32..=0.7));
    let noisy = noisy_bytes(&blurred, rng.gen_range(2.0f32..=8.0), rng)?;
    jpeg_roundtrip(&noisy, side, side, rng.gen_range(40..=85))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::preprocess_gray;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    /// A bright 12x4 bar in a 28x28 dark field: a crude "1".
    fn one() -> Vec<u8> {
        (0..28 * 28)
            .map(|i| {
                if (8..20).contains(&(i / 28)) && (12..16).contains(&(i % 28)) {
                    255
                } else {
                    0
                }
            })
            .collect()
    }

    #[test]
    fn jpeg_roundtrip_keeps_size_and_roughly_the_values() {
        let img: Vec<u8> = (0..32 * 16).map(|i| ((i % 32) * 8) as u8).collect();
        let out = jpeg_roundtrip(&img, 32, 16, 90).unwrap();
        assert_eq!(out.len(), img.len());
        let err = img
            .iter()
            .zip(&out)
            .map(|(a, b)| (*a as i32 - *b as i32).abs())
            .max()
            .unwrap();
        assert!(err < 24, "largest error {err}");
    }

    #[test]
    fn an_upload_page_is_dark_ink_on_light_paper_off_centre_and_deterministic() {
        let d = one();
        let a = upload_page(&d, 28, &mut ChaCha8Rng::seed_from_u64(1)).unwrap();
        let b = upload_page(&d, 28, &mut ChaCha8Rng::seed_from_u64(1)).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.len(), PAGE * PAGE);
        let mean = a.iter().map(|&v| v as f32).sum::<f32>() / a.len() as f32;
        assert!(mean > 110.0, "light paper: mean {mean}");
        assert!(a.iter().any(|&v| v < 110), "dark ink");
        let photo = photo_like(&d, 28, &mut ChaCha8Rng::seed_from_u64(2)).unwrap();
        assert_eq!(photo.len(), 28 * 28);
        assert!(preprocess_gray(PAGE, PAGE, &a, 28).is_ok());
    }
}
