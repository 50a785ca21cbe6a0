//! Data augmentation suited to small grey images: random shifts (a padded random crop), and
//! horizontal flips only where the classes are mirror-invariant (clothing, not digits).

use ndarray::Array4;
use rand::Rng;
use serde::{Deserialize, Serialize};

/// What augmentation to apply to each training image.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Augment {
    /// Largest shift in pixels along each axis (zero padding fills the gap).
    pub max_shift: usize,
    /// Mirror left-right with probability 1/2.
    pub hflip: bool,
}

impl Augment {
    /// No augmentation.
    pub const NONE: Augment = Augment {
        max_shift: 0,
        hflip: false,
    };

    /// The default for a named dataset: shifts of up to 2 pixels; flips for clothing only,
    /// since a mirrored digit is a different (or no) digit.
    pub fn for_dataset(name: &str) -> Self {
        Augment {
            max_shift: 2,
            hflip: name == "fashion",
        }
    }

    /// Augments a batch `(B, C, H, W)` in place, drawing from `rng`.
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
            for ci in 0..c {
                let src = images.slice(ndarray::s![bi, ci, .., ..]).to_owned();
                let mut dst = images.slice_mut(ndarray::s![bi, ci, .., ..]);
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
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn shifts_preserve_mass_inside_and_are_deterministic() {
        let mut img = Array4::zeros((4, 1, 10, 10));
        img[[0, 0, 5, 5]] = 1.0;
        img[[1, 0, 4, 6]] = 1.0;
        let aug = Augment {
            max_shift: 2,
            hflip: false,
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

    #[test]
    fn digits_are_never_flipped() {
        assert!(!Augment::for_dataset("mnist").hflip);
        assert!(Augment::for_dataset("fashion").hflip);
    }
}
