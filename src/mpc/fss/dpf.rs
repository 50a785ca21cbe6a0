//! Distributed point function (DPF): Boyle, Gilboa and Ishai, "Function Secret Sharing:
//! Improvements and Extensions", CCS 2016, figure 1 (the tree construction), with its early
//! termination (section 3.2.1).
//!
//! The function is `f_{alpha,beta}(x) = beta if x == alpha else 0` on `n`-bit inputs
//! (`n <= 64`) with outputs in Z_2^l for `l` in 1, 2, 4, ..., 64 (the lookup-table and bit-vector
//! outputs of Pika, PETS 2022, and SIGMA, PETS 2024). [`eval`] gives additive shares mod 2^l
//! (xor shares when `l = 1`); [`eval_all`] evaluates the whole domain at once.
//!
//! **Construction.** As in the DCF ([`super::dcf`]) the two keys' GGM walks agree off the path of
//! `alpha` and differ on it, with control bits `t_0 ^ t_1 = 1` on the path; each level's
//! correction word `(s_CW, tL_CW, tR_CW)` re-synchronises the child that leaves the path. A leaf
//! seed is converted into `2^nu` output words by one more PRG lane; the last correction word
//! `CW_{n+1}` turns the difference at `alpha`'s leaf into `beta` at `alpha`'s word and zero
//! elsewhere.
//!
//! **Early termination.** A 128-bit leaf holds `128 / l` output words, so the tree stops
//! `nu = min(log2(128 / l), n)` levels early and the low `nu` bits of `x` pick the word: one
//! level for 64-bit outputs, seven for bits. It pays for full-domain evaluation (`2^(n - nu)`
//! leaves instead of `2^n`: 128 times fewer PRG calls for a bit table) and for key size (one
//! correction word less per level saved); a single-point evaluation saves `nu` PRG calls and
//! pays one for the conversion.
//!
//! **Security** (BGI 2016, theorem 3.3): each key alone is simulated by random strings, by the
//! same hybrid argument as the DCF's: every correction word is masked by a PRG output of the
//! other party's seed on the lose side, which the key holder never sees.
//!
//! **Key size** ([`key_len`]): 4-byte header (kind, party, `n`, `log2 l`), 16-byte root seed,
//! `16 (n - nu)` bytes of seed corrections, `ceil(2 (n - nu) / 8)` bytes of control-bit
//! corrections and `ceil(l 2^nu / 8)` bytes of `CW_{n+1}`.

use super::codec::{header, header_field, in_domain, KeyError, Reader, Writer};
use super::prg::{seed_and_bit, Block, TreePrg};
use crate::mpc::Prg;

const KIND: u8 = 0xD1;
const HEADER: usize = 4;
const NAME: &str = "dpf";
/// The largest domain [`eval_all`] expands (2^24 outputs).
pub const MAX_FULL_DOMAIN_BITS: u32 = 24;

/// One party's DPF key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DpfKey {
    party: u8,
    bits: u8,
    log_out: u8,
    seed: Block,
    cw_seed: Vec<Block>,
    cw_bits: Vec<[bool; 2]>,
    last: Block,
}

/// The shape of a DPF: input bits, output bits, levels saved by early termination.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Shape {
    bits: u32,
    out_bits: u32,
    nu: u32,
}

impl Shape {
    fn new(bits: u32, log_out: u32) -> Result<Shape, KeyError> {
        header_field(NAME, "bits", bits.min(255) as u8, bits <= 64, "at most 64")?;
        header_field(
            NAME,
            "log2 output bits",
            log_out.min(255) as u8,
            log_out <= 6,
            "at most 6",
        )?;
        let out_bits = 1u32 << log_out;
        Ok(Shape {
            bits,
            out_bits,
            nu: (7 - log_out).min(bits),
        })
    }
    fn depth(self) -> u32 {
        self.bits - self.nu
    }
    fn mask(self) -> u64 {
        if self.out_bits == 64 {
            u64::MAX
        } else {
            (1u64 << self.out_bits) - 1
        }
    }
    /// Word `j` of a packed leaf.
    fn word(self, leaf: Block, j: u64) -> u64 {
        (leaf >> (j as u32 * self.out_bits)) as u64 & self.mask()
    }
    fn last_bytes(self) -> usize {
        ((self.out_bits as usize) << self.nu).div_ceil(8)
    }
}

