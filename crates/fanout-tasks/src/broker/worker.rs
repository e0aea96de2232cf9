//! [`Worker`]: serves the broker's task queue with this program's
//! registered tasks, on a pool of its own child processes (a task that
//! crashes fails alone) or threads. It takes a job only when it has a free
//! slot, heartbeats the jobs it runs so the broker keeps them leased, and
//! publishes each job's results before it acks the job: a worker killed at
//! any point leaves its jobs to be delivered to another.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::consumer::PullConsumer;
use async_nats::jetstream::{self, AckKind, Context};
use futures_util::StreamExt as _;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::protocol::{self, JobMsg, ResultMsg, MAX_MESSAGE, VERSION};
use crate::packed::Packed;
use crate::task::registered;
use crate::work::Work;
use crate::{Builder, Pool, PoolError, TaskError};

/// How often a running job is heartbeated (a lease must be longer).
const HEARTBEAT: Duration = Duration::from_secs(1);
/// A job delivered this many times killed every worker that took it.
const MAX_DELIVER: i64 = 4;

/// A worker of broker pools: `Worker::new(url).slots(4).run()` in a program
/// that registers the same tasks (usually the same program, started with
/// an argument that says "be a worker"; `main` calls [`crate::init`]
/// first, since the worker runs tasks in child processes).
#[derive(Debug, Clone)]
pub struct Worker {
    url: String,
    slots: usize,
    threads: bool,
}

impl Worker {
    /// A worker of the broker at `url`, one slot per CPU.
    pub fn new(url: impl Into<String>) -> Worker {
        Worker {
            url: url.into(),
            slots: std::thread::available_parallelism().map_or(1, |n| n.get()),
            threads: false,
        }
    }

    /// Runs up to `n` batches at once.
    pub fn slots(mut self, n: usize) -> Worker {
        self.slots = n.max(1);
        self
    }

    /// Runs tasks on threads of the worker's process instead of child
    /// processes (a crash then kills the worker; its jobs go to another).
    pub fn threads(mut self) -> Worker {
        self.threads = true;
        self
    }

    /// Serves until the process is stopped; returns only when the broker
    /// cannot be reached or set up.
    pub fn run(self) -> Result<(), PoolError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(PoolError::Spawn)?;
        rt.block_on(self.run_async())
    }

    /// [`Worker::run`] inside the caller's tokio runtime.
    pub async fn run_async(self) -> Result<(), PoolError> {
        let fail = |message: String| PoolError::Broker {
            url: self.url.clone(),
            message,
        };
        let client = async_nats::connect(&self.url)
            .await
            .map_err(|e| fail(e.to_string()))?;
        let js = jetstream::new(client);
        let (jobs, _) = protocol::streams(&js).await.map_err(fail)?;
        let consumer = protocol::workers(&jobs, None).await.map_err(fail)?;
        let mut pools = Pools {
            worker: self.clone(),
            by_options: HashMap::new(),
        };
        let slots = Arc::new(Semaphore::new(self.slots));
        loop {
            let mut permits = vec![slots.clone().acquire_owned().await.expect("never closed")];
            while let Ok(p) = slots.clone().try_acquire_owned() {
                permits.push(p);
            }
            for m in fetch(&consumer, permits.len()).await {
                let permit = permits.pop().expect("no more messages than permits");
                serve_one(&js, &mut pools, m, permit)?;
            }
        }
    }
}

/// Up to `n` job messages (none after a quiet second, or on an error,
/// which the next round retries).
async fn fetch(consumer: &PullConsumer, n: usize) -> Vec<jetstream::Message> {
    let Ok(mut batch) = consumer
        .fetch()
        .max_messages(n)
        .expires(Duration::from_secs(1))
        .messages()
        .await
    else {
        tokio::time::sleep(Duration::from_millis(200)).await;
        return Vec::new();
    };
    let mut out = Vec::new();
    while let Some(m) = batch.next().await {
        match m {
            Ok(m) => out.push(m),
            Err(_) => break,
        }
    }
    out
}

/// The worker's local pools, one per (timeout, retries) the jobs ask for.
struct Pools {
    worker: Worker,
    by_options: HashMap<(Option<u64>, u32), Pool>,
}

