//! Knowledge distillation (paper section 4.4):
//! `L = chi * CE(z_s, y) + beta * T^2 * KL(p_t || p_s) + gamma * mean_tokens ||f_s - f_t||_2`
//! with `p = softmax(z / T)`, logits `z`, and `f` the last block's output per token.
//!
//! The paper writes the logit term as `L_KL(sigma(z_s / T), sigma(z_t / T))`, the argument
//! order of PyTorch's `kl_div(log p_s, p_t)`, which computes `KL(p_t || p_s)`: the teacher's
//! distribution is the target, as in Hinton et al. The `T^2` keeps gradient size independent of
//! `T` (Hinton et al.); at the paper's `T = 1` it is 1.

use ndarray::{Array2, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

use super::loss::cross_entropy;
use super::trainer::{Batch, LossGrad};
use crate::model::vit::{forward_trace, softmax_rows};
use crate::model::{ViT, ViTConfig};
use crate::{Error, Result};

/// Weights of the three terms and the temperature; a zero weight switches a term off (the
/// ablation of Table 4).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct DistillConfig {
    /// Weight of the cross-entropy with the labels.
    pub chi: f32,
    /// Weight of the KL divergence to the teacher's logits.
    pub beta: f32,
    /// Weight of the feature (last hidden state) distillation.
    pub gamma: f32,
    /// Softmax temperature of the KL term.
    pub temperature: f32,
}

impl DistillConfig {
    /// Every weight finite and `>= 0`, the temperature finite and `> 0`.
    pub fn validate(&self) -> Result<()> {
        let weights_ok = [self.chi, self.beta, self.gamma]
            .iter()
            .all(|w| w.is_finite() && *w >= 0.0);
        if !weights_ok || !self.temperature.is_finite() || self.temperature <= 0.0 {
            return Err(Error::out_of_range(
                "distillation (chi, beta, gamma, temperature)",
                format!(
                    "({}, {}, {}, {})",
                    self.chi, self.beta, self.gamma, self.temperature
                ),
                "weights >= 0 and the temperature > 0",
            ));
        }
        Ok(())
    }
}

impl Default for DistillConfig {
    /// The paper's setting: `chi = beta = gamma = T = 1` (section 5.1).
    fn default() -> Self {
        DistillConfig {
            chi: 1.0,
            beta: 1.0,
            gamma: 1.0,
            temperature: 1.0,
        }
    }
}

/// The three loss values, their weighted sum, and the gradients with respect to the student's
/// logits and features.
#[derive(Clone, Debug)]
pub struct DistillLoss {
    /// The weighted total.
    pub total: f32,
    /// Cross-entropy with the labels.
    pub ce: f32,
    /// KL divergence to the teacher.
    pub kl: f32,
    /// Feature distillation loss.
    pub feature: f32,
    /// Gradient with respect to the student's logits.
    pub dlogits: Array2<f32>,
    /// Gradient with respect to the student's features, when distilled.
    pub dfeatures: Option<Array2<f32>>,
}

/// `KL(softmax(t / T) || softmax(s / T))` averaged over rows, and its gradient in `s`.
pub fn kl_teacher_student(
    student: ArrayView2<'_, f32>,
    teacher: ArrayView2<'_, f32>,
    temperature: f32,
) -> (f32, Array2<f32>) {
    let b = student.nrows() as f32;
    let ps = softmax_rows(&(&student / temperature));
    let pt = softmax_rows(&(&teacher / temperature));
    let mut kl = 0.0;
    for (rs, rt) in ps.axis_iter(Axis(0)).zip(pt.axis_iter(Axis(0))) {
        for (&s, &t) in rs.iter().zip(rt) {
            if t > 0.0 {
                kl += t * (t.ln() - s.max(1e-30).ln());
            }
        }
    }
    // d/ds_j of sum_k t_k (ln t_k - ln softmax(s/T)_k) = (p_s_j - p_t_j) / T.
    let grad = (&ps - &pt) / (temperature * b);
    (kl / b, grad)
}

