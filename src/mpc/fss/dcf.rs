//! Distributed comparison function (DCF): Boyle, Chandran, Gilboa, Gupta, Ishai, Kumar and
//! Rathee, "Function Secret Sharing for Mixed-Mode and Fixed-Point Secure Computation",
//! Eurocrypt 2021, section 3 (figure 1, "DCF construction").
//!
//! The function is `f_{alpha,beta}(x) = beta if x < alpha else 0` on `n`-bit inputs
//! (`0 <= n <= 64`, `x, alpha < 2^n`) with outputs (and the payload `beta`) in the group
//! `(Z_2^64)^w` of `w = 1` or 2 words ([`MAX_WIDTH`]): the paper's construction works over any
//! group, and a two-word payload lets one key answer "is `x` below `alpha`" and "what is
//! `beta_2` if so" at once (the one-round ReLU of `crate::mpc::protocols::fss::relu` needs
//! both). The dealer runs [`gen_wide`] and hands key `k_b` to party `b`; [`eval_wide`] gives
//! `y_b` with `y_0 + y_1 = f(x)` word by word.
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
//! **Key size** ([`key_len_wide`]): a 4-byte header (kind, party, `n`, `w`), the 16-byte root
//! seed, per level 16 bytes of `s_CW` and `8w` of `V_CW`, the `2n` control-bit corrections
//! packed, and the `8w`-byte `CW_{n+1}`: `28 + (16 + 8w) n + ceil(n/4) + 8w` bytes (1,556 for
//! `n = 63, w = 1`; 2,068 for `w = 2`). Evaluation costs 2 PRG lanes per level, in one call
//! (the chosen child and its value lane), generation `2 + w` per party, and a two-word leaf
//! one more lane.
//! There is no early termination: every level carries an output correction.

use super::codec::{header, header_field, in_domain, KeyError, Reader, Writer};
use super::prg::{seed_and_bit, Block, TreePrg};
use crate::mpc::Prg;

const KIND: u8 = 0xDC;
const HEADER: usize = 4;
const NAME: &str = "dcf";

/// The widest payload a key carries: two words fill a value lane (2 for the left child, 3 for
/// the right) of [`super::prg::LANES`].
pub const MAX_WIDTH: usize = 2;

/// A payload (or an output share) of up to [`MAX_WIDTH`] words; unused words are 0.
pub type Payload = [u64; MAX_WIDTH];

/// One party's DCF key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DcfKey {
    party: u8,
    bits: u8,
    width: u8,
    seed: Block,
    cw_seed: Vec<Block>,
    cw_value: Vec<Payload>,
    cw_bits: Vec<[bool; 2]>,
    last: Payload,
}

/// Serialised length of a one-word key over `bits`-bit inputs.
pub fn key_len(bits: u32) -> usize {
    key_len_wide(bits, 1)
}

/// Serialised length of a key over `bits`-bit inputs with a `width`-word payload.
pub fn key_len_wide(bits: u32, width: usize) -> usize {
    let n = bits as usize;
    HEADER + 16 + (16 + 8 * width) * n + (2 * n).div_ceil(8) + 8 * width
}

fn bit_at(x: u64, bits: u32, level: u32) -> usize {
    ((x >> (bits - 1 - level)) & 1) as usize
}

/// `(-1)^t * v` in Z_2^64, word by word.
fn signed(t: bool, v: Payload) -> Payload {
    if t {
        v.map(u64::wrapping_neg)
    } else {
        v
    }
}

fn add(a: Payload, b: Payload) -> Payload {
    [a[0].wrapping_add(b[0]), a[1].wrapping_add(b[1])]
}

fn sub(a: Payload, b: Payload) -> Payload {
    [a[0].wrapping_sub(b[0]), a[1].wrapping_sub(b[1])]
}

/// Which PRG lane holds the value words of child `side`, and how to read them: one word per
/// child shares lane 2 (low half left, high half right); two words take a lane per child
/// (lane `2 + side`, both halves). Either way an evaluator expands two lanes per level, the
/// chosen child and its values, in one PRG call.
fn value_lane(side: usize, width: usize) -> usize {
    if width == 1 {
        2
    } else {
        2 + side
    }
}

fn values_of(lane: Block, side: usize, width: usize) -> Payload {
    if width == 1 {
        [(lane >> (64 * side)) as u64, 0]
    } else {
        [lane as u64, (lane >> 64) as u64]
    }
}

/// A node's expansion on the dealer's side: both children's lanes and value words.
fn expand_both<P: TreePrg>(prg: &P, seed: Block, width: usize) -> ([Block; 2], [Payload; 2]) {
    if width == 1 {
        let [l, r, v] = prg.lanes(seed, [0, 1, 2]);
        ([l, r], [values_of(v, 0, 1), values_of(v, 1, 1)])
    } else {
        let [l, r, v, u] = prg.lanes(seed, [0, 1, 2, 3]);
        ([l, r], [values_of(v, 0, 2), values_of(u, 1, 2)])
    }
}

