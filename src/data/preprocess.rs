//! Turns a user's image (a drawing on a canvas, an uploaded photo) into model input prepared
//! the way MNIST itself was prepared, so that models trained on MNIST see familiar input.
//!
//! LeCun et al. size-normalised each digit to fit a 20x20 box preserving its aspect ratio
//! (anti-aliased, hence grey levels), then placed it in a 28x28 field so that its centre of
//! mass lies at the centre. This module does the same, with the target side as a parameter
//! (the box keeps the 20/28 ratio):
//!
//! 1. RGBA to luminance (ITU-R BT.601 weights). Transparent pixels are composited over a
//!    background that contrasts with the ink (see [`preprocess_rgba`]);
//! 2. polarity: MNIST is a bright subject on a dark background. The median of the image border
//!    is taken as the background, and the subject is on the side of it that reaches further:
//!    when the darkest pixels (the 0.5% quantile) lie further below the background than the
//!    brightest (99.5%) lie above it, the ink is dark and the image is inverted. (Comparing
//!    the background with mid-grey instead misreads a dim photo of paper, whose paper is
//!    darker than 128, as light ink on dark paper; issue #13's upload set has three.)
//! 3. background and lighting: the paper's brightness is fitted as a smooth (quadratic)
//!    surface and subtracted ([`super::background`]), so a photo's light gradient and dark
//!    corners become background, not ink; a flat background is subtracted exactly;
//! 4. contrast: the background maps to 0 and the brightest pixel to 255; faint noise (below
//!    [`NOISE_LEVEL`], or 3 times the paper's measured noise) is cleared;
//! 5. crop to the bounding box of pixels above [`INK_THRESHOLD`] (or 4 times the noise) that
//!    have an ink neighbour, so isolated specks do not stretch the crop;
//! 6. resize so the longer side is `round(size * 20 / 28)` (area averaging when shrinking,
//!    bilinear when enlarging) and stretch the peak back to 255;
//! 7. paste into a `size x size` black canvas so that the centre of mass is at the centre
//!    (shifted as little as needed to keep the whole subject inside).
//!
//! Errors rather than panics: a buffer of the wrong length is [`Error::ShapeMismatch`], an image with
//! no visible subject is [`Error::Data`]: its brightest pixel after step 3 stands less than
//! [`MIN_CONTRAST`] grey levels, or less than [`MIN_SNR`] times the paper's noise, above the
//! background.

use super::background::flatten;
use crate::{Error, Result};

/// Side of an MNIST image.
pub const MNIST_SIZE: usize = 28;

/// Side of the box MNIST fits each digit into, inside [`MNIST_SIZE`].
pub const MNIST_BOX: usize = 20;

/// Largest accepted input, in pixels (a 8192 x 8192 photo), to bound memory.
pub const MAX_PIXELS: usize = 8192 * 8192;

/// Fraction of full scale (after contrast stretching) above which a pixel is part of the
/// subject's bounding box.
pub const INK_THRESHOLD: f32 = 0.25;

/// Fraction of full scale below which a pixel is treated as background and cleared.
pub const NOISE_LEVEL: f32 = 0.08;

/// Smallest difference, in grey levels, between background and the brightest subject pixel
/// for the image to count as non-blank (a faint pencil mark in a dim photo stands about 20
/// levels above its paper)...
pub const MIN_CONTRAST: f32 = 12.0;

/// ...and it must also stand this many times the paper's measured noise above it. (On a blank
/// photographed page of 56 x 56 pixels the brightest residual reaches about 6 noise sigmas,
/// while the faintest readable digits of the upload set stand 4.1 sigmas above their paper:
/// the test cannot tell those apart, so a blank page with noise above about 2 grey levels is
/// read as a faint subject, as with the fixed threshold before.)
pub const MIN_SNR: f32 = 4.0;

/// Smallest and largest accepted target side.
const SIZE_RANGE: std::ops::RangeInclusive<usize> = 4..=1024;

