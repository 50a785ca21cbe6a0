//! Function secret sharing (FSS) for the dealer model: the dealer splits a function `f` into
//! two keys, each party evaluates its key on a public (masked) input, and the two outputs are
//! additive shares of `f(x)` (Boyle, Gilboa and Ishai, "Function Secret Sharing", Eurocrypt
//! 2015; "Function Secret Sharing: Improvements and Extensions", CCS 2016).
//!
//! | file | concept |
//! |---|---|
//! | [`prg`] | the GGM tree's PRG: fixed-key AES (Matyas-Meyer-Oseas) or ChaCha12 |
//! | [`dpf`] | distributed point function (BGI 2016), early termination, full-domain evaluation |
//! | [`dcf`] | distributed comparison function (Boyle et al., Eurocrypt 2021) |
//! | [`deal`] | key requests, the dealer's key side, each bundle served once |
//! | [`codec`] | key bytes: exact lengths, typed [`KeyError`]s |
//! | [`speed`] | evaluation speed of both PRGs (for `bench fss` and the wasm report) |
//!
//! The engine uses [`EnginePrg`]; the protocols on top are in `crate::mpc::protocols::fss`.

pub mod codec;
pub mod dcf;
pub mod deal;
pub mod dpf;
pub mod prg;
pub mod speed;

pub use codec::KeyError;
pub use dcf::DcfKey;
pub use dpf::DpfKey;
pub use prg::{AesMmo, Block, ChaChaTree, TreePrg};

/// The tree PRG the protocols use (chosen by measurement, see the README's FSS section).
pub type EnginePrg = AesMmo;