/// A node's expansion on an evaluator's side: the lane of child `side` and its value words.
fn expand_one<P: TreePrg>(prg: &P, seed: Block, side: usize, width: usize) -> (Block, Payload) {
    let [c, v] = prg.lanes(seed, [side, value_lane(side, width)]);
    (c, values_of(v, side, width))
}

/// A leaf seed's conversion to the payload group: for one word, the seed's high half (the low
/// bit held the control bit); for two, both halves of the leaf's lane 2.
fn convert<P: TreePrg>(prg: &P, seed: Block, width: usize) -> Payload {
    if width == 1 {
        [(seed >> 64) as u64, 0]
    } else {
        let v = prg.lane(seed, 2);
        [v as u64, (v >> 64) as u64]
    }
}

/// Generates the two keys of `x -> beta * [x < alpha]` on `bits`-bit inputs.
pub fn gen<P: TreePrg>(
    prg: &P,
    bits: u32,
    alpha: u64,
    beta: u64,
    rng: &mut Prg,
) -> Result<[DcfKey; 2], KeyError> {
    gen_wide(prg, bits, alpha, &[beta], rng)
}

/// Generates the two keys of `x -> beta * [x < alpha]` with a payload `beta` of 1 to
/// [`MAX_WIDTH`] words (each word of the output is its word of `beta` or 0).
pub fn gen_wide<P: TreePrg>(
    prg: &P,
    bits: u32,
    alpha: u64,
    beta: &[u64],
    rng: &mut Prg,
) -> Result<[DcfKey; 2], KeyError> {
    header_field(NAME, "bits", bits.min(255) as u8, bits <= 64, "at most 64")?;
    let width = beta.len();
    header_field(
        NAME,
        "width",
        width.min(255) as u8,
        (1..=MAX_WIDTH).contains(&width),
        format!("1 to {MAX_WIDTH}"),
    )?;
    in_domain(NAME, "alpha", alpha, bits)?;
    let mut payload = [0u64; MAX_WIDTH];
    payload[..width].copy_from_slice(beta);
    let root = |rng: &mut Prg| (rng.next_u64() as u128) << 64 | rng.next_u64() as u128;
    let roots = [root(rng), root(rng)];
    let mut s = roots;
    let mut t = [false, true];
    let mut v_alpha = [0u64; MAX_WIDTH];
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
        let mut values = [[[0u64; MAX_WIDTH]; 2]; 2];
        for b in 0..2 {
            let ([l, r], v) = expand_both(prg, s[b], width);
            children[b] = [seed_and_bit(l), seed_and_bit(r)];
            values[b] = v;
        }
        let s_cw = children[0][lose].0 ^ children[1][lose].0;
        let mut v_cw = signed(t[1], sub(sub(values[1][lose], values[0][lose]), v_alpha));
        if lose == 0 {
            // Leaving the path to the left of alpha: every such x is below alpha.
            v_cw = add(v_cw, signed(t[1], payload));
        }
        v_alpha = add(
            sub(v_alpha, values[1][keep]),
            add(values[0][keep], signed(t[1], v_cw)),
        );
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
        sub(
            sub(convert(prg, s[1], width), convert(prg, s[0], width)),
            v_alpha,
        ),
    );
    let key = |party: usize| DcfKey {
        party: party as u8,
        bits: bits as u8,
        width: width as u8,
        seed: roots[party],
        cw_seed: cw_seed.clone(),
        cw_value: cw_value.clone(),
        cw_bits: cw_bits.clone(),
        last,
    };
    Ok([key(0), key(1)])
}

/// Party `key.party()`'s share of `beta * [x < alpha]` (the first word of a wide key).
pub fn eval<P: TreePrg>(prg: &P, key: &DcfKey, x: u64) -> Result<u64, KeyError> {
    Ok(eval_wide(prg, key, x)?[0])
}