fn check_dims(width: usize, height: usize, len: usize, bpp: usize, size: usize) -> Result<()> {
    if !SIZE_RANGE.contains(&size) {
        return Err(Error::shape(
            "preprocess",
            format!(
                "a target side in {}..={}",
                SIZE_RANGE.start(),
                SIZE_RANGE.end()
            ),
            size,
        ));
    }
    if width == 0 || height == 0 {
        return Err(Error::shape(
            "preprocess",
            "a non-empty image",
            format!("{width}x{height}"),
        ));
    }
    let pixels = width
        .checked_mul(height)
        .filter(|&p| p <= MAX_PIXELS)
        .ok_or_else(|| {
            Error::shape(
                "preprocess",
                format!("at most {MAX_PIXELS} pixels"),
                format!("{width}x{height}"),
            )
        })?;
    if len != pixels * bpp {
        return Err(Error::shape(
            "preprocess",
            format!(
                "{} bytes ({width}x{height} pixels of {bpp} byte(s))",
                pixels * bpp
            ),
            format!("{len} bytes"),
        ));
    }
    Ok(())
}

/// ITU-R BT.601 luma, the usual RGB-to-grey conversion.
fn luma(r: u8, g: u8, b: u8) -> f32 {
    0.299 * r as f32 + 0.587 * g as f32 + 0.114 * b as f32
}

/// Prepares an RGBA image (`width * height * 4` bytes, row-major, as `ImageData` gives it) as a
/// `size x size` grey image (`size * size` bytes, row-major), MNIST style; see the
/// [module docs](self). Use `size = MNIST_SIZE` for the shipped models.
///
/// Transparent pixels: a canvas the user drew on is often transparent where nothing was drawn,
/// whatever the ink colour. So when some alpha is below 255, the alpha-weighted mean luminance
/// of the image decides the ink: dark ink is composited over white, light ink over black.
pub fn preprocess_rgba(width: usize, height: usize, rgba: &[u8], size: usize) -> Result<Vec<u8>> {
    check_dims(width, height, rgba.len(), 4, size)?;
    let opaque = rgba.chunks_exact(4).all(|p| p[3] == 255);
    let grey: Vec<f32> = if opaque {
        rgba.chunks_exact(4)
            .map(|p| luma(p[0], p[1], p[2]))
            .collect()
    } else {
        let (mut sum, mut weight) = (0.0f64, 0.0f64);
        for p in rgba.chunks_exact(4) {
            sum += p[3] as f64 * luma(p[0], p[1], p[2]) as f64;
            weight += p[3] as f64;
        }
        if weight == 0.0 {
            return Err(Error::Data(
                "image is blank: every pixel is fully transparent".into(),
            ));
        }
        let bg = if sum / weight < 127.5 { 255.0 } else { 0.0 };
        rgba.chunks_exact(4)
            .map(|p| {
                let a = p[3] as f32 / 255.0;
                a * luma(p[0], p[1], p[2]) + (1.0 - a) * bg
            })
            .collect()
    };
    normalise(width, height, grey, size)
}

/// Like [`preprocess_rgba`] for a grey image of `width * height` bytes.
pub fn preprocess_gray(width: usize, height: usize, gray: &[u8], size: usize) -> Result<Vec<u8>> {
    check_dims(width, height, gray.len(), 1, size)?;
    normalise(
        width,
        height,
        gray.iter().map(|&v| v as f32).collect(),
        size,
    )
}

