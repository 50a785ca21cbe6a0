//! Secure two-party computation (semi-honest) with a dealer for correlated randomness, as in
//! SecretFlow-SPU's SEMI2K with its trusted-first-party Beaver provider and CrypTen's TTP mode.
//!
//! | file | concept |
//! |---|---|
//! | [`ring`] | Z_2^64, fixed point (F = 16 by default), local truncation, wrapping matmul |
//! | [`share`] | additive and XOR share tensors, bit packing |
//! | [`prg`] | ChaCha12 PRG, seeds from `getrandom` |
//! | [`fss`] | function secret sharing: GGM PRGs, DPF and DCF keys |
//! | [`correlation`] | what a correlation is: components, roles, the trait each protocol's correlation implements |
//! | [`dealer`] | serving correlations: party 0 expands from its seed, party 1 gets corrections |
//! | [`transport`] | async byte transports, frames, in-memory / pumped / shaped / recording |
//! | `tcp` | native TCP transport |
//! | `websocket` | native WebSocket transport (`ws://`, `wss://`), the one browsers speak |
//! | [`meter`] | labelled cost meter, reports, latency estimates |
//! | [`setup`] | party set-up over dealer links: seeds first, then the dealing party and the two parties |
//! | [`network`] | named network profiles (LAN, the paper's WAN), a clock for native and wasm |
//! | [`party`] | the per-party context and session setup |
//! | [`exec`] | a deadlock-detecting single-thread executor, `run_joined` |
//! | [`protocols`] | the protocols and their cost formulas |
//! | [`mod@bench`] | the per-protocol cost table |
//!
//! Two parties in one thread:
//!
//! ```
//! use mpcvit::mpc::{exec::run_joined, local_pair, protocols as pr, SessionConfig};
//! use ndarray::{arr1, ArrayD};
//!
//! let (mut p0, mut p1) = local_pair(SessionConfig::default()).unwrap();
//! let x: ArrayD<f64> = arr1(&[-1.5, 2.0]).into_dyn();
//! let shape = [2];
//! let (out, _) = run_joined(
//!     async {
//!         let s = pr::share_input(&mut p0, 0, Some(&x), &shape).await?;
//!         let r = pr::relu(&mut p0, &s).await?;
//!         pr::reveal_to(&mut p0, &r, 0).await
//!     },
//!     async {
//!         let s = pr::share_input(&mut p1, 0, None, &shape).await?;
//!         let r = pr::relu(&mut p1, &s).await?;
//!         pr::reveal_to(&mut p1, &r, 0).await
//!     },
//! )
//! .unwrap();
//! assert_eq!(out.unwrap().as_slice().unwrap(), &[0.0, 2.0]);
//! ```

pub mod bench;
pub mod correlation;
pub mod dealer;
pub mod exec;
pub mod fss;
pub mod harness;
pub mod meter;
pub mod network;
pub mod party;
pub mod prg;
pub mod protocols;
pub mod ring;
pub mod setup;
pub mod share;
#[cfg(not(target_arch = "wasm32"))]
pub mod tcp;
pub mod transport;
#[cfg(not(target_arch = "wasm32"))]
pub mod websocket;

pub use dealer::{Dealer, DealerClient};
pub use meter::{Meter, Report, Stats};
pub use network::NetworkProfile;
pub use party::{
    local_pair, local_pair_with, LabelScope, Party, ProtocolFamily, SessionConfig, SessionSeeds,
    TruncMode,
};
pub use prg::{Prg, Seed};
pub use ring::FixedPoint;
pub use share::{ArithShare, BitShare};
pub use transport::Transport;
