//! The attention map `P = f(S)` of each row-wise variant on shares: the ViT's choice of
//! variant (`model::Attention`) mapped onto the engine's generic protocols, with the model's
//! own constants (`model::attention::RS_EPS`, `TWO_QUAD_C`), so the plaintext and the private
//! forward cannot drift apart. The engine (`crate::mpc`) knows nothing of the ViT; this is
//! where the two meet for attention.

use crate::model::attention::{RS_EPS, TWO_QUAD_C};
use crate::model::Attention;
use crate::mpc::bench::{input, BenchCase, Dims};
use crate::mpc::protocols::beaver::square1;
use crate::mpc::protocols::metered;
use crate::mpc::protocols::relu::{relu6, relu_impl};
use crate::mpc::protocols::softmax::SPARSEMAX_ITERS;
use crate::mpc::protocols::trunc::scale_by;
use crate::mpc::protocols::{relu_softmax, softmax, sparsemax, two_quad};
use crate::mpc::{ArithShare, Party};
use crate::{Error, Result};

/// `P = f(S)` over the last axis of `s`, as [`crate::model::attention`] defines it: Softmax,
/// ReLU/n, ReLU6/n, Sparsemax, Square/n, 2Quad, ScaleAttn (S/n) and RSAttn. Linformer and
/// XNorm are not row maps: they are whole-head protocols
/// ([`super::heads::linformer`], [`super::heads::xnorm`]).
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
        Attention::Linformer | Attention::XNorm => Err(Error::Unsupported(format!(
            "{} attention is not a row map",
            variant.name()
        ))),
    }
}

/// Rows of the cost table ([`super::bench`]): the row maps that carry the model's constants.
pub(crate) const BENCH: &[BenchCase] = &[
    BenchCase::new(
        "relu_softmax (RSAttn)",
        Dims::Rows,
        &[input(0, Dims::Rows, -4.0, 4.0)],
        crate::program!(|p, x| relu_softmax(p, &x[0], RS_EPS as f64).await),
    ),
    BenchCase::new(
        "two_quad",
        Dims::Rows,
        &[input(0, Dims::Rows, -4.0, 4.0)],
        crate::program!(|p, x| two_quad(p, &x[0], TWO_QUAD_C as f64, RS_EPS as f64).await),
    ),
];