/// Serialised length of a key over `bits`-bit inputs with `2^log_out`-bit outputs.
pub fn key_len(bits: u32, log_out: u32) -> Result<usize, KeyError> {
    let sh = Shape::new(bits, log_out)?;
    let d = sh.depth() as usize;
    Ok(HEADER + 16 + 16 * d + (2 * d).div_ceil(8) + sh.last_bytes())
}

/// `(-1)^t * v mod 2^l`.
fn signed(sh: Shape, t: bool, v: u64) -> u64 {
    (if t { v.wrapping_neg() } else { v }) & sh.mask()
}

/// Generates the two keys of `x -> beta * [x == alpha]` on `bits`-bit inputs with outputs
/// mod `2^(2^log_out)` (`beta` is reduced mod `2^l`).
pub fn gen<P: TreePrg>(
    prg: &P,
    bits: u32,
    log_out: u32,
    alpha: u64,
    beta: u64,
    rng: &mut Prg,
) -> Result<[DpfKey; 2], KeyError> {
    let sh = Shape::new(bits, log_out)?;
    in_domain(NAME, "alpha", alpha, bits)?;
    let root = |rng: &mut Prg| (rng.next_u64() as u128) << 64 | rng.next_u64() as u128;
    let roots = [root(rng), root(rng)];
    let mut s = roots;
    let mut t = [false, true];
    let d = sh.depth();
    let (mut cw_seed, mut cw_bits) = (Vec::new(), Vec::new());
    for level in 0..d {
        let a = ((alpha >> (bits - 1 - level)) & 1) as usize;
        let (keep, lose) = (a, 1 - a);
        let children: [[(Block, bool); 2]; 2] = std::array::from_fn(|b| {
            let [l, r] = prg.lanes(s[b], [0, 1]);
            [seed_and_bit(l), seed_and_bit(r)]
        });
        let s_cw = children[0][lose].0 ^ children[1][lose].0;
        let t_cw = [
            children[0][0].1 ^ children[1][0].1 ^ (a == 0),
            children[0][1].1 ^ children[1][1].1 ^ (a == 1),
        ];
        for b in 0..2 {
            let (ks, kt) = children[b][keep];
            let was = t[b];
            s[b] = if was { ks ^ s_cw } else { ks };
            t[b] = kt ^ (was & t_cw[keep]);
        }
        cw_seed.push(s_cw);
        cw_bits.push(t_cw);
    }
    let low = alpha & ((1u64 << sh.nu) - 1);
    let (c0, c1) = (prg.lane(s[0], 3), prg.lane(s[1], 3));
    let mut last: Block = 0;
    for j in 0..1u64 << sh.nu {
        let b = if j == low { beta & sh.mask() } else { 0 };
        let w = b.wrapping_sub(sh.word(c0, j)).wrapping_add(sh.word(c1, j));
        last |= (signed(sh, t[1], w) as Block) << (j as u32 * sh.out_bits);
    }
    let key = |party: usize| DpfKey {
        party: party as u8,
        bits: bits as u8,
        log_out: log_out as u8,
        seed: roots[party],
        cw_seed: cw_seed.clone(),
        cw_bits: cw_bits.clone(),
        last,
    };
    Ok([key(0), key(1)])
}

impl DpfKey {
    fn shape(&self) -> Shape {
        Shape {
            bits: self.bits as u32,
            out_bits: 1 << self.log_out,
            nu: (7 - self.log_out as u32).min(self.bits as u32),
        }
    }

    /// The party (0 or 1) the key belongs to.
    pub fn party(&self) -> usize {
        self.party as usize
    }

    /// The input width `n`.
    pub fn bits(&self) -> u32 {
        self.bits as u32
    }

    /// Word `j` of the leaf at the end of a walk with control bit `t`, from the leaf seed's
    /// conversion `converted = G_3(s)` (computed once per leaf: it holds all `2^nu` words).
    fn leaf_word(&self, converted: Block, t: bool, j: u64) -> u64 {
        let sh = self.shape();
        let mut w = sh.word(converted, j);
        if t {
            w = w.wrapping_add(sh.word(self.last, j));
        }
        signed(sh, self.party == 1, w)
    }

    /// One GGM step from `(s, t)` at `level` towards `side`.
    fn step(&self, child: Block, t: bool, level: usize, side: usize) -> (Block, bool) {
        let (cs, ct) = seed_and_bit(child);
        let s = if t { cs ^ self.cw_seed[level] } else { cs };
        (s, ct ^ (t & self.cw_bits[level][side]))
    }

