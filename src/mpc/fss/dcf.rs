//! Distributed comparison function (DCF): Boyle, Chandran, Gilboa, Gupta, Ishai, Kumar and
//! Rathee, "Function Secret Sharing for Mixed-Mode and Fixed-Point Secure Computation",
//! Eurocrypt 2021, section 3 (figure 1, "DCF construction").
//!
//! The function is `f_{alpha,beta}(x) = beta if x < alpha else 0` on `n`-bit inputs
//! (`0 <= n <= 64`, `x, alpha < 2^n`) with outputs (and the payload `beta`) in Z_2^64. The dealer
//! runs [`gen`] and hands key `k_b` to party `b`; [`eval`] gives `y_b` with
//! `y_0 + y_1 = f(x) mod 2^64`.
//!
//! **Construction.** Both keys walk the GGM tree of [`super::prg`] along the bits of `x` (most
//! significant first). On the path of `alpha` the two parties' seeds differ and their control
//! bits `t_0 ^ t_1 = 1`; off it the seeds are equal and the control bits too. At each level the
//! correction word `(s_CW, V_CW, tL_CW, tR_CW)` makes the child that leaves the path ("lose")
//! identical for both parties, and `V_CW` adjusts the parties' running sums so that the
//! difference accumulated on leaving the path is `beta` exactly when leaving to the left of
//! `alpha` (`x < alpha`) and 0 otherwise; `V_alpha` tracks the difference accumulated along the
//! path itself, and the last word `CW_{n+1}` cancels it at the leaf (`x = alpha`, not less).
//! Party `b` adds its terms with sign `(-1)^b`, so the shares sum (not subtract) to the output.
//!
//! **Security** (theorem 3.2 of the paper): each key alone is simulated by uniformly random
//! strings of the same length. The root seed is uniform; each correction word is the xor of the
//! two parties' lose-children seeds, of which the key holder knows only its own, the other
//! being a fresh PRG output of a seed it never sees (so `s_CW` is pseudorandom), and the
//! control-bit and value corrections are masked the same way; by induction down the path, a
//! hybrid argument replaces every word by random. So `k_b` reveals nothing about `alpha` or
//! `beta` to party `b`.
//!
//! **Key size** ([`key_len`]): a 3-byte header (kind, party, `n`), the 16-byte root seed, per
//! level 16 bytes of `s_CW` and 8 of `V_CW`, the `2n` control-bit corrections packed, and the
//! 8-byte `CW_{n+1}`: `27 + 24n + ceil(n/4)` bytes (1,555 for `n = 63`). Evaluation costs two
//! PRG lanes per level (the chosen child and the value lane), generation three per party.
//! There is no early termination: every level carries an output correction.

use super::codec::{header, header_field, in_domain, KeyError, Reader, Writer};
use super::prg::{seed_and_bit, Block, TreePrg};
use crate::mpc::Prg;

const KIND: u8 = 0xDC;
const HEADER: usize = 3;
const NAME: &str = "dcf";

/// One party's DCF key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DcfKey {
    party: u8,
    bits: u8,
    seed: Block,
    cw_seed: Vec<Block>,
    cw_value: Vec<u64>,
    cw_bits: Vec<[bool; 2]>,
    last: u64,
}

/// Serialised length of a key over `bits`-bit inputs.
pub fn key_len(bits: u32) -> usize {
    let n = bits as usize;
    HEADER + 16 + 24 * n + (2 * n).div_ceil(8) + 8
}

fn bit_at(x: u64, bits: u32, level: u32) -> usize {
    ((x >> (bits - 1 - level)) & 1) as usize
}

/// `(-1)^t * v` in Z_2^64.
fn signed(t: bool, v: u64) -> u64 {
    if t {
        v.wrapping_neg()
    } else {
        v
    }
}

/// The value word of child `side` from the value lane.
fn value_word(lane: Block, side: usize) -> u64 {
    (lane >> (64 * side)) as u64
}

