//! Secret-share tensor types and their local (communication-free) operations.
//!
//! * [`ArithShare`]: one party's additive share of a tensor over Z_2^64: `x = x0 + x1 mod 2^64`
//!   element-wise, any shape (an `ndarray::ArrayD<u64>`).
//! * [`BitShare`]: one party's XOR share of a tensor of bits, one bit per element, packed 64 to a
//!   word (`b = b0 ^ b1`); comparisons produce these.
//! * Packed-bit helpers ([`pack_bits`], [`bits_to_bytes`], ...) used by the boolean circuits,
//!   which work on one 64-bit word per element (each word holds that element's 64 bit
//!   positions) or on densely packed bit vectors.
//!
//! Everything here is local and never depends on which party holds the share, except where a
//! `party` argument says so (adding a public value is done by party 0 only).

use ndarray::{ArrayD, Axis, IxDyn, Slice, Zip};

use crate::{Error, Result};

/// One party's additive share of a tensor over Z_2^64.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArithShare {
    /// The share, element-wise.
    pub data: ArrayD<u64>,
}

fn shape_err(what: &'static str, a: &[usize], b: &[usize]) -> Error {
    Error::shape(what, format!("{a:?}"), format!("{b:?}"))
}

impl ArithShare {
    /// Wraps a share tensor.
    pub fn new(data: ArrayD<u64>) -> Self {
        ArithShare { data }
    }

    /// The all-zero share (a valid sharing of 0 when both parties use it).
    pub fn zeros(shape: &[usize]) -> Self {
        ArithShare {
            data: ArrayD::zeros(IxDyn(shape)),
        }
    }

    /// A share from row-major words.
    pub fn from_vec(shape: &[usize], v: Vec<u64>) -> Result<Self> {
        let n = v.len();
        ArrayD::from_shape_vec(IxDyn(shape), v)
            .map(ArithShare::new)
            .map_err(|_| {
                Error::shape(
                    "share",
                    format!("words filling {shape:?}"),
                    format!("{n} words"),
                )
            })
    }

