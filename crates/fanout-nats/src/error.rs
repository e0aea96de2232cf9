//! Errors of the distributed mode.

/// What can go wrong talking to the broker or running a distributed run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The broker could not be reached or refused us.
    #[error("broker {url}: {reason}")]
    Connect {
        /// The broker's address.
        url: String,
        /// Why.
        reason: String,
    },
    /// The server is too old or has JetStream off.
    #[error("broker {url}: {reason}")]
    Server {
        /// The broker's address.
        url: String,
        /// What is missing.
        reason: String,
    },
    /// A JetStream request failed.
    #[error("broker: {0}")]
    Broker(String),
    /// A run id that is not 1-32 of `A-Za-z0-9_-`.
    #[error("invalid run id `{0}`: use 1 to 32 of A-Z a-z 0-9 _ -")]
    RunId(String),
    /// A job too big for one broker message.
    #[error("job {seq} is {size} bytes as a broker message, over the limit of {limit}")]
    TooBig {
        /// The job.
        seq: u64,
        /// Its encoded size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// Another coordinator is running this run.
    #[error("run `{0}` is already running (another coordinator answers for it)")]
    Active(String),
    /// No coordinator or stream for this run.
    #[error("no run `{0}` on the broker")]
    NoRun(String),
    /// A key file or a signature was not accepted.
    #[error(transparent)]
    Trust(#[from] crate::trust::TrustError),
    /// A worker refused the run's spec as invalid, so no worker can serve it.
    #[error("worker {worker} refused run `{run}`: {reason}")]
    Refused {
        /// The worker's id.
        worker: String,
        /// The run id.
        run: String,
        /// Why.
        reason: String,
    },
    /// The engine failed.
    #[error(transparent)]
    Engine(#[from] fanout_core::Error),
    /// A local I/O error (output, spool files, threads).
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Turns any broker-side error into [`Error::Broker`].
pub(crate) fn broker<E: std::fmt::Display>(e: E) -> Error {
    Error::Broker(e.to_string())
}
