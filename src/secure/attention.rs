//! The attention map `P = f(S)` of each row-wise variant on shares: the ViT's choice of
//! variant (`model::Attention`) mapped onto the engine's generic protocols, with the model's
//! own constants (`model::attention::RS_EPS`, `TWO_QUAD_C`), so the plaintext and the private
//! forward cannot drift apart. The engine (`crate::mpc`) knows nothing of the ViT; this is
//! where the two meet for attention.

use crate::model::attention::{RS_EPS, TWO_QUAD_C};
use crate::model::Attention;
use crate::mpc::protocols::approx::{scale_by, square1, SPARSEMAX_ITERS};
use crate::mpc::protocols::arith::metered;
use crate::mpc::protocols::compare::{relu6, relu_impl};
use crate::mpc::protocols::{relu_softmax, softmax, sparsemax, two_quad};
use crate::mpc::{ArithShare, Party};
use crate::{Error, Result};

/// `P = f(S)` over the last axis of `s`, as [`crate::model::attention`] defines it: Softmax,
/// ReLU/n, ReLU6/n, Sparsemax, Square/n, 2Quad, ScaleAttn (S/n) and RSAttn. Linformer and
/// XNorm are not row maps: they are whole-head protocols
/// ([`crate::mpc::protocols::linformer`], [`crate::mpc::protocols::xnorm`]).
pub async fn attention_map(
    p: &mut Party,
    variant: Attention,
    s: &ArithShare,
) -> Result<ArithShare> {
    let nd = s.data.ndim();
    if nd == 0 {
        return Err(Error::shape("attention map", "at least 1 axis", "a scalar"));
    }
    let inv_n = 1.0 / s.shape()[nd - 1] as f64;
    let (rs_eps, c) = (RS_EPS as f64, TWO_QUAD_C as f64);
    match variant {
        Attention::Softmax => softmax(p, s).await,
        Attention::RsAttn => relu_softmax(p, s, rs_eps).await,
        // 2Quad's normaliser takes the same epsilon as RSAttn's (`model::attention`).
        Attention::TwoQuad => two_quad(p, s, c, rs_eps).await,
        Attention::Sparsemax => sparsemax(p, s, SPARSEMAX_ITERS).await,
        Attention::Relu => {
            let r = metered!(p, "relu_attn", relu_impl(p, s).await)?;
            metered!(p, "relu_attn", scale_by(p, r, inv_n).await)
        }
        Attention::Relu6 => {
            let r = relu6(p, s).await?;
            metered!(p, "relu6_attn", scale_by(p, r, inv_n).await)
        }
        Attention::Square => {
            let q = metered!(p, "square_attn", square1(p, s).await)?;
            metered!(p, "square_attn", scale_by(p, q, inv_n).await)
        }
        Attention::ScaleAttn => metered!(p, "scale_attn", scale_by(p, s.clone(), inv_n).await),
        Attention::Linformer | Attention::XNorm => Err(Error::Config(format!(
            "{} attention is not a row map",
            variant.name()
        ))),
    }
}
