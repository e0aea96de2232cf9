//! What can go wrong: with one task ([`TaskError`], returned in its place
//! among the results) and with a pool ([`PoolError`], when it cannot start).

use std::time::Duration;

/// Why one task has no result. The other tasks of the call are not
/// affected: each has its own `Result`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum TaskError {
    /// The function panicked; the panic's message.
    #[error("task panicked: {message}")]
    Panicked {
        /// The panic's payload, when it was a string.
        message: String,
    },
    /// The child process running the task died (a segfault, an abort, the
    /// OOM killer, `kill -9`); the pool replaced it.
    #[error("the process running the task died ({})", death(*signal, *code))]
    Crashed {
        /// The signal that ended the process.
        signal: Option<i32>,
        /// Its exit status, when it exited instead.
        code: Option<i32>,
    },
    /// The task ran longer than the pool's timeout; its process group was
    /// killed.
    #[error("task ran longer than {0:?}")]
    TimedOut(Duration),
    /// The task was cancelled before it started, or the pool was dropped.
    #[error("task cancelled")]
    Cancelled,
    /// The child process does not know the task's name: it runs another
    /// build of the program.
    #[error("task `{name}` is not registered in the child process")]
    Unregistered {
        /// The task's registered name.
        name: String,
    },
    /// The argument or the result could not be encoded or decoded.
    #[error("cannot encode or decode the task's data: {0}")]
    Codec(String),
    /// The broker backend could not send the task or get its result back.
    #[error("broker: {0}")]
    Broker(String),
    /// Every broker worker that took the task died running it, this many
    /// times: the task is given up rather than kill more workers.
    #[error("the task killed {0} workers that ran it")]
    WorkersLost(u32),
}

fn death(signal: Option<i32>, code: Option<i32>) -> String {
    match (signal, code) {
        (Some(s), _) => format!("signal {s}"),
        (None, Some(c)) => format!("exit status {c}"),
        (None, None) => "unknown cause".to_owned(),
    }
}

/// Why a pool could not be made or could not go on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PoolError {
    /// A pool needs at least one thread, process or worker slot.
    #[error("a pool needs at least one worker")]
    NoWorkers,
    /// `processes(n)` runs this program again as its children, which is
    /// only safe once `main` has called [`crate::init`].
    #[error("a process pool needs fanout_tasks::init() at the top of main")]
    NotInitialised,
    /// A child process or a thread could not be started.
    #[error("cannot start a worker: {0}")]
    Spawn(#[source] std::io::Error),
    /// The broker could not be reached or its streams set up.
    #[error("broker {url}: {message}")]
    Broker {
        /// The broker's URL.
        url: String,
        /// What went wrong.
        message: String,
    },
}
