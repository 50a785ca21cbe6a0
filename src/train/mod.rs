//! Training: backward passes, losses, AdamW, the learning-rate schedule, augmentation and the
//! training loop. Works natively and in wasm (single thread).

pub mod adamw;
pub mod augment;
pub mod backward;
pub mod checkpoint;
pub mod config;
pub mod distill;
pub mod loss;
pub mod mlp;
pub mod ood;
pub mod schedule;
pub mod search;
pub mod trainer;
pub mod vit_backward;

pub use adamw::AdamW;
pub use augment::Augment;
pub use checkpoint::Checkpoint;
pub use config::TrainConfig;
pub use ood::{evaluate_ood, OodScore};
pub use schedule::Cosine;
pub use trainer::{evaluate, Evaluation, StepStats, Trainer};
pub use vit_backward::{backward, Grads};
