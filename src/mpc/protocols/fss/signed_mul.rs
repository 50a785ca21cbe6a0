//! The product of a shared value and a shared **signed** factor `v' = sigma v`, where the sign
//! `sigma = +-1` is known to the dealer only, in **one online round**: Beaver's multiplication
//! (CRYPTO 1991) with the triple scaled by `sigma`. It removes the sign that the lookup gate
//! ([`super::lut`]) leaves on its output at no extra round, because the product that uses the
//! looked-up value is needed anyway (exp: the clip bit times the entry; softmax: each
//! exponential times its row's reciprocal).
//!
//! **Protocol.** For a row of `len` elements `x_i` and one factor `v'` (broadcast along the
//! row; `len = 1` is the element-wise product), the dealer deals shares of `b`, `sigma`,
//! `sigma b` for the row and of `a_i`, `sigma a_i`, `sigma a_i b` for each element (`a`, `b`
//! uniform). Online, the parties open `eps_i = x_i - a_i` and `delta = v' - b` (one round), and
//! `x_i v = sigma x_i v' = sigma eps_i delta + eps_i (sigma b) + delta (sigma a_i) + sigma a_i b`
//! is linear in the dealt shares. The result is the ring product: a fixed-point caller
//! truncates it.
//!
//! **Cost** ([`cost`]): 1 round, `8 (rows len + rows)` bytes each way; offline `8 (3 + 3 len)`
//! bytes per row and party, inside the bundle of the gate that produced `v'`.
//!
//! **Security.** Party `b` receives additive shares of `b`, `sigma`, `sigma b`, `a_i`,
//! `sigma a_i`, `sigma a_i b` (each share alone uniform) and the peer's shares of `eps_i` and
//! `delta`, uniform because `a_i` and `b` are uniform and unknown to it: a simulator samples
//! uniform words. The material is dealt in the same bundle as the gate whose sign it carries
//! and consumed with it.

use super::super::super::party::Party;
use super::super::cost::Cost;
use super::gate::{split, word_at};
use crate::mpc::Prg;
use crate::{Error, Result};

/// One party's material for one row.
pub(crate) struct RowKey {
    /// Shares of `b`, `sigma`, `sigma b`.
    b: u64,
    sigma: u64,
    sigma_b: u64,
    /// Shares of `a_i`, `sigma a_i`, `sigma a_i b` per element.
    elems: Vec<[u64; 3]>,
}

impl RowKey {
    /// Bytes of one party's material for a row of `len` elements.
    pub(crate) fn bytes_len(len: usize) -> usize {
        8 * (3 + 3 * len)
    }

    /// Parses a row of `len` elements from exactly [`RowKey::bytes_len`] bytes (the caller's
    /// bundle parser has checked the length).
    pub(crate) fn parse(bytes: &[u8], len: usize) -> RowKey {
        debug_assert_eq!(bytes.len(), Self::bytes_len(len));
        let w = |i: usize| word_at(bytes, 8 * i);
        RowKey {
            b: w(0),
            sigma: w(1),
            sigma_b: w(2),
            elems: (0..len)
                .map(|i| [w(3 + 3 * i), w(4 + 3 * i), w(5 + 3 * i)])
                .collect(),
        }
    }
}

/// Deals one row of `len` elements for the sign `sigma`: both parties' bytes.
pub(crate) fn deal_row(sigma: u64, len: usize, rng: &mut Prg) -> [Vec<u8>; 2] {
    let b = rng.next_u64();
    let mut words = vec![
        split(b, rng),
        split(sigma, rng),
        split(sigma.wrapping_mul(b), rng),
    ];
    for _ in 0..len {
        let a = rng.next_u64();
        let sa = sigma.wrapping_mul(a);
        words.extend([
            split(a, rng),
            split(sa, rng),
            split(sa.wrapping_mul(b), rng),
        ]);
    }
    let mut out = [Vec::new(), Vec::new()];
    for (party, bytes) in out.iter_mut().enumerate() {
        for w in &words {
            bytes.extend_from_slice(&w[party].to_le_bytes());
        }
    }
    out
}

