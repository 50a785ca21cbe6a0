//! Background and lighting removal for photographed uploads: a phone photo of a digit on
//! paper is lit unevenly (a gradient across the page, darker corners), so one background level
//! for the whole image (the border median) makes part of the paper look like ink, and the
//! crop then spans the page. Instead the paper's brightness is modelled as a smooth surface, a
//! quadratic in `(x, y)` fitted by least squares to the pixels that are paper, and subtracted
//! (the usual flat-field correction of document images, with a polynomial surface as in
//! Lu, Su and Tan's document binarisation; a quadratic covers a light gradient and vignetting).
//!
//! Which pixels are paper is decided twice: first the darker half of the image (ink is bright
//! here and covers far less than half of a page), then, after a first correction, every pixel
//! that is not clearly above the paper's own noise. The residual noise level (a median
//! absolute deviation) is returned for the thresholds that follow.

/// Largest number of pixels the fit samples (on a regular grid), to bound the cost on photos.
const FIT_SAMPLES: usize = 64 * 64;

/// Image with the background surface subtracted (values may be slightly negative on paper),
/// and the robust standard deviation of the paper's residual noise.
pub struct Flattened {
    /// The grey image minus the fitted background surface, row-major.
    pub image: Vec<f32>,
    /// Robust (median-absolute-deviation) standard deviation of the paper's residual.
    pub noise: f32,
}

/// Subtracts the paper's brightness surface from a grey image whose ink is brighter than the
/// paper (invert first otherwise).
pub fn flatten(w: usize, h: usize, img: &[f32]) -> Flattened {
    let stride = ((w * h) as f32 / FIT_SAMPLES as f32).sqrt().ceil().max(1.0) as usize;
    let grid: Vec<usize> = (0..h)
        .step_by(stride)
        .flat_map(|y| (0..w).step_by(stride).map(move |x| y * w + x))
        .collect();
    let half = percentile(grid.iter().map(|&i| img[i]).collect(), 0.5);
    let paper: Vec<usize> = grid.iter().copied().filter(|&i| img[i] <= half).collect();
    let first = subtract(img, &fit(w, h, img, &paper));
    let noise = mad_sigma(paper.iter().map(|&i| first[i]).collect());
    let peak = first.iter().copied().fold(0.0f32, f32::max);
    let cut = (3.0 * noise).max(0.25 * peak);
    let paper: Vec<usize> = grid.iter().copied().filter(|&i| first[i] <= cut).collect();
    let image = subtract(img, &fit(w, h, img, &paper));
    let noise = mad_sigma(paper.iter().map(|&i| image[i]).collect());
    Flattened { image, noise }
}

/// The `q`-quantile of `v` (non-empty).
fn percentile(mut v: Vec<f32>, q: f32) -> f32 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f32::total_cmp);
    v[((v.len() - 1) as f32 * q).round() as usize]
}

/// Standard deviation of Gaussian noise estimated robustly: 1.4826 x median |v - median|.
fn mad_sigma(v: Vec<f32>) -> f32 {
    let m = percentile(v.clone(), 0.5);
    1.4826 * percentile(v.into_iter().map(|x| (x - m).abs()).collect(), 0.5)
}

/// The six quadratic terms at pixel `i`, coordinates scaled to `[-1, 1]`.
fn terms(w: usize, h: usize, i: usize) -> [f64; 6] {
    let x = 2.0 * (i % w) as f64 / (w.max(2) - 1) as f64 - 1.0;
    let y = 2.0 * (i / w) as f64 / (h.max(2) - 1) as f64 - 1.0;
    [1.0, x, y, x * x, x * y, y * y]
}

/// Least-squares quadratic surface through `img` at `pixels`; falls back to the mean (a flat
/// background) when the system is degenerate (too few or collinear samples).
fn fit(w: usize, h: usize, img: &[f32], pixels: &[usize]) -> Vec<f32> {
    let mut a = [[0.0f64; 6]; 6];
    let mut b = [0.0f64; 6];
    for &i in pixels {
        let t = terms(w, h, i);
        for r in 0..6 {
            b[r] += t[r] * img[i] as f64;
            for c in 0..6 {
                a[r][c] += t[r] * t[c];
            }
        }
    }
    let coef = solve(a, b).unwrap_or_else(|| {
        let mean = b[0] / a[0][0].max(1.0);
        [mean, 0.0, 0.0, 0.0, 0.0, 0.0]
    });
    (0..w * h)
        .map(|i| {
            let t = terms(w, h, i);
            (0..6).map(|k| coef[k] * t[k]).sum::<f64>() as f32
        })
        .collect()
}

/// `img - bg`, pixel by pixel.
fn subtract(img: &[f32], bg: &[f32]) -> Vec<f32> {
    img.iter().zip(bg).map(|(v, b)| v - b).collect()
}

/// Gaussian elimination with partial pivoting; `None` for a (near-)singular system.
fn solve(mut a: [[f64; 6]; 6], mut b: [f64; 6]) -> Option<[f64; 6]> {
    let scale = a[0][0].abs().max(1.0);
    for col in 0..6 {
        let pivot = (col..6).max_by(|&p, &q| a[p][col].abs().total_cmp(&a[q][col].abs()))?;
        if a[pivot][col].abs() < 1e-9 * scale {
            return None;
        }
        a.swap(col, pivot);
        b.swap(col, pivot);
        let pivot_row = a[col];
        for row in col + 1..6 {
            let f = a[row][col] / pivot_row[col];
            for (x, p) in a[row][col..].iter_mut().zip(&pivot_row[col..]) {
                *x -= f * p;
            }
            b[row] -= f * b[col];
        }
    }
    let mut x = [0.0f64; 6];
    for row in (0..6).rev() {
        let s: f64 = (row + 1..6).map(|k| a[row][k] * x[k]).sum();
        x[row] = (b[row] - s) / a[row][row];
    }
    Some(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lighting_gradient_is_removed_and_the_ink_kept() {
        let (w, h) = (40, 30);
        let img: Vec<f32> = (0..w * h)
            .map(|i| {
                let (x, y) = ((i % w) as f32, (i / w) as f32);
                let paper = 20.0 + 1.5 * x + 0.02 * (y - 15.0) * (y - 15.0);
                let ink = (10..14).contains(&(i % w)) && (5..25).contains(&(i / w));
                paper + if ink { 120.0 } else { 0.0 }
            })
            .collect();
        let f = flatten(w, h, &img);
        for (i, v) in f.image.iter().enumerate() {
            let ink = (10..14).contains(&(i % w)) && (5..25).contains(&(i / w));
            let want = if ink { 120.0 } else { 0.0 };
            assert!((v - want).abs() < 0.5, "pixel {i}: {v} vs {want}");
        }
        assert!(f.noise < 0.5);
    }

    #[test]
    fn a_flat_background_is_subtracted_exactly_and_degenerate_images_do_not_fail() {
        let img = vec![30.0f32, 30.0, 30.0, 200.0];
        let f = flatten(2, 2, &img);
        assert!(f
            .image
            .iter()
            .zip([0.0, 0.0, 0.0, 170.0])
            .all(|(a, b)| (a - b).abs() < 1e-3));
        let one = flatten(1, 1, &[7.0]);
        assert!(one.image[0].abs() < 1e-3);
    }
}
