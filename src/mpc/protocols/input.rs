//! Input sharing and opening.
//!
//! | protocol | rounds | online bytes | offline bytes |
//! |---|---|---|---|
//! | [`share_input`] by party 0 | 1 | `8n` party 0 -> party 1 | 0 |
//! | [`share_input`] by party 1 | 0 | 0 | `8n` ([`InputMask`]) |
//! | [`reveal`] | 1 | `8n` each way | 0 |
//! | [`reveal_to`] | 1 | `8n` one way | 0 |
//!
//! Party 0 masks its input with its private PRG (a one-time pad over Z_2^64, so party 1 sees a
//! uniform word); party 1 adds its input to a dealer zero-sharing whose party-0 half is uniform
//! from party 0's dealer seed, so party 0 sees a uniform word and nothing moves online (the form
//! used for model weights, shared once per session).

use ndarray::ArrayD;

use super::super::correlation::{CompRing, CompRole, Correlation};
use super::super::party::Party;
use super::super::share::{bytes_to_words, words_to_bytes, ArithShare};
use super::cost::{offline_only, sym, Cost};
use super::registry;
use crate::mpc::bench::{input, BenchCase, Dims, Measure};
use crate::{Error, Result};

/// A zero-sharing used to share party 1's inputs without online traffic: party 0's share is
/// random from its seed, party 1 receives its negation (and adds its input).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputMask {
    /// Elements.
    pub n: usize,
}

impl Correlation for InputMask {
    fn tag(&self) -> u32 {
        registry::INPUT_MASK
    }

    fn layout(&self) -> Vec<(CompRing, CompRole)> {
        vec![(CompRing::Arith(self.n), CompRole::Dep)]
    }

    fn dependent_values(&self, v: &[Vec<u64>]) -> Result<Vec<Vec<u64>>> {
        let _ = v;
        Ok(vec![vec![0u64; self.n]])
    }
}

/// Shares a fixed-point input owned by party `owner`: the owner passes `Some(value)`, the
/// other party (and the dealer's run) `None`; both give the shape.
///
/// Party 0 masks with its private PRG and sends `x - r` (1 round, `8n` bytes); party 1 adds its
/// input to a dealer zero-sharing, whose party-1 half the dealer sends offline (0 rounds online,
/// `8n` bytes offline) - the form used for model weights.
pub async fn share_input(
    p: &mut Party,
    owner: usize,
    value: Option<&ArrayD<f64>>,
    shape: &[usize],
) -> Result<ArithShare> {
    let enc = match value {
        Some(v) => {
            let fp = p.fp();
            let mut out = Vec::with_capacity(v.len());
            for &x in v.iter() {
                out.push(fp.try_encode(x)?);
            }
            Some(ArrayD::from_shape_vec(v.raw_dim(), out).expect("same length"))
        }
        None => None,
    };
    metered!(
        p,
        "share_input",
        share_input_ring_impl(p, owner, enc.as_ref(), shape).await
    )
}

/// [`share_input`] for values already encoded in the ring.
pub async fn share_input_ring(
    p: &mut Party,
    owner: usize,
    value: Option<&ArrayD<u64>>,
    shape: &[usize],
) -> Result<ArithShare> {
    metered!(
        p,
        "share_input",
        share_input_ring_impl(p, owner, value, shape).await
    )
}

async fn share_input_ring_impl(
    p: &mut Party,
    owner: usize,
    value: Option<&ArrayD<u64>>,
    shape: &[usize],
) -> Result<ArithShare> {
    if owner > 1 {
        return Err(Error::out_of_range("input owner", owner, "party 0 or 1"));
    }
    let n: usize = shape.iter().product();
    let mine = p.id() == owner && !p.is_dealer();
    let x: Vec<u64> = if mine {
        let v = value.ok_or_else(|| {
            Error::shape(
                "share_input",
                "the owner's input",
                "none (the owner must supply it)",
            )
        })?;
        if v.shape() != shape {
            return Err(Error::shape(
                "share_input",
                format!("the declared {shape:?}"),
                format!("{:?}", v.shape()),
            ));
        }
        v.iter().copied().collect()
    } else {
        vec![0u64; n]
    };
    if owner == 0 {
        if p.id() == 0 {
            let r = p.local_words(n)?;
            let masked: Vec<u64> = x.iter().zip(&r).map(|(x, r)| x.wrapping_sub(*r)).collect();
            p.round(Some(words_to_bytes(&masked)), None).await?;
            ArithShare::from_vec(shape, r)
        } else {
            let got = p.round(None, Some(8 * n)).await?.expect("payload");
            ArithShare::from_vec(shape, bytes_to_words(&got, n)?)
        }
    } else {
        let parts = p.corr(&InputMask { n }).await?;
        let s: Vec<u64> = if p.id() == 1 {
            x.iter()
                .zip(&parts[0])
                .map(|(x, m)| x.wrapping_add(*m))
                .collect()
        } else {
            parts[0].clone()
        };
        ArithShare::from_vec(shape, s)
    }
}

