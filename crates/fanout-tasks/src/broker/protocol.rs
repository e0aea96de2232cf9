//! The broker backend's wire: the streams, subjects and the two messages,
//! each with a version. Every message read is untrusted (anyone who can
//! publish on the broker can send one), so decoding checks the version and
//! the sizes before anything is used, and a task is only ever a registered
//! name.
//!
//! - `ftasks.jobs.<run>` on stream `FTASKS_JOBS` (work queue, one durable
//!   consumer `workers` for every run): [`JobMsg`], tasks `start..start+n`
//!   of the run, message id `<run>.<start>`;
//! - `ftasks.results.<run>` on stream `FTASKS_RESULTS` (kept a day, so a
//!   run can resume): [`ResultMsg`], message id `<run>.<start>.<n>` (a
//!   result published twice is stored once).

use std::time::Duration;

use async_nats::jetstream::consumer::{pull, AckPolicy, DeliverPolicy, PullConsumer};
use async_nats::jetstream::stream::{Config, DiscardPolicy, RetentionPolicy, Stream};
use async_nats::jetstream::Context;
use serde::{Deserialize, Serialize};

use crate::TaskError;

/// The protocol's version: a message of another version is refused.
pub const VERSION: u8 = 1;
/// The largest message either side publishes (the server's default
/// `max_payload` is 1 MiB).
pub const MAX_MESSAGE: usize = 1 << 20;
/// The most tasks one message carries.
pub const MAX_TASKS: usize = 1 << 16;
/// The longest task name accepted.
const MAX_NAME: usize = 512;
/// The jobs stream.
pub const JOBS: &str = "FTASKS_JOBS";
/// The results stream.
pub const RESULTS: &str = "FTASKS_RESULTS";
/// The workers' shared consumer.
pub const WORKERS: &str = "workers";

/// Tasks for a worker.
#[derive(Debug, Serialize, Deserialize)]
pub struct JobMsg {
    /// [`VERSION`].
    pub version: u8,
    /// The run, as in the subject.
    pub run: String,
    /// The run's index of the first task.
    pub start: u64,
    /// The task's registered name.
    pub name: String,
    /// The arguments, encoded by the task's types.
    pub args: Vec<Vec<u8>>,
    /// The pool's per-task timeout, in milliseconds.
    pub timeout_ms: Option<u64>,
    /// How often the worker runs a failed task again.
    pub retries: u32,
}

/// Results of tasks `start..start + results.len()`.
#[derive(Debug, Serialize, Deserialize)]
pub struct ResultMsg {
    /// [`VERSION`].
    pub version: u8,
    /// The run's index of the first.
    pub start: u64,
    /// Each task's encoded result or error.
    pub results: Vec<Result<Vec<u8>, TaskError>>,
    /// How long the batch took, in nanoseconds.
    pub took_ns: u64,
}

/// Why a message was refused.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    /// Not one of ours, or cut short.
    #[error("undecodable message: {0}")]
    Decode(#[from] postcard::Error),
    /// Another version of the protocol.
    #[error("protocol version {0}, expected {VERSION}")]
    Version(u8),
    /// Over the limits.
    #[error("message over the limits ({0})")]
    Limits(&'static str),
}

impl JobMsg {
    /// Decodes and checks an untrusted job message.
    pub fn decode(bytes: &[u8]) -> Result<JobMsg, Refused> {
        if bytes.len() > MAX_MESSAGE {
            return Err(Refused::Limits("size"));
        }
        let m: JobMsg = postcard::from_bytes(bytes)?;
        if m.version != VERSION {
            return Err(Refused::Version(m.version));
        }
        if m.name.len() > MAX_NAME || m.args.len() > MAX_TASKS || m.args.is_empty() {
            return Err(Refused::Limits("task name or count"));
        }
        Ok(m)
    }
}

impl ResultMsg {
    /// Decodes and checks an untrusted result message.
    pub fn decode(bytes: &[u8]) -> Result<ResultMsg, Refused> {
        let m: ResultMsg = postcard::from_bytes(bytes)?;
        if m.version != VERSION {
            return Err(Refused::Version(m.version));
        }
        if m.results.len() > MAX_TASKS || m.start.checked_add(m.results.len() as u64).is_none() {
            return Err(Refused::Limits("task count"));
        }
        Ok(m)
    }
}

/// The subject of a run's jobs.
pub fn jobs_subject(run: &str) -> String {
    format!("ftasks.jobs.{run}")
}

/// The subject of a run's results.
pub fn results_subject(run: &str) -> String {
    format!("ftasks.results.{run}")
}

/// A run name is one subject token: letters, digits, `-` and `_`.
pub fn valid_run(run: &str) -> bool {
    !run.is_empty()
        && run.len() <= 64
        && run
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Creates a stream, or finds it. Processes that start together (a pool
/// and its workers) race to create it, and nats-server 2.9 can refuse the
/// loser with "subjects overlap" although the winner made the same stream;
/// so a refused create looks the stream up again before it fails.
pub async fn stream(js: &Context, config: Config) -> Result<Stream, String> {
    let name = config.name.clone();
    let refused = match js.get_or_create_stream(config).await {
        Ok(s) => return Ok(s),
        Err(e) => e.to_string(),
    };
    // The winner's create may still be in flight: look for a second.
    for _ in 0..20 {
        if let Ok(s) = js.get_stream(&name).await {
            return Ok(s);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(refused)
}

/// Creates both streams (or finds them).
pub async fn streams(js: &Context) -> Result<(Stream, Stream), String> {
    let jobs = Config {
        name: JOBS.into(),
        subjects: vec!["ftasks.jobs.*".into()],
        retention: RetentionPolicy::WorkQueue,
        max_message_size: MAX_MESSAGE as i32,
        duplicate_window: Duration::from_secs(120),
        ..Default::default()
    };
    let results = Config {
        name: RESULTS.into(),
        subjects: vec!["ftasks.results.*".into()],
        retention: RetentionPolicy::Limits,
        discard: DiscardPolicy::Old,
        max_age: Duration::from_secs(24 * 3600),
        max_message_size: MAX_MESSAGE as i32,
        duplicate_window: Duration::from_secs(120),
        ..Default::default()
    };
    Ok((stream(js, jobs).await?, stream(js, results).await?))
}

/// The lease of a consumer a worker makes before any pool did.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(30);

/// The workers' consumer; with `lease`, its lease set to it (the last pool
/// to start sets it; workers keep what they find).
pub async fn workers(jobs: &Stream, lease: Option<Duration>) -> Result<PullConsumer, String> {
    let config = pull::Config {
        durable_name: Some(WORKERS.into()),
        ack_policy: AckPolicy::Explicit,
        ack_wait: lease.unwrap_or(DEFAULT_LEASE),
        max_deliver: -1,
        max_ack_pending: -1,
        deliver_policy: DeliverPolicy::All,
        ..Default::default()
    };
    match jobs.get_consumer::<pull::Config>(WORKERS).await {
        Ok(c) if lease.is_none_or(|l| c.cached_info().config.ack_wait == l) => Ok(c),
        Ok(_) => jobs
            .create_consumer(config)
            .await
            .map_err(|e| e.to_string()),
        Err(_) => jobs
            .get_or_create_consumer(WORKERS, config)
            .await
            .map_err(|e| e.to_string()),
    }
}
