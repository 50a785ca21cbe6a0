//! What a correlation is, for the dealer ([`super::dealer`]) and the protocols that consume
//! one: a list of components ([`Correlation::layout`]), each a ring tensor (`Arith`, additive
//! shares) or a packed bit vector (`Bits`, XOR shares) with a [`CompRole`]:
//!
//! * `Free`: both parties draw their share from their own dealer-seeded PRG;
//! * `P0Only` / `P1Only`: one party draws the whole value, the other holds zero;
//! * `Dep`: the value depends on the others (e.g. `c = a b`): party 0 draws its share from its
//!   PRG, party 1's share is a *correction* computed by the dealer (who knows both seeds) and
//!   sent to party 1 only.
//!
//! Each protocol defines its correlation next to its online steps (a type implementing
//! [`Correlation`]: layout and the dependent values) and registers its frame tag in
//! [`super::protocols::registry`]. The dealer needs nothing else to serve it.

use crate::mpc::prg::Prg;
use crate::Result;

/// How a component's shares are produced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompRole {
    /// Both shares random.
    Free,
    /// Party 0 holds the value, party 1 zero.
    P0Only,
    /// Party 1 holds the value, party 0 zero.
    P1Only,
    /// Party 0's share random, party 1's share sent by the dealer.
    Dep,
}

/// A component's ring.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompRing {
    /// `n` ring elements, additively shared.
    Arith(usize),
    /// `n` bits packed into words, XOR-shared.
    Bits(usize),
}

impl CompRing {
    /// Words a share of this component occupies.
    pub(crate) fn words(self) -> usize {
        match self {
            CompRing::Arith(n) => n,
            CompRing::Bits(n) => n.div_ceil(64),
        }
    }

    /// Bytes of this component on the wire.
    pub(crate) fn bytes(self) -> usize {
        match self {
            CompRing::Arith(n) => 8 * n,
            CompRing::Bits(n) => n.div_ceil(8),
        }
    }
}

/// A kind of correlated randomness, with its shape: what the dealer must produce for one call
/// of a protocol.
pub trait Correlation: std::fmt::Debug {
    /// The frame tag of this kind ([`super::protocols::registry`]), checked by party 1 on every
    /// correction frame so that a dealer out of step is reported, not trusted.
    fn tag(&self) -> u32;
    /// The components, in PRG draw order.
    fn layout(&self) -> Vec<(CompRing, CompRole)>;
    /// The true values of the `Dep` components given the true values of all components
    /// (`Dep` entries of `values` are zeros and must be ignored), in layout order.
    fn dependent_values(&self, values: &[Vec<u64>]) -> Result<Vec<Vec<u64>>>;
}

/// One party's components of a correlation, in layout order (zeros where it holds nothing).
pub type Parts = Vec<Vec<u64>>;

/// Offline bytes the dealer sends party 1 for `req`.
pub fn correction_bytes(req: &dyn Correlation) -> usize {
    req.layout()
        .iter()
        .filter(|(_, r)| *r == CompRole::Dep)
        .map(|(c, _)| c.bytes())
        .sum()
}

/// Draws `party`'s PRG-expanded components (`None` for party 1's `Dep` components).
pub(crate) fn draw(req: &dyn Correlation, party: usize, prg: &mut Prg) -> Vec<Option<Vec<u64>>> {
    req.layout()
        .into_iter()
        .map(|(ring, role)| {
            let mine = match role {
                CompRole::Free => true,
                CompRole::P0Only => party == 0,
                CompRole::P1Only => party == 1,
                CompRole::Dep => party == 0,
            };
            if mine {
                Some(match ring {
                    CompRing::Arith(n) => prg.words(n),
                    CompRing::Bits(n) => prg.bits(n),
                })
            } else if role == CompRole::Dep {
                None
            } else {
                Some(vec![0u64; ring.words()])
            }
        })
        .collect()
}

/// Bit `i` of a packed bit vector.
pub(crate) fn bit(words: &[u64], i: usize) -> u64 {
    (words[i / 64] >> (i % 64)) & 1
}

/// For tests of a correlation: both parties' parts from one dealer, with the bytes party 1
/// received checked against [`correction_bytes`].
#[cfg(test)]
pub(crate) fn deal_for_test(req: &dyn Correlation) -> (Parts, Parts) {
    use crate::mpc::dealer::{Dealer, DealerClient};
    use crate::mpc::Seed;
    use std::cell::RefCell;
    use std::rc::Rc;
    let (s0, s1) = (Seed::insecure_fixed(10), Seed::insecure_fixed(11));
    let dealer = Rc::new(RefCell::new(Dealer::new(s0, s1)));
    let mut c0 = DealerClient::party0(s0);
    let mut c1 = DealerClient::party1_on_demand(s1, dealer);
    let (p0, _) = futures::executor::block_on(c0.get(req)).expect("party 0's parts");
    let (p1, off) = futures::executor::block_on(c1.get(req)).expect("party 1's parts");
    assert_eq!(off.recv, correction_bytes(req));
    (p0, p1)
}