    /// The tensor shape.
    pub fn shape(&self) -> &[usize] {
        self.data.shape()
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Whether the tensor has no element.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The words in row-major order.
    pub fn to_vec(&self) -> Vec<u64> {
        self.data.iter().copied().collect()
    }

    /// Same words, new shape.
    pub fn reshape(&self, shape: &[usize]) -> Result<Self> {
        ArithShare::from_vec(shape, self.to_vec())
    }

    /// `self + other`, `other` broadcast to `self`'s shape.
    pub fn add(&self, other: &ArithShare) -> Result<Self> {
        self.zip_with(other, "add", u64::wrapping_add)
    }

    /// `self - other`, `other` broadcast to `self`'s shape.
    pub fn sub(&self, other: &ArithShare) -> Result<Self> {
        self.zip_with(other, "sub", u64::wrapping_sub)
    }

    fn zip_with(
        &self,
        other: &ArithShare,
        what: &'static str,
        f: fn(u64, u64) -> u64,
    ) -> Result<Self> {
        let b = other
            .data
            .broadcast(self.data.raw_dim())
            .ok_or_else(|| shape_err(what, self.shape(), other.shape()))?;
        let mut out = self.data.clone();
        Zip::from(&mut out).and(&b).for_each(|o, &v| *o = f(*o, v));
        Ok(ArithShare::new(out))
    }

    /// `-self`.
    pub fn neg(&self) -> Self {
        ArithShare::new(self.data.mapv(u64::wrapping_neg))
    }

    /// `k * self` for a public ring element `k` (an integer, or an encoded constant when the
    /// result is truncated afterwards).
    pub fn mul_int(&self, k: u64) -> Self {
        ArithShare::new(self.data.mapv(|v| v.wrapping_mul(k)))
    }

    /// Element-wise `self * k` for a public ring tensor `k` broadcast to `self`'s shape.
    pub fn mul_public_ring(&self, k: &ArrayD<u64>) -> Result<Self> {
        self.zip_with(&ArithShare::new(k.clone()), "mul_public", u64::wrapping_mul)
    }

    /// Adds the public ring tensor `c` (broadcast) to the shared value: only party 0 adds.
    pub fn add_public_ring(&self, c: &ArrayD<u64>, party: usize) -> Result<Self> {
        if party != 0 {
            let _ = c
                .broadcast(self.data.raw_dim())
                .ok_or_else(|| shape_err("add_public", self.shape(), c.shape()))?;
            return Ok(self.clone());
        }
        self.add(&ArithShare::new(c.clone()))
    }

    /// Adds the public ring scalar `c` to every element: only party 0 adds.
    pub fn add_scalar_ring(&self, c: u64, party: usize) -> Self {
        if party != 0 {
            return self.clone();
        }
        ArithShare::new(self.data.mapv(|v| v.wrapping_add(c)))
    }

    /// Wrapping sum along `axis`, which is removed.
    pub fn sum_axis(&self, axis: usize) -> Result<Self> {
        if axis >= self.data.ndim() {
            return Err(Error::shape(
                "sum over an axis",
                format!("an axis of {:?}", self.shape()),
                format!("axis {axis}"),
            ));
        }
        let mut shape = self.shape().to_vec();
        shape.remove(axis);
        let mut out = ArrayD::<u64>::zeros(IxDyn(&shape));
        for lane in self.data.axis_iter(Axis(axis)) {
            Zip::from(&mut out)
                .and(&lane)
                .for_each(|o, &v| *o = o.wrapping_add(v));
        }
        Ok(ArithShare::new(out))
    }

    /// Wrapping sum along the last axis, kept with length 1 (so it broadcasts back).
    pub fn sum_last_keep(&self) -> Result<Self> {
        let nd = self.data.ndim();
        if nd == 0 {
            return Err(Error::shape(
                "sum over the last axis",
                "at least 1 axis",
                "a scalar",
            ));
        }
        let s = self.sum_axis(nd - 1)?;
        Ok(ArithShare::new(s.data.insert_axis(Axis(nd - 1))))
    }

    /// Swaps the last two axes (a transpose per batch element).
    pub fn transpose_last2(&self) -> Result<Self> {
        let nd = self.data.ndim();
        if nd < 2 {
            return Err(Error::shape(
                "transpose",
                "at least 2 axes",
                format!("{:?}", self.shape()),
            ));
        }
        let mut v = self.data.view();
        v.swap_axes(nd - 2, nd - 1);
        Ok(ArithShare::new(v.as_standard_layout().to_owned()))
    }

    /// Permutes the axes.
    pub fn permute(&self, axes: &[usize]) -> Result<Self> {
        if axes.len() != self.data.ndim() {
            return Err(Error::shape(
                "permute axes",
                format!("{} axes", self.shape().len()),
                format!("{axes:?}"),
            ));
        }
        let mut seen = vec![false; axes.len()];
        for &a in axes {
            if a >= axes.len() || seen[a] {
                return Err(Error::shape(
                    "permute axes",
                    "a permutation",
                    format!("{axes:?}"),
                ));
            }
            seen[a] = true;
        }
        let v = self.data.view().permuted_axes(IxDyn(axes));
        Ok(ArithShare::new(v.as_standard_layout().to_owned()))
    }

    /// The sub-tensor `start..end` along `axis`.
    pub fn slice_axis(&self, axis: usize, start: usize, end: usize) -> Result<Self> {
        if axis >= self.data.ndim() || start > end || end > self.shape()[axis] {
            return Err(Error::shape(
                "slice",
                format!("a range of axis {axis} of {:?}", self.shape()),
                format!("{start}..{end}"),
            ));
        }
        let v = self.data.slice_axis(Axis(axis), Slice::from(start..end));
        Ok(ArithShare::new(v.as_standard_layout().to_owned()))
    }

    /// The rows `rows` of axis 0, in that order (a row may repeat).
    pub fn select_rows(&self, rows: &[usize]) -> Result<Self> {
        let n = self.shape().first().copied().unwrap_or(0);
        if let Some(&r) = rows.iter().find(|&&r| r >= n) {
            return Err(Error::shape(
                "select rows",
                format!("rows below {n} of {:?}", self.shape()),
                format!("row {r}"),
            ));
        }
        Ok(ArithShare::new(self.data.select(Axis(0), rows)))
    }

    /// Concatenation along `axis`.
    pub fn concat(axis: usize, parts: &[&ArithShare]) -> Result<Self> {
        let views: Vec<_> = parts.iter().map(|p| p.data.view()).collect();
        ndarray::concatenate(Axis(axis), &views)
            .map(ArithShare::new)
            .map_err(Error::from)
    }
}

/// Concatenates the row-major words of several tensors.
pub fn flatten_all(parts: &[&ArithShare]) -> Vec<u64> {
    let mut v = Vec::with_capacity(parts.iter().map(|p| p.len()).sum());
    for p in parts {
        v.extend(p.data.iter().copied());
    }
    v
}

/// Splits row-major words back into tensors of the given shapes.
pub fn unflatten_all(words: &[u64], shapes: &[Vec<usize>]) -> Result<Vec<ArithShare>> {
    let mut out = Vec::with_capacity(shapes.len());
    let mut at = 0;
    for s in shapes {
        let n: usize = s.iter().product();
        if at + n > words.len() {
            return Err(Error::shape(
                "unflatten",
                format!("at least {} words", at + n),
                format!("{} words", words.len()),
            ));
        }
        out.push(ArithShare::from_vec(s, words[at..at + n].to_vec())?);
        at += n;
    }
    Ok(out)
}

/// One party's XOR share of a tensor of bits, packed 64 bits to a word (element `i` is bit
/// `i % 64` of word `i / 64`; unused high bits of the last word are zero).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BitShare {
    /// Packed bits.
    pub words: Vec<u64>,
    /// Tensor shape (number of bits = product).
    pub shape: Vec<usize>,
}

