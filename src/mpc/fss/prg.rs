//! The length-doubling PRG of the GGM tree (Goldreich-Goldwasser-Micali) behind every DPF and
//! DCF key, with two implementations measured against each other (`super::speed`):
//!
//! * [`AesMmo`]: fixed-key AES-128 in the Matyas-Meyer-Oseas mode, `H_i(s) = AES_{k_i}(s) ^ s`
//!   with one public fixed key per output lane. This is the PRG of the FSS implementations of
//!   Boyle et al. (Eurocrypt 2021, section 6), SIGMA (PETS 2024) and Pika (PETS 2022): with the
//!   block cipher modelled as a random permutation and a uniformly random secret seed `s`,
//!   `AES_k(s) ^ s` is correlation-robust (Guo et al., "Efficient and Secure Multiparty
//!   Computation from Fixed-Key Block Ciphers", S&P 2020, section 7), so the lanes are
//!   pseudorandom; the key schedule runs once per process, and one evaluation is one AES call
//!   (hardware AES natively through the `aes` crate's run-time detection, a constant-time
//!   bitsliced software AES in wasm).
//! * [`ChaChaTree`]: ChaCha12 (`rand_chacha`, the engine's [`crate::mpc::Prg`]) keyed by the
//!   seed; one call yields every lane at once. `rand_chacha` computes four ChaCha blocks per
//!   refill, so one expansion costs four blocks where one would do.
//!
//! A lane is a 128-bit [`Block`]. The tree constructions read lanes 0 and 1 as the left and right
//! child (seed and control bit), lane 2 as DCF value words and lane 3 as a DPF's leaf
//! conversion; each lane is an independent pseudorandom function of the seed.

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha12Rng;

/// A 128-bit GGM-tree seed or PRG output lane (little-endian when serialised).
pub type Block = u128;

/// The number of lanes a [`TreePrg`] provides per seed.
pub const LANES: usize = 4;

/// A PRG `G: {0,1}^128 -> ({0,1}^128)^LANES` for the GGM tree.
pub trait TreePrg {
    /// A short name for tables ("aes-mmo", "chacha12").
    const NAME: &'static str;

    /// The PRG with its fixed public parameters.
    fn new() -> Self;

    /// Lane `i < LANES` of `G(seed)`.
    fn lane(&self, seed: Block, i: usize) -> Block;

    /// Several lanes of `G(seed)`; implementations that produce all lanes at once override it.
    fn lanes<const N: usize>(&self, seed: Block, which: [usize; N]) -> [Block; N] {
        which.map(|i| self.lane(seed, i))
    }
}

/// Fixed-key AES-128 in Matyas-Meyer-Oseas mode, one fixed key per lane.
pub struct AesMmo {
    ciphers: [aes::Aes128; LANES],
}

impl AesMmo {
    /// The public fixed key of lane `i`: the first 16 bytes of SHA-256 of a label, so that
    /// anyone can check the keys are not chosen with a trapdoor ("nothing up my sleeve").
    fn fixed_key(i: usize) -> [u8; 16] {
        use sha2::{Digest, Sha256};
        let d = Sha256::digest(format!("mpcvit fss ggm prg aes-mmo lane {i}").as_bytes());
        let mut k = [0u8; 16];
        k.copy_from_slice(&d[..16]);
        k
    }
}

impl TreePrg for AesMmo {
    const NAME: &'static str = "aes-mmo";

    fn new() -> Self {
        use aes::cipher::KeyInit;
        AesMmo {
            ciphers: std::array::from_fn(|i| aes::Aes128::new(&Self::fixed_key(i).into())),
        }
    }

    fn lane(&self, seed: Block, i: usize) -> Block {
        use aes::cipher::BlockEncrypt;
        let mut b = seed.to_le_bytes().into();
        self.ciphers[i].encrypt_block(&mut b);
        u128::from_le_bytes(b.into()) ^ seed
    }
}

/// ChaCha12 keyed by the seed (the other key half is a fixed domain separator).
pub struct ChaChaTree;

impl ChaChaTree {
    fn all(seed: Block) -> [Block; LANES] {
        let mut key = [0u8; 32];
        key[..16].copy_from_slice(&seed.to_le_bytes());
        key[16..].copy_from_slice(b"mpcvit fss ggm\0\0");
        let mut rng = ChaCha12Rng::from_seed(key);
        let mut out = [0u8; 16 * LANES];
        rng.fill_bytes(&mut out);
        std::array::from_fn(|i| {
            u128::from_le_bytes(out[16 * i..16 * (i + 1)].try_into().expect("16 bytes"))
        })
    }
}

impl TreePrg for ChaChaTree {
    const NAME: &'static str = "chacha12";

    fn new() -> Self {
        ChaChaTree
    }

    fn lane(&self, seed: Block, i: usize) -> Block {
        Self::all(seed)[i]
    }

    fn lanes<const N: usize>(&self, seed: Block, which: [usize; N]) -> [Block; N] {
        let all = Self::all(seed);
        which.map(|i| all[i])
    }
}

/// Splits a child lane into its seed (low bit cleared) and its control bit (the low bit).
pub(crate) fn seed_and_bit(lane: Block) -> (Block, bool) {
    (lane & !1, lane & 1 == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lanes_are_distinct_functions<P: TreePrg>() {
        let g = P::new();
        let a = g.lanes(7, [0, 1, 2, 3]);
        assert_eq!(a, g.lanes(7, [0, 1, 2, 3]), "deterministic");
        assert_eq!(a[2], g.lane(7, 2), "lane agrees with lanes");
        for i in 0..LANES {
            for j in 0..i {
                assert_ne!(a[i], a[j]);
            }
            assert_ne!(a[i], g.lane(8, i), "depends on the seed");
        }
    }

    #[test]
    fn aes_mmo_lanes() {
        lanes_are_distinct_functions::<AesMmo>();
        // MMO: the output is the cipher's output xored with the seed (zero seed: the raw
        // encryption of zero under the lane key).
        use aes::cipher::{BlockEncrypt, KeyInit};
        let c = aes::Aes128::new(&AesMmo::fixed_key(1).into());
        let mut b = [0u8; 16].into();
        c.encrypt_block(&mut b);
        assert_eq!(AesMmo::new().lane(0, 1), u128::from_le_bytes(b.into()));
    }

    #[test]
    fn chacha_lanes() {
        lanes_are_distinct_functions::<ChaChaTree>();
    }

    #[test]
    fn lane_bits_look_balanced() {
        // A coarse sanity check of the control bits: about half of them set.
        let g = AesMmo::new();
        let ones = (0..4000u128)
            .filter(|&s| seed_and_bit(g.lane(s, 0)).1)
            .count();
        assert!((1700..2300).contains(&ones), "{ones}");
    }
}
