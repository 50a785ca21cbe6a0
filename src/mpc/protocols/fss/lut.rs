//! Lookup tables at a masked index from a **1-bit-output DPF** (Pika, Wagh, PETS 2022,
//! section 3; the XOR-share form of its full-domain evaluation): the building block of the
//! FSS exp ([`super::exp`]) and of softmax's row reciprocal ([`super::softmax`]).
//!
//! **Gate.** The dealer holds an index mask `rho` in `[0, 2^n)` and deals a DPF with 1-bit
//! outputs at `alpha = rho`, `beta = 1`. Full-domain evaluation gives each party a bit vector
//! `e_b` with `e_0 ^ e_1` the unit vector at `rho`. Given the opened index `j^ = j + rho mod
//! 2^n` (public) and a public table `T` of `2^n` ring values, party `b` computes
//! `y_b = sum over i with e_b[i] = 1 of T[(j^ - i) mod 2^n]`. Off `rho` the two vectors agree
//! and the terms cancel in `y_0 - y_1`; at `rho` exactly one party has the bit, so
//! `y_0 - y_1 = sigma T[j]` with `sigma = e_0[rho] - e_1[rho] = +-1`. Party 0 keeps `y_0`,
//! party 1 negates: additive shares of `sigma T[j]`. The sign `sigma` is a function of the
//! keys that only the dealer knows; the gate's caller removes it in its next product at no
//! extra round ([`super::signed_mul`]).
//!
//! Why 1-bit outputs and not ring outputs (which give `T[j]` directly): a 1-bit key stops the
//! tree 7 levels early (a 13-bit table: 134-byte keys and 63 leaves instead of 4,096; the
//! full-domain evaluation is the online cost, [`crate::mpc::fss::dpf::eval_all_bits`]).
//!
//! **Security** (Pika, theorem 1): each party holds one DPF key (simulated by random bytes)
//! and sees `j^`, uniform because `rho` is uniform and unknown to it. `sigma` is a function
//! of both keys: neither party can compute it alone (given one key, the other key's bit at any
//! point is uniform), so it reveals nothing of `rho`. A key is consumed with its one opened
//! index.

use super::super::super::fss::codec::in_domain;
use super::super::super::fss::dpf::{self, DpfKey};
use super::super::super::fss::{EnginePrg, KeyError};
use crate::mpc::Prg;
use crate::Result;

/// Bytes of one party's lookup key on a `2^bits`-entry table.
pub(crate) fn key_len(bits: u32) -> Result<usize> {
    Ok(dpf::key_len(bits, 0)?)
}

/// Deals a lookup at index mask `rho` (`bits`-bit): both parties' key bytes and the sign
/// `sigma` of the shares the lookup will give, as a ring element (`1` or `2^64 - 1`).
pub(crate) fn deal(
    g: &EnginePrg,
    bits: u32,
    rho: u64,
    rng: &mut Prg,
) -> Result<([Vec<u8>; 2], u64)> {
    let [k0, k1] = dpf::gen(g, bits, 0, rho, 1, rng)?;
    // Exactly one party's bit is set at rho: sigma = +1 when it is party 0's.
    let sigma = if dpf::eval(g, &k0, rho)? == 1 {
        1
    } else {
        u64::MAX
    };
    Ok(([k0.to_bytes(), k1.to_bytes()], sigma))
}

/// Parses party `party`'s lookup key on a `2^bits`-entry table.
pub(crate) fn parse(bytes: &[u8], party: usize, bits: u32) -> Result<DpfKey> {
    Ok(DpfKey::from_bytes(bytes, party, bits, 0)?)
}

/// Party `key.party()`'s share of `sigma T[(j_hat - rho) mod 2^bits]` (`table` has exactly
/// `2^bits` entries, `j_hat < 2^bits`).
pub(crate) fn lookup(g: &EnginePrg, key: &DpfKey, j_hat: u64, table: &[u64]) -> Result<u64> {
    let n = table.len();
    if !n.is_power_of_two() || key.bits() != n.trailing_zeros() {
        return Err(KeyError::Header {
            kind: "lookup table",
            field: "bits",
            expected: format!("log2 of the table's {n} entries"),
            got: key.bits() as u64,
        }
        .into());
    }
    in_domain("lookup table", "index", j_hat, key.bits())?;
    let bits = dpf::eval_all_bits(g, key)?;
    let mut y = 0u64;
    let wrap = n - 1;
    for (block_index, block) in bits.into_iter().enumerate() {
        let mut b = block;
        while b != 0 {
            let i = block_index * 128 + b.trailing_zeros() as usize;
            y = y.wrapping_add(table[(j_hat as usize).wrapping_sub(i) & wrap]);
            b &= b - 1;
        }
    }
    Ok(if key.party() == 1 {
        y.wrapping_neg()
    } else {
        y
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mpc::fss::TreePrg;
    use crate::mpc::Seed;

    #[test]
    fn lookup_gives_the_signed_entry_at_every_index() {
        let g = EnginePrg::new();
        let mut rng = Prg::new(Seed::insecure_fixed(71));
        for bits in [1u32, 5, 7, 8, 10] {
            let n = 1usize << bits;
            let table: Vec<u64> = (0..n).map(|_| rng.next_u64()).collect();
            for rho in [0, n as u64 - 1, rng.next_u64() % n as u64] {
                let ([b0, b1], sigma) = deal(&g, bits, rho, &mut rng).unwrap();
                assert_eq!(b0.len(), key_len(bits).unwrap());
                let (k0, k1) = (parse(&b0, 0, bits).unwrap(), parse(&b1, 1, bits).unwrap());
                for j in 0..n as u64 {
                    let j_hat = (j + rho) % n as u64;
                    let y = lookup(&g, &k0, j_hat, &table)
                        .unwrap()
                        .wrapping_add(lookup(&g, &k1, j_hat, &table).unwrap());
                    assert_eq!(
                        y,
                        sigma.wrapping_mul(table[j as usize]),
                        "bits {bits} j {j}"
                    );
                }
            }
        }
    }

    #[test]
    fn both_signs_occur_and_bad_indices_are_refused() {
        let g = EnginePrg::new();
        let mut rng = Prg::new(Seed::insecure_fixed(72));
        let signs: Vec<u64> = (0..64)
            .map(|_| deal(&g, 6, 3, &mut rng).unwrap().1)
            .collect();
        // sigma is a fair coin of the keys: a dealer that always dealt +1 would leak rho.
        assert!(signs.contains(&1) && signs.contains(&u64::MAX));
        let ([b0, _], _) = deal(&g, 6, 3, &mut rng).unwrap();
        let k0 = parse(&b0, 0, 6).unwrap();
        let table = vec![1u64; 64];
        assert!(matches!(
            lookup(&g, &k0, 64, &table),
            Err(crate::Error::FssKey(KeyError::Domain { .. }))
        ));
        assert!(matches!(
            lookup(&g, &k0, 0, &table[..32]),
            Err(crate::Error::FssKey(KeyError::Header { field: "bits", .. }))
        ));
        assert_err!(parse(&b0, 1, 6), crate::Error::FssKey(_));
    }
}