impl BitShare {
    /// Wraps packed bits; checks the length.
    pub fn new(words: Vec<u64>, shape: &[usize]) -> Result<Self> {
        let n: usize = shape.iter().product();
        if words.len() != n.div_ceil(64) {
            return Err(Error::shape(
                "bit share",
                format!("{} words for {n} bits", n.div_ceil(64)),
                format!("{} words", words.len()),
            ));
        }
        let mut b = BitShare {
            words,
            shape: shape.to_vec(),
        };
        b.mask_tail();
        Ok(b)
    }

    /// Number of bits.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// Whether there is no bit.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bit `i`.
    pub fn get(&self, i: usize) -> bool {
        (self.words[i / 64] >> (i % 64)) & 1 == 1
    }

    fn mask_tail(&mut self) {
        let n = self.len();
        if !n.is_multiple_of(64) {
            if let Some(w) = self.words.last_mut() {
                *w &= (1u64 << (n % 64)) - 1;
            }
        }
    }

    /// `self ^ other` (local).
    pub fn xor(&self, other: &BitShare) -> Result<Self> {
        if self.shape != other.shape {
            return Err(shape_err("xor", &self.shape, &other.shape));
        }
        let words = self
            .words
            .iter()
            .zip(&other.words)
            .map(|(a, b)| a ^ b)
            .collect();
        Ok(BitShare {
            words,
            shape: self.shape.clone(),
        })
    }

    /// `NOT self` (local: party 0 flips its share).
    pub fn not(&self, party: usize) -> Self {
        let mut b = self.clone();
        if party == 0 {
            for w in b.words.iter_mut() {
                *w = !*w;
            }
            b.mask_tail();
        }
        b
    }

    /// The bits `start..end` (flat indices), with a new 1-D shape.
    pub fn range(&self, start: usize, end: usize) -> Self {
        let bits: Vec<bool> = (start..end).map(|i| self.get(i)).collect();
        BitShare::from_bools(&bits, &[end - start])
    }

    /// Packs booleans.
    pub fn from_bools(bits: &[bool], shape: &[usize]) -> Self {
        let mut words = vec![0u64; bits.len().div_ceil(64)];
        for (i, &b) in bits.iter().enumerate() {
            if b {
                words[i / 64] |= 1 << (i % 64);
            }
        }
        BitShare {
            words,
            shape: shape.to_vec(),
        }
    }

    /// Same bits, new shape.
    pub fn reshape(&self, shape: &[usize]) -> Result<Self> {
        BitShare::new(self.words.clone(), shape)
    }

    /// Concatenation of flat bit vectors (the result is 1-D).
    pub fn concat_flat(parts: &[&BitShare]) -> Self {
        let bits: Vec<bool> = parts
            .iter()
            .flat_map(|p| (0..p.len()).map(move |i| p.get(i)))
            .collect();
        let n = bits.len();
        BitShare::from_bools(&bits, &[n])
    }
}

/// Packs `vals[i]` (each using the low `w` bits; `w` a power of two up to 64) densely:
/// element `i` occupies bits `i*w .. (i+1)*w`.
pub fn pack_bits(vals: &[u64], w: u32) -> Vec<u64> {
    debug_assert!(w.is_power_of_two() && w <= 64);
    if w == 64 {
        return vals.to_vec();
    }
    let per = (64 / w) as usize;
    let mask = (1u64 << w) - 1;
    let mut out = vec![0u64; vals.len().div_ceil(per)];
    for (i, &v) in vals.iter().enumerate() {
        out[i / per] |= (v & mask) << ((i % per) as u32 * w);
    }
    out
}

/// Inverse of [`pack_bits`] for `n` elements.
pub fn unpack_bits(words: &[u64], w: u32, n: usize) -> Vec<u64> {
    if w == 64 {
        return words[..n].to_vec();
    }
    let per = (64 / w) as usize;
    let mask = (1u64 << w) - 1;
    (0..n)
        .map(|i| (words[i / per] >> ((i % per) as u32 * w)) & mask)
        .collect()
}

