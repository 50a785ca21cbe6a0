//! Data augmentation for small grey images, applied to each training batch and drawn from the
//! trainer's seeded PRG, so a run is deterministic under its seed:
//!
//! * shifts (a padded random crop by whole pixels) and horizontal flips where the classes are
//!   mirror-invariant (clothing, not digits): the original augmentation;
//! * a random affine map (rotation, scale, shear, sub-pixel translation) and Simard et al.'s
//!   elastic distortion, resampled once ([`geometry`]);
//! * stroke thickness by grey dilation / erosion, brightness / contrast and random erasing
//!   ([`photometric`]).
//!
//! Every option defaults to "off" when absent from a serialised config (`#[serde(default)]`),
//! so configs and checkpoints written before the option existed load unchanged, and with only
//! shifts and flips on, the random stream is exactly the one of earlier versions.

pub mod geometry;
pub mod photometric;

use ndarray::{s, Array4};
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};
use geometry::{elastic_field, warp, Affine};

/// What augmentation to apply to each training image. Ranges are symmetric and uniform: a
/// value `r` means "drawn from `[-r, r]`" (scale: `1 + [-r, r]`; elastic: intensity `[0, r]`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Augment {
    /// Largest shift in pixels along each axis (zero padding fills the gap).
    pub max_shift: usize,
    /// Mirror left-right with probability 1/2.
    pub hflip: bool,
    /// Largest rotation in degrees.
    #[serde(default)]
    pub rotate: f32,
    /// Largest relative scale change (0.15: 85% to 115%).
    #[serde(default)]
    pub scale: f32,
    /// Largest shear along x, in degrees.
    #[serde(default)]
    pub shear: f32,
    /// Largest sub-pixel translation in pixels (on top of `max_shift`).
    #[serde(default)]
    pub translate: f32,
    /// Largest stroke-thickness change in `[0, 1]`: `+1` is one 3x3-cross dilation, `-1` one
    /// erosion, values between blend.
    #[serde(default)]
    pub thickness: f32,
    /// Largest elastic intensity `alpha` in pixels (Simard et al. use 34 with sigma 4 at
    /// 29x29); 0 is off.
    #[serde(default)]
    pub elastic: f32,
    /// Smoothness `sigma` of the elastic field in pixels.
    #[serde(default = "default_elastic_sigma")]
    pub elastic_sigma: f32,
    /// Largest brightness offset (fraction of full scale).
    #[serde(default)]
    pub brightness: f32,
    /// Largest relative contrast change (0.3: 70% to 130%).
    #[serde(default)]
    pub contrast: f32,
    /// Probability of erasing one random rectangle (2% to 20% of the image) with noise.
    #[serde(default)]
    pub erase: f32,
}

fn default_elastic_sigma() -> f32 {
    4.0
}

impl Default for Augment {
    fn default() -> Self {
        Augment::NONE
    }
}

impl Augment {
    /// No augmentation.
    pub const NONE: Augment = Augment {
        max_shift: 0,
        hflip: false,
        rotate: 0.0,
        scale: 0.0,
        shear: 0.0,
        translate: 0.0,
        thickness: 0.0,
        elastic: 0.0,
        elastic_sigma: 4.0,
        brightness: 0.0,
        contrast: 0.0,
        erase: 0.0,
    };

    /// The default for a named dataset: shifts of up to 2 pixels; flips for clothing only,
    /// since a mirrored digit is a different (or no) digit.
    pub fn for_dataset(name: &str) -> Self {
        Augment {
            max_shift: 2,
            hflip: name == "fashion",
            ..Augment::NONE
        }
    }

    /// The "robust" preset of a dataset, for inputs unlike the training split (issue #13):
    /// digits get the variation of other writers, pens and canvases (affine, elastic, stroke
    /// thickness); clothing gets milder geometry plus photo-like brightness / contrast and
    /// occlusion (erasing).
    pub fn robust(name: &str) -> Self {
        let base = Augment::for_dataset(name);
        if name == "fashion" {
            Augment {
                rotate: 8.0,
                scale: 0.1,
                translate: 1.0,
                brightness: 0.15,
                contrast: 0.3,
                erase: 0.3,
                ..base
            }
        } else {
            Augment {
                rotate: 12.0,
                scale: 0.15,
                shear: 12.0,
                translate: 1.0,
                thickness: 0.8,
                elastic: 6.0,
                elastic_sigma: 4.0,
                ..base
            }
        }
    }

    /// A preset by name: `none`, `default` ([`Augment::for_dataset`]) or `robust`
    /// ([`Augment::robust`]).
    pub fn preset(preset: &str, dataset: &str) -> Result<Self> {
        match preset {
            "none" => Ok(Augment::NONE),
            "default" => Ok(Augment::for_dataset(dataset)),
            "robust" => Ok(Augment::robust(dataset)),
            other => Err(Error::UnknownName {
                what: "augmentation preset",
                got: other.to_string(),
                expected: "none, default or robust",
            }),
        }
    }

