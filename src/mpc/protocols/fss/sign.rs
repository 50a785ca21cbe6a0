//! The sign of a shared value in **one online round** from a DCF key: MSB, DReLU and comparisons
//! (Boyle et al., "Function Secret Sharing for Mixed-Mode and Fixed-Point Secure Computation",
//! Eurocrypt 2021, section 4.1, "DReLU"/"sign" from one DCF; SIGMA, PETS 2024, section 3, for the
//! reduced bit width).
//!
//! **Domain.** Inputs are `k`-bit two's-complement values, `2 <= k <= 64`: the result is exact
//! for every `x` with `-2^(k-1) <= x < 2^(k-1)` (for `k = 64`, every ring element, like the
//! classic [`crate::mpc::protocols::msb::msb`]); outside it, `x` is read mod `2^k`. No
//! approximation, no failure probability.
//!
//! **Protocol.** The dealer draws a mask `r` (uniform in Z_2^64), shares it additively, and
//! deals a DCF on `k - 1` bits with threshold `alpha = r mod 2^(k-1)` and payload
//! `beta = 1 - 2 msb_k(r)`, plus additive shares of `msb_k(r)`. Online, the parties open
//! `x^ = x + r mod 2^k` (one round, `ceil(k / 8)` bytes per element each way). With
//! `a = x^ mod 2^(k-1)`, `msb_k(x) = msb_k(x^) ^ msb_k(r) ^ [a < alpha]` (the borrow out of the
//! low `k - 1` bits of `x^ - r`), and `msb_k(r) ^ [a < alpha] = msb_k(r) + beta [a < alpha]` is
//! exactly the DCF output plus the shares of `msb_k(r)`; xoring with the public `msb_k(x^)` is
//! local. The result comes as additive shares of the bit in Z_2^64 (so it is already
//! arithmetic: no B2A round) and, by its low bit, as XOR shares.
//!
//! **Cost** ([`cost`]) on `n` elements: 1 round, `n ceil(k/8)` bytes each way; offline, each
//! party receives `n (16 + dcf::key_len(k - 1))` bytes (1,571 per element at `k = 64`).
//!
//! **Security** (semi-honest, dealer colluding with neither party; Eurocrypt 2021 theorem 4.1,
//! "FSS gates"): party `b` receives its key bundle and the peer's masked share. The bundle is a
//! DCF key (simulated by random bytes, [`crate::mpc::fss::dcf`]) and additive shares of `r` and
//! `msb_k(r)` (uniform); the opened `x^ = x + r` is uniform because `r` is uniform and the party
//! knows only its own share of it. So a simulator given nothing samples a random key, random
//! shares and a random `x^`: the view reveals nothing about `x`. The dealer receives nothing
//! online. A key is bound to one mask and evaluated on the one opened value of its element;
//! the bundle is taken from the dealer once and consumed by value, so no key meets two masked
//! inputs (which would reveal their difference).

use super::super::super::fss::dcf::{self, DcfKey};
use super::super::super::fss::deal::KeyRequest;
use super::super::super::fss::{EnginePrg, KeyError, TreePrg};
use super::super::super::party::Party;
use super::super::super::share::{ArithShare, BitShare};
use super::super::cost::Cost;
use super::super::linear::add_const;
use super::super::registry as tags;
use crate::mpc::Prg;
use crate::{Error, Result};

/// The bundle of the sign gate on `n` elements of `bits`-bit values; with `relu`, each element
/// also carries the second-round tuple of [`super::relu`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct SignKeys {
    pub n: usize,
    pub bits: u32,
    pub relu: bool,
}

/// One party's material for one element.
struct ElementKey {
    /// Share of the mask `r`.
    r: u64,
    /// Share of `msb_k(r)`.
    m: u64,
    /// Share of `rho * r` (ReLU only).
    rho_r: u64,
    dcf: DcfKey,
}

/// One party's parsed bundle.
struct SignBundle {
    elems: Vec<ElementKey>,
    /// XOR shares of the ReLU bit masks `rho` (ReLU only).
    rho: Vec<bool>,
}

/// What the sign round leaves for ReLU's second round (per element): shares of `r`, of
/// `rho r`, and XOR shares of `rho`.
pub(crate) struct ReluTuple {
    pub r: Vec<u64>,
    pub rho_r: Vec<u64>,
    pub rho: Vec<bool>,
}

fn low_mask(bits: u32) -> u64 {
    if bits >= 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    }
}

fn check_bits(bits: u32) -> Result<()> {
    if (2..=64).contains(&bits) {
        Ok(())
    } else {
        Err(Error::Config(format!(
            "fss sign: value width {bits} bits, expected 2 to 64"
        )))
    }
}

impl SignKeys {
    fn element_len(&self) -> usize {
        16 + 8 * self.relu as usize + dcf::key_len(self.bits - 1)
    }

