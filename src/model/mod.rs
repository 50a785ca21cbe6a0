//! The plaintext ViT (f32, ndarray): configuration, attention plan, parameters, layers and every
//! attention variant of the paper's Table 2. Training reuses these forward functions and adds
//! backward passes in [`crate::train`].

pub mod attention;
pub mod config;
pub mod layers;
pub mod params;
pub mod plan;
pub mod vit;

pub use config::ViTConfig;
pub use params::{BlockParams, Params};
pub use plan::{Attention, AttentionPlan, GeluPlan, Plan};
pub use vit::{argmax, ViT};
