//! The registry of correlated-randomness kinds: one frame tag per kind, for the Beaver-style
//! correlations of [`crate::mpc::correlation`] (dealer -> party 1 corrections) and the FSS key
//! bundles of [`crate::mpc::fss::deal`] (dealer -> both parties). A frame from the dealer carries
//! its tag, so a dealer out of step is caught at the first frame.
//!
//! A new protocol defines its correlation (or key bundle) in its own file and adds one line here.

macro_rules! tags {
    ($($(#[$doc:meta])* $name:ident = $value:expr;)*) => {
        $($(#[$doc])* pub const $name: u32 = $value;)*
        /// Every registered tag with its name (for the uniqueness test and diagnostics).
        pub const ALL: &[(&str, u32)] = &[$((stringify!($name), $name)),*];
    };
}

tags! {
    /// [`super::beaver::Triple`].
    TRIPLE = 1;
    /// [`super::beaver::Square`].
    SQUARE = 2;
    /// [`super::matmul::MatTriple`].
    MAT_TRIPLE = 3;
    /// [`super::msb::AndTriple`].
    AND_TRIPLE = 4;
    /// [`super::msb::OneSidedAnd`].
    ONE_SIDED_AND = 5;
    /// [`super::b2a::BitPair`].
    BIT_PAIR = 6;
    /// [`super::b2a::BitMul`].
    BIT_MUL = 7;
    /// [`super::trunc::TruncPair`].
    TRUNC_PAIR = 8;
    /// [`super::input::InputMask`].
    INPUT_MASK = 9;
    /// [`super::fixed_matmul::FixedMask`].
    FIXED_MASK = 10;
    /// [`super::fixed_matmul::FixedTriple`] for a shared left operand.
    FIXED_TRIPLE = 11;
    /// [`super::fixed_matmul::FixedTriple`] for party 0's own input.
    FIXED_INPUT_TRIPLE = 12;
    /// [`super::fss::sign`]: the DCF sign gate.
    SIGN = 0x100;
    /// [`super::fss::relu`]: ReLU from one two-word DCF key.
    RELU = 0x101;
    /// [`super::fss::exp`]: exp on `x <= 0` (sign key, lookup key, signed product).
    EXP = 0x102;
    /// [`super::fss::normalize`]: softmax's row division (lookup key, signed product).
    NORMALIZE = 0x103;
    /// [`super::fss::gelu`]: GeLU as ReLU minus a windowed table (and MPCViT+'s ReLU tokens).
    GELU = 0x104;
    /// [`super::fss::range_reduced`]: LayerNorm's `d / sqrt(v)` (range reduction, table,
    /// products).
    RSQRT = 0x105;
    /// [`super::fss::range_reduced`]: the attention maps' row division `q / s`.
    DIVIDE = 0x106;
}

/// The name of a registered tag (for error messages).
pub fn name(tag: u32) -> Option<&'static str> {
    ALL.iter().find(|(_, t)| *t == tag).map(|(n, _)| *n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_unique() {
        let mut tags: Vec<u32> = ALL.iter().map(|(_, t)| *t).collect();
        tags.sort_unstable();
        tags.dedup();
        assert_eq!(tags.len(), ALL.len());
        assert_eq!(name(SIGN), Some("SIGN"));
        assert_eq!(name(0xdead), None);
    }
}
