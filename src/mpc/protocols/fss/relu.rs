//! ReLU in **two online rounds** and select in one, on top of the FSS sign gate
//! ([`super::sign`]; Boyle et al., Eurocrypt 2021, section 4; SIGMA, PETS 2024, section 4.1,
//! whose ReLU is DReLU followed by a select on the already-masked input).
//!
//! **Domain.** `bits`-bit values as in [`super::sign`]: exact for
//! `-2^(bits-1) <= x < 2^(bits-1)` (every ring element at 64 bits); no approximation.
//!
//! **ReLU.** Round 1 is the sign gate with the mask opened in full: `x^ = x + r` (8 bytes each
//! way) and additive shares of `d = [x >= 0]`. Since `x = x^ - r`,
//! `relu(x) = d x^ - d r`: `d x^` is local (`x^` is public). For `d r` the dealer adds a random
//! bit `rho` (XOR-shared) and shares of `rho r`; round 2 opens `c = d ^ rho` (one bit per element
//! each way: the low bits of the additive shares of `d` are XOR shares of it) and
//! `d r = (c ^ rho) r = c r + (1 - 2c) rho r` is linear in the dealt shares.
//! Cost ([`relu_cost`]): 2 rounds, `8n + ceil(n/8)` bytes each way, offline per party
//! `n (24 + dcf::key_len(bits - 1)) + ceil(n/8)`.
//!
//! **Select.** `b ? x : y = y + b (x - y)` for XOR-shared `b` is the one-round bit-times-value
//! product of [`crate::mpc::protocols::b2a::bit_mul`] (open `b ^ rho` and `x - y - a`); it
//! is already at the one-round floor, so both families share it ([`select`]).
//!
//! **Security.** Round 1 as in [`super::sign`]. Round 2 opens `d ^ rho` with `rho` a uniform bit
//! neither party knows, so it is a uniform bit; the dealt shares of `rho r` are uniform. A
//! simulator samples both openings uniformly. The dealer receives nothing online.

use super::super::super::party::Party;
use super::super::super::share::{bits_to_bytes, bytes_to_bits, ArithShare, BitShare};
use super::super::b2a::bit_mul_cost;
use super::super::cost::Cost;
use super::sign::{not_arith, sign_round, SignKeys};
use crate::mpc::fss::deal::KeyRequest;
use crate::Result;

/// `max(x, 0)` for values exact over all of Z_2^64 (2 rounds).
pub async fn relu(p: &mut Party, x: &ArithShare) -> Result<ArithShare> {
    relu_within(p, x, 64).await
}

/// `max(x, 0)` for `bits`-bit values (2 rounds).
pub async fn relu_within(p: &mut Party, x: &ArithShare, bits: u32) -> Result<ArithShare> {
    metered!(p, "fss_relu", relu_impl(p, x, bits).await)
}

async fn relu_impl(p: &mut Party, x: &ArithShare, bits: u32) -> Result<ArithShare> {
    let n = x.len();
    let id = p.id();
    let (m, xhat, t) = sign_round(p, x, bits, true).await?;
    let d = not_arith(&m, id);
    // Round 2: open c = d ^ rho.
    let c_mine: Vec<bool> = d
        .iter()
        .zip(&t.rho)
        .map(|(d, r)| (d & 1 == 1) ^ r)
        .collect();
    let packed = BitShare::from_bools(&c_mine, &[n]);
    let got = p.exchange(bits_to_bytes(&packed.words, n)).await?;
    let c_peer = bytes_to_bits(&got, n)?;
    let out = (0..n)
        .map(|i| {
            let c = (packed.words[i / 64] ^ c_peer[i / 64]) >> (i % 64) & 1;
            let dr = c
                .wrapping_mul(t.r[i])
                .wrapping_add(1u64.wrapping_sub(2 * c).wrapping_mul(t.rho_r[i]));
            xhat[i].wrapping_mul(d[i]).wrapping_sub(dr)
        })
        .collect();
    ArithShare::from_vec(x.shape(), out)
}

/// `b ? x : y` element-wise: already one round in the classic family, so both share it.
pub use super::super::b2a::select;

/// Cost of [`relu_within`] on `n` elements of `bits`-bit values.
pub fn relu_cost(n: usize, bits: u32) -> Cost {
    let each = (8 * n + n.div_ceil(8)) as u64;
    let keys = SignKeys {
        n,
        bits,
        relu: true,
    }
    .bundle_len(0) as u64;
    Cost {
        rounds: 2,
        p0_to_p1: each,
        p1_to_p0: each,
        offline: keys,
        offline_p0: keys,
    }
}

/// Cost of [`select`] on `n` elements.
pub fn select_cost(n: usize) -> Cost {
    bit_mul_cost(n)
}