/// Party `key.party()`'s shares of every payload word of `beta * [x < alpha]`.
pub fn eval_wide<P: TreePrg>(prg: &P, key: &DcfKey, x: u64) -> Result<Payload, KeyError> {
    let bits = key.bits as u32;
    let width = key.width as usize;
    in_domain(NAME, "input", x, bits)?;
    let neg = key.party == 1;
    let mut s = key.seed;
    let mut t = neg;
    let mut acc = [0u64; MAX_WIDTH];
    for level in 0..bits {
        let side = bit_at(x, bits, level);
        let (child, mut term) = expand_one(prg, s, side, width);
        let (cs, ct) = seed_and_bit(child);
        let l = level as usize;
        if t {
            term = add(term, key.cw_value[l]);
        }
        acc = add(acc, signed(neg, term));
        s = if t { cs ^ key.cw_seed[l] } else { cs };
        t = ct ^ (t & key.cw_bits[l][side]);
    }
    let mut term = convert(prg, s, width);
    if t {
        term = add(term, key.last);
    }
    Ok(add(acc, signed(neg, term)))
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

    /// Payload words.
    pub fn width(&self) -> usize {
        self.width as usize
    }

    /// The key's bytes ([`key_len_wide`] of them).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(key_len_wide(self.bits(), self.width()));
        self.write(&mut w);
        w.0
    }

    pub(crate) fn write(&self, w: &mut Writer) {
        let width = self.width();
        w.u8(KIND);
        w.u8(self.party);
        w.u8(self.bits);
        w.u8(self.width);
        w.block(self.seed);
        for (s, v) in self.cw_seed.iter().zip(&self.cw_value) {
            w.block(*s);
            v[..width].iter().for_each(|x| w.u64(*x));
        }
        let flat: Vec<bool> = self.cw_bits.iter().flatten().copied().collect();
        w.bits(&flat);
        self.last[..width].iter().for_each(|x| w.u64(*x));
    }

    /// Parses a one-word key, checking its kind, party, input width and exact length.
    pub fn from_bytes(bytes: &[u8], party: usize, bits: u32) -> Result<DcfKey, KeyError> {
        Self::from_bytes_wide(bytes, party, bits, 1)
    }

    /// Parses a key, checking its kind, its party (`party`), its input width (`bits`), its
    /// payload width (`width` words) and its exact length.
    pub fn from_bytes_wide(
        bytes: &[u8],
        party: usize,
        bits: u32,
        width: usize,
    ) -> Result<DcfKey, KeyError> {
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
            "width",
            h[3],
            h[3] as usize == width && (1..=MAX_WIDTH).contains(&width),
            width.to_string(),
        )?;
        let mut r = Reader::exact(NAME, bytes, key_len_wide(bits, width))?;
        r.skip(HEADER);
        Self::read(&mut r, party as u8, bits as u8, width as u8)
    }

    pub(crate) fn read(
        r: &mut Reader<'_>,
        party: u8,
        bits: u8,
        width: u8,
    ) -> Result<DcfKey, KeyError> {
        let n = bits as usize;
        let words = |r: &mut Reader<'_>| {
            let mut v = [0u64; MAX_WIDTH];
            v[..width as usize].iter_mut().for_each(|x| *x = r.u64());
            v
        };
        let seed = r.block();
        let (mut cw_seed, mut cw_value) = (Vec::with_capacity(n), Vec::with_capacity(n));
        for _ in 0..n {
            cw_seed.push(r.block());
            cw_value.push(words(r));
        }
        let flat = r.bits(2 * n);
        let cw_bits = flat.chunks(2).map(|c| [c[0], c[1]]).collect();
        let last = words(r);
        Ok(DcfKey {
            party,
            bits,
            width,
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

    fn check_wide<P: TreePrg>(bits: u32, alpha: u64, beta: [u64; 2], xs: &[u64], rng: &mut Prg) {
        let g = P::new();
        let [k0, k1] = gen_wide(&g, bits, alpha, &beta, rng).unwrap();
        assert_eq!(k0.to_bytes().len(), key_len_wide(bits, 2));
        for &x in xs {
            let y = add(
                eval_wide(&g, &k0, x).unwrap(),
                eval_wide(&g, &k1, x).unwrap(),
            );
            let want = if x < alpha { beta } else { [0, 0] };
            assert_eq!(y, want, "bits {bits} alpha {alpha} x {x} ({})", P::NAME);
        }
    }

    #[test]
    fn two_word_payload_reconstructs_with_both_prgs() {
        let mut rng = Prg::new(Seed::insecure_fixed(32));
        for bits in [1u32, 2, 7, 31, 63, 64] {
            let top = if bits == 64 {
                u64::MAX
            } else {
                (1u64 << bits) - 1
            };
            for alpha in [0, 1, top, top / 2 + 1, rng.next_u64() & top] {
                let mut xs = edge_inputs(bits, alpha);
                xs.extend((0..6).map(|_| rng.next_u64() & top));
                let beta = [rng.next_u64(), rng.next_u64()];
                check_wide::<AesMmo>(bits, alpha, beta, &xs, &mut rng);
                check_wide::<ChaChaTree>(bits, alpha, beta, &xs, &mut rng);
            }
        }
    }

    #[test]
    fn payload_width_is_checked() {
        let g = AesMmo::new();
        let mut rng = Prg::new(Seed::insecure_fixed(33));
        for beta in [&[][..], &[1, 2, 3][..]] {
            assert!(matches!(
                gen_wide(&g, 8, 5, beta, &mut rng),
                Err(KeyError::Header { field: "width", .. })
            ));
        }
        let [k0, _] = gen_wide(&g, 8, 5, &[1, 2], &mut rng).unwrap();
        let bytes = k0.to_bytes();
        assert_eq!(DcfKey::from_bytes_wide(&bytes, 0, 8, 2).unwrap(), k0);
        assert!(matches!(
            DcfKey::from_bytes(&bytes, 0, 8),
            Err(KeyError::Header { field: "width", .. })
        ));
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
        assert_eq!(key_len(63), 1556);
        assert_eq!(key_len_wide(63, 2), 2068);
        // Garbage of every short length and a wrong width never panic.
        let junk: Vec<u8> = (0..200u8).collect();
        for len in 0..junk.len() {
            assert_err!(
                DcfKey::from_bytes(&junk[..len], 0, 8),
                KeyError::Length { .. } | KeyError::Header { .. }
            );
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
