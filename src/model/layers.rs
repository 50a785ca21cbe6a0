//! The ViT's building blocks other than attention: patchify, linear, LayerNorm, GeLU.
//! Each forward returns what its backward (in [`crate::train`]) needs.

use ndarray::{s, Array1, Array2, ArrayView1, ArrayView2, ArrayView4, Axis, Zip};

/// LayerNorm epsilon (added to the variance).
pub const LN_EPS: f32 = 1e-5;

/// `sqrt(2 / pi)`, the constant of the tanh form of GeLU.
const GELU_C: f32 = 0.797_884_6;

/// Splits `(B, C, H, W)` images into non-overlapping `patch x patch` squares, one row per
/// patch: `(B * patches, patch * patch * C)`, patches in row-major grid order, each flattened
/// as `(c, y, x)`.
pub fn patchify(images: ArrayView4<'_, f32>, patch: usize) -> Array2<f32> {
    let (b, c, h, w) = images.dim();
    let (gh, gw) = (h / patch, w / patch);
    let len = patch * patch * c;
    let mut out = Array2::zeros((b * gh * gw, len));
    for bi in 0..b {
        for py in 0..gh {
            for px in 0..gw {
                let mut row = out.row_mut((bi * gh + py) * gw + px);
                let mut k = 0;
                for ci in 0..c {
                    for y in 0..patch {
                        for x in 0..patch {
                            row[k] = images[[bi, ci, py * patch + y, px * patch + x]];
                            k += 1;
                        }
                    }
                }
            }
        }
    }
    out
}

/// `y = x W + b` for rows `x`: `(m, in) x (in, out) + (out) -> (m, out)`.
pub fn linear(
    x: ArrayView2<'_, f32>,
    w: ArrayView2<'_, f32>,
    b: ArrayView1<'_, f32>,
) -> Array2<f32> {
    let mut y = x.dot(&w);
    y += &b;
    y
}

/// What LayerNorm's backward needs: the normalised rows and `1 / sqrt(var + eps)` per row.
#[derive(Clone, Debug)]
pub struct LayerNormCache {
    /// The normalised input `(x - mean) / std`, per row.
    pub xhat: Array2<f32>,
    /// `1 / std` per row.
    pub inv_std: Array1<f32>,
}

/// LayerNorm over the last axis: `y = (x - mean) / sqrt(var + eps) * g + b` (biased variance).
pub fn layer_norm(
    x: ArrayView2<'_, f32>,
    g: ArrayView1<'_, f32>,
    b: ArrayView1<'_, f32>,
) -> (Array2<f32>, LayerNormCache) {
    let c = x.ncols() as f32;
    let mut xhat = x.to_owned();
    let mut inv_std = Array1::zeros(x.nrows());
    for (mut row, is) in xhat.axis_iter_mut(Axis(0)).zip(inv_std.iter_mut()) {
        let mean = row.sum() / c;
        row -= mean;
        let var = row.iter().map(|v| v * v).sum::<f32>() / c;
        *is = 1.0 / (var + LN_EPS).sqrt();
        row *= *is;
    }
    let mut y = &xhat * &g;
    y += &b;
    (y, LayerNormCache { xhat, inv_std })
}

/// GeLU, tanh form: `0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))` (Hendrycks and Gimpel).
pub fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + (GELU_C * (x + 0.044715 * x * x * x)).tanh())
}

/// Derivative of [`gelu`].
pub fn gelu_grad(x: f32) -> f32 {
    let inner = GELU_C * (x + 0.044715 * x * x * x);
    let t = inner.tanh();
    0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * GELU_C * (1.0 + 3.0 * 0.044715 * x * x)
}

/// The fused MPCViT+ MLP of a linearised token (paper section 4.5): `W_f = W1 W2` (`C x C`)
/// and `b_f = b1 W2 + b2`, so that `(x W1 + b1) W2 + b2 = x W_f + b_f`.
pub fn fuse_mlp(
    w1: ArrayView2<'_, f32>,
    b1: ArrayView1<'_, f32>,
    w2: ArrayView2<'_, f32>,
    b2: ArrayView1<'_, f32>,
) -> (Array2<f32>, Array1<f32>) {
    let wf = w1.dot(&w2);
    let bf = b1.dot(&w2) + b2;
    (wf, bf)
}

/// A LayerNorm's gain `g` and bias `beta` folded into the linear map `(w, b)` that reads it:
/// `W' = diag(g) W` and `b' = beta W + b`, so that `LN(x) W + b = n(x) W' + b'` with `n(x)` the
/// normalisation without affine parameters. The private forward multiplies by `W'` in the
/// squares' round ([`crate::mpc::protocols::layer_norm::layer_norm_linear`]).
pub fn fold_layer_norm(
    g: ArrayView1<'_, f32>,
    beta: ArrayView1<'_, f32>,
    w: ArrayView2<'_, f32>,
    b: ArrayView1<'_, f32>,
) -> (Array2<f32>, Array1<f32>) {
    let folded = &w * &g.insert_axis(Axis(1));
    (folded, beta.dot(&w) + b)
}

