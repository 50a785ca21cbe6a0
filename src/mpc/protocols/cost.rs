//! The cost of a protocol run: rounds, online payload bytes in each direction and offline
//! bytes, as a value that formulas add up.
//!
//! Each protocol's file has its formula (`mul_cost`, `msb_cost`, ...) mirroring its sequence of
//! rounds and correlations, so a change in a protocol's rounds or bytes must be matched there;
//! the tests assert the meter against these formulas for every protocol. Frame headers (20 bytes
//! per message) are not included (see [`super::super::meter`]).

use std::ops::{Add, AddAssign, Mul};

/// Rounds and bytes of a protocol run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cost {
    /// Communication rounds.
    pub rounds: u64,
    /// Online payload bytes party 0 -> party 1.
    pub p0_to_p1: u64,
    /// Online payload bytes party 1 -> party 0.
    pub p1_to_p0: u64,
    /// Offline bytes dealer -> party 1.
    pub offline: u64,
    /// Offline bytes dealer -> party 0 (FSS keys only: classic correlations expand from party
    /// 0's seed).
    pub offline_p0: u64,
}

impl Add for Cost {
    type Output = Cost;
    fn add(self, o: Cost) -> Cost {
        Cost {
            rounds: self.rounds + o.rounds,
            p0_to_p1: self.p0_to_p1 + o.p0_to_p1,
            p1_to_p0: self.p1_to_p0 + o.p1_to_p0,
            offline: self.offline + o.offline,
            offline_p0: self.offline_p0 + o.offline_p0,
        }
    }
}

impl AddAssign for Cost {
    fn add_assign(&mut self, o: Cost) {
        *self = *self + o;
    }
}

impl Mul<u64> for Cost {
    type Output = Cost;
    fn mul(self, k: u64) -> Cost {
        Cost {
            rounds: self.rounds * k,
            p0_to_p1: self.p0_to_p1 * k,
            p1_to_p0: self.p1_to_p0 * k,
            offline: self.offline * k,
            offline_p0: self.offline_p0 * k,
        }
    }
}

/// One symmetric round with `each` bytes each way and `offline` dealer bytes.
pub(crate) fn sym(each: usize, offline: usize) -> Cost {
    Cost {
        rounds: 1,
        p0_to_p1: each as u64,
        p1_to_p0: each as u64,
        offline: offline as u64,
        offline_p0: 0,
    }
}

/// Only offline bytes (dealer -> party 1).
pub(crate) fn offline_only(bytes: usize) -> Cost {
    Cost {
        offline: bytes as u64,
        ..Cost::default()
    }
}