    /// The party's bundle from its bytes (exact length, every DCF key checked).
    fn parse(&self, bytes: &[u8], party: usize) -> Result<SignBundle> {
        if bytes.len() != self.bundle_len(party) {
            return Err(KeyError::Length {
                kind: "fss sign bundle",
                expected: self.bundle_len(party),
                got: bytes.len(),
            }
            .into());
        }
        let el = self.element_len();
        let word = |b: &[u8], at: usize| u64::from_le_bytes(b[at..at + 8].try_into().expect("8"));
        let mut elems = Vec::with_capacity(self.n);
        for chunk in bytes[..self.n * el].chunks_exact(el) {
            let at = if self.relu { 24 } else { 16 };
            elems.push(ElementKey {
                r: word(chunk, 0),
                m: word(chunk, 8),
                rho_r: if self.relu { word(chunk, 16) } else { 0 },
                dcf: DcfKey::from_bytes(&chunk[at..], party, self.bits - 1)?,
            });
        }
        let tail = &bytes[self.n * el..];
        let rho = (0..self.n * self.relu as usize)
            .map(|i| (tail[i / 8] >> (i % 8)) & 1 == 1)
            .collect();
        Ok(SignBundle { elems, rho })
    }
}

impl KeyRequest for SignKeys {
    fn tag(&self) -> u32 {
        if self.relu {
            tags::RELU
        } else {
            tags::SIGN
        }
    }

    fn bundle_len(&self, _party: usize) -> usize {
        self.n * self.element_len() + self.n.div_ceil(8) * self.relu as usize
    }

    fn deal(&self, rng: &mut Prg) -> Result<[Vec<u8>; 2]> {
        check_bits(self.bits)?;
        let g = EnginePrg::new();
        let k = self.bits;
        let mut out = [Vec::new(), Vec::new()];
        let mut rho: [Vec<bool>; 2] = Default::default();
        let split = |v: u64, rng: &mut Prg| {
            let s0 = rng.next_u64();
            [s0, v.wrapping_sub(s0)]
        };
        for _ in 0..self.n {
            let r = rng.next_u64();
            let rk = r & low_mask(k);
            let m = rk >> (k - 1);
            let beta = 1u64.wrapping_sub(2 * m);
            let keys = dcf::gen(&g, k - 1, rk & low_mask(k - 1), beta, rng)?;
            let (rs, ms) = (split(r, rng), split(m, rng));
            let rho_bit = rng.next_u64() & 1;
            let rho_r = split(rho_bit.wrapping_mul(r), rng);
            let rho0 = rng.next_u64() & 1 == 1;
            rho[0].push(rho0);
            rho[1].push(rho0 ^ (rho_bit == 1));
            for b in 0..2 {
                out[b].extend_from_slice(&rs[b].to_le_bytes());
                out[b].extend_from_slice(&ms[b].to_le_bytes());
                if self.relu {
                    out[b].extend_from_slice(&rho_r[b].to_le_bytes());
                }
                out[b].extend(keys[b].to_bytes());
            }
        }
        if self.relu {
            for b in 0..2 {
                for chunk in rho[b].chunks(8) {
                    out[b].push(
                        chunk
                            .iter()
                            .enumerate()
                            .fold(0, |a, (i, &x)| a | ((x as u8) << i)),
                    );
                }
            }
        }
        Ok(out)
    }
}

/// The sign gate's online round: fetches the bundle, opens `x + r` (mod `2^(8 open_bytes)`)
/// and evaluates each element's DCF once. Returns additive shares of `msb_k(x)` as 0/1
/// integers, the opened `x^`, and the bundle's ReLU material.
pub(crate) async fn sign_round(
    p: &mut Party,
    x: &ArithShare,
    bits: u32,
    relu: bool,
) -> Result<(Vec<u64>, Vec<u64>, ReluTuple)> {
    check_bits(bits)?;
    let n = x.len();
    let req = SignKeys { n, bits, relu };
    let bytes = p.keys(&req).await?;
    let id = p.id();
    let bundle = req.parse(&bytes, id)?;
    let open_bytes = if relu { 8 } else { bits.div_ceil(8) as usize };
    let open_mask = low_mask(8 * open_bytes as u32);
    let mut payload = Vec::with_capacity(n * open_bytes);
    for (xi, e) in x.data.iter().zip(&bundle.elems) {
        let v = xi.wrapping_add(e.r) & open_mask;
        payload.extend_from_slice(&v.to_le_bytes()[..open_bytes]);
    }
    let got = p.exchange(payload.clone()).await?;
    let g = EnginePrg::new();
    let (mut xhat, mut msb) = (Vec::with_capacity(n), Vec::with_capacity(n));
    let mut rest = ReluTuple {
        r: Vec::with_capacity(n),
        rho_r: Vec::with_capacity(n),
        rho: bundle.rho,
    };
    // The keys are consumed here: each element's key meets its one masked input only.
    for (i, e) in bundle.elems.into_iter().enumerate() {
        let word = |b: &[u8]| {
            let mut w = [0u8; 8];
            w[..open_bytes].copy_from_slice(&b[i * open_bytes..(i + 1) * open_bytes]);
            u64::from_le_bytes(w)
        };
        let xh = word(&payload).wrapping_add(word(&got)) & open_mask;
        let xk = xh & low_mask(bits);
        let below = dcf::eval(&g, &e.dcf, xk & low_mask(bits - 1))?;
        let w = below.wrapping_add(e.m);
        msb.push(if xk >> (bits - 1) == 1 {
            (if id == 0 { 1u64 } else { 0 }).wrapping_sub(w)
        } else {
            w
        });
        xhat.push(xh);
        rest.r.push(e.r);
        rest.rho_r.push(e.rho_r);
    }
    Ok((msb, xhat, rest))
}