/// The even-position bits of `x` (0, 2, 4, ...) compressed into the low half.
#[inline]
pub fn compress_even(mut x: u64) -> u64 {
    x &= 0x5555_5555_5555_5555;
    x = (x | (x >> 1)) & 0x3333_3333_3333_3333;
    x = (x | (x >> 2)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x >> 4)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x >> 8)) & 0x0000_FFFF_0000_FFFF;
    (x | (x >> 16)) & 0x0000_0000_FFFF_FFFF
}

/// Little-endian bytes of words.
pub fn words_to_bytes(words: &[u64]) -> Vec<u8> {
    let mut out = Vec::with_capacity(words.len() * 8);
    for w in words {
        out.extend_from_slice(&w.to_le_bytes());
    }
    out
}

/// Words from little-endian bytes (`bytes.len()` must be `8 * n`).
pub fn bytes_to_words(bytes: &[u8], n: usize) -> Result<Vec<u64>> {
    if bytes.len() != 8 * n {
        return Err(Error::Protocol(format!(
            "expected {} bytes of words, got {}",
            8 * n,
            bytes.len()
        )));
    }
    Ok(bytes
        .chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().expect("chunk of 8")))
        .collect())
}

/// The first `ceil(nbits / 8)` little-endian bytes of packed bits.
pub fn bits_to_bytes(words: &[u64], nbits: usize) -> Vec<u8> {
    let mut b = words_to_bytes(words);
    b.truncate(nbits.div_ceil(8));
    b
}

/// Packed bits from `ceil(nbits / 8)` bytes; bits past `nbits` are cleared.
pub fn bytes_to_bits(bytes: &[u8], nbits: usize) -> Result<Vec<u64>> {
    if bytes.len() != nbits.div_ceil(8) {
        return Err(Error::Protocol(format!(
            "expected {} bytes of bits, got {}",
            nbits.div_ceil(8),
            bytes.len()
        )));
    }
    let mut words = vec![0u64; nbits.div_ceil(64)];
    for (i, &b) in bytes.iter().enumerate() {
        words[i / 8] |= (b as u64) << (8 * (i % 8));
    }
    if !nbits.is_multiple_of(64) {
        if let Some(w) = words.last_mut() {
            *w &= (1u64 << (nbits % 64)) - 1;
        }
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pack_unpack() {
        let vals: Vec<u64> = (0..37).map(|i| (i * 7 + 3) as u64 & 0xF).collect();
        for w in [4u32, 8, 16, 32, 64] {
            let p = pack_bits(&vals, w);
            assert_eq!(unpack_bits(&p, w, vals.len()), vals);
        }
        let ones = vec![1u64; 70];
        let p = pack_bits(&ones, 1);
        assert_eq!(p.len(), 2);
        assert_eq!(unpack_bits(&p, 1, 70), ones);
    }

    #[test]
    fn compress() {
        assert_eq!(compress_even(0b1011_0101), 0b0111);
        assert_eq!(compress_even(u64::MAX), 0xFFFF_FFFF);
        assert_eq!(compress_even(0xAAAA_AAAA_AAAA_AAAA), 0);
    }

    #[test]
    fn bytes_round_trip() {
        let w = vec![0x0102_0304_0506_0708u64, 0xFFu64];
        assert_eq!(bytes_to_words(&words_to_bytes(&w), 2).unwrap(), w);
        let b = bits_to_bytes(&w, 72);
        assert_eq!(b.len(), 9);
        assert_eq!(bytes_to_bits(&b, 72).unwrap(), w);
        assert_err!(bytes_to_bits(&b, 80), crate::Error::Protocol(_));
    }

    #[test]
    fn local_ops() {
        let a = ArithShare::from_vec(&[2, 3], (1..=6).collect()).unwrap();
        let b = ArithShare::from_vec(&[3], vec![1, 1, 1]).unwrap();
        assert_eq!(a.add(&b).unwrap().to_vec(), vec![2, 3, 4, 5, 6, 7]);
        assert_eq!(a.sum_last_keep().unwrap().to_vec(), vec![6, 15]);
        assert_eq!(a.sum_axis(0).unwrap().to_vec(), vec![5, 7, 9]);
        assert_eq!(
            a.transpose_last2().unwrap().to_vec(),
            vec![1, 4, 2, 5, 3, 6]
        );
        assert_err!(b.add(&a), crate::Error::ShapeMismatch { .. });
        let bits = BitShare::from_bools(&[true, false, true], &[3]);
        assert_eq!(bits.not(0).words, vec![0b010]);
        assert_eq!(bits.not(1).words, vec![0b101]);
    }
}
