//! The heterogeneous ViT under secure two-party computation (paper Figure 2; the path of
//! one inference is in `ARCHITECTURE.md`):
//! party 1 (server) secret-shares its weights once per session, party 0 (client) shares its
//! image, both run the same `async` forward on their shares, and only party 0 learns the logits.
//!
//! * [`weights`]: the model's tensors as shares (and the MPCViT+ fused matrices);
//! * [`attention`]: each row-wise attention variant's map `P = f(S)` on the engine's protocols;
//! * [`heads`]: whole-head ScaleAttn (re-associated), Linformer and XNorm on shares;
//! * [`mod@bench`]: the per-protocol cost table, engine and attention rows;
//! * [`forward`]: the forward pass over [`crate::mpc`] protocols; cost follows the plan: ReLU /
//!   reciprocal run only on the heads, rows and tokens the plan gives RSAttn or GeLU, ScaleAttn
//!   heads cost only their (re-associated) matrix products, and heads sharing a variant share
//!   rounds;
//! * [`programs`]: what the client, the server and the dealer each run, over any transport;
//! * [`session`]: both parties joined in one thread (tests, CLI), with the cost report;
//! * [`report`]: a private inference as a command-line table and as JSON;
//! * [`remote`]: client, server and dealer as separate processes over TCP or WebSocket (the
//!   client's session and the wire format on every target, the services natively);
//! * [`agreement`], [`paper`]: private vs plaintext on a dataset; the paper-config cost table;
//! * [`latency`]: per-unit latencies from the real protocol, for the search's penalty.
//!
//! The architecture (config and plan) is public to both parties; the weights and the image are
//! not.

pub mod agreement;
pub mod attention;
pub mod bench;
pub mod forward;
pub mod heads;
pub mod latency;
pub mod paper;
pub mod programs;
pub mod remote;
pub mod report;
pub mod session;
pub mod weights;

pub use forward::{forward, forward_observed, Stage};
pub use latency::{measure_cost, plan_cost_measured, unit_latency};
pub use session::{infer_local, CostSummary, PrivateInference};
pub use weights::{share_weights, SharedWeights};
