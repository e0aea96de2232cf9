//! [`Pool`]: where tasks run (threads, child processes or broker workers),
//! with one set of calls for all three. Everything is a batch underneath: `map` cuts its input
//! into batches sized from the measured task time, `submit` is a batch of
//! one.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::broker::{Broker, BrokerOptions};
use crate::events::Events;
use crate::outcomes::Outcomes;
use crate::packed::Results;
use crate::processes::Processes;
use crate::task::{call_caught, lookup};
use crate::threads::Threads;
use crate::work::Work;
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
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Place {
    /// Threads of this process.
    Threads(usize),
    /// Child processes running this program (see [`crate::init`]).
    Processes(usize),
    /// Workers ([`crate::Worker`]) on any host, through the NATS JetStream
    /// broker at this URL.
    Broker(BrokerOptions),
}

/// A pool being configured: `Builder::processes(4).timeout(d).start()`.
#[derive(Debug, Clone)]
pub struct Builder {
    place: Place,
    opts: Options,
    events: Option<Arc<Events>>,
}

impl Builder {
    fn at(place: Place) -> Builder {
        Builder {
            place,
            opts: Options::default(),
            events: None,
        }
    }

    /// A pool of `n` threads.
    pub fn threads(n: usize) -> Builder {
        Builder::at(Place::Threads(n))
    }

    /// A pool of `n` child processes.
    pub fn processes(n: usize) -> Builder {
        Builder::at(Place::Processes(n))
    }

    /// A pool whose tasks run on [`crate::Worker`]s, through the NATS
    /// JetStream broker at `url`.
    pub fn broker(url: impl Into<String>) -> Builder {
        Builder::at(Place::Broker(BrokerOptions::new(url.into())))
    }

    /// Broker only: names the run, so that a program started again with
    /// the same name gets the results already computed instead of running
    /// those tasks again (by default each pool is a new run).
    pub fn run_name(mut self, name: impl Into<String>) -> Builder {
        if let Place::Broker(b) = &mut self.place {
            b.run = Some(name.into());
        }
        self
    }

    /// Broker only: how many batches may wait for workers at once (by
    /// default 8), which is how many tasks a `map` keeps in flight.
    pub fn in_flight(mut self, batches: usize) -> Builder {
        if let Place::Broker(b) = &mut self.place {
            b.in_flight = batches;
        }
        self
    }

    /// Broker only: how long a worker holds a task without a heartbeat
    /// before the broker gives it to another (by default 30 s; a worker
    /// heartbeats every second, so a lease of 2 s or less would hand
    /// running tasks to a second worker).
    pub fn lease(mut self, d: Duration) -> Builder {
        if let Place::Broker(b) = &mut self.place {
            b.lease = d;
        }
        self
    }

    /// Kills a task that runs longer than `limit` (processes, and a broker
    /// worker's processes).
    pub fn timeout(mut self, limit: Duration) -> Builder {
        self.opts.timeout = Some(limit);
        self
    }

    /// Reports every task to `observer` as the CLI reports jobs (fanout-core's
    /// event stream: `Queued`, `Started`, `Finished`), so the CLI's progress
    /// counters or a dashboard can watch the pool.
    pub fn observe(mut self, observer: impl fanout_core::Observer + Send + 'static) -> Builder {
        self.events = Some(Arc::new(Events::new(Box::new(observer))));
        self
    }

    /// Runs a failed task up to `n` more times.
    pub fn retries(mut self, n: u32) -> Builder {
        self.opts.retries = n;
        self
    }