/// Mean over rows of `||fs_i - ft_i||_2`, and its gradient in `fs`.
pub fn feature_distance(
    student: ArrayView2<'_, f32>,
    teacher: ArrayView2<'_, f32>,
) -> (f32, Array2<f32>) {
    let rows = student.nrows() as f32;
    let mut grad = &student - &teacher;
    let mut total = 0.0;
    for mut row in grad.axis_iter_mut(Axis(0)) {
        let norm = row.dot(&row).sqrt();
        total += norm;
        if norm > 1e-12 {
            row /= norm * rows;
        } else {
            row.fill(0.0);
        }
    }
    (total / rows, grad)
}

/// The full distillation objective for a batch.
pub fn distill(
    cfg: &DistillConfig,
    student_logits: ArrayView2<'_, f32>,
    student_features: ArrayView2<'_, f32>,
    teacher_logits: ArrayView2<'_, f32>,
    teacher_features: ArrayView2<'_, f32>,
    labels: &[u8],
) -> DistillLoss {
    let (ce, dce) = cross_entropy(student_logits, labels);
    let t = cfg.temperature;
    let (kl, dkl) = kl_teacher_student(student_logits, teacher_logits, t);
    // [`kd_loss`] admits a teacher of another width only with `gamma = 0`: the feature term is
    // then reported as 0 (it is not defined) and has no gradient.
    let (feature, dfeat) = if student_features.dim() == teacher_features.dim() {
        let (f, g) = feature_distance(student_features, teacher_features);
        (f, Some(g))
    } else {
        (0.0, None)
    };
    let dlogits = dce * cfg.chi + &(dkl * (cfg.beta * t * t));
    let dfeatures = dfeat.filter(|_| cfg.gamma != 0.0).map(|g| g * cfg.gamma);
    DistillLoss {
        total: cfg.chi * ce + cfg.beta * t * t * kl + cfg.gamma * feature,
        ce,
        kl,
        feature,
        dlogits,
        dfeatures,
    }
}

