//! Losses: cross-entropy for classification and the distillation terms of section 4.4.

use ndarray::{Array2, ArrayView2, Axis};

use crate::model::vit::{argmax, softmax_rows};

/// Mean cross-entropy of `logits` (`B x classes`) against `labels`, and its gradient.
pub fn cross_entropy(logits: ArrayView2<'_, f32>, labels: &[u8]) -> (f32, Array2<f32>) {
    let b = logits.nrows() as f32;
    let mut grad = softmax_rows(&logits.to_owned());
    let mut loss = 0.0;
    for (mut row, &y) in grad.axis_iter_mut(Axis(0)).zip(labels) {
        loss -= row[y as usize].max(1e-30).ln();
        row[y as usize] -= 1.0;
    }
    grad /= b;
    (loss / b, grad)
}

/// Number of rows whose argmax equals the label.
pub fn correct(logits: ArrayView2<'_, f32>, labels: &[u8]) -> usize {
    logits
        .axis_iter(Axis(0))
        .zip(labels)
        .filter(|(row, &y)| argmax(row.iter().copied()) == y as usize)
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cross_entropy_value_and_gradient() {
        let z = ndarray::arr2(&[[1.0f32, 2.0, 0.5], [0.0, 0.0, 0.0]]);
        let (loss, g) = cross_entropy(z.view(), &[1, 2]);
        let p0 = (2.0f32).exp() / (1.0f32.exp() + 2.0f32.exp() + 0.5f32.exp());
        let want = (-p0.ln() + 3.0f32.ln()) / 2.0;
        assert!((loss - want).abs() < 1e-6);
        assert!((g[[0, 1]] - (p0 - 1.0) / 2.0).abs() < 1e-6);
        assert!((g.sum()).abs() < 1e-6);
        assert_eq!(correct(z.view(), &[1, 2]), 1);
    }
}