/// For tests: component `i` opened additively.
#[cfg(test)]
pub(crate) fn open_add(p0: &Parts, p1: &Parts, i: usize) -> Vec<u64> {
    p0[i]
        .iter()
        .zip(&p1[i])
        .map(|(a, b)| a.wrapping_add(*b))
        .collect()
}

/// For tests: component `i` opened by XOR.
#[cfg(test)]
pub(crate) fn open_xor(p0: &Parts, p1: &Parts, i: usize) -> Vec<u64> {
    p0[i].iter().zip(&p1[i]).map(|(a, b)| a ^ b).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mpc::protocols::b2a::{BitMul, BitPair};
    use crate::mpc::protocols::beaver::{Square, Triple};
    use crate::mpc::protocols::input::InputMask;
    use crate::mpc::protocols::matmul::MatTriple;
    use crate::mpc::protocols::msb::{AndTriple, OneSidedAnd};
    use crate::mpc::protocols::trunc::TruncPair;

    #[test]
    fn every_registered_correlation_holds() {
        let (p0, p1) = deal_for_test(&Triple {
            x: vec![2, 3],
            y: vec![3],
        });
        let (a, b, c) = (
            open_add(&p0, &p1, 0),
            open_add(&p0, &p1, 1),
            open_add(&p0, &p1, 2),
        );
        assert!((0..6).all(|i| c[i] == a[i].wrapping_mul(b[i % 3])));

        let (p0, p1) = deal_for_test(&Square { n: 5 });
        let (a, c) = (open_add(&p0, &p1, 0), open_add(&p0, &p1, 1));
        assert!(a.iter().zip(&c).all(|(a, c)| a.wrapping_mul(*a) == *c));

        let (p0, p1) = deal_for_test(&MatTriple {
            bx: 2,
            by: 1,
            m: 2,
            k: 3,
            p: 2,
        });
        let (a, b, c) = (
            open_add(&p0, &p1, 0),
            open_add(&p0, &p1, 1),
            open_add(&p0, &p1, 2),
        );
        for i in 0..2 {
            let want = crate::mpc::ring::matmul(&a[i * 6..(i + 1) * 6], &b, 2, 3, 2);
            assert_eq!(&c[i * 4..(i + 1) * 4], &want[..]);
        }

        let (p0, p1) = deal_for_test(&AndTriple { nbits: 70 });
        let (u, v, w) = (
            open_xor(&p0, &p1, 0),
            open_xor(&p0, &p1, 1),
            open_xor(&p0, &p1, 2),
        );
        assert!(u.iter().zip(&v).zip(&w).all(|((u, v), w)| u & v == *w));
        assert_eq!(w[1] >> 6, 0);

        let (p0, p1) = deal_for_test(&OneSidedAnd { nbits: 64 });
        assert!(p1[0].iter().all(|&x| x == 0) && p0[1].iter().all(|&x| x == 0));
        let w = open_xor(&p0, &p1, 2);
        assert!(p0[0]
            .iter()
            .zip(&p1[1])
            .zip(&w)
            .all(|((u, v), w)| u & v == *w));

        let (p0, p1) = deal_for_test(&BitPair { n: 9 });
        let (r, ra) = (open_xor(&p0, &p1, 0), open_add(&p0, &p1, 1));
        assert!((0..9).all(|i| bit(&r, i) == ra[i]));

        let (p0, p1) = deal_for_test(&BitMul { n: 9 });
        let (r, a) = (open_xor(&p0, &p1, 0), open_add(&p0, &p1, 1));
        let (rr, ra) = (open_add(&p0, &p1, 2), open_add(&p0, &p1, 3));
        assert!((0..9).all(|i| bit(&r, i) == rr[i] && ra[i] == a[i].wrapping_mul(bit(&r, i))));

        let (p0, p1) = deal_for_test(&TruncPair { n: 4, bits: 16 });
        let (r, msb, mid) = (
            open_add(&p0, &p1, 0),
            open_add(&p0, &p1, 1),
            open_add(&p0, &p1, 2),
        );
        for i in 0..4 {
            assert_eq!(msb[i], r[i] >> 63);
            assert_eq!(mid[i], (r[i] & (u64::MAX >> 1)) >> 16);
        }

        let (p0, p1) = deal_for_test(&InputMask { n: 3 });
        assert!(open_add(&p0, &p1, 0).iter().all(|&x| x == 0));
    }
}
