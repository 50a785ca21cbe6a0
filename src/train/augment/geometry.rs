//! Geometric augmentation of one image plane: a random affine map (rotation, scale, shear,
//! translation) about the image centre composed with an elastic distortion (Simard, Steinkraus
//! and Platt, "Best practices for convolutional neural networks applied to visual document
//! analysis", ICDAR 2003, section 2: a per-pixel random displacement field, uniform in
//! `[-1, 1]`, smoothed by a Gaussian of standard deviation `sigma` and scaled by `alpha`).
//! Both are applied as one backward mapping with bilinear sampling, so the image is resampled
//! once; pixels mapped from outside the image are background (0).

use ndarray::{Array2, ArrayView2};
use rand::Rng;

use super::symmetric;

/// An affine map in backward form: output pixel `(x, y)` reads the input at
/// `centre + m * ((x, y) - centre) - t`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Affine {
    /// Row-major 2x2 matrix acting on `(x, y)`.
    pub m: [[f32; 2]; 2],
    /// Translation in pixels `(tx, ty)` of the content.
    pub t: [f32; 2],
}

impl Affine {
    /// The map that changes nothing.
    pub const IDENTITY: Affine = Affine {
        m: [[1.0, 0.0], [0.0, 1.0]],
        t: [0.0, 0.0],
    };

    /// The backward map of "shear by `shear` radians along x, scale by `scale`, rotate by
    /// `rotate` radians, then translate by `t`" (content moves forward by that map).
    pub fn new(rotate: f32, scale: f32, shear: f32, t: [f32; 2]) -> Self {
        // Forward matrix F = R(rotate) * S(scale) * Shear(shear); backward = F^-1.
        let (s, c) = rotate.sin_cos();
        let k = shear.tan();
        let f = [
            [c * scale, (c * k - s) * scale],
            [s * scale, (s * k + c) * scale],
        ];
        let det = f[0][0] * f[1][1] - f[0][1] * f[1][0];
        let m = [
            [f[1][1] / det, -f[0][1] / det],
            [-f[1][0] / det, f[0][0] / det],
        ];
        Affine { m, t }
    }

    /// Draws a map with rotation in `±rotate_deg`, scale in `1 ± scale`, shear in
    /// `±shear_deg` and translation in `±translate` pixels, each uniform.
    pub fn random(
        rng: &mut impl Rng,
        rotate_deg: f32,
        scale: f32,
        shear_deg: f32,
        translate: f32,
    ) -> Self {
        let rot = symmetric(rng, rotate_deg).to_radians();
        let sc = 1.0 + symmetric(rng, scale);
        let sh = symmetric(rng, shear_deg).to_radians();
        let t = [symmetric(rng, translate), symmetric(rng, translate)];
        Affine::new(rot, sc, sh, t)
    }
}

/// A smoothed random displacement field `(dx, dy)` of shape `(h, w)`, Simard et al.'s
/// elastic distortion with intensity `alpha` (pixels) and smoothness `sigma` (pixels).
pub fn elastic_field(
    rng: &mut impl Rng,
    h: usize,
    w: usize,
    alpha: f32,
    sigma: f32,
) -> (Array2<f32>, Array2<f32>) {
    let mut draw = || Array2::from_shape_fn((h, w), |_| rng.gen_range(-1.0f32..=1.0));
    let (dx, dy) = (draw(), draw());
    let kernel = gaussian_kernel(sigma);
    let smooth = |f: Array2<f32>| blur(f.view(), &kernel).mapv(|v| v * alpha);
    (smooth(dx), smooth(dy))
}

/// A normalised 1-D Gaussian of standard deviation `sigma`, radius `ceil(3 sigma)`.
pub fn gaussian_kernel(sigma: f32) -> Vec<f32> {
    let r = (3.0 * sigma).ceil().max(0.0) as isize;
    let k: Vec<f32> = (-r..=r)
        .map(|i| (-(i * i) as f32 / (2.0 * sigma * sigma).max(1e-12)).exp())
        .collect();
    let sum: f32 = k.iter().sum();
    k.into_iter().map(|v| v / sum).collect()
}

/// Separable convolution with `kernel`, zero outside the image.
pub fn blur(img: ArrayView2<f32>, kernel: &[f32]) -> Array2<f32> {
    let (h, w) = img.dim();
    let r = (kernel.len() / 2) as isize;
    let pass = |src: ArrayView2<f32>, along_x: bool| {
        Array2::from_shape_fn((h, w), |(y, x)| {
            kernel
                .iter()
                .enumerate()
                .map(|(i, k)| {
                    let o = i as isize - r;
                    let (sy, sx) = if along_x {
                        (y as isize, x as isize + o)
                    } else {
                        (y as isize + o, x as isize)
                    };
                    if sy < 0 || sx < 0 || sy >= h as isize || sx >= w as isize {
                        0.0
                    } else {
                        k * src[[sy as usize, sx as usize]]
                    }
                })
                .sum()
        })
    };
    let rows = pass(img, true);
    pass(rows.view(), false)
}