/// XOR shares from additive shares of 0/1 values (their low bits).
pub(crate) fn low_bits(v: &[u64], shape: &[usize]) -> BitShare {
    let bools: Vec<bool> = v.iter().map(|w| w & 1 == 1).collect();
    BitShare::from_bools(&bools, shape)
}

/// `1 - b` on additive shares of bits.
pub(crate) fn not_arith(v: &[u64], party: usize) -> Vec<u64> {
    v.iter()
        .map(|w| (if party == 0 { 1u64 } else { 0 }).wrapping_sub(*w))
        .collect()
}

/// XOR shares of `msb(x)` (1 = negative) for `x` exact over all of Z_2^64.
pub async fn msb(p: &mut Party, x: &ArithShare) -> Result<BitShare> {
    msb_within(p, x, 64).await
}

/// XOR shares of `msb_k(x)` for `bits`-bit values (`-2^(bits-1) <= x < 2^(bits-1)`).
pub async fn msb_within(p: &mut Party, x: &ArithShare, bits: u32) -> Result<BitShare> {
    metered!(
        p,
        "fss_msb",
        async { msb_unmetered(p, x, bits).await }.await
    )
}

/// Additive shares of the integers `[x >= 0]` (0/1, not fixed point) for `bits`-bit values:
/// DReLU already in arithmetic form, one round.
pub async fn drelu_values(p: &mut Party, x: &ArithShare, bits: u32) -> Result<ArithShare> {
    metered!(
        p,
        "fss_drelu",
        async {
            let (m, _, _) = sign_round(p, x, bits, false).await?;
            ArithShare::from_vec(x.shape(), not_arith(&m, p.id()))
        }
        .await
    )
}

/// XOR shares of `[x >= 0]`, exact over all of Z_2^64.
pub async fn drelu(p: &mut Party, x: &ArithShare) -> Result<BitShare> {
    let v = drelu_values(p, x, 64).await?;
    Ok(low_bits(&v.to_vec(), x.shape()))
}

/// Bits `[x < y]` (valid when `|x - y| < 2^63` in the ring).
pub async fn lt(p: &mut Party, x: &ArithShare, y: &ArithShare) -> Result<BitShare> {
    metered!(p, "fss_lt", async { msb_inner(p, &x.sub(y)?).await }.await)
}

/// Bits `[x < c]` for a public fixed-point constant (valid when `|x - c| < 2^63` in the ring).
pub async fn lt_const(p: &mut Party, x: &ArithShare, c: f64) -> Result<BitShare> {
    let d = add_const(p, x, -c);
    metered!(p, "fss_lt", msb_inner(p, &d).await)
}

async fn msb_inner(p: &mut Party, x: &ArithShare) -> Result<BitShare> {
    msb_unmetered(p, x, 64).await
}

/// XOR shares of `msb_k(x)` without a meter label of its own (the classic family's
/// [`crate::mpc::protocols::msb::msb`] calls it under its own labels in the FSS family).
pub(crate) async fn msb_unmetered(p: &mut Party, x: &ArithShare, bits: u32) -> Result<BitShare> {
    let (m, _, _) = sign_round(p, x, bits, false).await?;
    Ok(low_bits(&m, x.shape()))
}

/// Cost of the sign gate on `n` elements of `bits`-bit values (every function of this file).
pub fn cost(n: usize, bits: u32) -> Cost {
    let each = (n * bits.div_ceil(8) as usize) as u64;
    let keys = SignKeys {
        n,
        bits,
        relu: false,
    }
    .bundle_len(0) as u64;
    Cost {
        rounds: 1,
        p0_to_p1: each,
        p1_to_p0: each,
        offline: keys,
        offline_p0: keys,
    }
}