/// Shares of the ring products `x_i v` for rows each as long as its material (rows may differ:
/// LayerNorm folded into two maps of different widths), from shares of `x` (row after row), of
/// the signed factors `v'_r = sigma_r v_r` (one per row) and
/// each row's material. One round.
pub(crate) async fn signed_mul(
    p: &mut Party,
    x: &[u64],
    v_signed: &[u64],
    rows: Vec<RowKey>,
) -> Result<Vec<u64>> {
    let (pending, payload) = open(x, v_signed, rows)?;
    let got = p.exchange(payload).await?;
    close(pending, &got)
}

/// A product whose openings are in flight.
pub(crate) struct Pending {
    rows: Vec<RowKey>,
    n: usize,
    mine: Vec<u8>,
}

/// The party's openings `eps_i = x_i - a_i`, `delta_r = v'_r - b_r` of [`signed_mul`], to send
/// (alone or with other bytes of the same round, [`super::range_reduced`]).
pub(crate) fn open(x: &[u64], v_signed: &[u64], rows: Vec<RowKey>) -> Result<(Pending, Vec<u8>)> {
    let n: usize = rows.iter().map(|r| r.elems.len()).sum();
    if v_signed.len() != rows.len() || x.len() != n {
        return Err(Error::ShapeMismatch {
            op: "fss signed product",
            expected: format!(
                "{} rows of {n} elements in all and one factor each",
                rows.len()
            ),
            got: format!("{} elements and {} factors", x.len(), v_signed.len()),
        });
    }
    let mut mine = Vec::with_capacity(8 * (x.len() + rows.len()));
    for (xi, e) in x.iter().zip(rows.iter().flat_map(|r| &r.elems)) {
        mine.extend_from_slice(&xi.wrapping_sub(e[0]).to_le_bytes());
    }
    for (v, row) in v_signed.iter().zip(&rows) {
        mine.extend_from_slice(&v.wrapping_sub(row.b).to_le_bytes());
    }
    let payload = mine.clone();
    Ok((Pending { rows, n, mine }, payload))
}

/// The products from the peer's openings (`got`, as long as this party's).
pub(crate) fn close(pending: Pending, got: &[u8]) -> Result<Vec<u64>> {
    let Pending { rows, n, mine } = pending;
    if got.len() != mine.len() {
        return Err(Error::Protocol(format!(
            "fss signed product: {} bytes of openings, expected {}",
            got.len(),
            mine.len()
        )));
    }
    let opened = |i: usize| word_at(&mine, 8 * i).wrapping_add(word_at(got, 8 * i));
    let mut out = Vec::with_capacity(n);
    for (r, row) in rows.iter().enumerate() {
        let delta = opened(n + r);
        for e in &row.elems {
            let eps = opened(out.len());
            out.push(
                row.sigma
                    .wrapping_mul(eps.wrapping_mul(delta))
                    .wrapping_add(eps.wrapping_mul(row.sigma_b))
                    .wrapping_add(delta.wrapping_mul(e[1]))
                    .wrapping_add(e[2]),
            );
        }
    }
    Ok(out)
}

/// Online cost of [`signed_mul`] on `rows` rows of `len` elements (its offline bytes are in
/// the calling gate's bundle).
pub(crate) fn cost(rows: usize, len: usize) -> Cost {
    cost_elements(rows, rows * len)
}

/// Online cost of [`signed_mul`] on `rows` rows of `n` elements in all (of any lengths).
pub(crate) fn cost_elements(rows: usize, n: usize) -> Cost {
    let each = 8 * (n + rows) as u64;
    Cost {
        rounds: 1,
        p0_to_p1: each,
        p1_to_p0: each,
        ..Cost::default()
    }
}