/// A leaf seed's conversion to Z_2^64: its high half (the low bit held the control bit).
fn convert(seed: Block) -> u64 {
    (seed >> 64) as u64
}

/// Generates the two keys of `x -> beta * [x < alpha]` on `bits`-bit inputs.
pub fn gen<P: TreePrg>(
    prg: &P,
    bits: u32,
    alpha: u64,
    beta: u64,
    rng: &mut Prg,
) -> Result<[DcfKey; 2], KeyError> {
    header_field(NAME, "bits", bits.min(255) as u8, bits <= 64, "at most 64")?;
    in_domain(NAME, "alpha", alpha, bits)?;
    let root = |rng: &mut Prg| (rng.next_u64() as u128) << 64 | rng.next_u64() as u128;
    let roots = [root(rng), root(rng)];
    let mut s = roots;
    let mut t = [false, true];
    let mut v_alpha = 0u64;
    let n = bits as usize;
    let (mut cw_seed, mut cw_value, mut cw_bits) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for level in 0..bits {
        let a = bit_at(alpha, bits, level);
        let (keep, lose) = (a, 1 - a);
        // children[b][side] = (seed, control bit); values[b][side].
        let mut children = [[(0u128, false); 2]; 2];
        let mut values = [[0u64; 2]; 2];
        for b in 0..2 {
            let [l, r, v] = prg.lanes(s[b], [0, 1, 2]);
            children[b] = [seed_and_bit(l), seed_and_bit(r)];
            values[b] = [value_word(v, 0), value_word(v, 1)];
        }
        let s_cw = children[0][lose].0 ^ children[1][lose].0;
        let mut v_cw = signed(
            t[1],
            values[1][lose]
                .wrapping_sub(values[0][lose])
                .wrapping_sub(v_alpha),
        );
        if lose == 0 {
            // Leaving the path to the left of alpha: every such x is below alpha.
            v_cw = v_cw.wrapping_add(signed(t[1], beta));
        }
        v_alpha = v_alpha
            .wrapping_sub(values[1][keep])
            .wrapping_add(values[0][keep])
            .wrapping_add(signed(t[1], v_cw));
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
        cw_value.push(v_cw);
        cw_bits.push(t_cw);
    }
    let last = signed(
        t[1],
        convert(s[1])
            .wrapping_sub(convert(s[0]))
            .wrapping_sub(v_alpha),
    );
    let key = |party: usize| DcfKey {
        party: party as u8,
        bits: bits as u8,
        seed: roots[party],
        cw_seed: cw_seed.clone(),
        cw_value: cw_value.clone(),
        cw_bits: cw_bits.clone(),
        last,
    };
    Ok([key(0), key(1)])
}

/// Party `key.party()`'s share of `beta * [x < alpha]`.
pub fn eval<P: TreePrg>(prg: &P, key: &DcfKey, x: u64) -> Result<u64, KeyError> {
    let bits = key.bits as u32;
    in_domain(NAME, "input", x, bits)?;
    let neg = key.party == 1;
    let mut s = key.seed;
    let mut t = neg;
    let mut acc = 0u64;
    for level in 0..bits {
        let side = bit_at(x, bits, level);
        let [child, v] = prg.lanes(s, [side, 2]);
        let (cs, ct) = seed_and_bit(child);
        let l = level as usize;
        let mut term = value_word(v, side);
        if t {
            term = term.wrapping_add(key.cw_value[l]);
        }
        acc = acc.wrapping_add(signed(neg, term));
        s = if t { cs ^ key.cw_seed[l] } else { cs };
        t = ct ^ (t & key.cw_bits[l][side]);
    }
    let mut term = convert(s);
    if t {
        term = term.wrapping_add(key.last);
    }
    Ok(acc.wrapping_add(signed(neg, term)))
}

impl DcfKey {
    /// The party (0 or 1) the key belongs to.
    pub fn party(&self) -> usize {
        self.party as usize
    }

