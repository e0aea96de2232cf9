//! The broker backend: tasks run by [`Worker`]s on any host, through NATS
//! JetStream. The pool's side (the *coordinator*) runs on a thread of its
//! own with a one-thread tokio runtime: it cuts each batch into job
//! messages, publishes them, and matches the results coming back to the
//! batches waiting for them, each task's result taken once however often
//! the broker delivers it. A worker that dies leaves its jobs unacked, and
//! the broker gives them to another after the lease.

use std::thread::JoinHandle;
use std::time::Duration;

use crate::pool::Options;
use crate::work::Work;
use crate::PoolError;

mod coordinator;
pub(crate) mod protocol;
mod state;
mod worker;

pub use state::{Counter, DistributedLock, StateError};
pub use worker::Worker;

/// Where and how a broker pool runs.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BrokerOptions {
    /// The broker, `nats://host:port`.
    pub url: String,
    /// The run's name (one subject token); a new random one when unset.
    pub run: Option<String>,
    /// Batches published and not yet answered, at most.
    pub in_flight: usize,
    /// A worker's lease on a job between heartbeats.
    pub lease: Duration,
}

impl BrokerOptions {
    /// The defaults for `url`.
    pub fn new(url: String) -> BrokerOptions {
        BrokerOptions {
            url,
            run: None,
            in_flight: 8,
            lease: protocol::DEFAULT_LEASE,
        }
    }
}

/// The coordinator thread and its queue.
pub(crate) struct Broker {
    queue: Option<flume::Sender<Work>>,
    thread: Option<JoinHandle<()>>,
}

impl Broker {
    /// Connects and sets up the run's streams (an unreachable broker is an
    /// error here, not at the first task).
    pub fn start(b: BrokerOptions, opts: Options) -> Result<Broker, PoolError> {
        let fail = |message: String| PoolError::Broker {
            url: b.url.clone(),
            message,
        };
        let run = match &b.run {
            Some(r) if protocol::valid_run(r) => r.clone(),
            Some(r) => {
                return Err(fail(format!(
                    "run name {r:?} is not letters, digits, - and _"
                )))
            }
            None => random_run(),
        };
        let (queue, rx) = flume::unbounded();
        let (ready_tx, ready_rx) = flume::bounded(1);
        let url = b.url.clone();
        let thread = std::thread::Builder::new()
            .name("fanout-tasks-broker".into())
            .spawn(move || coordinator::serve(b, run, opts, rx, ready_tx))
            .map_err(PoolError::Spawn)?;
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(Broker {
                queue: Some(queue),
                thread: Some(thread),
            }),
            Ok(Err(message)) => Err(PoolError::Broker { url, message }),
            Err(_) => Err(PoolError::Broker {
                url,
                message: "the coordinator thread died".into(),
            }),
        }
    }

    /// Queues a batch for the workers.
    pub fn submit(&self, work: Work) {
        if let Some(q) = &self.queue {
            let _ = q.send(work);
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        // The coordinator answers what it published, then stops.
        self.queue = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A fresh run name: time and randomness, one subject token.
fn random_run() -> String {
    let mut bytes = [0u8; 8];
    let _ = getrandom::getrandom(&mut bytes);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    format!("r{nanos:x}{}", u64::from_le_bytes(bytes) % 1_000_000)
}