/// Bilinear sample of `img` at `(x, y)` (pixel centres at integers), 0 outside.
pub fn bilinear(img: ArrayView2<f32>, x: f32, y: f32) -> f32 {
    let (h, w) = img.dim();
    let (x0, y0) = (x.floor(), y.floor());
    let (fx, fy) = (x - x0, y - y0);
    let at = |yy: f32, xx: f32| {
        if yy < 0.0 || xx < 0.0 || yy >= h as f32 || xx >= w as f32 {
            0.0
        } else {
            img[[yy as usize, xx as usize]]
        }
    };
    (1.0 - fy) * ((1.0 - fx) * at(y0, x0) + fx * at(y0, x0 + 1.0))
        + fy * ((1.0 - fx) * at(y0 + 1.0, x0) + fx * at(y0 + 1.0, x0 + 1.0))
}

/// Resamples `img` through `affine` and the optional displacement field: output `(x, y)`
/// reads the input at `affine((x, y) + field(x, y))`.
pub fn warp(
    img: ArrayView2<f32>,
    affine: &Affine,
    field: Option<&(Array2<f32>, Array2<f32>)>,
) -> Array2<f32> {
    let (h, w) = img.dim();
    let (cx, cy) = ((w as f32 - 1.0) / 2.0, (h as f32 - 1.0) / 2.0);
    let m = affine.m;
    Array2::from_shape_fn((h, w), |(y, x)| {
        let (mut px, mut py) = (x as f32, y as f32);
        if let Some((dx, dy)) = field {
            px += dx[[y, x]];
            py += dy[[y, x]];
        }
        let (ux, uy) = (px - cx - affine.t[0], py - cy - affine.t[1]);
        let sx = cx + m[0][0] * ux + m[0][1] * uy;
        let sy = cy + m[1][0] * ux + m[1][1] * uy;
        bilinear(img, sx, sy)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn ramp(h: usize, w: usize) -> Array2<f32> {
        Array2::from_shape_fn((h, w), |(y, x)| ((y * w + x) % 7) as f32 / 7.0)
    }

    #[test]
    fn identity_map_and_zero_field_give_the_image() {
        let img = ramp(9, 11);
        assert_eq!(warp(img.view(), &Affine::IDENTITY, None), img);
        let zero = (Array2::zeros((9, 11)), Array2::zeros((9, 11)));
        assert_eq!(
            warp(
                img.view(),
                &Affine::new(0.0, 1.0, 0.0, [0.0; 2]),
                Some(&zero)
            ),
            img
        );
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let f = elastic_field(&mut rng, 9, 11, 0.0, 2.0);
        assert_eq!(warp(img.view(), &Affine::IDENTITY, Some(&f)), img);
    }

    #[test]
    fn quarter_turn_and_translation_move_pixels_where_expected() {
        let mut img = Array2::zeros((5, 5));
        img[[1, 3]] = 1.0; // (x=3, y=1): up-right of the centre (2, 2)
                           // Content rotated by +90 degrees (x right, y down): (dx, dy) = (1, -1) -> (1, 1).
        let out = warp(
            img.view(),
            &Affine::new(std::f32::consts::FRAC_PI_2, 1.0, 0.0, [0.0; 2]),
            None,
        );
        assert!((out[[3, 3]] - 1.0).abs() < 1e-5, "{out:?}");
        assert!((out.sum() - 1.0).abs() < 1e-4);
        let out = warp(img.view(), &Affine::new(0.0, 1.0, 0.0, [-2.0, 1.0]), None);
        assert!((out[[2, 1]] - 1.0).abs() < 1e-6, "{out:?}");
    }

    #[test]
    fn scale_two_doubles_distances_from_the_centre() {
        let mut img = Array2::zeros((9, 9));
        img[[4, 5]] = 1.0;
        let out = warp(img.view(), &Affine::new(0.0, 2.0, 0.0, [0.0; 2]), None);
        assert!((out[[4, 6]] - 1.0).abs() < 1e-6, "{out:?}");
        assert!((out[[4, 5]] - 0.5).abs() < 1e-6 && (out[[4, 7]] - 0.5).abs() < 1e-6);
        assert_eq!(out[[4, 4]], 0.0);
    }

    #[test]
    fn gaussian_blur_keeps_mass_inside_and_field_is_smooth_and_bounded() {
        let k = gaussian_kernel(1.5);
        assert!((k.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        let mut img = Array2::zeros((15, 15));
        img[[7, 7]] = 1.0;
        assert!((blur(img.view(), &k).sum() - 1.0).abs() < 1e-5);
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let (dx, dy) = elastic_field(&mut rng, 28, 28, 8.0, 4.0);
        assert!(dx.iter().chain(dy.iter()).all(|v| v.abs() <= 8.0));
        assert!(
            dx.iter().any(|v| v.abs() > 0.05),
            "a field that moves something"
        );
        let step = (0..27)
            .map(|x| (dx[[14, x + 1]] - dx[[14, x]]).abs())
            .fold(0.0, f32::max);
        let span = dx.iter().fold(0.0f32, |a, v| a.max(v.abs()));
        assert!(
            step < span,
            "smoothed: neighbours differ less than the field's range"
        );
    }
}
