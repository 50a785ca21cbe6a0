//! Digits rendered from fonts (Debian font packages), each with a random slant, rotation,
//! stroke width and blur, then prepared as MNIST was (`preprocess_gray`): printed and typed
//! digits, a style MNIST's writers never produced. Native only (fonts are files; the outlines
//! are rasterised with `ab_glyph`).

use std::path::{Path, PathBuf};

use ab_glyph::{Font, FontVec, PxScale};
use ndarray::Array2;
use rand::Rng;

use super::photo::focus_blur;
use crate::data::preprocess_gray;
use crate::train::augment::geometry::{warp, Affine};
use crate::train::augment::photometric::morph;
use crate::{Error, Result};

/// The fonts of the font set and the Debian package of each (installed by `scripts/ood.sh`):
/// sans, serif, monospace, rounded, geometric, comic and chancery faces, upright and italic.
pub const FONTS: [(&str, &str); 20] = [
    (
        "fonts-dejavu-core",
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    ),
    (
        "fonts-dejavu-core",
        "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf",
    ),
    (
        "fonts-dejavu-core",
        "/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf",
    ),
    (
        "fonts-dejavu-extra",
        "/usr/share/fonts/truetype/dejavu/DejaVuSansCondensed-Oblique.ttf",
    ),
    (
        "fonts-liberation2",
        "/usr/share/fonts/truetype/liberation2/LiberationSans-Regular.ttf",
    ),
    (
        "fonts-liberation2",
        "/usr/share/fonts/truetype/liberation2/LiberationSerif-Italic.ttf",
    ),
    (
        "fonts-liberation2",
        "/usr/share/fonts/truetype/liberation2/LiberationMono-Regular.ttf",
    ),
    (
        "fonts-freefont-ttf",
        "/usr/share/fonts/truetype/freefont/FreeSans.ttf",
    ),
    (
        "fonts-freefont-ttf",
        "/usr/share/fonts/truetype/freefont/FreeSerifBold.ttf",
    ),
    (
        "fonts-freefont-ttf",
        "/usr/share/fonts/truetype/freefont/FreeMono.ttf",
    ),
    (
        "fonts-urw-base35",
        "/usr/share/fonts/opentype/urw-base35/NimbusSans-Bold.otf",
    ),
    (
        "fonts-urw-base35",
        "/usr/share/fonts/opentype/urw-base35/NimbusRoman-Italic.otf",
    ),
    (
        "fonts-urw-base35",
        "/usr/share/fonts/opentype/urw-base35/URWGothic-Book.otf",
    ),
    (
        "fonts-urw-base35",
        "/usr/share/fonts/opentype/urw-base35/URWBookman-Light.otf",
    ),
    (
        "fonts-urw-base35",
        "/usr/share/fonts/opentype/urw-base35/C059-Roman.otf",
    ),
    (
        "fonts-urw-base35",
        "/usr/share/fonts/opentype/urw-base35/P052-Italic.otf",
    ),
    (
        "fonts-urw-base35",
        "/usr/share/fonts/opentype/urw-base35/Z003-MediumItalic.otf",
    ),
    (
        "fonts-comic-neue",
        "/usr/share/fonts/opentype/comic-neue/ComicNeue-Regular.otf",
    ),
    (
        "fonts-comic-neue",
        "/usr/share/fonts/opentype/comic-neue/ComicNeue-Bold.otf",
    ),
    (
        "fonts-cantarell",
        "/usr/share/fonts/opentype/cantarell/Cantarell-Regular.otf",
    ),
];

/// Em size the glyphs are rasterised at before the MNIST preparation shrinks them.
const EM: f32 = 64.0;

/// Loads font files, with an error naming the package that provides a missing one.
pub fn load_fonts(paths: &[PathBuf]) -> Result<Vec<FontVec>> {
    paths
        .iter()
        .map(|p| {
            let bytes = std::fs::read(p).map_err(|e| {
                let package = FONTS
                    .iter()
                    .find(|(_, f)| Path::new(f) == p)
                    .map_or("a font package".to_string(), |(pk, _)| {
                        format!("Debian package {pk}")
                    });
                Error::Data(format!(
                    "{}: {e} (install {package}, e.g. with scripts/ood.sh)",
                    p.display()
                ))
            })?;
            FontVec::try_from_vec(bytes)
                .map_err(|e| Error::Data(format!("{}: not a font: {e}", p.display())))
        })
        .collect()
}

/// Digit `label` in `font` as light-on-dark coverage, padded so warps and dilation fit.
fn rasterise(font: &FontVec, label: u8) -> Result<Array2<f32>> {
    let ch = char::from(b'0' + label % 10);
    let glyph = font
        .glyph_id(ch)
        .with_scale_and_position(PxScale::from(EM), ab_glyph::point(0.0, 0.0));
    let outline = font
        .outline_glyph(glyph)
        .ok_or_else(|| Error::Data(format!("the font has no outline for '{ch}'")))?;
    let b = outline.px_bounds();
    let pad = 24usize;
    let (w, h) = (
        b.width().ceil() as usize + 2 * pad,
        b.height().ceil() as usize + 2 * pad,
    );
    let mut img = Array2::zeros((h, w));
    outline.draw(|x, y, c| {
        let (x, y) = (x as usize + pad, y as usize + pad);
        if y < h && x < w {
            img[[y, x]] = c;
        }
    });
    Ok(img)
}

/// One font-set image: digit `label` from `font` slanted / rotated, with a random stroke
/// width and blur, prepared as MNIST (28x28 bytes).
pub fn font_digit(font: &FontVec, label: u8, rng: &mut impl Rng) -> Result<Vec<u8>> {
    let glyph = rasterise(font, label)?;
    let affine = Affine::random(rng, 8.0, 0.0, 12.0, 0.0);
    let mut img = warp(glyph.view(), &affine, None);
    // Stroke width: -1 to +3 steps of one pixel at the 64-pixel em (thin pens to markers);
    // an erosion that would wipe out a light face is skipped.
    let steps: i32 = rng.gen_range(-1..=3);
    let ink = img.sum();
    for _ in 0..steps.unsigned_abs() {
        let next = morph(img.view(), steps > 0);
        if steps < 0 && next.sum() < 0.4 * ink {
            break;
        }
        img = next;
    }
    let img = focus_blur(&img, rng.gen_range(0.3f32..=2.0));
    let (h, w) = img.dim();
    let bytes: Vec<u8> = img
        .iter()
        .map(|v| (v * 255.0).round().clamp(0.0, 255.0) as u8)
        .collect();
    preprocess_gray(w, h, &bytes, 28)
}