    /// Starts the pool's threads or processes, or connects to the broker.
    pub fn start(self) -> Result<Pool, PoolError> {
        let workers = match &self.place {
            Place::Threads(n) | Place::Processes(n) => *n,
            Place::Broker(b) => b.in_flight,
        };
        if workers == 0 {
            return Err(PoolError::NoWorkers);
        }
        let backend = match self.place {
            Place::Threads(n) => Backend::Threads(Threads::start(n)?),
            Place::Processes(n) => Backend::Processes(Processes::start(n, self.opts.clone())?),
            Place::Broker(b) => Backend::Broker(Broker::start(b, self.opts.clone())?),
        };
        Ok(Pool {
            inner: Arc::new(Inner {
                backend,
                workers,
                opts: self.opts,
                events: self.events,
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

/// A pool whose tasks run on [`crate::Worker`]s anywhere, through the NATS
/// JetStream broker at `url`.
pub fn broker(url: &str) -> Result<Pool, PoolError> {
    Builder::broker(url).start()
}

/// Threads, processes or broker workers running tasks. Cloning shares the pool; it stops
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
    events: Option<Arc<Events>>,
}

enum Backend {
    Threads(Threads),
    Processes(Processes),
    Broker(Broker),
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
        done: impl FnOnce(Outcomes<T::Out>, Duration) + Send + 'static,
    ) {
        match &self.inner.events {
            None => self.dispatch::<T>(args, cancelled, done),
            Some(events) => {
                let (events, n) = (events.clone(), args.len());
                let first = events.started(T::NAME, n);
                self.dispatch::<T>(args, cancelled, move |out, took| {
                    events.finished(T::NAME, first, n, out.errors(), took);
                    done(out, took)
                })
            }
        }
    }

    /// Hands the batch to the backend.
    fn dispatch<T: Task>(
        &self,
        args: Vec<T::Arg>,
        cancelled: Arc<AtomicBool>,
        done: impl FnOnce(Outcomes<T::Out>, Duration) + Send + 'static,
    ) {
        match &self.inner.backend {
            Backend::Threads(t) => {
                let retries = self.inner.opts.retries;
                t.submit(Box::new(move || {
                    if cancelled.load(Ordering::Relaxed) {
                        let n = args.len();
                        return done(
                            Outcomes::all_failed(n, &TaskError::Cancelled),
                            Duration::ZERO,
                        );
                    }
                    let start = Instant::now();
                    let out = if retries == 0 {
                        run_caught::<T>(args)
                    } else {
                        (args.into_iter())
                            .map(|a| call_retrying::<T>(a, retries))
                            .collect()
                    };
                    done(out, start.elapsed());
                }));
            }
            Backend::Processes(p) => p.submit(Work::encode::<T>(args, cancelled, done)),
            Backend::Broker(b) => b.submit(Work::encode::<T>(args, cancelled, done)),
        }
    }

    /// Runs a batch that came encoded (a broker worker's): in a child, or
    /// here on a thread through the task's encoded entry.
    pub(crate) fn run_work(&self, work: Work) {
        match &self.inner.backend {
            Backend::Processes(p) => p.submit(work),
            Backend::Broker(b) => b.submit(work),
            Backend::Threads(t) => t.submit(Box::new(move || {
                let start = Instant::now();
                let n = work.args.len();
                let out = match lookup(work.name) {
                    Some(run) => {
                        let mut out = Results::pending(n);
                        let mut buf = Vec::new();
                        for (i, a) in work.args.iter().enumerate() {
                            buf.clear();
                            match run(a, &mut buf) {
                                Ok(()) => out.set_value(i, &buf),
                                Err(e) => out.set_failed(i, e),
                            }
                        }
                        out
                    }
                    None => Results::all_failed(
                        n,
                        &TaskError::Unregistered {
                            name: work.name.into(),
                        },
                    ),
                };
                work.finish(out, start.elapsed());
            })),
        }
    }
}

/// Runs `T` on each argument in this thread. The whole loop runs under one
/// `catch_unwind`, so a tiny task costs a call and a push (as in rayon);
/// after a panic the loop records it in the task's place and goes on with
/// the next argument.
fn run_caught<T: Task>(args: Vec<T::Arg>) -> Outcomes<T::Out> {
    let mut out = Outcomes::with_capacity(args.len());
    let mut args = args.into_iter();
    loop {
        let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            for a in args.by_ref() {
                out.push_value(T::call(a));
            }
        }));
        match run {
            Ok(()) => return out,
            Err(p) => out.push_error(crate::task::panicked(p)),
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
