//! Dealing FSS keys: unlike the Beaver correlations of [`crate::mpc::dealer`], whose party-0
//! half expands from a seed, an FSS key pair shares correction words that depend on both
//! parties' randomness and on the secret mask, so the dealer streams key bytes to **both**
//! parties.
//!
//! A protocol describes its keys by a [`KeyRequest`] (its registry tag, the exact length of
//! each party's bundle and how to deal a pair). Requests are served in program order, like the
//! correlations: the dealer's `k`-th pair answers each party's `k`-th key request, the tags and
//! lengths are checked on both sides, and a bundle is handed out exactly once (the
//! [`KeyDealer`]'s queues pop it; remote frames carry their sequence number, so a replayed or
//! skipped frame is a protocol error). Key bytes are metered as offline traffic per direction.
//!
//! The dealer's FSS randomness comes from its own PRG keyed by SHA-256 of both dealer seeds:
//! reproducible from the session seeds (tests, the dealer's run ahead), unpredictable to each
//! party, which knows only one of the two seeds.

use std::collections::VecDeque;

use sha2::{Digest, Sha256};

use crate::mpc::{Prg, Seed};
use crate::{Error, Result};

/// A kind of FSS key bundle (one protocol's offline material for one call).
pub trait KeyRequest {
    /// The protocol's registry tag (`crate::mpc::protocols::registry`), distinct from every
    /// correlation tag.
    fn tag(&self) -> u32;
    /// Exact bytes of party `party`'s bundle.
    fn bundle_len(&self, party: usize) -> usize;
    /// Deals both parties' bundles from the dealer's randomness.
    fn deal(&self, rng: &mut Prg) -> Result<[Vec<u8>; 2]>;
}

struct Pending {
    seq: u64,
    tag: u32,
    bytes: Vec<u8>,
}

/// The dealer's FSS side: its PRG, the pairs dealt so far, and, when both parties draw from
/// one in-process dealer (the joined harness), each party's bundles not yet taken.
pub struct KeyDealer {
    rng: Prg,
    dealt: u64,
    pending: [VecDeque<Pending>; 2],
}

impl KeyDealer {
    /// The key dealer of the session whose dealer seeds are `seed0`, `seed1`.
    pub fn new(seed0: Seed, seed1: Seed) -> Self {
        let mut h = Sha256::new();
        h.update(b"mpcvit fss dealer");
        h.update(seed0.0);
        h.update(seed1.0);
        KeyDealer {
            rng: Prg::new(Seed(h.finalize().into())),
            dealt: 0,
            pending: [VecDeque::new(), VecDeque::new()],
        }
    }

    /// Key pairs dealt so far.
    pub fn dealt(&self) -> u64 {
        self.dealt
    }

    /// Bundles dealt but not yet taken by `party`.
    pub fn pending(&self, party: usize) -> usize {
        self.pending[party].len()
    }

    /// Deals the next pair (the dealer streaming to both parties).
    pub fn deal_pair(&mut self, req: &dyn KeyRequest) -> Result<[Vec<u8>; 2]> {
        let pair = req.deal(&mut self.rng)?;
        for (b, bytes) in pair.iter().enumerate() {
            if bytes.len() != req.bundle_len(b) {
                return Err(Error::Protocol(format!(
                    "fss request {}: dealt {} bytes for party {b}, declared {}",
                    req.tag(),
                    bytes.len(),
                    req.bundle_len(b)
                )));
            }
        }
        self.dealt += 1;
        Ok(pair)
    }

    /// `party`'s `seq`-th bundle in the joined harness: taken from its queue when the other
    /// party asked first, otherwise dealt now (and the other party's half queued).
    pub fn take(&mut self, party: usize, seq: u64, req: &dyn KeyRequest) -> Result<Vec<u8>> {
        if let Some(p) = self.pending[party].pop_front() {
            if p.seq != seq || p.tag != req.tag() || p.bytes.len() != req.bundle_len(party) {
                return Err(Error::Protocol(format!(
                    "party {party} asked for fss key {seq} of kind {} ({} bytes), the dealer \
                     dealt key {} of kind {} ({} bytes): the parties run different programs",
                    req.tag(),
                    req.bundle_len(party),
                    p.seq,
                    p.tag,
                    p.bytes.len()
                )));
            }
            return Ok(p.bytes);
        }
        if seq != self.dealt {
            return Err(Error::Protocol(format!(
                "party {party} asked for fss key {seq}, the dealer is at {}",
                self.dealt
            )));
        }
        let [b0, b1] = self.deal_pair(req)?;
        let (mine, other) = if party == 0 { (b0, b1) } else { (b1, b0) };
        self.pending[1 - party].push_back(Pending {
            seq,
            tag: req.tag(),
            bytes: other,
        });
        Ok(mine)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A toy bundle: party 0 gets `len0` random bytes, party 1 their complement.
    struct Toy(u32, usize);

    impl KeyRequest for Toy {
        fn tag(&self) -> u32 {
            self.0
        }
        fn bundle_len(&self, _: usize) -> usize {
            self.1
        }
        fn deal(&self, rng: &mut Prg) -> Result<[Vec<u8>; 2]> {
            let a: Vec<u8> = (0..self.1).map(|_| rng.next_u64() as u8).collect();
            let b = a.iter().map(|x| !x).collect();
            Ok([a, b])
        }
    }

    #[test]
    fn each_bundle_is_taken_once_in_order() {
        let mut d = KeyDealer::new(Seed::insecure_fixed(1), Seed::insecure_fixed(2));
        let a0 = d.take(0, 0, &Toy(300, 4)).unwrap();
        let b0 = d.take(0, 1, &Toy(301, 2)).unwrap();
        assert_eq!((d.dealt(), d.pending(1)), (2, 2));
        let a1 = d.take(1, 0, &Toy(300, 4)).unwrap();
        assert!(a0.iter().zip(&a1).all(|(x, y)| *x == !y));
        // Party 1 asks for a different kind at position 1: reported, not served.
        let e = d.take(1, 1, &Toy(302, 2)).unwrap_err();
        assert!(
            matches!(&e, Error::Protocol(m) if m.contains("different programs")),
            "{e}"
        );
        // The bundle is gone after it was taken (or refused): nothing is served twice.
        assert_eq!(d.pending(1), 0);
        let e = d.take(1, 1, &Toy(301, 2)).unwrap_err();
        assert!(
            matches!(&e, Error::Protocol(m) if m.contains("the dealer is at")),
            "{e}"
        );
        let _ = b0;
        // A fresh pair differs from the previous ones.
        let c0 = d.take(0, 2, &Toy(300, 4)).unwrap();
        assert_ne!(c0, a0);
    }

    #[test]
    fn dealer_randomness_depends_on_both_seeds() {
        let (s1, s2, s3) = (
            Seed::insecure_fixed(1),
            Seed::insecure_fixed(2),
            Seed::insecure_fixed(3),
        );
        let deal = |a, b| KeyDealer::new(a, b).deal_pair(&Toy(300, 16)).unwrap();
        assert_eq!(deal(s1, s2), deal(s1, s2));
        assert_ne!(deal(s1, s2), deal(s1, s3));
        assert_ne!(deal(s1, s2), deal(s3, s2));
    }
}
