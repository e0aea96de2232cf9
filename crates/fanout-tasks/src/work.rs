//! [`Work`]: one batch on its way to a child process or a broker worker —
//! the task's registered name, the encoded arguments, and who gets the
//! results back. Whatever happens to it, the caller hears once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::outcomes::Outcomes;
use crate::{Task, TaskError};

/// What reports a batch's results, once.
type Reply = Box<dyn FnOnce(Vec<Result<Vec<u8>, TaskError>>, Duration) + Send>;

/// A batch for the process pool: the task's name and its encoded
/// arguments. Dropped unrun (the pool gone), it reports its tasks
/// cancelled, so no caller waits for ever.
pub(crate) struct Work {
    /// The registered task.
    pub name: &'static str,
    /// Its arguments, encoded.
    pub args: Vec<Vec<u8>>,
    cancelled: Arc<AtomicBool>,
    reply: Option<Reply>,
}

impl Work {
    /// Already-encoded arguments for the task registered as `name`.
    pub fn raw(
        name: &'static str,
        args: Vec<Vec<u8>>,
        done: impl FnOnce(Vec<Result<Vec<u8>, TaskError>>, Duration) + Send + 'static,
    ) -> Work {
        Work {
            name,
            args,
            cancelled: Arc::new(AtomicBool::new(false)),
            reply: Some(Box::new(done)),
        }
    }

    /// Encodes `args` for `T`; `done` gets the decoded results (an
    /// argument that would not encode gets its error in its place).
    pub fn encode<T: Task>(
        args: Vec<T::Arg>,
        cancelled: Arc<AtomicBool>,
        done: impl FnOnce(Outcomes<T::Out>, Duration) + Send + 'static,
    ) -> Work {
        let encoded: Vec<Result<Vec<u8>, TaskError>> = args
            .iter()
            .map(|a| postcard::to_allocvec(a).map_err(|e| TaskError::Codec(e.to_string())))
            .collect();
        let failed: Vec<Option<TaskError>> =
            encoded.iter().map(|e| e.as_ref().err().cloned()).collect();
        let args = encoded.into_iter().filter_map(Result::ok).collect();
        let reply: Reply = Box::new(move |results, took| {
            let mut results = results.into_iter();
            let out = failed
                .into_iter()
                .map(|f| match f {
                    Some(e) => Err(e),
                    None => results
                        .next()
                        .unwrap_or(Err(TaskError::Cancelled))
                        .and_then(|bytes| {
                            postcard::from_bytes(&bytes)
                                .map_err(|e| TaskError::Codec(e.to_string()))
                        }),
                })
                .collect();
            done(out, took)
        });
        Work {
            name: T::NAME,
            args,
            cancelled,
            reply: Some(reply),
        }
    }

    /// True when the caller no longer wants the results.
    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Relaxed)
    }

    /// Reports the batch's results.
    pub fn finish(mut self, results: Vec<Result<Vec<u8>, TaskError>>, took: Duration) {
        if let Some(reply) = self.reply.take() {
            reply(results, took);
        }
    }

    /// Reports every task of the batch cancelled.
    pub fn cancel(self) {
        drop(self);
    }
}

impl Drop for Work {
    fn drop(&mut self) {
        if let Some(reply) = self.reply.take() {
            let n = self.args.len();
            reply(
                (0..n).map(|_| Err(TaskError::Cancelled)).collect(),
                Duration::ZERO,
            );
        }
    }
}