/// The loss a [`crate::train::Trainer`] step uses to distil `teacher` into the student: the
/// teacher runs on the same augmented images as the student. Feature distillation needs the
/// same token count and width in both models.
pub fn kd_loss<'t>(
    teacher: &'t ViT,
    student: &ViTConfig,
    cfg: DistillConfig,
) -> Result<impl Fn(&Batch<'_>) -> LossGrad + 't> {
    cfg.validate()?;
    let t = &teacher.config;
    if (t.image_size, t.channels, t.classes)
        != (student.image_size, student.channels, student.classes)
    {
        return Err(Error::shape(
            "distillation: the student's (image size, channels, classes)",
            format!("the teacher's {:?}", (t.image_size, t.channels, t.classes)),
            format!(
                "{:?}",
                (student.image_size, student.channels, student.classes)
            ),
        ));
    }
    if cfg.gamma != 0.0 && (t.tokens(), t.dim) != (student.tokens(), student.dim) {
        return Err(Error::shape(
            "feature distillation: the student's tokens x width",
            format!("the teacher's {} x {}", t.tokens(), t.dim),
            format!("{} x {}", student.tokens(), student.dim),
        ));
    }
    Ok(move |batch: &Batch<'_>| {
        let (t_logits, t_trace) = forward_trace(
            &teacher.config,
            &teacher.params,
            teacher.arch(),
            batch.images,
        );
        let d = distill(
            &cfg,
            batch.logits,
            batch.trace.features.view(),
            t_logits.view(),
            t_trace.features.view(),
            batch.labels,
        );
        LossGrad {
            loss: d.total,
            dlogits: d.dlogits,
            dfeatures: d.dfeatures,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negative_weights_and_a_zero_temperature_are_refused() {
        assert!(DistillConfig::default().validate().is_ok());
        for bad in [
            DistillConfig {
                chi: -1.0,
                ..Default::default()
            },
            DistillConfig {
                gamma: f32::NAN,
                ..Default::default()
            },
            DistillConfig {
                temperature: 0.0,
                ..Default::default()
            },
            DistillConfig {
                temperature: f32::INFINITY,
                ..Default::default()
            },
        ] {
            let e = bad.validate().unwrap_err();
            assert!(matches!(e, Error::OutOfRange { .. }), "{e}");
            assert!(e.to_string().contains("temperature > 0"), "{e}");
        }
    }
    use ndarray::arr2;

    #[test]
    fn kl_matches_a_hand_computed_case() {
        // Teacher logits ln(0.5), ln(0.25), ln(0.25) -> p_t = (0.5, 0.25, 0.25);
        // student logits 0, 0, 0 -> p_s = 1/3 each.
        let t = arr2(&[[0.5f32.ln(), 0.25f32.ln(), 0.25f32.ln()]]);
        let s = arr2(&[[0.0f32, 0.0, 0.0]]);
        let (kl, g) = kl_teacher_student(s.view(), t.view(), 1.0);
        let want = 0.5 * (0.5f32 / (1.0 / 3.0)).ln() + 2.0 * 0.25 * (0.25f32 / (1.0 / 3.0)).ln();
        assert!((kl - want).abs() < 1e-6, "{kl} vs {want}");
        assert!((g[[0, 0]] - (1.0 / 3.0 - 0.5)).abs() < 1e-6);
        let (same, _) = kl_teacher_student(t.view(), t.view(), 2.0);
        assert!(same.abs() < 1e-6);
    }

    #[test]
    fn feature_distance_hand_case_and_gradient() {
        let s = arr2(&[[3.0f32, 4.0], [1.0, 1.0]]);
        let t = arr2(&[[0.0f32, 0.0], [1.0, 1.0]]);
        let (d, g) = feature_distance(s.view(), t.view());
        assert!((d - 2.5).abs() < 1e-6);
        assert!((g[[0, 0]] - 0.3).abs() < 1e-6 && (g[[0, 1]] - 0.4).abs() < 1e-6);
        assert_eq!(g[[1, 0]], 0.0);
    }

    #[test]
    fn a_teacher_of_another_width_distils_logits_only() {
        let s = arr2(&[[1.0f32, 0.0]]);
        let t = arr2(&[[0.0f32, 1.0]]);
        let (fs, ft) = (arr2(&[[1.0f32, 0.0]]), arr2(&[[0.0f32, 0.0, 1.0]]));
        let cfg = DistillConfig {
            gamma: 0.0,
            ..DistillConfig::default()
        };
        let d = distill(&cfg, s.view(), fs.view(), t.view(), ft.view(), &[0]);
        assert_eq!(d.feature, 0.0);
        assert!(d.dfeatures.is_none());
        assert!((d.total - (d.ce + d.kl)).abs() < 1e-6);
    }

    #[test]
    fn weights_switch_terms_off_and_combine() {
        let s = arr2(&[[1.0f32, 0.0], [0.0, 2.0]]);
        let t = arr2(&[[0.0f32, 1.0], [0.0, 1.0]]);
        let fs = arr2(&[[1.0f32, 0.0]]);
        let ft = arr2(&[[0.0f32, 0.0]]);
        let only_ce = distill(
            &DistillConfig {
                chi: 1.0,
                beta: 0.0,
                gamma: 0.0,
                temperature: 1.0,
            },
            s.view(),
            fs.view(),
            t.view(),
            ft.view(),
            &[0, 1],
        );
        let (ce, dce) = cross_entropy(s.view(), &[0, 1]);
        assert_eq!(only_ce.total, ce);
        assert_eq!(only_ce.dlogits, dce);
        assert!(only_ce.dfeatures.is_none());
        let all = distill(
            &DistillConfig::default(),
            s.view(),
            fs.view(),
            t.view(),
            ft.view(),
            &[0, 1],
        );
        assert!((all.total - (all.ce + all.kl + all.feature)).abs() < 1e-6);
        assert!((all.feature - 1.0).abs() < 1e-6);
    }
}
