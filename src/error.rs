//! The crate-wide error type. Every fallible public function returns [`Result`].

use thiserror::Error;

/// Errors a user can cause (bad config, bad file, bad input) or the environment can cause
/// (I/O, a broken channel). None of these is ever raised as a panic.
#[derive(Debug, Error)]
pub enum Error {
    /// A model configuration or attention plan that cannot describe a ViT.
    #[error("invalid config: {0}")]
    Config(String),
    /// An input tensor or image with the wrong shape or size.
    #[error("shape mismatch: {0}")]
    Shape(String),
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

/// Shorthand for `std::result::Result<T, Error>`.
pub type Result<T> = std::result::Result<T, Error>;