    /// Rejects ranges that are negative, not finite or out of their domain.
    pub fn validate(&self) -> Result<()> {
        let fields = [
            ("rotate", self.rotate, 180.0),
            ("scale", self.scale, 0.9),
            ("shear", self.shear, 60.0),
            ("translate", self.translate, 64.0),
            ("thickness", self.thickness, 1.0),
            ("elastic", self.elastic, 64.0),
            ("brightness", self.brightness, 1.0),
            ("contrast", self.contrast, 1.0),
            ("erase", self.erase, 1.0),
        ];
        for (name, v, max) in fields {
            if !(v.is_finite() && (0.0..=max).contains(&v)) {
                return Err(Error::out_of_range(
                    format!("augmentation '{name}'"),
                    v,
                    format!("0 to {max}"),
                ));
            }
        }
        if !(self.elastic_sigma.is_finite() && (0.1..=16.0).contains(&self.elastic_sigma)) {
            return Err(Error::out_of_range(
                "augmentation 'elastic_sigma'",
                self.elastic_sigma,
                "0.1 to 16",
            ));
        }
        Ok(())
    }

    fn geometric(&self) -> bool {
        self.rotate > 0.0
            || self.scale > 0.0
            || self.shear > 0.0
            || self.translate > 0.0
            || self.elastic > 0.0
    }

    /// Augments a batch `(B, C, H, W)` in place, drawing from `rng`. Per image: the shift and
    /// flip draws come first (as they always have), then the warp, thickness, brightness /
    /// contrast and erasing, each drawing only when enabled. All channels share the geometry.
    pub fn apply(&self, images: &mut Array4<f32>, rng: &mut impl Rng) {
        if *self == Augment::NONE {
            return;
        }
        let (b, c, h, w) = images.dim();
        let m = self.max_shift as isize;
        for bi in 0..b {
            let dy = rng.gen_range(-m..=m);
            let dx = rng.gen_range(-m..=m);
            let flip = self.hflip && rng.gen_bool(0.5);
            if self.geometric() {
                let affine =
                    Affine::random(rng, self.rotate, self.scale, self.shear, self.translate);
                let field = (self.elastic > 0.0).then(|| {
                    let alpha = rng.gen_range(0.0..=self.elastic);
                    elastic_field(rng, h, w, alpha, self.elastic_sigma)
                });
                for ci in 0..c {
                    let out = warp(images.slice(s![bi, ci, .., ..]), &affine, field.as_ref());
                    images.slice_mut(s![bi, ci, .., ..]).assign(&out);
                }
            }
            for ci in 0..c {
                shift_flip(images, bi, ci, dy, dx, flip);
            }
            if self.thickness > 0.0 {
                let amount = rng.gen_range(-self.thickness..=self.thickness);
                for ci in 0..c {
                    photometric::thickness(images.slice_mut(s![bi, ci, .., ..]), amount);
                }
            }
            if self.brightness > 0.0 || self.contrast > 0.0 {
                let bright = symmetric(rng, self.brightness);
                let contrast = 1.0 + symmetric(rng, self.contrast);
                for ci in 0..c {
                    photometric::brightness_contrast(
                        images.slice_mut(s![bi, ci, .., ..]),
                        bright,
                        contrast,
                    );
                }
            }
            if self.erase > 0.0 && rng.gen_bool(self.erase as f64) {
                if let Some(rect) = photometric::erase_rect(rng, h, w) {
                    for ci in 0..c {
                        photometric::erase(images.slice_mut(s![bi, ci, .., ..]), rect, rng);
                    }
                }
            }
        }
    }
}

/// Uniform in `[-r, r]`, or 0 without a draw when `r` is 0.
fn symmetric(rng: &mut impl Rng, r: f32) -> f32 {
    if r > 0.0 {
        rng.gen_range(-r..=r)
    } else {
        0.0
    }
}

