//! Local operations on shares: adding public values and multiplying by public constants (the
//! products are truncated by the session's truncation protocol, see [`super::trunc`]).

use ndarray::ArrayD;

use super::super::party::Party;
use super::super::share::ArithShare;
use super::trunc::trunc_many_impl;
use crate::Result;

/// `x + c` for a public tensor `c` (broadcast). Local.
pub fn add_public(p: &Party, x: &ArithShare, c: &ArrayD<f64>) -> Result<ArithShare> {
    x.add_public_ring(&p.fp().encode_array(c), p.id())
}

/// `x + c` for a public scalar. Local.
pub fn add_const(p: &Party, x: &ArithShare, c: f64) -> ArithShare {
    x.add_scalar_ring(p.fp().encode(c), p.id())
}

/// Element-wise `x * c` for a public tensor `c` (broadcast), truncated. Local in
/// [`TruncMode::Local`] (T otherwise).
pub async fn mul_public(p: &mut Party, x: &ArithShare, c: &ArrayD<f64>) -> Result<ArithShare> {
    let enc = p.fp().encode_array(c);
    let prod = x.mul_public_ring(&enc)?;
    let f = p.fp().frac_bits;
    metered!(
        p,
        "mul_public",
        trunc_many_impl(p, vec![prod], f)
            .await
            .map(|mut v| v.remove(0))
    )
}

/// `x * c` for a public scalar, truncated (see [`mul_public`]).
pub async fn scale(p: &mut Party, x: &ArithShare, c: f64) -> Result<ArithShare> {
    let prod = x.mul_int(p.fp().encode(c));
    let f = p.fp().frac_bits;
    metered!(
        p,
        "scale",
        trunc_many_impl(p, vec![prod], f)
            .await
            .map(|mut v| v.remove(0))
    )
}

/// `eps` in the ring, at least one fixed-point unit (so a normaliser never divides by zero).
pub(crate) fn eps_ring(p: &Party, eps: f64) -> u64 {
    p.fp().encode(eps).max(1)
}
