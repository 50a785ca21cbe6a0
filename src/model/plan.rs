//! Attention and GeLU plans: which attention variant each layer, head or row uses (paper
//! section 4.2, Figure 5) and which tokens keep GeLU in MPCViT+ (section 4.5).

use serde::{Deserialize, Serialize};

use super::ViTConfig;
use crate::{Error, Result};

/// The attention variants of the paper's Table 2. Formulas are on
/// [`crate::model::attention`]; `S = Q K^T / sqrt(d_k)` throughout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Attention {
    /// `softmax(S) V`.
    #[serde(rename = "softmax")]
    Softmax,
    /// `softmax(Q (E K)^T / sqrt(d_k)) (F V)` with learned k x n projections E, F.
    #[serde(rename = "linformer")]
    Linformer,
    /// `ReLU(S) V / n`.
    #[serde(rename = "relu")]
    Relu,
    /// `ReLU6(S) V / n`.
    #[serde(rename = "relu6")]
    Relu6,
    /// `sparsemax(S) V` (Martins and Astudillo, 2016).
    #[serde(rename = "sparsemax")]
    Sparsemax,
    /// `gamma * xnorm(Q) xnorm(K^T V)` with `xnorm(x) = x / ||x||_2` (UFO-ViT).
    #[serde(rename = "xnorm")]
    XNorm,
    /// `S^2 V / n`.
    #[serde(rename = "square")]
    Square,
    /// `(S + c)^2 / sum_j (S + c)^2 V`, c = 5 (MPCFormer).
    #[serde(rename = "2quad")]
    TwoQuad,
    /// `S V / n` = `(Q / sqrt(n)) (K^T / sqrt(n)) V / sqrt(d_k)`: Scaling attention.
    #[serde(rename = "scale")]
    ScaleAttn,
    /// `ReLU(S) / (sum_j ReLU(S) + eps) V`, eps = 1e-8: ReLU-Softmax attention.
    #[serde(rename = "rsattn")]
    RsAttn,
}

impl Attention {
    /// All ten variants, in the order of Table 2.
    pub const ALL: [Attention; 10] = [
        Attention::Softmax,
        Attention::Linformer,
        Attention::Relu,
        Attention::Relu6,
        Attention::Sparsemax,
        Attention::XNorm,
        Attention::Square,
        Attention::TwoQuad,
        Attention::ScaleAttn,
        Attention::RsAttn,
    ];

    /// The short name used in files and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Attention::Softmax => "softmax",
            Attention::Linformer => "linformer",
            Attention::Relu => "relu",
            Attention::Relu6 => "relu6",
            Attention::Sparsemax => "sparsemax",
            Attention::XNorm => "xnorm",
            Attention::Square => "square",
            Attention::TwoQuad => "2quad",
            Attention::ScaleAttn => "scale",
            Attention::RsAttn => "rsattn",
        }
    }

    /// Parses [`Attention::name`].
    pub fn parse(name: &str) -> Result<Self> {
        Attention::ALL
            .into_iter()
            .find(|a| a.name() == name)
            .ok_or_else(|| {
                let names: Vec<_> = Attention::ALL.iter().map(|a| a.name()).collect();
                Error::Config(format!(
                    "unknown attention '{name}' (one of {})",
                    names.join(", ")
                ))
            })
    }

    /// Whether the variant maps each row of `S` independently (`P = f(S)` row by row), so that
    /// a row-wise plan can mix it with others. Linformer and XNorm mix rows and cannot.
    pub fn is_row_wise(self) -> bool {
        !matches!(self, Attention::Linformer | Attention::XNorm)
    }
}

/// Which variant each attention unit uses, at one of the three granularities of Figure 5.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "granularity", content = "variants", rename_all = "lowercase")]
pub enum AttentionPlan {
    /// One variant per layer: `[layer]`.
    Layer(Vec<Attention>),
    /// One variant per head: `[layer][head]`.
    Head(Vec<Vec<Attention>>),
    /// One variant per attention-map row (query token): `[layer][head][row]`.
    Row(Vec<Vec<Vec<Attention>>>),
}

impl AttentionPlan {
    /// Every layer uses `variant`.
    pub fn uniform(cfg: &ViTConfig, variant: Attention) -> Self {
        AttentionPlan::Layer(vec![variant; cfg.depth])
    }