/// Shifts plane `(bi, ci)` by `(dy, dx)` whole pixels and mirrors it when `flip`.
fn shift_flip(images: &mut Array4<f32>, bi: usize, ci: usize, dy: isize, dx: isize, flip: bool) {
    if dy == 0 && dx == 0 && !flip {
        return;
    }
    let (_, _, h, w) = images.dim();
    let src = images.slice(s![bi, ci, .., ..]).to_owned();
    let mut dst = images.slice_mut(s![bi, ci, .., ..]);
    for y in 0..h {
        for x in 0..w {
            let sy = y as isize - dy;
            let sx0 = x as isize - dx;
            let sx = if flip { w as isize - 1 - sx0 } else { sx0 };
            let inside = sy >= 0 && sy < h as isize && sx >= 0 && sx < w as isize;
            dst[[y, x]] = if inside {
                src[[sy as usize, sx as usize]]
            } else {
                0.0
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::s;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn shifts_preserve_mass_inside_and_are_deterministic() {
        let mut img = Array4::zeros((4, 1, 10, 10));
        img[[0, 0, 5, 5]] = 1.0;
        img[[1, 0, 4, 6]] = 1.0;
        let aug = Augment {
            max_shift: 2,
            ..Augment::NONE
        };
        let mut a = img.clone();
        let mut b = img.clone();
        aug.apply(&mut a, &mut ChaCha8Rng::seed_from_u64(3));
        aug.apply(&mut b, &mut ChaCha8Rng::seed_from_u64(3));
        assert_eq!(a, b);
        for bi in 0..2 {
            assert_eq!(a.slice(ndarray::s![bi, .., .., ..]).sum(), 1.0);
            let pos = a
                .indexed_iter()
                .find(|(i, v)| i.0 == bi && **v == 1.0)
                .unwrap()
                .0;
            let orig = img
                .indexed_iter()
                .find(|(i, v)| i.0 == bi && **v == 1.0)
                .unwrap()
                .0;
            assert!((pos.2 as isize - orig.2 as isize).abs() <= 2);
            assert!((pos.3 as isize - orig.3 as isize).abs() <= 2);
        }
    }

    /// A batch of random images in `[0, 1]`.
    fn batch(seed: u64) -> Array4<f32> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        Array4::from_shape_fn((6, 2, 12, 12), |_| rng.gen_range(0.0f32..=1.0))
    }

    #[test]
    fn zero_ranges_give_the_identity() {
        let img = batch(1);
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let mut a = img.clone();
        Augment::NONE.apply(&mut a, &mut rng);
        assert_eq!(a, img);
        // The warp path with a vanishing rotation resamples at the pixel centres.
        let still = Augment {
            rotate: 1e-12,
            ..Augment::NONE
        };
        let mut b = img.clone();
        still.apply(&mut b, &mut rng);
        assert!(b.iter().zip(img.iter()).all(|(x, y)| (x - y).abs() < 1e-5));
    }

    #[test]
    fn robust_augmentation_is_deterministic_keeps_shape_and_range_and_changes_images() {
        for dataset in ["mnist", "fashion"] {
            let aug = Augment::robust(dataset);
            aug.validate().unwrap();
            let img = batch(2);
            let (mut a, mut b) = (img.clone(), img.clone());
            aug.apply(&mut a, &mut ChaCha8Rng::seed_from_u64(3));
            aug.apply(&mut b, &mut ChaCha8Rng::seed_from_u64(3));
            assert_eq!(a, b, "{dataset}: same seed, same images");
            let mut c = img.clone();
            aug.apply(&mut c, &mut ChaCha8Rng::seed_from_u64(4));
            assert_ne!(a, c, "{dataset}: another seed, other images");
            assert_eq!(a.dim(), img.dim());
            assert!(
                a.iter().all(|v| (0.0..=1.0).contains(v)),
                "{dataset}: range kept"
            );
            for bi in 0..6 {
                let changed = a.slice(s![bi, .., .., ..]) != img.slice(s![bi, .., .., ..]);
                assert!(changed, "{dataset}: image {bi} unchanged");
            }
        }
    }

    #[test]
    fn channels_share_the_geometry() {
        let mut img = Array4::zeros((1, 2, 9, 9));
        img[[0, 0, 2, 3]] = 1.0;
        img[[0, 1, 2, 3]] = 1.0;
        let aug = Augment {
            rotate: 30.0,
            elastic: 3.0,
            elastic_sigma: 2.0,
            ..Augment::NONE
        };
        aug.apply(&mut img, &mut ChaCha8Rng::seed_from_u64(8));
        assert_eq!(img.slice(s![0, 0, .., ..]), img.slice(s![0, 1, .., ..]));
    }

    #[test]
    fn configs_without_the_new_options_load_and_bad_ranges_are_rejected() {
        let old: Augment = serde_json::from_str(r#"{"max_shift": 1, "hflip": true}"#).unwrap();
        assert_eq!(
            old,
            Augment {
                max_shift: 1,
                hflip: true,
                ..Augment::NONE
            }
        );
        let bad = Augment {
            rotate: -1.0,
            ..Augment::NONE
        };
        assert_err!(bad.validate(), crate::Error::OutOfRange { .. });
        let bad = Augment {
            erase: f32::NAN,
            ..Augment::NONE
        };
        assert_err!(bad.validate(), crate::Error::OutOfRange { .. });
        assert_err!(
            Augment::preset("wild", "mnist"),
            crate::Error::UnknownName { .. }
        );
        assert_eq!(
            Augment::preset("default", "mnist").unwrap(),
            Augment::for_dataset("mnist")
        );
    }

    #[test]
    fn digits_are_never_flipped() {
        assert!(!Augment::for_dataset("mnist").hflip);
        assert!(Augment::for_dataset("fashion").hflip);
        assert!(!Augment::robust("mnist").hflip);
    }
}
