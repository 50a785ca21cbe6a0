//! Byte layout of FSS keys: a little-endian writer and a bounds-checked reader whose every
//! failure is a typed [`KeyError`] (a key of the wrong length or with a bad header from a
//! faulty or hostile dealer must be reported, never panic).

use super::prg::Block;

/// What is wrong with a serialised key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The bytes end before the key does, or go on after it.
    #[error("{kind} key of {got} bytes, expected {expected}")]
    Length {
        /// Key kind ("dcf", "dpf", a protocol's bundle).
        kind: &'static str,
        /// Bytes the header announces.
        expected: usize,
        /// Bytes received.
        got: usize,
    },
    /// A header field out of range or different from what the evaluator expects.
    #[error("{kind} key: {field} is {got}, expected {expected}")]
    Header {
        /// Key kind.
        kind: &'static str,
        /// The field.
        field: &'static str,
        /// What the evaluator expects (a value or a range).
        expected: String,
        /// What the key holds.
        got: u64,
    },
    /// An input or a threshold outside the function's domain of `bits`-bit integers.
    #[error("{kind}: {what} {value} does not fit in {bits} bits")]
    Domain {
        /// Key kind.
        kind: &'static str,
        /// "input", "alpha".
        what: &'static str,
        /// The offending value.
        value: u64,
        /// The domain's width.
        bits: u32,
    },
}

/// `value` as an element of the `bits`-bit domain (`bits <= 64`), or a [`KeyError::Domain`].
pub(crate) fn in_domain(
    kind: &'static str,
    what: &'static str,
    value: u64,
    bits: u32,
) -> Result<u64, KeyError> {
    if bits >= 64 || value >> bits == 0 {
        Ok(value)
    } else {
        Err(KeyError::Domain {
            kind,
            what,
            value,
            bits,
        })
    }
}

/// Appends fields to a key.
#[derive(Default)]
pub(crate) struct Writer(pub(crate) Vec<u8>);

impl Writer {
    pub(crate) fn with_capacity(n: usize) -> Self {
        Writer(Vec::with_capacity(n))
    }
    pub(crate) fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    pub(crate) fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    pub(crate) fn block(&mut self, v: Block) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    /// `bits` packed eight to a byte, first bit in the lowest position.
    pub(crate) fn bits(&mut self, bits: &[bool]) {
        for chunk in bits.chunks(8) {
            self.0.push(
                chunk
                    .iter()
                    .enumerate()
                    .fold(0u8, |a, (i, &b)| a | ((b as u8) << i)),
            );
        }
    }
}

/// Reads fields of a key whose total length was checked up front.
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    /// A reader over `bytes`, which must be exactly `expected` long.
    pub(crate) fn exact(
        kind: &'static str,
        bytes: &'a [u8],
        expected: usize,
    ) -> Result<Self, KeyError> {
        if bytes.len() != expected {
            return Err(KeyError::Length {
                kind,
                expected,
                got: bytes.len(),
            });
        }
        Ok(Reader { bytes, at: 0 })
    }

    fn take(&mut self, n: usize) -> &'a [u8] {
        // In bounds: the total length was checked against the layout in `exact`.
        let s = &self.bytes[self.at..self.at + n];
        self.at += n;
        s
    }
    pub(crate) fn skip(&mut self, n: usize) {
        self.take(n);
    }
    pub(crate) fn bytes(&mut self, n: usize) -> &'a [u8] {
        self.take(n)
    }
    pub(crate) fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.take(8).try_into().expect("8 bytes"))
    }
    pub(crate) fn block(&mut self) -> Block {
        u128::from_le_bytes(self.take(16).try_into().expect("16 bytes"))
    }
    pub(crate) fn bits(&mut self, n: usize) -> Vec<bool> {
        let bytes = self.take(n.div_ceil(8));
        (0..n).map(|i| (bytes[i / 8] >> (i % 8)) & 1 == 1).collect()
    }
}

/// Checks a header byte against the allowed range before any length is derived from it.
pub(crate) fn header_field(
    kind: &'static str,
    field: &'static str,
    got: u8,
    ok: bool,
    expected: impl Into<String>,
) -> Result<u8, KeyError> {
    if ok {
        Ok(got)
    } else {
        Err(KeyError::Header {
            kind,
            field,
            expected: expected.into(),
            got: got as u64,
        })
    }
}

/// The first `n` bytes of a key (its header), or a length error.
pub(crate) fn header<'a>(
    kind: &'static str,
    bytes: &'a [u8],
    n: usize,
) -> Result<&'a [u8], KeyError> {
    bytes.get(..n).ok_or(KeyError::Length {
        kind,
        expected: n,
        got: bytes.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_length_errors() {
        let mut w = Writer::default();
        w.u64(0x0102_0304_0506_0708);
        w.block(u128::MAX - 5);
        w.bits(&[true, false, true, true, false, false, false, false, true]);
        assert_eq!(w.0.len(), 8 + 16 + 2);
        let mut r = Reader::exact("t", &w.0, 26).unwrap();
        assert_eq!(r.u64(), 0x0102_0304_0506_0708);
        assert_eq!(r.block(), u128::MAX - 5);
        assert_eq!(
            r.bits(9),
            vec![true, false, true, true, false, false, false, false, true]
        );
        assert_eq!(
            Reader::exact("t", &w.0, 27).err(),
            Some(KeyError::Length {
                kind: "t",
                expected: 27,
                got: 26
            })
        );
    }
}
