//! The ring Z_2^64 (wrapping `u64`) and fixed-point encoding over it.
//!
//! A real number `x` is encoded as the ring element `round(x * 2^F) mod 2^64`, i.e. the two's
//! complement of the nearest multiple of `2^-F` (ties away from zero), with `F` fractional
//! bits (default 16, configurable per session through [`FixedPoint`]).
//!
//! **Range.** Decoding reads the element as a signed 64-bit integer, so every `|x| < 2^(63-F)`
//! (2^47 for F = 16) round-trips with error at most `2^-(F+1)`; larger magnitudes saturate at
//! encode time ([`FixedPoint::try_encode`] reports them instead). The *working* range is
//! smaller because a product of two encoded values carries `2F` fractional bits before it is
//! truncated: products must stay below `2^(62-2F)` in magnitude (2^30 for F = 16), and the
//! local truncation's failure probability grows with the magnitude (see [`trunc_share_local`]).
//!
//! Also here: the two share-local truncation rules (SecureML) and a wrapping matrix product,
//! the only arithmetic kernel that is not a one-liner.

use ndarray::ArrayD;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Fixed-point configuration: the number of fractional bits `F`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FixedPoint {
    /// Fractional bits `F`, between 1 and 30.
    pub frac_bits: u32,
}

impl Default for FixedPoint {
    fn default() -> Self {
        FixedPoint { frac_bits: 16 }
    }
}

impl FixedPoint {
    /// A configuration with `frac_bits` fractional bits (1..=30: products need `2F < 62`).
    pub fn new(frac_bits: u32) -> Result<Self> {
        if !(1..=30).contains(&frac_bits) {
            return Err(Error::out_of_range(
                "fixed-point fractional bits",
                frac_bits,
                "1 to 30",
            ));
        }
        Ok(FixedPoint { frac_bits })
    }

    /// `2^F` as a float.
    pub fn scale(&self) -> f64 {
        (1u64 << self.frac_bits) as f64
    }

    /// The encoding of 1.0.
    pub fn one(&self) -> u64 {
        1u64 << self.frac_bits
    }

    /// The largest magnitude that round-trips: `2^(63-F)`.
    pub fn max_abs(&self) -> f64 {
        2f64.powi(63 - self.frac_bits as i32)
    }

    /// The resolution `2^-F`.
    pub fn ulp(&self) -> f64 {
        1.0 / self.scale()
    }

    /// Encodes `x` as `round(x * 2^F)` (ties away from zero), saturating at the range limits;
    /// NaN encodes as 0.
    pub fn encode(&self, x: f64) -> u64 {
        if x.is_nan() {
            return 0;
        }
        let v = (x * self.scale()).round();
        if v >= i64::MAX as f64 {
            i64::MAX as u64
        } else if v <= i64::MIN as f64 {
            i64::MIN as u64
        } else {
            (v as i64) as u64
        }
    }

    /// Like [`FixedPoint::encode`], but reports non-finite or out-of-range inputs.
    pub fn try_encode(&self, x: f64) -> Result<u64> {
        if !x.is_finite() || x.abs() >= self.max_abs() {
            return Err(Error::FixedPointRange {
                value: x,
                bits: 63 - self.frac_bits,
            });
        }
        Ok(self.encode(x))
    }

    /// Decodes a ring element as a signed fixed-point number.
    pub fn decode(&self, v: u64) -> f64 {
        (v as i64) as f64 / self.scale()
    }

    /// [`FixedPoint::encode`] over a tensor.
    pub fn encode_array(&self, x: &ArrayD<f64>) -> ArrayD<u64> {
        x.mapv(|v| self.encode(v))
    }

    /// [`FixedPoint::decode`] over a tensor.
    pub fn decode_array(&self, x: &ArrayD<u64>) -> ArrayD<f64> {
        x.mapv(|v| self.decode(v))
    }
}