impl Pools {
    fn get(&mut self, timeout_ms: Option<u64>, retries: u32) -> Result<Pool, PoolError> {
        if let Some(p) = self.by_options.get(&(timeout_ms, retries)) {
            return Ok(p.clone());
        }
        let n = self.worker.slots;
        let mut b = if self.worker.threads {
            Builder::threads(n)
        } else {
            Builder::processes(n)
        }
        .retries(retries);
        if let Some(t) = timeout_ms {
            b = b.timeout(Duration::from_millis(t));
        }
        let pool = b.start()?;
        self.by_options.insert((timeout_ms, retries), pool.clone());
        Ok(pool)
    }
}

/// Checks one job message and runs it in the background.
fn serve_one(
    js: &Context,
    pools: &mut Pools,
    m: jetstream::Message,
    permit: OwnedSemaphorePermit,
) -> Result<(), PoolError> {
    let delivered = m.info().map_or(1, |i| i.delivered);
    let job = match JobMsg::decode(&m.payload) {
        Ok(j) if protocol::valid_run(&j.run) && *m.subject == *protocol::jobs_subject(&j.run) => j,
        // Not a job of ours: nobody could run it, so nobody gets it again.
        _ => {
            tokio::spawn(async move { m.ack_with(AckKind::Term).await });
            return Ok(());
        }
    };
    let pool = pools.get(job.timeout_ms, job.retries)?;
    let js = js.clone();
    tokio::spawn(async move {
        let n = job.args.len();
        let (results, took) = if delivered > MAX_DELIVER {
            let lost = TaskError::WorkersLost(delivered as u32 - 1);
            (vec![Err(lost); n], Duration::ZERO)
        } else {
            run(&pool, &m, job.name, job.args).await
        };
        if publish(&js, &job.run, job.start, results, took).await {
            let _ = m.ack().await;
        }
        drop(permit);
    });
    Ok(())
}

/// Runs a batch on the local pool, heartbeating the job meanwhile.
async fn run(
    pool: &Pool,
    m: &jetstream::Message,
    name: String,
    args: Vec<Vec<u8>>,
) -> (Vec<Result<Vec<u8>, TaskError>>, Duration) {
    let Some((name, _)) = registered(&name) else {
        let e = TaskError::Unregistered { name };
        return (vec![Err(e); args.len()], Duration::ZERO);
    };
    let (tx, mut rx) = tokio::sync::oneshot::channel();
    pool.run_work(Work::raw(name, Packed::from(args), move |r, took| {
        let _ = tx.send((r.into_vecs(), took));
    }));
    loop {
        tokio::select! {
            r = &mut rx => return r.unwrap_or_default(),
            _ = tokio::time::sleep(HEARTBEAT) => {
                let _ = m.ack_with(AckKind::Progress).await;
            }
        }
    }
}

/// Publishes the results (in several messages when one would be too
/// large) and waits for the broker to store them; false if it did not.
async fn publish(
    js: &Context,
    run: &str,
    start: u64,
    results: Vec<Result<Vec<u8>, TaskError>>,
    took: Duration,
) -> bool {
    let mut queue = vec![(start, results)];
    while let Some((start, results)) = queue.pop() {
        let n = results.len();
        let msg = ResultMsg {
            version: VERSION,
            start,
            results,
            took_ns: took.as_nanos() as u64,
        };
        let Ok(payload) = postcard::to_allocvec(&msg) else {
            return false;
        };
        if payload.len() > MAX_MESSAGE - 1024 {
            if n == 1 {
                let e = format!(
                    "a result of {} bytes is over the broker's limit",
                    payload.len()
                );
                queue.push((start, vec![Err(TaskError::Codec(e))]));
                continue;
            }
            let mut first = msg.results;
            let second = first.split_off(n / 2);
            queue.push((start + (n / 2) as u64, second));
            queue.push((start, first));
            continue;
        }
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Msg-Id", format!("{run}.{start}.{n}").as_str());
        let stored = match js
            .publish_with_headers(protocol::results_subject(run), headers, payload.into())
            .await
        {
            Ok(ack) => ack.await.is_ok(),
            Err(_) => false,
        };
        if !stored {
            return false;
        }
    }
    true
}