    /// The variant of row `row` of head `head` in layer `layer`.
    pub fn variant(&self, layer: usize, head: usize, row: usize) -> Attention {
        match self {
            AttentionPlan::Layer(v) => v[layer],
            AttentionPlan::Head(v) => v[layer][head],
            AttentionPlan::Row(v) => v[layer][head][row],
        }
    }

    /// The variant of a whole head, or `None` when its rows differ.
    pub fn head_variant(&self, layer: usize, head: usize) -> Option<Attention> {
        match self {
            AttentionPlan::Layer(v) => Some(v[layer]),
            AttentionPlan::Head(v) => Some(v[layer][head]),
            AttentionPlan::Row(v) => {
                let rows = &v[layer][head];
                rows.iter().all(|a| *a == rows[0]).then(|| rows[0])
            }
        }
    }

    /// Checks `cfg` ([`ViTConfig::validate`]: nothing is derived from an unchecked config,
    /// e.g. its token count from a zero `patch`), then the plan's shape against it and that
    /// row-wise plans only mix row-wise variants.
    pub fn validate(&self, cfg: &ViTConfig) -> Result<()> {
        cfg.validate()?;
        self.check_shape(cfg)
    }

    /// [`AttentionPlan::validate`] for a config already checked.
    fn check_shape(&self, cfg: &ViTConfig) -> Result<()> {
        let bad = |what: String| Err(Error::Config(format!("attention plan: {what}")));
        let (l, h, n) = (cfg.depth, cfg.heads, cfg.tokens());
        match self {
            AttentionPlan::Layer(v) if v.len() != l => {
                bad(format!("{} layers, expected {l}", v.len()))
            }
            AttentionPlan::Head(v) if v.len() != l || v.iter().any(|r| r.len() != h) => {
                bad(format!("expected {l} layers of {h} heads"))
            }
            AttentionPlan::Row(v) => {
                if v.len() != l
                    || v.iter()
                        .any(|hs| hs.len() != h || hs.iter().any(|r| r.len() != n))
                {
                    return bad(format!("expected {l} layers x {h} heads x {n} rows"));
                }
                for (li, hs) in v.iter().enumerate() {
                    for (hi, rows) in hs.iter().enumerate() {
                        let uniform = rows.iter().all(|a| *a == rows[0]);
                        if !uniform && rows.iter().any(|a| !a.is_row_wise()) {
                            return bad(format!(
                                "layer {li} head {hi} mixes rows with a variant that is not row-wise"
                            ));
                        }
                    }
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Fraction of attention units (rows of every head) that use `variant`.
    pub fn fraction(&self, cfg: &ViTConfig, variant: Attention) -> f64 {
        let (l, h, n) = (cfg.depth, cfg.heads, cfg.tokens());
        let mut count = 0usize;
        for li in 0..l {
            for hi in 0..h {
                for r in 0..n {
                    count += (self.variant(li, hi, r) == variant) as usize;
                }
            }
        }
        count as f64 / (l * h * n) as f64
    }
}

/// MPCViT+ token plan (section 4.5): `linearised[layer][token]` is true where the token's MLP
/// drops GeLU and runs the fused `C x C` matrix `W1 W2` followed by ReLU.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GeluPlan {
    /// `[layer][token]`.
    pub linearised: Vec<Vec<bool>>,
}

impl GeluPlan {
    /// Checks `cfg` ([`ViTConfig::validate`]), then the plan's shape against it.
    pub fn validate(&self, cfg: &ViTConfig) -> Result<()> {
        cfg.validate()?;
        self.check_shape(cfg)
    }

    /// [`GeluPlan::validate`] for a config already checked.
    fn check_shape(&self, cfg: &ViTConfig) -> Result<()> {
        let (l, n) = (cfg.depth, cfg.tokens());
        if self.linearised.len() != l || self.linearised.iter().any(|r| r.len() != n) {
            return Err(Error::Config(format!(
                "gelu plan: expected {l} layers x {n} tokens"
            )));
        }
        Ok(())
    }
}

/// The whole architecture choice of a heterogeneous ViT.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// Attention variant per layer, head or row.
    pub attention: AttentionPlan,
    /// MPCViT+ GeLU linearisation; `None` keeps GeLU everywhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gelu: Option<GeluPlan>,
}

impl Plan {
    /// Every layer uses `variant`, GeLU everywhere.
    pub fn uniform(cfg: &ViTConfig, variant: Attention) -> Self {
        Plan {
            attention: AttentionPlan::uniform(cfg, variant),
            gelu: None,
        }
    }

    /// Validates `cfg` first ([`ViTConfig::validate`]; a peer's join or a manifest may carry
    /// any config, and the plan's expected shape is derived from it), then both parts against
    /// it.
    pub fn validate(&self, cfg: &ViTConfig) -> Result<()> {
        cfg.validate()?;
        self.attention.check_shape(cfg)?;
        if let Some(g) = &self.gelu {
            g.check_shape(cfg)?;
        }
        Ok(())
    }

    /// Whether token `token` of layer `layer` runs the fused linear MLP.
    pub fn is_linearised(&self, layer: usize, token: usize) -> bool {
        self.gelu
            .as_ref()
            .is_some_and(|g| g.linearised[layer][token])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for a in Attention::ALL {
            assert_eq!(Attention::parse(a.name()).unwrap(), a);
            let json = serde_json::to_string(&a).unwrap();
            assert_eq!(json, format!("\"{}\"", a.name()));
        }
        assert_err!(Attention::parse("nope"), crate::Error::Config(_));
    }

    #[test]
    fn plan_json_and_lookup() {
        let cfg = ViTConfig::demo();
        let mut heads = vec![vec![Attention::RsAttn; cfg.heads]; cfg.depth];
        heads[1][2] = Attention::ScaleAttn;
        let plan = Plan {
            attention: AttentionPlan::Head(heads),
            gelu: None,
        };
        plan.validate(&cfg).unwrap();
        let json = serde_json::to_string(&plan).unwrap();
        let back: Plan = serde_json::from_str(&json).unwrap();
        assert_eq!(back, plan);
        assert_eq!(plan.attention.variant(1, 2, 5), Attention::ScaleAttn);
        let f = plan.attention.fraction(&cfg, Attention::ScaleAttn);
        assert!((f - 1.0 / 16.0).abs() < 1e-12);
    }

    #[test]
    fn bad_plans_are_rejected() {
        let cfg = ViTConfig::demo();
        assert_err!(
            AttentionPlan::Layer(vec![Attention::Softmax; 2]).validate(&cfg),
            crate::Error::Config(_)
        );
        let mut rows = vec![vec![vec![Attention::RsAttn; cfg.tokens()]; cfg.heads]; cfg.depth];
        rows[0][0][3] = Attention::XNorm;
        assert_err!(
            AttentionPlan::Row(rows.clone()).validate(&cfg),
            crate::Error::Config(_)
        );
        rows[0][0][3] = Attention::ScaleAttn;
        AttentionPlan::Row(rows).validate(&cfg).unwrap();
        let g = GeluPlan {
            linearised: vec![vec![false; 3]; cfg.depth],
        };
        assert_err!(g.validate(&cfg), crate::Error::Config(_));
    }

    /// A join or manifest with `patch: 0` used to divide by zero when the plan derived the
    /// token count from the unchecked config.
    #[test]
    fn an_invalid_config_is_reported_before_the_plan_is_checked() {
        let bad = ViTConfig {
            patch: 0,
            ..ViTConfig::demo()
        };
        let rows = vec![vec![vec![Attention::RsAttn; 17]; 4]; 4];
        let gelu = GeluPlan {
            linearised: vec![vec![true; 17]; 4],
        };
        let plans = [
            Plan::uniform(&ViTConfig::demo(), Attention::Softmax),
            Plan {
                attention: AttentionPlan::Row(rows),
                gelu: Some(gelu.clone()),
            },
        ];
        for plan in plans {
            match plan.validate(&bad) {
                Err(Error::Config(m)) => assert_eq!(m, "patch must be positive"),
                other => panic!("expected the config error, got {other:?}"),
            }
            assert!(
                matches!(plan.attention.validate(&bad), Err(Error::Config(m)) if m.contains("patch"))
            );
        }
        assert!(matches!(gelu.validate(&bad), Err(Error::Config(m)) if m.contains("patch")));
        let absurd = ViTConfig {
            mlp_ratio: usize::MAX,
            ..ViTConfig::demo()
        };
        let e = Plan::uniform(&ViTConfig::demo(), Attention::ScaleAttn)
            .validate(&absurd)
            .unwrap_err()
            .to_string();
        assert!(e.contains("mlp_ratio") && e.contains("exceeds"), "{e}");
    }
}