/// Adds `pos` (n, C) to each of the `B` sequences stored as consecutive `n` rows of `x`.
pub fn add_per_sequence(x: &mut Array2<f32>, pos: ArrayView2<'_, f32>) {
    let n = pos.nrows();
    for mut seq in x.axis_chunks_iter_mut(Axis(0), n) {
        seq += &pos;
    }
}

/// Builds the token matrix `(B * n, C)`: per image, the class token then its patch embeddings.
pub fn prepend_class_token(
    emb: ArrayView2<'_, f32>,
    cls: ArrayView1<'_, f32>,
    batch: usize,
) -> Array2<f32> {
    let patches = emb.nrows() / batch;
    let n = patches + 1;
    let mut x = Array2::zeros((batch * n, emb.ncols()));
    for b in 0..batch {
        x.row_mut(b * n).assign(&cls);
        x.slice_mut(s![b * n + 1..(b + 1) * n, ..])
            .assign(&emb.slice(s![b * patches..(b + 1) * patches, ..]));
    }
    x
}

/// Elementwise `a += b`.
pub fn add_assign(a: &mut Array2<f32>, b: &Array2<f32>) {
    Zip::from(a).and(b).for_each(|x, &y| *x += y);
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array4;

    #[test]
    fn patchify_orders_patches_and_pixels() {
        let img = Array4::from_shape_fn((1, 1, 4, 4), |(_, _, y, x)| (y * 4 + x) as f32);
        let p = patchify(img.view(), 2);
        assert_eq!(p.dim(), (4, 4));
        assert_eq!(p.row(0).to_vec(), vec![0.0, 1.0, 4.0, 5.0]);
        assert_eq!(p.row(3).to_vec(), vec![10.0, 11.0, 14.0, 15.0]);
    }

    #[test]
    fn a_folded_layer_norm_computes_the_same_map() {
        let x = ndarray::arr2(&[[1.0f32, -2.0, 3.5, 6.0], [0.5, 0.25, -1.0, 2.0]]);
        let g = ndarray::arr1(&[1.0f32, 2.0, 0.5, -1.5]);
        let beta = ndarray::arr1(&[0.1f32, -0.2, 0.3, 0.0]);
        let w = ndarray::arr2(&[
            [1.0f32, 0.5, -1.0],
            [2.0, 0.0, 1.0],
            [-0.5, 1.5, 0.25],
            [0.0, 1.0, 2.0],
        ]);
        let b = ndarray::arr1(&[0.5f32, -1.0, 0.0]);
        let want = layer_norm(x.view(), g.view(), beta.view()).0.dot(&w) + &b;
        let (wf, bf) = fold_layer_norm(g.view(), beta.view(), w.view(), b.view());
        let ones = Array1::ones(4);
        let zeros = Array1::zeros(4);
        let got = layer_norm(x.view(), ones.view(), zeros.view()).0.dot(&wf) + &bf;
        let err = (&got - &want).mapv(f32::abs).fold(0f32, |a, &v| a.max(v));
        assert!(err < 1e-5, "{got} vs {want}");
    }

    #[test]
    fn layer_norm_matches_definition() {
        let x = ndarray::arr2(&[[1.0f32, 2.0, 3.0, 6.0]]);
        let g = ndarray::arr1(&[1.0f32, 2.0, 1.0, 1.0]);
        let b = ndarray::arr1(&[0.0f32, 0.0, 1.0, 0.0]);
        let (y, _) = layer_norm(x.view(), g.view(), b.view());
        let mean = 3.0f32;
        let var = (4.0 + 1.0 + 0.0 + 9.0) / 4.0;
        let sd = (var + LN_EPS).sqrt();
        let want = [
            (1.0 - mean) / sd,
            2.0 * (2.0 - mean) / sd,
            1.0,
            (6.0 - mean) / sd,
        ];
        for (a, w) in y.iter().zip(want) {
            assert!((a - w).abs() < 1e-5);
        }
    }

    #[test]
    fn gelu_known_values_and_gradient() {
        assert_eq!(gelu(0.0), 0.0);
        assert!((gelu(1.0) - 0.841_192).abs() < 1e-5);
        assert!((gelu(-3.0) + 0.003_637).abs() < 1e-5);
        for x in [-3.0f32, -0.5, 0.0, 0.7, 2.5] {
            let h = 1e-3;
            let fd = (gelu(x + h) - gelu(x - h)) / (2.0 * h);
            assert!((fd - gelu_grad(x)).abs() < 1e-3, "x={x}");
        }
    }
}