    /// The key's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let sh = self.shape();
        let mut w = Writer::default();
        w.u8(KIND);
        w.u8(self.party);
        w.u8(self.bits);
        w.u8(self.log_out);
        w.block(self.seed);
        for s in &self.cw_seed {
            w.block(*s);
        }
        let flat: Vec<bool> = self.cw_bits.iter().flatten().copied().collect();
        w.bits(&flat);
        w.0.extend_from_slice(&self.last.to_le_bytes()[..sh.last_bytes()]);
        w.0
    }

    /// Parses a key, checking kind, party, widths and exact length.
    pub fn from_bytes(
        bytes: &[u8],
        party: usize,
        bits: u32,
        log_out: u32,
    ) -> Result<DpfKey, KeyError> {
        let h = header(NAME, bytes, HEADER)?;
        header_field(NAME, "kind", h[0], h[0] == KIND, format!("{KIND}"))?;
        header_field(
            NAME,
            "party",
            h[1],
            h[1] as usize == party,
            party.to_string(),
        )?;
        header_field(NAME, "bits", h[2], h[2] as u32 == bits, bits.to_string())?;
        header_field(
            NAME,
            "log2 output bits",
            h[3],
            h[3] as u32 == log_out,
            log_out.to_string(),
        )?;
        let mut r = Reader::exact(NAME, bytes, key_len(bits, log_out)?)?;
        r.skip(HEADER);
        let sh = Shape::new(bits, log_out)?;
        let d = sh.depth() as usize;
        let seed = r.block();
        let cw_seed = (0..d).map(|_| r.block()).collect();
        let cw_bits = r.bits(2 * d).chunks(2).map(|c| [c[0], c[1]]).collect();
        let mut last = [0u8; 16];
        last[..sh.last_bytes()].copy_from_slice(r.bytes(sh.last_bytes()));
        let last = Block::from_le_bytes(last);
        Ok(DpfKey {
            party: party as u8,
            bits: bits as u8,
            log_out: log_out as u8,
            seed,
            cw_seed,
            cw_bits,
            last,
        })
    }
}

/// Party `key.party()`'s share of `beta * [x == alpha]` (mod 2^l).
pub fn eval<P: TreePrg>(prg: &P, key: &DpfKey, x: u64) -> Result<u64, KeyError> {
    let sh = key.shape();
    in_domain(NAME, "input", x, sh.bits)?;
    let (mut s, mut t) = (key.seed, key.party == 1);
    for level in 0..sh.depth() {
        let side = ((x >> (sh.bits - 1 - level)) & 1) as usize;
        (s, t) = key.step(prg.lane(s, side), t, level as usize, side);
    }
    Ok(key.leaf_word(prg.lane(s, 3), t, x & ((1u64 << sh.nu) - 1)))
}

/// The `(seed, control bit)` of every leaf, left to right: `2^(n - nu + 1) - 2` PRG calls.
fn leaves<P: TreePrg>(prg: &P, key: &DpfKey) -> Result<(Vec<Block>, Vec<bool>), KeyError> {
    let sh = key.shape();
    header_field(
        NAME,
        "bits",
        sh.bits as u8,
        sh.bits <= MAX_FULL_DOMAIN_BITS,
        format!("at most {MAX_FULL_DOMAIN_BITS} for full-domain evaluation"),
    )?;
    let mut seeds = vec![key.seed];
    let mut bits = vec![key.party == 1];
    let mut children = Vec::new();
    // One PRG call per level: every node's two children at once (the lanes come out
    // left, right, left, right, ..., which is the next level's order).
    for level in 0..sh.depth() as usize {
        prg.expand_many(&seeds, &[0, 1], &mut children);
        let (mut next_seeds, mut next_bits) = (
            Vec::with_capacity(children.len()),
            Vec::with_capacity(children.len()),
        );
        for (k, &lane) in children.iter().enumerate() {
            let (s, t) = key.step(lane, bits[k / 2], level, k % 2);
            next_seeds.push(s);
            next_bits.push(t);
        }
        (seeds, bits) = (next_seeds, next_bits);
    }
    Ok((seeds, bits))
}

/// Every leaf's conversion lane (lane 3) beside its control bit, in one PRG call.
fn converted_leaves<P: TreePrg>(prg: &P, key: &DpfKey) -> Result<Vec<(Block, bool)>, KeyError> {
    let (seeds, bits) = leaves(prg, key)?;
    let mut lanes = Vec::with_capacity(seeds.len());
    prg.expand_many(&seeds, &[3], &mut lanes);
    Ok(lanes.into_iter().zip(bits).collect())
}

