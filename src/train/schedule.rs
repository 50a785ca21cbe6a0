//! Learning-rate schedule: linear warm-up, then cosine decay (paper section 5.1).

/// Cosine schedule with linear warm-up over `warmup` steps, from `base` down to `min` at
/// `total` steps.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Cosine {
    /// Peak learning rate.
    pub base: f32,
    /// Final learning rate.
    pub min: f32,
    /// Linear warm-up steps.
    pub warmup: usize,
    /// Total steps (cosine decay after the warm-up).
    pub total: usize,
}

impl Cosine {
    /// Learning rate at step `step` (0-based).
    pub fn lr(&self, step: usize) -> f32 {
        if step < self.warmup {
            return self.base * (step + 1) as f32 / self.warmup as f32;
        }
        let span = self.total.saturating_sub(self.warmup).max(1);
        let progress = ((step - self.warmup) as f32 / span as f32).min(1.0);
        self.min + 0.5 * (self.base - self.min) * (1.0 + (std::f32::consts::PI * progress).cos())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warms_up_then_decays_to_min() {
        let s = Cosine {
            base: 1e-3,
            min: 1e-5,
            warmup: 10,
            total: 110,
        };
        assert!((s.lr(0) - 1e-4).abs() < 1e-9);
        assert!((s.lr(9) - 1e-3).abs() < 1e-9);
        assert!((s.lr(10) - 1e-3).abs() < 1e-9);
        assert!((s.lr(60) - (1e-5 + 0.5 * (1e-3 - 1e-5))).abs() < 1e-7);
        assert!((s.lr(110) - 1e-5).abs() < 1e-9);
        assert!((s.lr(500) - 1e-5).abs() < 1e-9);
        assert!((1..110).all(|i| i < 10 || s.lr(i) <= s.lr(i - 1)));
    }
}
