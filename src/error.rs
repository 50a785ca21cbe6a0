//! The crate-wide error type. Every fallible public function returns [`Result`].

use thiserror::Error;

/// Errors a user can cause (bad config, bad file, bad input) or the environment can cause
/// (I/O, a broken channel). None of these is ever raised as a panic.
#[derive(Debug, Error)]
pub enum Error {
    /// A model configuration or attention plan that cannot describe a ViT.
    #[error("invalid config: {0}")]
    Config(String),
    /// A setting outside the values it accepts: a config size, a training hyper-parameter, an
    /// augmentation strength, a protocol parameter, a party id.
    #[error("{setting} is {value}, expected {expected}")]
    OutOfRange {
        /// The setting, as the user names it (`dim`, `augmentation 'rotate'`, `--mu`).
        setting: String,
        /// The value given.
        value: String,
        /// What it accepts (`at most 1024`, `0 to 180`, `0 or 1`).
        expected: String,
    },
    /// A network address, URL, listener or TLS set-up that cannot be used.
    #[error("network endpoint: {0}")]
    Endpoint(String),
    /// A training or search checkpoint that does not fit the run resuming it.
    #[error("checkpoint: {0}")]
    Checkpoint(String),
    /// The operating system gave no randomness (`getrandom` failed).
    #[error("no OS randomness: {0}")]
    Randomness(String),
    /// A valid request this path cannot serve (a relaxed plan run privately, a colour model for
    /// a greyscale drawing, ...): what, and what to do instead.
    #[error("not supported: {0}")]
    Unsupported(String),
    /// A command line or call that is incomplete or contradictory (which option is missing or
    /// conflicts).
    #[error("{0}")]
    Usage(String),
    /// A tensor, image or buffer whose shape or size does not fit an operation (candle's
    /// `ShapeMismatch`): which operation, what it expected and what it got.
    #[error("{op}: expected {expected}, got {got}")]
    ShapeMismatch {
        /// The operation or input that was given the wrong shape.
        op: &'static str,
        /// The shape (or size) it accepts.
        expected: String,
        /// The shape (or size) it was given.
        got: String,
    },
    /// A model tensor (weights, gradients, moments) whose shape is not the one its config
    /// needs.
    #[error("tensor `{tensor}` has shape {got:?}, expected {expected:?}")]
    TensorShape {
        /// The tensor's file name (`blocks.0.attn.qkv.weight`).
        tensor: String,
        /// The shape the config needs.
        expected: Vec<usize>,
        /// The shape it has.
        got: Vec<usize>,
    },
    /// An ndarray shape error (a buffer that does not fill the shape it is viewed as).
    #[error("tensor shape: {0}")]
    Ndarray(#[from] ndarray::ShapeError),
    /// A value outside the fixed-point range of the ring (`+-2^(63 - F)`).
    #[error("{value} is outside the fixed-point range +-2^{bits}")]
    FixedPointRange {
        /// The value.
        value: f64,
        /// `63 - F`: the range's exponent.
        bits: u32,
    },
    /// Training produced a non-finite loss (too high a learning rate, or bad data).
    #[error("training diverged at step {step} (loss {loss}): lower the learning rate")]
    Diverged {
        /// The step (0-based) whose loss was not finite.
        step: usize,
        /// That loss.
        loss: f32,
    },
    /// A name (of a network profile, a protocol family, ...) that is not one of the choices.
    #[error("unknown {what} {got:?}: expected {expected}")]
    UnknownName {
        /// What was named.
        what: &'static str,
        /// The name given.
        got: String,
        /// The accepted names.
        expected: &'static str,
    },
    /// A weights file, manifest or checkpoint that cannot be loaded.
    #[error("invalid model file: {0}")]
    Model(String),
    /// A dataset file that is missing, truncated or fails its checksum.
    #[error("invalid dataset: {0}")]
    Data(String),
    /// A protocol-level failure: a malformed, truncated, duplicated or out-of-order message,
    /// or a peer that went away.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The peer closed the connection (or the channel) while this side waited for a message.
    /// Typed apart from [`Error::Protocol`] because it is not always a failure: a client that
    /// reads the server's hello and leaves (the page does, to show the model) ends this way.
    #[error("{peer} closed the connection")]
    ConnectionClosed {
        /// Who closed it, as this side names it ("peer", "the client at 1.2.3.4:5", ...).
        peer: String,
    },
    /// A function-secret-sharing key that is malformed or does not fit its evaluator.
    #[error("fss key: {0}")]
    FssKey(#[from] crate::mpc::fss::KeyError),
    /// Operating-system I/O.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// JSON (de)serialisation.
    #[error("json error: {0}")]
    Json(#[from] serde_json::Error),
}

impl Error {
    /// An [`Error::OutOfRange`] for `setting`.
    pub fn out_of_range(
        setting: impl std::fmt::Display,
        value: impl std::fmt::Display,
        expected: impl std::fmt::Display,
    ) -> Self {
        Error::OutOfRange {
            setting: setting.to_string(),
            value: value.to_string(),
            expected: expected.to_string(),
        }
    }

    /// A [`Error::ShapeMismatch`] for operation `op`.
    pub fn shape(
        op: &'static str,
        expected: impl std::fmt::Display,
        got: impl std::fmt::Display,
    ) -> Self {
        Error::ShapeMismatch {
            op,
            expected: expected.to_string(),
            got: got.to_string(),
        }
    }
}

/// Shorthand for `std::result::Result<T, Error>`.
pub type Result<T> = std::result::Result<T, Error>;
