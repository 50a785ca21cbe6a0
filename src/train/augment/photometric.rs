//! Pixel-value augmentation of one image plane with values in `[0, 1]`: stroke thickness
//! (grey-level dilation / erosion), brightness and contrast, and random erasing (Zhong et al.,
//! "Random Erasing Data Augmentation", AAAI 2020).

use ndarray::{Array2, ArrayView2, ArrayViewMut2};
use rand::Rng;

/// Grey-level morphology over the 3x3 cross (the pixel and its 4 neighbours): `max` dilates
/// bright strokes on a dark background, `min` erodes them. Outside the image is background.
pub fn morph(img: ArrayView2<f32>, dilate: bool) -> Array2<f32> {
    let (h, w) = img.dim();
    Array2::from_shape_fn((h, w), |(y, x)| {
        let at = |dy: isize, dx: isize| {
            let (sy, sx) = (y as isize + dy, x as isize + dx);
            if sy < 0 || sx < 0 || sy >= h as isize || sx >= w as isize {
                0.0
            } else {
                img[[sy as usize, sx as usize]]
            }
        };
        let n = [at(0, 0), at(-1, 0), at(1, 0), at(0, -1), at(0, 1)];
        if dilate {
            n.into_iter().fold(f32::MIN, f32::max)
        } else {
            n.into_iter().fold(f32::MAX, f32::min)
        }
    })
}

/// Changes stroke thickness by `amount` in `[-1, 1]`: positive blends toward the dilated image
/// (thicker, as a marker or a canvas brush draws), negative toward the eroded one (thinner);
/// the blend gives sub-pixel thickness changes at 28x28.
pub fn thickness(mut img: ArrayViewMut2<f32>, amount: f32) {
    if amount == 0.0 {
        return;
    }
    let target = morph(img.view(), amount > 0.0);
    let a = amount.abs().min(1.0);
    img.zip_mut_with(&target, |v, t| *v += a * (t - *v));
}

/// `v -> clamp(contrast * v + brightness, 0, 1)`.
pub fn brightness_contrast(mut img: ArrayViewMut2<f32>, brightness: f32, contrast: f32) {
    img.mapv_inplace(|v| (contrast * v + brightness).clamp(0.0, 1.0));
}

/// A rectangle `(y, x, height, width)` of 2% to 20% of the image area with aspect ratio in
/// `[0.3, 3.3]` (log-uniform), as in Zhong et al.; `None` when the draw does not fit (the
/// paper redraws; one try keeps the random stream's length fixed per image).
pub fn erase_rect(rng: &mut impl Rng, h: usize, w: usize) -> Option<(usize, usize, usize, usize)> {
    let area = rng.gen_range(0.02f32..=0.2) * (h * w) as f32;
    let ratio = rng.gen_range(0.3f32.ln()..=3.3f32.ln()).exp();
    let eh = (area * ratio).sqrt().round() as usize;
    let ew = (area / ratio).sqrt().round() as usize;
    let y = rng.gen_range(0..h);
    let x = rng.gen_range(0..w);
    (eh > 0 && ew > 0 && y + eh <= h && x + ew <= w).then_some((y, x, eh, ew))
}

/// Fills the rectangle with uniform random values in `[0, 1]`.
pub fn erase(mut img: ArrayViewMut2<f32>, rect: (usize, usize, usize, usize), rng: &mut impl Rng) {
    let (y, x, eh, ew) = rect;
    img.slice_mut(ndarray::s![y..y + eh, x..x + ew])
        .mapv_inplace(|_| rng.gen_range(0.0f32..=1.0));
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    /// A vertical bar 2 pixels wide in a 7x7 field.
    fn bar() -> Array2<f32> {
        Array2::from_shape_fn((7, 7), |(y, x)| {
            if (1..6).contains(&y) && (3..5).contains(&x) {
                1.0
            } else {
                0.0
            }
        })
    }

    #[test]
    fn dilation_thickens_and_erosion_thins() {
        let b = bar();
        let mut thick = b.clone();
        thickness(thick.view_mut(), 1.0);
        assert_eq!(thick.row(3).to_vec(), vec![0., 0., 1., 1., 1., 1., 0.]);
        let mut thin = b.clone();
        thickness(thin.view_mut(), -1.0);
        assert_eq!(thin.sum(), 0.0, "a 2-pixel bar erodes away under the cross");
        let mut half = b.clone();
        thickness(half.view_mut(), 0.5);
        assert_eq!(half[[3, 2]], 0.5);
        assert_eq!(half[[3, 3]], 1.0);
        let mut same = b.clone();
        thickness(same.view_mut(), 0.0);
        assert_eq!(same, b);
    }

    #[test]
    fn brightness_contrast_is_affine_and_clamped() {
        let mut b = bar();
        brightness_contrast(b.view_mut(), 0.0, 1.0);
        assert_eq!(b, bar());
        brightness_contrast(b.view_mut(), 0.3, 0.5);
        assert_eq!(b[[0, 0]], 0.3);
        assert_eq!(b[[3, 3]], 0.8);
        brightness_contrast(b.view_mut(), 0.5, 1.0);
        assert_eq!(b[[3, 3]], 1.0);
    }

    #[test]
    fn erased_rectangles_fit_and_have_the_stated_area() {
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let mut fitted = 0;
        for _ in 0..200 {
            if let Some((y, x, eh, ew)) = erase_rect(&mut rng, 28, 28) {
                fitted += 1;
                assert!(y + eh <= 28 && x + ew <= 28);
                let a = (eh * ew) as f32 / 784.0;
                assert!((0.005..=0.3).contains(&a), "area {a}");
                let mut img = Array2::zeros((28, 28));
                erase(img.view_mut(), (y, x, eh, ew), &mut rng);
                assert!(img.slice(ndarray::s![y..y + eh, x..x + ew]).sum() > 0.0);
                img.slice_mut(ndarray::s![y..y + eh, x..x + ew]).fill(0.0);
                assert_eq!(img.sum(), 0.0, "nothing outside the rectangle");
            }
        }
        assert!(fitted > 50, "{fitted} of 200 fitted");
    }
}
