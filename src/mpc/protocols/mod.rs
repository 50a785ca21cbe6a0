//! The 2PC protocols, all vectorised over whole tensors (one round serves every element) and
//! all `async fn`s over a [`super::Party`]:
//!
//! * [`arith`]: input sharing, reveal, local linear ops, truncation, Beaver `mul` / `square` /
//!   `matmul`;
//! * [`compare`]: MSB (A2B + log-depth carry circuit), B2A, select, ReLU, ReLU6, comparisons, max;
//! * [`approx`]: exp, reciprocal, rsqrt, GeLU, LayerNorm, Softmax, ReLU-Softmax, 2Quad,
//!   Sparsemax, L2 normalisation (XNorm);
//! * [`attention`]: ScaleAttn (re-associated), Linformer and XNorm heads;
//! * [`cost`]: every protocol's rounds and bytes as a formula (asserted by the tests);
//! * [`fss`]: the FSS family (one-round comparisons, two-round ReLU) on dealer keys.
//!
//! Each call is recorded by the party's [`super::Meter`] under its op name.

pub mod approx;
pub mod arith;
pub mod attention;
pub mod compare;
pub mod cost;
pub mod fss;

pub use approx::{
    divide, exp, gelu, gelu_relu, l2_normalize, layer_norm, reciprocal, relu_softmax, rsqrt,
    softmax, sparsemax, two_quad,
};
pub use arith::{
    add_const, add_public, matmul, matmul_many, mul, mul_many, mul_public, mul_ring_many, reveal,
    reveal_ring, reveal_to, scale, share_input, share_input_ring, square, trunc, trunc_many,
};
pub use attention::{linformer, scale_attn, xnorm};
pub use compare::{b2a, bit_mul, drelu, lt, lt_const, max_last, msb, relu, relu6, select};