/// SecureML's local truncation of one additive share by `bits` bits (Mohassel and Zhang,
/// S&P 2017, Theorem 1), with round-to-nearest: party 0 adds `2^(bits-1)` and shifts its share
/// arithmetically, party 1 computes `-((-x1) >> bits)`.
///
/// If the shared value satisfies `|x| < 2^l` (as a signed ring element), the result is
/// `round(x / 2^bits)` up to one unit with probability at least `1 - 2^(l+1-64)`; otherwise it is
/// off by about `2^(64-bits)` (a catastrophic error). For F = 16 and a product of two values of
/// magnitude below 2^k (so `l = k + 32`), that is `2^(k-31)` per element: 2^-31 for products
/// below 1, 2^-21 for products below 1024. CrypTen (used by the paper) relies on the same rule.
#[inline]
pub fn trunc_share_local(share: u64, bits: u32, party: usize) -> u64 {
    if bits == 0 {
        return share;
    }
    if party == 0 {
        let s = share.wrapping_add(1u64 << (bits - 1));
        ((s as i64) >> bits) as u64
    } else {
        (((share.wrapping_neg()) as i64 >> bits) as u64).wrapping_neg()
    }
}

/// `C = A B` over Z_2^64 for row-major `A` (m x k) and `B` (k x p), accumulating into `c`
/// (m x p, row-major): `c += A B` with wrapping arithmetic.
pub fn matmul_acc(a: &[u64], b: &[u64], c: &mut [u64], m: usize, k: usize, p: usize) {
    debug_assert_eq!(a.len(), m * k);
    debug_assert_eq!(b.len(), k * p);
    debug_assert_eq!(c.len(), m * p);
    for i in 0..m {
        let crow = &mut c[i * p..(i + 1) * p];
        for (t, &aik) in a[i * k..(i + 1) * k].iter().enumerate() {
            if aik == 0 {
                continue;
            }
            let brow = &b[t * p..(t + 1) * p];
            for (cv, &bv) in crow.iter_mut().zip(brow) {
                *cv = cv.wrapping_add(aik.wrapping_mul(bv));
            }
        }
    }
}

/// `A B` over Z_2^64, row-major (see [`matmul_acc`]).
pub fn matmul(a: &[u64], b: &[u64], m: usize, k: usize, p: usize) -> Vec<u64> {
    let mut c = vec![0u64; m * p];
    matmul_acc(a, b, &mut c, m, k, p);
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_decode_round_trip() {
        let fp = FixedPoint::default();
        for &x in &[0.0, 1.0, -1.0, 3.25, -1234.5678, 1e9, -1e9, 1.0 / 65536.0] {
            let back = fp.decode(fp.encode(x));
            assert!((back - x).abs() <= fp.ulp() / 2.0 + 1e-12, "{x} -> {back}");
        }
        assert_eq!(fp.encode(f64::NAN), 0);
        assert_eq!(fp.encode(1e300) as i64, i64::MAX);
        assert_eq!(fp.encode(-1e300) as i64, i64::MIN);
        assert_err!(
            fp.try_encode(fp.max_abs()),
            crate::Error::FixedPointRange { .. }
        );
        assert_err!(
            fp.try_encode(f64::INFINITY),
            crate::Error::FixedPointRange { .. }
        );
        assert_err!(FixedPoint::new(0), crate::Error::OutOfRange { .. });
        assert_err!(FixedPoint::new(31), crate::Error::OutOfRange { .. });
    }

    #[test]
    fn local_truncation_of_shares() {
        let fp = FixedPoint::default();
        let mut s = 0x1234_5678_9abc_def0u64;
        for &x in &[0.0, 1.5, -1.5, 100.25, -7777.0] {
            // x encoded with 2F fractional bits, as after a product.
            let v = (x * fp.scale() * fp.scale()).round() as i64 as u64;
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let x0 = s;
            let x1 = v.wrapping_sub(x0);
            let t = trunc_share_local(x0, 16, 0).wrapping_add(trunc_share_local(x1, 16, 1));
            assert!(
                (fp.decode(t) - x).abs() <= 2.0 * fp.ulp(),
                "{x}: {}",
                fp.decode(t)
            );
        }
    }

    #[test]
    fn wrapping_matmul() {
        let a = [1u64, 2, 3, 4, 5, 6]; // 2x3
        let b = [1u64, 0u64.wrapping_sub(1), 2, 0, 0, 1]; // 3x2
        let c = matmul(&a, &b, 2, 3, 2);
        assert_eq!(
            c.iter().map(|&v| v as i64).collect::<Vec<_>>(),
            vec![5, 2, 14, 2]
        );
    }
}
