//! The pseudo-random generator: ChaCha with 12 rounds (`rand_chacha`) keyed by a 256-bit
//! [`Seed`]. Twelve rounds is the choice of `rand`'s own CSPRNG (`StdRng`) and of Adiantum: the
//! best known attacks reach 7 rounds, and the PRG is a large share of a private inference's
//! compute (every correlated value is expanded by the dealer and by one party), so the 20-round
//! variant's extra margin costs about a third of the PRG time for no known gain. Seeds come from the operating system's CSPRNG (`getrandom`, which uses
//! `crypto.getRandomValues` in a browser or Node); only tests and reproducible demos fix them,
//! through the explicitly named [`Seed::insecure_fixed`].
//!
//! One PRG is kept per pair of parties: (dealer, party 0), (dealer, party 1), and one private
//! PRG per party for its own masks. Expanding a seed is deterministic, which is what lets the
//! dealer and a party derive the same correlated randomness without talking (see
//! [`super::dealer`]).

use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha12Rng;

use crate::{Error, Result};

/// A 256-bit PRG seed.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Seed(pub [u8; 32]);

impl std::fmt::Debug for Seed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.write_str("Seed(..)")
    }
}

impl Seed {
    /// A fresh seed from the operating system's CSPRNG.
    pub fn from_os() -> Result<Seed> {
        let mut s = [0u8; 32];
        getrandom::fill(&mut s).map_err(|e| Error::Randomness(e.to_string()))?;
        Ok(Seed(s))
    }

    /// A seed derived from a small number. **Insecure**: for tests and reproducible
    /// benchmarks only; never use it for a real session.
    pub fn insecure_fixed(n: u64) -> Seed {
        let mut s = [0u8; 32];
        s[..8].copy_from_slice(&n.to_le_bytes());
        s[8..16].copy_from_slice(b"INSECURE");
        Seed(s)
    }
}

/// A ChaCha12 stream.
pub struct Prg {
    rng: ChaCha12Rng,
}

impl Prg {
    /// The stream of `seed`.
    pub fn new(seed: Seed) -> Prg {
        Prg {
            rng: ChaCha12Rng::from_seed(seed.0),
        }
    }

    /// A stream seeded from the operating system.
    pub fn from_os() -> Result<Prg> {
        Ok(Prg::new(Seed::from_os()?))
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.rng.next_u64()
    }

    /// `n` uniformly random ring elements.
    pub fn words(&mut self, n: usize) -> Vec<u64> {
        let mut v = vec![0u64; n];
        // Same stream as `n` calls of `next_u64`, filled block by block.
        self.rng.fill(&mut v[..]);
        v
    }

    /// `nbits` uniformly random bits packed into `ceil(nbits / 64)` words, the unused high
    /// bits of the last word cleared.
    pub fn bits(&mut self, nbits: usize) -> Vec<u64> {
        let mut v = self.words(nbits.div_ceil(64));
        if !nbits.is_multiple_of(64) {
            if let Some(last) = v.last_mut() {
                *last &= (1u64 << (nbits % 64)) - 1;
            }
        }
        v
    }

    /// A fresh seed drawn from this stream (to key a sub-stream).
    pub fn seed(&mut self) -> Seed {
        let mut s = [0u8; 32];
        self.rng.fill_bytes(&mut s);
        Seed(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_distinct() {
        let a = Prg::new(Seed::insecure_fixed(1)).words(4);
        let b = Prg::new(Seed::insecure_fixed(1)).words(4);
        let c = Prg::new(Seed::insecure_fixed(2)).words(4);
        assert_eq!(a, b);
        assert_ne!(a, c);
        let os1 = Seed::from_os().unwrap();
        let os2 = Seed::from_os().unwrap();
        assert_ne!(os1, os2);
        assert_eq!(format!("{os1:?}"), "Seed(..)");
    }

    #[test]
    fn words_follow_the_u64_stream() {
        let mut a = Prg::new(Seed::insecure_fixed(4));
        let mut b = Prg::new(Seed::insecure_fixed(4));
        let bulk = a.words(37);
        let one_by_one: Vec<u64> = (0..37).map(|_| b.next_u64()).collect();
        assert_eq!(bulk, one_by_one);
        assert_eq!(a.next_u64(), b.next_u64());
    }

    #[test]
    fn bits_are_masked() {
        let mut p = Prg::new(Seed::insecure_fixed(3));
        let b = p.bits(70);
        assert_eq!(b.len(), 2);
        assert_eq!(b[1] >> 6, 0);
    }
}
