//! The 2PC protocols, all vectorised over whole tensors (one round serves every element) and
//! all `async fn`s over a [`super::Party`]. One protocol (or one family of closely related
//! ones) per file, with the correlation it consumes, its online steps, its cost formula and its
//! tests:
//!
//! | file | protocols | correlation | rounds (classic) |
//! |---|---|---|---|
//! | [`input`] | input sharing, reveal | [`input::InputMask`] | 1 / 0; 1 |
//! | [`linear`] | adding and multiplying by public values | | 0 (+T) |
//! | [`trunc`] | local or exact truncation | [`trunc::TruncPair`] | 0 or 1 |
//! | [`beaver`] | element-wise products and squares (Beaver) | [`beaver::Triple`], [`beaver::Square`] | 1 + T |
//! | [`matmul`] | batched matrix products | [`matmul::MatTriple`] | 1 + T |
//! | [`fixed_matmul`] | products with the server's weights, masked once per session | [`fixed_matmul::FixedMask`], [`fixed_matmul::FixedTriple`] | 1 + T |
//! | [`msb`] | MSB by a carry circuit; riding rounds | [`msb::AndTriple`], [`msb::OneSidedAnd`] | 7 |
//! | [`b2a`] | bits to values, bit-times-value, select | [`b2a::BitPair`], [`b2a::BitMul`] | 1 |
//! | [`relu`] | DReLU, comparisons, ReLU, ReLU6, row max | (of `msb`, `b2a`) | 8; `8 ceil(log2 L)` |
//! | [`exp`] | exponential | (of `beaver`) | 7 |
//! | [`grid`] | the comparison grid and per-cell cubic | (of `msb`, `b2a`) | 8 + 2 |
//! | [`reciprocal`] | reciprocal, division, inverse square root | (of `grid`) | 10 / 11 |
//! | [`gelu`] | GeLU, GeLU with ReLU tokens | (of `msb`, `beaver`) | 8 |
//! | [`layer_norm`] | LayerNorm; LayerNorm folded into the fixed products that read it | (of `beaver`, `fixed_matmul`, `reciprocal`) | 12 |
//! | [`softmax`] | Softmax, ReLU-Softmax, 2Quad, Sparsemax | (of the above) | see the file |
//! | [`l2_normalize`] | L2 row normalisation (XNorm) | (of `beaver`, `reciprocal`) | 12 |
//! | [`fss`] | the FSS family: one-round comparisons, two-round ReLU | DCF keys | 1; 2 |
//!
//! [`registry`] gives every correlation and key bundle its frame tag; [`cost`] is the value
//! the formulas add up. Each call is recorded by the party's [`super::Meter`] under its op name.

/// Runs `$e` with the meter inside op `$name` (nested ops are attributed to the outermost).
macro_rules! metered {
    ($p:ident, $name:literal, $e:expr) => {{
        $p.meter.begin($name);
        let r = $e;
        $p.meter.end();
        r
    }};
}
pub(crate) use metered;

pub mod b2a;
pub mod beaver;
pub mod cost;
pub mod exp;
pub mod fixed_matmul;
pub mod fss;
pub mod gelu;
pub mod grid;
pub mod input;
pub mod l2_normalize;
pub mod layer_norm;
pub mod linear;
pub mod matmul;
pub mod msb;
pub mod reciprocal;
pub mod registry;
pub mod relu;
pub mod softmax;
pub mod trunc;

pub use b2a::{b2a, bit_mul, select};
pub use beaver::{mul, mul_many, mul_ring_many, square};
pub use exp::exp;
pub use fixed_matmul::{
    fix_operands, input_matmul_fixed, matmul_fixed, matmul_fixed_many, FixedOperand,
};
pub use gelu::{gelu, gelu_relu};
pub use input::{reveal, reveal_ring, reveal_to, share_input, share_input_ring};
pub use l2_normalize::l2_normalize;
pub use layer_norm::{layer_norm, layer_norm_linear, FoldedLinear};
pub use linear::{add_const, add_public, mul_public, scale};
pub use matmul::{matmul, matmul_many};
pub use msb::msb;
pub use reciprocal::{divide, reciprocal, rsqrt};
pub use relu::{drelu, lt, lt_const, max_last, relu, relu6};
pub use softmax::{relu_softmax, softmax, sparsemax, two_quad};
pub use trunc::{trunc, trunc_many};
