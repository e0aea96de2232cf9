//! What the coordinator and the worker have to say that is not an error
//! of the run: a message dropped, a run refused, a stream left behind.
//! The library never prints; it hands each [`Warning`] to the
//! [`WarnTo`] in its options, and the binary prints it (`fanout: ...`).

use std::fmt;
use std::sync::Arc;

/// Something the broker side noticed and went on after.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Warning {
    /// A result message the coordinator cannot read.
    UnreadableResults {
        /// Why.
        why: String,
    },
    /// A message the coordinator does not take (unsigned, forged, out of
    /// range); one per sender.
    Ignored {
        /// What was ignored and why.
        what: String,
    },
    /// A job given back by a worker could not be published again.
    Republish {
        /// The job.
        seq: u64,
        /// The broker's error.
        error: String,
    },
    /// The run ended but its streams could not be deleted.
    LeftOnBroker {
        /// The run id.
        run: String,
        /// The broker's error.
        error: String,
    },
    /// A worker will not serve a run (its spec is unsigned or invalid).
    RefusingRun {
        /// The run id.
        run: String,
        /// Why.
        reason: String,
    },
    /// A worker cannot serve a run (its command cannot be built).
    CannotServe {
        /// The run id.
        run: String,
        /// Why.
        error: String,
    },
    /// A job message over the size limit, dropped.
    OversizedJobs {
        /// Its size.
        bytes: usize,
    },
    /// A job message not signed by the run's signer, dropped.
    UntrustedJobs {
        /// The run id.
        run: String,
        /// Why.
        why: String,
    },
    /// A job message a worker cannot read; its jobs are reported failed.
    UnreadableJobs {
        /// Why.
        why: String,
    },
    /// A job message names a job this worker already runs; the copy is
    /// dropped.
    AlreadyRunning {
        /// The run id.
        run: String,
        /// The job.
        seq: u64,
    },
    /// A worker's engine stopped with an error.
    EngineFailed {
        /// The error.
        error: String,
    },
    /// Not a warning but news: a worker is connected to the broker (the
    /// binary shows it only on a terminal).
    Connected {
        /// The broker's URL.
        broker: String,
    },
    /// News: a worker started serving a run's jobs.
    Serving {
        /// The run id.
        run: String,
    },
    /// News: a coordinator has had no result yet, some seconds in.
    Waiting {
        /// The run id.
        run: String,
        /// How long it has waited.
        secs: u64,
    },
}

impl Warning {
    /// True for news (what a worker is doing) rather than a warning.
    pub fn is_news(&self) -> bool {
        matches!(
            self,
            Warning::Connected { .. } | Warning::Serving { .. } | Warning::Waiting { .. }
        )
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::UnreadableResults { why } => write!(f, "ignoring a result message: {why}"),
            Warning::Ignored { what } => write!(f, "warning: {what}"),
            Warning::Republish { seq, error } => {
                write!(f, "cannot publish job {seq} again: {error}")
            }
            Warning::LeftOnBroker { run, error } => {
                write!(f, "warning: run {run} left on the broker: {error}")
            }
            Warning::RefusingRun { run, reason } => {
                write!(f, "worker: refusing run {run}: {reason}")
            }
            Warning::CannotServe { run, error } => {
                write!(f, "worker: cannot serve run {run}: {error}")
            }
            Warning::OversizedJobs { bytes } => {
                write!(f, "worker: dropping a job message of {bytes} bytes")
            }
            Warning::UntrustedJobs { run, why } => {
                write!(f, "worker: dropping a job message of run {run}: {why}")
            }
            Warning::UnreadableJobs { why } => write!(f, "worker: cannot run a job message: {why}"),
            Warning::AlreadyRunning { run, seq } => write!(
                f,
                "worker: job {seq} of run {run} is already running here; the copy is dropped"
            ),
            Warning::EngineFailed { error } => write!(f, "worker engine: {error}"),
            Warning::Connected { broker } => write!(f, "worker: connected to {broker}"),
            Warning::Serving { run } => write!(f, "worker: serving run {run}"),
            Warning::Waiting { run, secs } => write!(
                f,
                "coordinator: waiting for workers: none has answered run {run} in {secs} s"
            ),
        }
    }
}

/// Where warnings go: a function the caller gives (the binary prints
/// them). The default drops them.
#[derive(Clone, Default)]
pub struct WarnTo(Option<Arc<dyn Fn(Warning) + Send + Sync>>);

impl WarnTo {
    /// Warnings go to `f`.
    pub fn new(f: impl Fn(Warning) + Send + Sync + 'static) -> Self {
        WarnTo(Some(Arc::new(f)))
    }

    /// Hands `w` on.
    pub fn warn(&self, w: Warning) {
        if let Some(f) = &self.0 {
            f(w);
        }
    }
}

impl fmt::Debug for WarnTo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() {
            "WarnTo(..)"
        } else {
            "WarnTo(none)"
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    #[test]
    fn warnings_reach_the_callers_function_with_their_text() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let to = {
            let seen = seen.clone();
            WarnTo::new(move |w| seen.lock().unwrap().push(w.to_string()))
        };
        to.warn(Warning::OversizedJobs { bytes: 9 });
        WarnTo::default().warn(Warning::OversizedJobs { bytes: 1 });
        assert_eq!(
            *seen.lock().unwrap(),
            ["worker: dropping a job message of 9 bytes"]
        );
    }
}
