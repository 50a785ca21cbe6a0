//! Builds the out-of-domain sets from the converted test splits, the font files and a seed.
//! Every set draws from its own ChaCha stream (`seed` plus the set's position in
//! [`super::SETS`]), so one set can change without moving the others.

use std::path::{Path, PathBuf};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::{drawn, fonts, photo, SETS};
use crate::data::{self, Dataset, Split};
use crate::{Error, Result};

// Sizes of the sets (kept small: they are committed).
/// Images in `mnist-fonts`.
pub const FONT_IMAGES: usize = 1000;
/// Images in `mnist-drawn`.
pub const DRAWN_IMAGES: usize = 500;
/// Images in `mnist-upload`.
pub const UPLOAD_IMAGES: usize = 500;
/// Images in `fashion-photo`.
pub const PHOTO_IMAGES: usize = 1000;

/// The seed the committed sets were made with.
pub const SEED: u64 = 13;

fn rng_for(seed: u64, set: &str) -> ChaCha8Rng {
    let i = SETS
        .iter()
        .position(|(n, _)| *n == set)
        .unwrap_or(SETS.len());
    ChaCha8Rng::seed_from_u64(seed.wrapping_add(i as u64))
}

/// Labels `0, 1, ..., 9, 0, ...`: every prefix is class-balanced.
fn round_robin(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 10) as u8).collect()
}

/// The font set from `fonts` (one font per image, in turn).
pub fn font_set(font_files: &[PathBuf], seed: u64) -> Result<Dataset> {
    let fonts = fonts::load_fonts(font_files)?;
    if fonts.is_empty() {
        return Err(Error::Usage("no fonts given".into()));
    }
    let mut rng = rng_for(seed, "mnist-fonts");
    let labels = round_robin(FONT_IMAGES);
    let mut pixels = Vec::with_capacity(FONT_IMAGES * 784);
    for (i, &label) in labels.iter().enumerate() {
        // Fonts cycle more slowly than labels so every font draws every digit.
        let font = &fonts[(i / 10) % fonts.len()];
        pixels.extend(fonts::font_digit(font, label, &mut rng)?);
    }
    Dataset::new("mnist-fonts", 28, 28, 1, 10, labels, pixels)
}

/// The canvas-drawn set.
pub fn drawn_set(seed: u64) -> Result<Dataset> {
    let mut rng = rng_for(seed, "mnist-drawn");
    let labels = round_robin(DRAWN_IMAGES);
    let pixels = labels
        .iter()
        .flat_map(|&l| drawn::draw_digit(l, &mut rng))
        .collect();
    Dataset::new(
        "mnist-drawn",
        drawn::SIDE,
        drawn::SIDE,
        1,
        10,
        labels,
        pixels,
    )
}

/// `n` images of `test` through `f`, keeping their labels.
fn degrade(
    name: &str,
    test: &Dataset,
    n: usize,
    side: usize,
    seed: u64,
    f: impl Fn(&[u8], &mut ChaCha8Rng) -> Result<Vec<u8>>,
) -> Result<Dataset> {
    let n = n.min(test.len());
    let mut rng = rng_for(seed, name);
    let mut pixels = Vec::with_capacity(n * side * side);
    for i in 0..n {
        pixels.extend(f(test.image(i), &mut rng)?);
    }
    Dataset::new(
        name,
        side,
        side,
        1,
        test.classes,
        test.labels[..n].to_vec(),
        pixels,
    )
}

/// Every set, in the order of [`SETS`].
pub fn generate(data_dir: &Path, font_files: &[PathBuf], seed: u64) -> Result<Vec<Dataset>> {
    let mut sets = vec![font_set(font_files, seed)?];
    sets.extend(generate_without_fonts(data_dir, seed)?);
    Ok(sets)
}

/// Every set but the font set (which needs the font files), in the order of [`SETS`].
pub fn generate_without_fonts(data_dir: &Path, seed: u64) -> Result<Vec<Dataset>> {
    let mnist = data::load(data_dir, "mnist", Split::Test)?;
    let fashion = data::load(data_dir, "fashion", Split::Test)?;
    Ok(vec![
        drawn_set(seed)?,
        degrade(
            "mnist-upload",
            &mnist,
            UPLOAD_IMAGES,
            photo::PAGE,
            seed,
            |img, rng| photo::upload_page(img, mnist.rows, rng),
        )?,
        degrade(
            "fashion-photo",
            &fashion,
            PHOTO_IMAGES,
            fashion.rows,
            seed,
            |img, rng| photo::photo_like(img, fashion.rows, rng),
        )?,
    ])
}

/// The default font files ([`fonts::FONTS`]).
pub fn default_fonts() -> Vec<PathBuf> {
    fonts::FONTS.iter().map(|(_, f)| PathBuf::from(f)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_drawn_set_is_reproducible_and_balanced() {
        let a = drawn_set(5).unwrap();
        assert_eq!(a, drawn_set(5).unwrap());
        assert_ne!(a, drawn_set(6).unwrap());
        assert_eq!(a.class_counts(), vec![DRAWN_IMAGES / 10; 10]);
    }
}
