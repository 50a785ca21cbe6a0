//! The length-doubling PRG of the GGM tree (Goldreich-Goldwasser-Micali) behind every DPF and
//! DCF key, with two implementations measured against each other (`super::speed`):
//!
//! * [`AesMmo`]: fixed-key AES-128 in the Matyas-Meyer-Oseas mode with the lane index as a
//!   tweak, `H_i(s) = AES_k(s ^ i) ^ s ^ i` under one public fixed key `k`. Fixed-key AES is
//!   the PRG of the FSS implementations of Boyle et al. (Eurocrypt 2021, section 6), SIGMA
//!   (PETS 2024) and Pika (PETS 2022). With AES modelled as a random permutation `pi` and a
//!   uniformly random secret seed `s`, the points `s ^ i` (`i < 4`, distinct) are unknown to
//!   anyone who lacks `s`, so an adversary making `q` queries to `pi` hits one with probability
//!   at most `4q / 2^127` and the lanes are uniform and independent up to that (Guo et al.,
//!   "Efficient and Secure Multiparty Computation from Fixed-Key Block Ciphers", S&P 2020,
//!   section 7, on MMO hashes under fixed-key AES; the tree's many seeds are independent, so a
//!   union bound over them keeps the advantage negligible). One key means every lane of every
//!   seed goes through the same cipher, so a node's lanes, and a tree level's nodes, are
//!   encrypted in one call ([`TreePrg::expand_many`]): AES-NI pipelines eight blocks, and the bitsliced
//!   software AES (wasm32's fixslice32) computes two blocks in the time of one. The key
//!   schedule runs once per process (hardware AES natively through the `aes` crate's run-time
//!   detection, a constant-time bitsliced software AES in wasm).
//! * [`ChaChaTree`]: ChaCha12 (`rand_chacha`, the engine's [`crate::mpc::Prg`]) keyed by the
//!   seed; one call yields every lane at once. `rand_chacha` computes four ChaCha blocks per
//!   refill, so one expansion costs four blocks where one would do.
//!
//! A lane is a 128-bit [`Block`]. The tree constructions read lanes 0 and 1 as the left and right
//! child (seed and control bit), lanes 2 and 3 as a DCF node's value words (`super::dcf` lays
//! them out so that an evaluator needs two lanes per level) and lane 3 as a DPF's leaf
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

    /// The lanes `which` of every seed, seed-major: `out[k * which.len() + j]` is lane
    /// `which[j]` of `seeds[k]` (`out` is cleared first). Implementations that encrypt many
    /// blocks per call override it.
    fn expand_many(&self, seeds: &[Block], which: &[usize], out: &mut Vec<Block>) {
        out.clear();
        out.extend(
            seeds
                .iter()
                .flat_map(|&s| which.iter().map(move |&i| self.lane(s, i))),
        );
    }
}

/// Fixed-key AES-128 in Matyas-Meyer-Oseas mode, the lane index xored into the input.
pub struct AesMmo {
    cipher: aes::Aes128,
}

/// AES blocks encrypted per call in [`AesMmo::expand_many`]: a multiple of AES-NI's eight-block
/// pipeline, small enough to stay in L1.
const AES_BATCH: usize = 64;

impl AesMmo {
    /// The public fixed key: the first 16 bytes of SHA-256 of a label, so that anyone can check
    /// it is not chosen with a trapdoor ("nothing up my sleeve").
    fn fixed_key() -> [u8; 16] {
        use sha2::{Digest, Sha256};
        let d = Sha256::digest(b"mpcvit fss ggm prg aes-mmo");
        let mut k = [0u8; 16];
        k.copy_from_slice(&d[..16]);
        k
    }

    /// `out[j] = H(inputs[j])` with `H(x) = AES_k(x) ^ x`, in place, in batches.
    fn mmo_in_place(&self, blocks: &mut [Block]) {
        use aes::cipher::BlockEncrypt;
        let mut buf = [aes::Block::default(); AES_BATCH];
        for chunk in blocks.chunks_mut(AES_BATCH) {
            let buf = &mut buf[..chunk.len()];
            for (b, x) in buf.iter_mut().zip(chunk.iter()) {
                *b = x.to_le_bytes().into();
            }
            self.cipher.encrypt_blocks(buf);
            for (x, b) in chunk.iter_mut().zip(buf.iter()) {
                *x ^= u128::from_le_bytes((*b).into());
            }
        }
    }
}

impl TreePrg for AesMmo {
    const NAME: &'static str = "aes-mmo";

    fn new() -> Self {
        use aes::cipher::KeyInit;
        AesMmo {
            cipher: aes::Aes128::new(&Self::fixed_key().into()),
        }
    }

    fn lane(&self, seed: Block, i: usize) -> Block {
        self.lanes(seed, [i])[0]
    }

    fn lanes<const N: usize>(&self, seed: Block, which: [usize; N]) -> [Block; N] {
        use aes::cipher::BlockEncrypt;
        let inputs = which.map(|i| seed ^ i as Block);
        let mut buf = inputs.map(|x| aes::Block::from(x.to_le_bytes()));
        self.cipher.encrypt_blocks(&mut buf);
        std::array::from_fn(|j| inputs[j] ^ u128::from_le_bytes(buf[j].into()))
    }

    fn expand_many(&self, seeds: &[Block], which: &[usize], out: &mut Vec<Block>) {
        out.clear();
        out.extend(
            seeds
                .iter()
                .flat_map(|&s| which.iter().map(move |&i| s ^ i as Block)),
        );
        self.mmo_in_place(out);
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
        // MMO with the lane as tweak: lane i of seed 0 is AES_k(i) ^ i.
        use aes::cipher::{BlockEncrypt, KeyInit};
        let c = aes::Aes128::new(&AesMmo::fixed_key().into());
        let mut b = 1u128.to_le_bytes().into();
        c.encrypt_block(&mut b);
        assert_eq!(AesMmo::new().lane(0, 1), u128::from_le_bytes(b.into()) ^ 1);
    }

    fn many_agrees_with_lanes<P: TreePrg>() {
        let g = P::new();
        // More seeds than one AES batch, so the chunking is crossed.
        let seeds: Vec<Block> = (0..100u128)
            .map(|k| (k * 0x9E37_79B9_7F4A_7C15) << 3)
            .collect();
        let mut out = Vec::new();
        g.expand_many(&seeds, &[3, 0], &mut out);
        assert_eq!(out.len(), 200);
        for (k, &s) in seeds.iter().enumerate() {
            assert_eq!([out[2 * k], out[2 * k + 1]], g.lanes(s, [3, 0]), "seed {k}");
        }
    }

    #[test]
    fn expand_many_agrees_with_lanes() {
        many_agrees_with_lanes::<AesMmo>();
        many_agrees_with_lanes::<ChaChaTree>();
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