    /// Input bits `n`.
    pub fn bits(&self) -> u32 {
        self.bits as u32
    }

    /// The key's bytes ([`key_len`] of them).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(key_len(self.bits()));
        self.write(&mut w);
        w.0
    }

    pub(crate) fn write(&self, w: &mut Writer) {
        w.u8(KIND);
        w.u8(self.party);
        w.u8(self.bits);
        w.block(self.seed);
        for (s, v) in self.cw_seed.iter().zip(&self.cw_value) {
            w.block(*s);
            w.u64(*v);
        }
        let flat: Vec<bool> = self.cw_bits.iter().flatten().copied().collect();
        w.bits(&flat);
        w.u64(self.last);
    }

    /// Parses a key, checking its kind, its party (`party`), its input width (`bits`) and its
    /// exact length.
    pub fn from_bytes(bytes: &[u8], party: usize, bits: u32) -> Result<DcfKey, KeyError> {
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
        let mut r = Reader::exact(NAME, bytes, key_len(bits))?;
        r.skip(HEADER);
        Self::read(&mut r, party as u8, bits as u8)
    }

    pub(crate) fn read(r: &mut Reader<'_>, party: u8, bits: u8) -> Result<DcfKey, KeyError> {
        let n = bits as usize;
        let seed = r.block();
        let (mut cw_seed, mut cw_value) = (Vec::with_capacity(n), Vec::with_capacity(n));
        for _ in 0..n {
            cw_seed.push(r.block());
            cw_value.push(r.u64());
        }
        let flat = r.bits(2 * n);
        let cw_bits = flat.chunks(2).map(|c| [c[0], c[1]]).collect();
        let last = r.u64();
        Ok(DcfKey {
            party,
            bits,
            seed,
            cw_seed,
            cw_value,
            cw_bits,
            last,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::prg::{AesMmo, ChaChaTree};
    use super::*;
    use crate::mpc::Seed;

    fn check<P: TreePrg>(bits: u32, alpha: u64, beta: u64, xs: &[u64], rng: &mut Prg) {
        let g = P::new();
        let [k0, k1] = gen(&g, bits, alpha, beta, rng).unwrap();
        for &x in xs {
            let y = eval(&g, &k0, x)
                .unwrap()
                .wrapping_add(eval(&g, &k1, x).unwrap());
            let want = if x < alpha { beta } else { 0 };
            assert_eq!(y, want, "bits {bits} alpha {alpha} x {x} ({})", P::NAME);
        }
    }

    fn edge_inputs(bits: u32, alpha: u64) -> Vec<u64> {
        let top = if bits == 64 {
            u64::MAX
        } else {
            (1u64 << bits) - 1
        };
        let mut v = vec![0, 1, 2, top, top - 1, top / 2, top / 2 + 1, alpha];
        v.extend([alpha.wrapping_sub(1), alpha.wrapping_add(1)]);
        v.into_iter().filter(|&x| x <= top).collect()
    }

    fn random_and_edge<P: TreePrg>() {
        let mut rng = Prg::new(Seed::insecure_fixed(31));
        for bits in [1u32, 2, 7, 16, 63, 64] {
            let top = if bits == 64 {
                u64::MAX
            } else {
                (1u64 << bits) - 1
            };
            let mut alphas = vec![0, 1, top, top / 2, top / 2 + 1];
            alphas.extend((0..4).map(|_| rng.next_u64() & top));
            for alpha in alphas {
                let mut xs = edge_inputs(bits, alpha);
                xs.extend((0..8).map(|_| rng.next_u64() & top));
                let beta = rng.next_u64();
                check::<P>(bits, alpha, beta, &xs, &mut rng);
            }
        }
        // The ring's signed landmarks as 64-bit inputs and thresholds.
        let marks = [0, 1, (1u64 << 63) - 1, 1u64 << 63, u64::MAX];
        for alpha in marks {
            check::<P>(64, alpha, 1, &marks, &mut rng);
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
    fn exhaustive_small_domain() {
        let g = AesMmo::new();
        let mut rng = Prg::new(Seed::insecure_fixed(5));
        for alpha in 0..16u64 {
            let [k0, k1] = gen(&g, 4, alpha, 3, &mut rng).unwrap();
            for x in 0..16u64 {
                let y = eval(&g, &k0, x)
                    .unwrap()
                    .wrapping_add(eval(&g, &k1, x).unwrap());
                assert_eq!(y, if x < alpha { 3 } else { 0 });
            }
        }
    }

    #[test]
    fn serialisation_is_exact_and_checked() {
        let g = AesMmo::new();
        let mut rng = Prg::new(Seed::insecure_fixed(6));
        for bits in [0u32, 1, 9, 63, 64] {
            let [k0, k1] = gen(&g, bits, 0, 1, &mut rng).unwrap();
            for (b, k) in [(0, &k0), (1, &k1)] {
                let bytes = k.to_bytes();
                assert_eq!(bytes.len(), key_len(bits));
                assert_eq!(&DcfKey::from_bytes(&bytes, b, bits).unwrap(), k);
                let short = DcfKey::from_bytes(&bytes[..bytes.len() - 1], b, bits);
                assert!(matches!(short, Err(KeyError::Length { .. })), "{short:?}");
                let mut long = bytes.clone();
                long.push(0);
                assert!(matches!(
                    DcfKey::from_bytes(&long, b, bits),
                    Err(KeyError::Length { .. })
                ));
                assert!(matches!(
                    DcfKey::from_bytes(&bytes, 1 - b, bits),
                    Err(KeyError::Header { field: "party", .. })
                ));
            }
        }
        assert_eq!(key_len(63), 1555);
        // Garbage of every short length and a wrong width never panic.
        let junk: Vec<u8> = (0..200u8).collect();
        for len in 0..junk.len() {
            assert!(DcfKey::from_bytes(&junk[..len], 0, 8).is_err());
        }
        let [k0, _] = gen(&g, 8, 5, 1, &mut rng).unwrap();
        assert!(matches!(
            DcfKey::from_bytes(&k0.to_bytes(), 0, 9),
            Err(KeyError::Header { field: "bits", .. })
        ));
    }

    #[test]
    fn bad_parameters_are_errors() {
        let g = AesMmo::new();
        let mut rng = Prg::new(Seed::insecure_fixed(7));
        assert!(matches!(
            gen(&g, 65, 0, 1, &mut rng),
            Err(KeyError::Header { field: "bits", .. })
        ));
        assert!(matches!(
            gen(&g, 8, 256, 1, &mut rng),
            Err(KeyError::Domain {
                what: "alpha",
                value: 256,
                ..
            })
        ));
        let [k0, _] = gen(&g, 8, 5, 1, &mut rng).unwrap();
        assert!(matches!(
            eval(&g, &k0, 256),
            Err(KeyError::Domain {
                what: "input",
                value: 256,
                ..
            })
        ));
    }

    #[test]
    fn one_key_looks_independent_of_alpha() {
        // Party 0's correction words for two different alphas: each bit of s_CW set about half
        // the time (a coarse check that the key is not a function of alpha in the clear).
        let g = AesMmo::new();
        let mut rng = Prg::new(Seed::insecure_fixed(8));
        let mut ones = 0u32;
        for alpha in [0u64, u64::MAX] {
            let [k0, _] = gen(&g, 64, alpha, 1, &mut rng).unwrap();
            ones += k0
                .cw_seed
                .iter()
                .map(|s| (s >> 1).count_ones())
                .sum::<u32>();
        }
        let total = 2 * 64 * 127;
        assert!(
            (ones as f64 / total as f64 - 0.5).abs() < 0.02,
            "{ones} of {total}"
        );
    }
}
