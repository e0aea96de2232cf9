//! [`Work`]: one batch on its way to a child process or a broker worker —
//! the task's registered name, the encoded arguments, and who gets the
//! results back. Whatever happens to it, the caller hears once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::outcomes::Outcomes;
use crate::packed::{Packed, Results};
use crate::{Task, TaskError};

/// What reports a batch's results, once.
type Reply = Box<dyn FnOnce(Results, Duration) + Send>;

/// A batch for the process pool: the task's name and its encoded
/// arguments. Dropped unrun (the pool gone), it reports its tasks
/// cancelled, so no caller waits for ever.
pub(crate) struct Work {
    /// The registered task.
    pub name: &'static str,
    /// Its arguments, encoded.
    pub args: Packed,
    cancelled: Arc<AtomicBool>,
    reply: Option<Reply>,
}

impl Work {
    /// Already-encoded arguments for the task registered as `name`.
    pub fn raw(
        name: &'static str,
        args: Packed,
        done: impl FnOnce(Results, Duration) + Send + 'static,
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
        let mut packed = Packed::with_capacity(args.len());
        // The few arguments that would not encode: (index, error).
        let mut failed = Vec::new();
        for (i, a) in args.iter().enumerate() {
            if let Err(e) = packed.push_encoded(a) {
                failed.push((i, e));
            }
        }
        let n = args.len();
        drop(args);
        let reply: Reply = Box::new(move |results, took| {
            let mut results = results.iter();
            let mut failed = failed.into_iter().peekable();
            let mut out = Outcomes::with_capacity(n);
            for i in 0..n {
                if failed.peek().is_some_and(|(at, _)| *at == i) {
                    out.push_error(failed.next().expect("peeked").1);
                    continue;
                }
                out.push(
                    results
                        .next()
                        .unwrap_or(Err(TaskError::Cancelled))
                        .and_then(|bytes| {
                            postcard::from_bytes(bytes).map_err(|e| TaskError::Codec(e.to_string()))
                        }),
                );
            }
            done(out, took)
        });
        Work {
            name: T::NAME,
            args: packed,
            cancelled,
            reply: Some(reply),
        }
    }

    /// True when the caller no longer wants the results.
    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Relaxed)
    }

    /// Reports the batch's results.
    pub fn finish(mut self, results: Results, took: Duration) {
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
                Results::all_failed(n, &TaskError::Cancelled),
                Duration::ZERO,
            );
        }
    }
}
