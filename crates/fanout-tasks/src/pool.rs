//! [`Pool`]: where tasks run (threads or child processes), with one set of
//! calls for both. Everything is a batch underneath: `map` cuts its input
//! into batches sized from the measured task time, `submit` is a batch of
//! one.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::processes::Processes;
use crate::task::call_caught;
use crate::threads::Threads;
use crate::{PoolError, Task, TaskError};

/// How a pool treats its tasks.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// A task running longer is killed (processes only: a thread cannot
    /// be stopped) and fails with [`TaskError::TimedOut`].
    pub timeout: Option<Duration>,
    /// A task that panics, crashes or times out is run again this many
    /// times before its error is returned.
    pub retries: u32,
}

/// Where a pool runs its tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Place {
    /// Threads of this process.
    Threads(usize),
    /// Child processes running this program (see [`crate::init`]).
    Processes(usize),
}

/// A pool being configured: `Builder::processes(4).timeout(d).start()`.
#[derive(Debug, Clone)]
pub struct Builder {
    place: Place,
    opts: Options,
}

impl Builder {
    /// A pool of `n` threads.
    pub fn threads(n: usize) -> Builder {
        Builder {
            place: Place::Threads(n),
            opts: Options::default(),
        }
    }

    /// A pool of `n` child processes.
    pub fn processes(n: usize) -> Builder {
        Builder {
            place: Place::Processes(n),
            opts: Options::default(),
        }
    }

    /// Kills a task that runs longer than `limit` (processes only).
    pub fn timeout(mut self, limit: Duration) -> Builder {
        self.opts.timeout = Some(limit);
        self
    }

    /// Runs a failed task up to `n` more times.
    pub fn retries(mut self, n: u32) -> Builder {
        self.opts.retries = n;
        self
    }

    /// Starts the pool's threads or processes.
    pub fn start(self) -> Result<Pool, PoolError> {
        let backend = match self.place {
            Place::Threads(0) | Place::Processes(0) => return Err(PoolError::NoWorkers),
            Place::Threads(n) => Backend::Threads(Threads::start(n)?),
            Place::Processes(n) => Backend::Processes(Processes::start(n, self.opts.clone())?),
        };
        let workers = match self.place {
            Place::Threads(n) | Place::Processes(n) => n,
        };
        Ok(Pool {
            inner: Arc::new(Inner {
                backend,
                workers,
                opts: self.opts,
            }),
        })
    }
}

/// A pool of `n` threads in this process.
pub fn threads(n: usize) -> Result<Pool, PoolError> {
    Builder::threads(n).start()
}

/// A pool of `n` child processes running this program; `main` must call
/// [`crate::init`] first.
pub fn processes(n: usize) -> Result<Pool, PoolError> {
    Builder::processes(n).start()
}

/// Threads or processes running tasks. Cloning shares the pool; it stops
/// (after the tasks queued) when the last clone and the last call using it
/// are gone.
#[derive(Clone)]
pub struct Pool {
    inner: Arc<Inner>,
}

struct Inner {
    backend: Backend,
    workers: usize,
    opts: Options,
}

enum Backend {
    Threads(Threads),
    Processes(Processes),
}

impl Pool {
    /// How many tasks run at once.
    pub fn workers(&self) -> usize {
        self.inner.workers
    }

    /// Runs `args` as one batch; `done` gets their results, in order, and
    /// the time they took, from whichever thread finished them.
    pub(crate) fn run_batch<T: Task>(
        &self,
        args: Vec<T::Arg>,
        cancelled: Arc<AtomicBool>,
        done: impl FnOnce(Vec<Result<T::Out, TaskError>>, Duration) + Send + 'static,
    ) {
        match &self.inner.backend {
            Backend::Threads(t) => {
                let retries = self.inner.opts.retries;
                t.submit(Box::new(move || {
                    if cancelled.load(Ordering::Relaxed) {
                        let n = args.len();
                        return done(
                            (0..n).map(|_| Err(TaskError::Cancelled)).collect(),
                            Duration::ZERO,
                        );
                    }
                    let start = Instant::now();
                    let out = args
                        .into_iter()
                        .map(|a| call_retrying::<T>(a, retries))
                        .collect();
                    done(out, start.elapsed());
                }));
            }
            Backend::Processes(p) => p.submit(Work::encode::<T>(args, cancelled, done)),
        }
    }
}

/// Runs `T` in this thread, again after a panic while `retries` last (the
/// argument is cloned only then, through its encoding).
fn call_retrying<T: Task>(arg: T::Arg, retries: u32) -> Result<T::Out, TaskError> {
    if retries == 0 {
        return call_caught::<T>(arg);
    }
    let again = postcard::to_allocvec(&arg).map_err(|e| TaskError::Codec(e.to_string()))?;
    let mut result = call_caught::<T>(arg);
    for _ in 0..retries {
        if result.is_ok() {
            break;
        }
        let arg = postcard::from_bytes(&again).map_err(|e| TaskError::Codec(e.to_string()))?;
        result = call_caught::<T>(arg);
    }
    result
}

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
    /// Encodes `args` for `T`; `done` gets the decoded results (an
    /// argument that would not encode gets its error in its place).
    fn encode<T: Task>(
        args: Vec<T::Arg>,
        cancelled: Arc<AtomicBool>,
        done: impl FnOnce(Vec<Result<T::Out, TaskError>>, Duration) + Send + 'static,
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