/// Party `key.party()`'s shares at every input `0..2^n`, in order (`n` at most
/// [`MAX_FULL_DOMAIN_BITS`]): `2^(n - nu + 1) - 2` PRG calls for the tree, `2^(n - nu)` for the
/// leaves (one conversion per leaf gives all its words).
pub fn eval_all<P: TreePrg>(prg: &P, key: &DpfKey) -> Result<Vec<u64>, KeyError> {
    let sh = key.shape();
    let per_leaf = 1u64 << sh.nu;
    let leaves = converted_leaves(prg, key)?;
    let mut out = Vec::with_capacity(leaves.len() << sh.nu);
    for (converted, t) in leaves {
        out.extend((0..per_leaf).map(|j| key.leaf_word(converted, t, j)));
    }
    Ok(out)
}

/// The XOR shares of a 1-bit-output key ([`gen`] with `log_out = 0`) at every input, packed:
/// bit `x mod 128` of block `x / 128` is the share at `x` (for `n < 7` the one block's bits
/// `2^n` and above are zero). The two parties' blocks differ in exactly one bit, at `alpha`
/// (for `beta = 1`): the full-domain evaluation of Pika (PETS 2022) as 128-bit words.
pub fn eval_all_bits<P: TreePrg>(prg: &P, key: &DpfKey) -> Result<Vec<Block>, KeyError> {
    let sh = key.shape();
    header_field(NAME, "log2 output bits", key.log_out, key.log_out == 0, "0")?;
    let valid = if sh.nu >= 7 {
        Block::MAX
    } else {
        (1 << (1u32 << sh.nu)) - 1
    };
    Ok(converted_leaves(prg, key)?
        .into_iter()
        .map(|(c, t)| (c ^ if t { key.last } else { 0 }) & valid)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::super::prg::{AesMmo, ChaChaTree};
    use super::*;
    use crate::mpc::Seed;

    fn check<P: TreePrg>(
        bits: u32,
        log_out: u32,
        alpha: u64,
        beta: u64,
        xs: &[u64],
        rng: &mut Prg,
    ) {
        let g = P::new();
        let [k0, k1] = gen(&g, bits, log_out, alpha, beta, rng).unwrap();
        let mask = if log_out == 6 {
            u64::MAX
        } else {
            (1u64 << (1 << log_out)) - 1
        };
        for &x in xs {
            let y = eval(&g, &k0, x)
                .unwrap()
                .wrapping_add(eval(&g, &k1, x).unwrap())
                & mask;
            let want = if x == alpha { beta & mask } else { 0 };
            assert_eq!(
                y,
                want,
                "bits {bits} l 2^{log_out} alpha {alpha} x {x} ({})",
                P::NAME
            );
        }
    }

    fn random_and_edge<P: TreePrg>() {
        let mut rng = Prg::new(Seed::insecure_fixed(41));
        for bits in [1u32, 3, 8, 63, 64] {
            let top = if bits == 64 {
                u64::MAX
            } else {
                (1u64 << bits) - 1
            };
            for log_out in [0u32, 3, 6] {
                let mut alphas = vec![0, 1, top, top / 2 + 1];
                alphas.push(rng.next_u64() & top);
                for alpha in alphas {
                    let mut xs = vec![0, 1, 2, top, top / 2, top / 2 + 1, alpha];
                    xs.extend([alpha.wrapping_sub(1), alpha.wrapping_add(1)]);
                    xs.extend((0..6).map(|_| rng.next_u64() & top));
                    xs.retain(|&x| x <= top);
                    let beta = rng.next_u64() | 1;
                    check::<P>(bits, log_out, alpha, beta, &xs, &mut rng);
                }
            }
        }
    }

    #[test]
    fn reconstructs_with_aes() {
        random_and_edge::<AesMmo>();
    }

    #[test]
    fn reconstructs_with_chacha() {
        random_and_edge::<ChaChaTree>();
    }

    #[test]
    fn full_domain_matches_pointwise() {
        let g = AesMmo::new();
        let mut rng = Prg::new(Seed::insecure_fixed(42));
        for (bits, log_out) in [(0u32, 6u32), (3, 6), (10, 0), (10, 4), (10, 6)] {
            let alpha = rng.next_u64() & ((1u64 << bits) - 1);
            let [k0, k1] = gen(&g, bits, log_out, alpha, 1, &mut rng).unwrap();
            let (a0, a1) = (eval_all(&g, &k0).unwrap(), eval_all(&g, &k1).unwrap());
            assert_eq!(a0.len(), 1 << bits);
            let mask = if log_out == 6 {
                u64::MAX
            } else {
                (1u64 << (1 << log_out)) - 1
            };
            for x in 0..1u64 << bits {
                assert_eq!(a0[x as usize], eval(&g, &k0, x).unwrap());
                let y = a0[x as usize].wrapping_add(a1[x as usize]) & mask;
                assert_eq!(y, (x == alpha) as u64, "x {x} alpha {alpha}");
            }
        }
    }

    #[test]
    fn packed_bits_match_pointwise() {
        let g = AesMmo::new();
        let mut rng = Prg::new(Seed::insecure_fixed(44));
        for bits in [0u32, 2, 6, 7, 8, 13] {
            let alpha = rng.next_u64() & ((1u64 << bits) - 1);
            let [k0, k1] = gen(&g, bits, 0, alpha, 1, &mut rng).unwrap();
            let (b0, b1) = (
                eval_all_bits(&g, &k0).unwrap(),
                eval_all_bits(&g, &k1).unwrap(),
            );
            assert_eq!(b0.len(), (1usize << bits).div_ceil(128));
            for x in 0..1u64 << bits {
                let bit = |b: &[Block]| (b[(x / 128) as usize] >> (x % 128)) as u64 & 1;
                assert_eq!(bit(&b0), eval(&g, &k0, x).unwrap(), "x {x}");
                assert_eq!(bit(&b0) ^ bit(&b1), (x == alpha) as u64, "x {x}");
            }
            let ones: u32 = b0.iter().zip(&b1).map(|(a, b)| (a ^ b).count_ones()).sum();
            assert_eq!(ones, 1, "the shares differ at alpha only");
        }
        let [k64, _] = gen(&g, 8, 6, 0, 1, &mut rng).unwrap();
        assert!(matches!(
            eval_all_bits(&g, &k64),
            Err(KeyError::Header {
                field: "log2 output bits",
                ..
            })
        ));
    }

    #[test]
    fn early_termination_shrinks_keys() {
        // 64-bit outputs stop one level early, bits seven.
        assert_eq!(key_len(16, 6).unwrap(), 4 + 16 + 16 * 15 + 4 + 16);
        assert_eq!(key_len(16, 0).unwrap(), 4 + 16 + 16 * 9 + 3 + 16);
        assert_eq!(key_len(3, 0).unwrap(), 4 + 16 + 1);
        assert!(matches!(
            key_len(65, 0),
            Err(KeyError::Header { field: "bits", .. })
        ));
        assert!(matches!(key_len(8, 7), Err(KeyError::Header { .. })));
    }

    #[test]
    fn serialisation_is_exact_and_checked() {
        let g = ChaChaTree::new();
        let mut rng = Prg::new(Seed::insecure_fixed(43));
        for (bits, log_out) in [(0u32, 0u32), (3, 0), (12, 3), (64, 6)] {
            let [k0, k1] = gen(&g, bits, log_out, 0, 1, &mut rng).unwrap();
            for (b, k) in [(0, &k0), (1, &k1)] {
                let bytes = k.to_bytes();
                assert_eq!(bytes.len(), key_len(bits, log_out).unwrap());
                assert_eq!(&DpfKey::from_bytes(&bytes, b, bits, log_out).unwrap(), k);
                for cut in [0, 3, bytes.len() - 1] {
                    let short = DpfKey::from_bytes(&bytes[..cut], b, bits, log_out);
                    assert!(
                        matches!(short, Err(KeyError::Length { .. })),
                        "cut {cut}: {short:?}"
                    );
                }
                assert!(matches!(
                    DpfKey::from_bytes(&bytes, b, bits, (log_out + 1) % 7),
                    Err(KeyError::Header { .. })
                ));
            }
        }
        let junk = vec![0xD1u8; 300];
        for len in 0..junk.len() {
            assert_err!(
                DpfKey::from_bytes(&junk[..len], 0, 9, 2),
                KeyError::Length { .. } | KeyError::Header { .. }
            );
        }
        let [k0, _] = gen(&g, 30, 0, 0, 1, &mut rng).unwrap();
        assert!(matches!(
            eval_all(&g, &k0),
            Err(KeyError::Header { field: "bits", .. })
        ));
        assert!(matches!(
            eval(&g, &k0, 1 << 30),
            Err(KeyError::Domain { what: "input", .. })
        ));
    }
}