/// Opens additively shared words to both parties in one round: each sends its shares and adds
/// the peer's (the opening of [`reveal_ring`] and of every Beaver-style masked operand).
pub(crate) async fn open_words(p: &mut Party, mine: Vec<u64>) -> Result<Vec<u64>> {
    let got = p.exchange(words_to_bytes(&mine)).await?;
    let other = bytes_to_words(&got, mine.len())?;
    Ok(mine
        .iter()
        .zip(&other)
        .map(|(a, b)| a.wrapping_add(*b))
        .collect())
}

/// Opens `x` to both parties (ring elements). 1 round, `8n` bytes each way.
pub async fn reveal_ring(p: &mut Party, x: &ArithShare) -> Result<ArrayD<u64>> {
    metered!(
        p,
        "reveal",
        async {
            let v = open_words(p, x.to_vec()).await?;
            Ok(ArrayD::from_shape_vec(x.data.raw_dim(), v).expect("same length"))
        }
        .await
    )
}

/// Opens `x` to both parties as fixed-point numbers.
pub async fn reveal(p: &mut Party, x: &ArithShare) -> Result<ArrayD<f64>> {
    let fp = p.fp();
    Ok(fp.decode_array(&reveal_ring(p, x).await?))
}

/// Opens `x` to party `to` only (`Some` there, `None` at the other party). 1 round, `8n` bytes
/// one way.
pub async fn reveal_to(p: &mut Party, x: &ArithShare, to: usize) -> Result<Option<ArrayD<f64>>> {
    if to > 1 {
        return Err(Error::out_of_range("reveal to", to, "party 0 or 1"));
    }
    let fp = p.fp();
    metered!(
        p,
        "reveal_to",
        async {
            if p.id() == to {
                let got = p.round(None, Some(8 * x.len())).await?.expect("payload");
                let other = bytes_to_words(&got, x.len())?;
                let v: Vec<u64> = x
                    .data
                    .iter()
                    .zip(&other)
                    .map(|(a, b)| a.wrapping_add(*b))
                    .collect();
                let a = ArrayD::from_shape_vec(x.data.raw_dim(), v).expect("same length");
                Ok(Some(fp.decode_array(&a)))
            } else {
                p.round(Some(words_to_bytes(&x.to_vec())), None).await?;
                Ok(None)
            }
        }
        .await
    )
}

/// Input sharing of `n` elements owned by `owner`.
pub fn share_input_cost(owner: usize, n: usize) -> Cost {
    if owner == 0 {
        Cost {
            rounds: 1,
            p0_to_p1: 8 * n as u64,
            ..Cost::default()
        }
    } else {
        offline_only(8 * n)
    }
}

/// Opening `n` elements to both parties.
pub fn reveal_cost(n: usize) -> Cost {
    sym(8 * n, 0)
}

/// Opening `n` elements to party `to`.
pub fn reveal_to_cost(to: usize, n: usize) -> Cost {
    let b = 8 * n as u64;
    if to == 0 {
        Cost {
            rounds: 1,
            p1_to_p0: b,
            ..Cost::default()
        }
    } else {
        Cost {
            rounds: 1,
            p0_to_p1: b,
            ..Cost::default()
        }
    }
}

/// Rows of the cost table ([`crate::mpc::bench`]).
pub(crate) const BENCH: &[BenchCase] = &[
    BenchCase {
        measure: Measure::Sharing,
        ..BenchCase::new(
            "share_input (party 0)",
            Dims::Flat,
            &[input(0, Dims::Flat, -4.0, 4.0)],
            crate::program!(|_p, x| Ok(x[0].clone())),
        )
    },
    BenchCase {
        measure: Measure::Sharing,
        ..BenchCase::new(
            "share_input (party 1)",
            Dims::Flat,
            &[input(1, Dims::Flat, -4.0, 4.0)],
            crate::program!(|_p, x| Ok(x[0].clone())),
        )
    },
    BenchCase::new(
        "reveal",
        Dims::Flat,
        &[input(0, Dims::Flat, -4.0, 4.0)],
        crate::program!(|p, x| {
            reveal(p, &x[0]).await?;
            Ok(x[0].clone())
        }),
    ),
];