/// Bounding box `(x0, y0, x1, y1)` (inclusive) of the `ink` pixels that have an ink
/// neighbour (8-connected): isolated specks of photo noise do not stretch the crop. When every
/// ink pixel is isolated (a one-pixel subject) all of them count. `ink` has at least one pixel.
fn ink_box(w: usize, h: usize, ink: &[bool]) -> (usize, usize, usize, usize) {
    let has_neighbour = |x: usize, y: usize| {
        (y.saturating_sub(1)..=(y + 1).min(h - 1)).any(|yy| {
            (x.saturating_sub(1)..=(x + 1).min(w - 1))
                .any(|xx| (xx, yy) != (x, y) && ink[yy * w + xx])
        })
    };
    let bbox = |keep: &dyn Fn(usize, usize) -> bool| {
        let (mut x0, mut y0, mut x1, mut y1) = (w, h, 0, 0);
        for y in 0..h {
            for x in 0..w {
                if ink[y * w + x] && keep(x, y) {
                    (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
                }
            }
        }
        (x0, y0, x1, y1)
    };
    let b = bbox(&has_neighbour);
    if b.0 <= b.2 {
        b
    } else {
        bbox(&|_, _| true)
    }
}

/// The quantile of the image's values that stands for its darkest (and, mirrored, brightest)
/// pixels in the polarity test: robust to a few specks, and still inside a thin stroke's share
/// of the pixels (a "1" covers several percent of its box).
const POLARITY_QUANTILE: f32 = 0.005;

fn quantile(v: &[f32], q: f32) -> f32 {
    let mut v = v.to_vec();
    v.sort_by(f32::total_cmp);
    v[((v.len() - 1) as f32 * q).round() as usize]
}

fn median(mut v: Vec<f32>) -> f32 {
    v.sort_by(f32::total_cmp);
    v[v.len() / 2]
}

/// Steps 2 to 7 of the module docs on a grey image with values in `0..=255`.
fn normalise(w: usize, h: usize, mut img: Vec<f32>, size: usize) -> Result<Vec<u8>> {
    let border: Vec<f32> = (0..h)
        .flat_map(|y| (0..w).map(move |x| (x, y)))
        .filter(|&(x, y)| x == 0 || y == 0 || x + 1 == w || y + 1 == h)
        .map(|(x, y)| img[y * w + x])
        .collect();
    let bg = median(border);
    let (dark, light) = (
        quantile(&img, POLARITY_QUANTILE),
        quantile(&img, 1.0 - POLARITY_QUANTILE),
    );
    if bg - dark > light - bg {
        img.iter_mut().for_each(|v| *v = 255.0 - *v);
    }
    let flat = flatten(w, h, &img);
    let mut img = flat.image;
    let peak = img.iter().copied().fold(0.0f32, f32::max);
    if peak < MIN_CONTRAST.max(MIN_SNR * flat.noise) {
        return Err(Error::Data(format!(
            "image is blank: no subject stands out from the background (contrast {:.0} of 255, \
             noise {:.1})",
            peak.max(0.0),
            flat.noise
        )));
    }
    // Photo noise raises both levels: cleared below 3 sigma, ink above 4 sigma.
    // Capped so that the peak pixel (t = 1) always survives and is ink.
    let noise_level = NOISE_LEVEL.max(3.0 * flat.noise / peak).min(0.5);
    let ink_level = INK_THRESHOLD.max(4.0 * flat.noise / peak).min(0.9);
    for v in img.iter_mut() {
        let t = (*v / peak).clamp(0.0, 1.0);
        *v = if t < noise_level { 0.0 } else { t * 255.0 };
    }
    let ink: Vec<bool> = img.iter().map(|&v| v > ink_level * 255.0).collect();
    let (x0, y0, x1, y1) = ink_box(w, h, &ink);
    // The peak pixel (t = 1 > ink_level) is ink, so the box is not empty.
    let (cw, ch) = (x1 + 1 - x0, y1 + 1 - y0);
    let crop: Vec<f32> = (y0..=y1)
        .flat_map(|y| img[y * w + x0..=y * w + x1].iter().copied())
        .collect();

    let target = ((size * MNIST_BOX) as f32 / MNIST_SIZE as f32)
        .round()
        .max(1.0) as usize;
    let scale = target as f32 / cw.max(ch) as f32;
    let nw = ((cw as f32 * scale).round() as usize).clamp(1, target);
    let nh = ((ch as f32 * scale).round() as usize).clamp(1, target);
    let mut small = resize(&crop, cw, ch, nw, nh);
    let top = small.iter().copied().fold(0.0f32, f32::max);
    if top > 0.0 {
        small.iter_mut().for_each(|v| *v *= 255.0 / top);
    }

    let (mut mass, mut mx, mut my) = (0.0f64, 0.0f64, 0.0f64);
    for y in 0..nh {
        for x in 0..nw {
            let v = small[y * nw + x] as f64;
            mass += v;
            mx += v * (x as f64 + 0.5);
            my += v * (y as f64 + 0.5);
        }
    }
    let (cx, cy) = if mass > 0.0 {
        (mx / mass, my / mass)
    } else {
        (nw as f64 / 2.0, nh as f64 / 2.0)
    };
    let place = |centre: f64, len: usize| -> usize {
        let ideal = (size as f64 / 2.0 - centre).round();
        ideal.clamp(0.0, (size - len) as f64) as usize
    };
    let (ox, oy) = (place(cx, nw), place(cy, nh));
    let mut out = vec![0u8; size * size];
    for y in 0..nh {
        for x in 0..nw {
            out[(oy + y) * size + ox + x] = small[y * nw + x].round().clamp(0.0, 255.0) as u8;
        }
    }
    Ok(out)
}

/// For each output index, the source indices and weights of a 1-D resampling from `n_in` to
/// `n_out` samples: exact area coverage when shrinking (no aliasing of thin strokes), linear
/// interpolation between pixel centres when enlarging (no blocky edges).
fn kernel(n_in: usize, n_out: usize) -> Vec<Vec<(usize, f32)>> {
    let ratio = n_in as f32 / n_out as f32;
    (0..n_out)
        .map(|o| {
            if n_out < n_in {
                let (a, b) = (o as f32 * ratio, (o + 1) as f32 * ratio);
                let last = (b.ceil() as usize).min(n_in);
                (a.floor() as usize..last)
                    .map(|i| {
                        let overlap = b.min(i as f32 + 1.0) - a.max(i as f32);
                        (i, overlap.max(0.0) / ratio)
                    })
                    .collect()
            } else {
                let src = ((o as f32 + 0.5) * ratio - 0.5).clamp(0.0, (n_in - 1) as f32);
                let i0 = src.floor() as usize;
                let i1 = (i0 + 1).min(n_in - 1);
                let t = src - i0 as f32;
                vec![(i0, 1.0 - t), (i1, t)]
            }
        })
        .collect()
}

/// Separable resize of a `w x h` image to `nw x nh`.
fn resize(img: &[f32], w: usize, h: usize, nw: usize, nh: usize) -> Vec<f32> {
    let kx = kernel(w, nw);
    let ky = kernel(h, nh);
    let mut rows = vec![0.0f32; h * nw];
    for y in 0..h {
        for (x, k) in kx.iter().enumerate() {
            rows[y * nw + x] = k.iter().map(|&(i, wt)| img[y * w + i] * wt).sum();
        }
    }
    let mut out = vec![0.0f32; nh * nw];
    for (y, k) in ky.iter().enumerate() {
        for x in 0..nw {
            out[y * nw + x] = k.iter().map(|&(i, wt)| rows[i * nw + x] * wt).sum();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `w x h` RGBA canvas of colour `bg` with a `rect` (x, y, width, height) of colour `fg`.
    fn canvas(
        w: usize,
        h: usize,
        bg: [u8; 4],
        fg: [u8; 4],
        rect: (usize, usize, usize, usize),
    ) -> Vec<u8> {
        let mut v = Vec::with_capacity(w * h * 4);
        for y in 0..h {
            for x in 0..w {
                let inside =
                    x >= rect.0 && x < rect.0 + rect.2 && y >= rect.1 && y < rect.1 + rect.3;
                v.extend_from_slice(if inside { &fg } else { &bg });
            }
        }
        v
    }

    const WHITE: [u8; 4] = [255, 255, 255, 255];
    const BLACK: [u8; 4] = [0, 0, 0, 255];

    /// Bounding box (x0, y0, x1, y1) inclusive of non-zero pixels.
    fn bbox(img: &[u8], size: usize) -> (usize, usize, usize, usize) {
        let on: Vec<(usize, usize)> = (0..size * size)
            .filter(|&i| img[i] > 0)
            .map(|i| (i % size, i / size))
            .collect();
        let xs = on.iter().map(|p| p.0);
        let ys = on.iter().map(|p| p.1);
        (
            xs.clone().min().unwrap(),
            ys.clone().min().unwrap(),
            xs.max().unwrap(),
            ys.max().unwrap(),
        )
    }

    #[test]
    fn a_blank_photographed_page_is_blank_and_a_faint_mark_on_it_is_not() {
        use rand::{Rng, SeedableRng};
        let (w, h) = (56, 56);
        for sigma in [1.0f32, 2.0] {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(sigma as u64);
            let page: Vec<u8> = (0..w * h)
                .map(|k| {
                    let (x, y) = ((k % w) as f32, (k / w) as f32);
                    let g: f32 = (0..12).map(|_| rng.gen::<f32>()).sum::<f32>() - 6.0;
                    (200.0 - 0.6 * x - 0.3 * y + sigma * g).clamp(0.0, 255.0) as u8
                })
                .collect();
            let err = preprocess_gray(w, h, &page, 28).unwrap_err();
            assert!(
                matches!(&err, Error::Data(m) if m.contains("blank")),
                "{sigma}: {err}"
            );
            // A faint bar 22 levels darker than the paper, on the quiet page, is a subject.
            if sigma == 1.0 {
                let mut marked = page.clone();
                for y in 18..38 {
                    for x in 26..29 {
                        marked[y * w + x] = marked[y * w + x].saturating_sub(22);
                    }
                }
                let out = preprocess_gray(w, h, &marked, 28).unwrap();
                assert!(out[14 * 28 + 14] > 200, "the mark is centred ink");
            }
        }
    }

    #[test]
    fn a_dim_photo_of_dark_ink_on_grey_paper_is_read_as_ink() {
        // Paper at 110 (darker than mid-grey), falling to 70 in one corner, ink at 35: the
        // ink is the subject, not the paper.
        let (w, h) = (56, 56);
        let mut gray = Vec::with_capacity(w * h);
        for y in 0..h {
            for x in 0..w {
                let paper = 110.0 - 40.0 * (x + y) as f32 / (w + h) as f32;
                let ink = (20..36).contains(&y) && (25..31).contains(&x);
                gray.push(if ink { 35 } else { paper.round() as u8 });
            }
        }
        let out = preprocess_gray(w, h, &gray, 28).unwrap();
        assert_eq!(out[0], 0, "the paper is background");
        assert!(out[14 * 28 + 14] > 200, "the bar is ink, in the centre");
        let lit: usize = out.iter().filter(|&&v| v > 127).count();
        assert!(lit < 28 * 28 / 4, "only the bar is lit ({lit} pixels)");
    }

    #[test]
    fn off_centre_square_ends_centred_in_the_20px_box() {
        let img = canvas(100, 80, WHITE, BLACK, (10, 5, 30, 30));
        let out = preprocess_rgba(100, 80, &img, MNIST_SIZE).unwrap();
        assert_eq!(out.len(), 28 * 28);
        assert_eq!(bbox(&out, 28), (4, 4, 23, 23));
        for y in 4..24 {
            for x in 4..24 {
                assert_eq!(out[y * 28 + x], 255, "pixel ({x},{y})");
            }
        }
        assert_eq!(out.iter().filter(|&&v| v > 0).count(), 400);
    }

    #[test]
    fn uneven_lighting_and_noise_do_not_stretch_the_crop() {
        // The off-centre square of the test above, photographed: the paper darkens from 255
        // on the left to 125 on the right, with deterministic speckle noise of +-6 levels.
        let (w, h) = (100usize, 80usize);
        let img: Vec<u8> = (0..w * h)
            .map(|i| {
                let (x, y) = (i % w, i / w);
                let paper = 255.0 - 130.0 * x as f32 / (w - 1) as f32;
                let ink = (10..40).contains(&x) && (5..35).contains(&y);
                let noise = ((i * 7919) % 13) as f32 - 6.0;
                (if ink { 20.0 } else { paper } + noise).clamp(0.0, 255.0) as u8
            })
            .collect();
        let out = preprocess_gray(w, h, &img, MNIST_SIZE).unwrap();
        let (x0, y0, x1, y1) = bbox(&out, 28);
        assert!(
            x0 >= 3 && y0 >= 3 && x1 <= 24 && y1 <= 24,
            "{:?}",
            (x0, y0, x1, y1)
        );
        let bright = out.iter().filter(|&&v| v > 200).count();
        assert!(
            (350..=450).contains(&bright),
            "{bright} bright pixels: the square fills the box"
        );
    }

    #[test]
    fn polarity_is_detected() {
        let dark_on_light = canvas(60, 60, WHITE, BLACK, (30, 30, 12, 24));
        let light_on_dark = canvas(60, 60, BLACK, WHITE, (30, 30, 12, 24));
        let a = preprocess_rgba(60, 60, &dark_on_light, 28).unwrap();
        let b = preprocess_rgba(60, 60, &light_on_dark, 28).unwrap();
        assert_eq!(a, b);
        // A 1:2 rectangle: 10x20, centred.
        assert_eq!(bbox(&a, 28), (9, 4, 18, 23));
        // Grey levels on a grey background behave the same after contrast stretching.
        let grey = canvas(
            60,
            60,
            [200, 200, 200, 255],
            [90, 90, 90, 255],
            (30, 30, 12, 24),
        );
        assert_eq!(preprocess_rgba(60, 60, &grey, 28).unwrap(), a);
    }

    #[test]
    fn transparent_canvas_works_with_either_ink() {
        let clear = [0, 0, 0, 0];
        let black_ink = canvas(50, 50, clear, BLACK, (5, 5, 20, 20));
        let white_ink = canvas(50, 50, clear, WHITE, (5, 5, 20, 20));
        let a = preprocess_rgba(50, 50, &black_ink, 28).unwrap();
        let b = preprocess_rgba(50, 50, &white_ink, 28).unwrap();
        assert_eq!(a, b);
        assert_eq!(bbox(&a, 28), (4, 4, 23, 23));
    }

    #[test]
    fn small_subjects_are_enlarged_and_size_is_a_parameter() {
        let img = canvas(40, 40, BLACK, WHITE, (2, 30, 4, 8));
        let out = preprocess_rgba(40, 40, &img, 56).unwrap();
        let (x0, y0, x1, y1) = bbox(&out, 56);
        assert_eq!(y1 - y0 + 1, 40);
        assert_eq!(x1 - x0 + 1, 20);
        assert_eq!((x0 + x1 + 1, y0 + y1 + 1), (56, 56));
        let g = preprocess_gray(3, 3, &[0, 0, 0, 0, 255, 0, 0, 0, 0], 28).unwrap();
        assert_eq!(bbox(&g, 28), (4, 4, 23, 23));
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        assert!(matches!(
            preprocess_rgba(10, 10, &[0; 399], 28),
            Err(Error::ShapeMismatch {
                op: "preprocess",
                ..
            })
        ));
        assert!(matches!(
            preprocess_rgba(0, 10, &[], 28),
            Err(Error::ShapeMismatch {
                op: "preprocess",
                ..
            })
        ));
        assert!(matches!(
            preprocess_gray(10, 10, &[0; 100], 2),
            Err(Error::ShapeMismatch {
                op: "preprocess",
                ..
            })
        ));
        assert!(matches!(
            preprocess_rgba(usize::MAX, 2, &[], 28),
            Err(Error::ShapeMismatch {
                op: "preprocess",
                ..
            })
        ));
        let blank = canvas(20, 20, WHITE, WHITE, (0, 0, 0, 0));
        let err = preprocess_rgba(20, 20, &blank, 28).unwrap_err();
        assert!(
            matches!(&err, Error::Data(m) if m.contains("blank")),
            "{err}"
        );
        let faint = canvas(20, 20, WHITE, [250, 250, 250, 255], (5, 5, 5, 5));
        assert_err!(preprocess_rgba(20, 20, &faint, 28), crate::Error::Data(_));
        assert_err!(preprocess_rgba(2, 2, &[0; 16], 28), crate::Error::Data(_));
        assert_err!(preprocess_gray(1, 1, &[255], 28), crate::Error::Data(_));
    }
}
