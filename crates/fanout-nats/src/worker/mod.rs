//! The worker: finds runs on the broker, pulls only as many jobs as it has
//! free slots, runs them with the local engine and sends their results
//! back. One run is served at a time, the oldest first.

mod beat;
mod bridge;
mod gate;
mod recent;
mod report;
mod serve;

use std::collections::HashSet;
use std::ffi::OsString;
use std::time::Duration;

use fanout_core::signals::Signals;
use futures_util::StreamExt;

use crate::connect::{connect, BrokerOptions};
use crate::control::run_ids;
use crate::error::broker;
use crate::names::{Names, ANNOUNCE};
use crate::trust::{SecretKey, TrustedKeys};
use crate::warning::WarnTo;
use crate::Result;

/// Settings of a worker.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// The broker.
    pub broker: BrokerOptions,
    /// Job slots (`-j`).
    pub jobs: usize,
    /// Jobs held beyond the free slots, so a slot that frees finds its
    /// next job here instead of waiting for a pull (0: none).
    pub prefetch: usize,
    /// Run only commands matching one of these (all, when empty).
    pub allow: Vec<regex::bytes::Regex>,
    /// With `allow`: let command lines with a newline, a backtick or `$(`
    /// through too (refused by default).
    pub allow_metachars: bool,
    /// Run only runs whose spec and jobs are signed by one of these keys
    /// (any run, when empty).
    pub trust: TrustedKeys,
    /// Sign result batches and output chunks with this key.
    pub sign: Option<SecretKey>,
    /// Benchmark mode: report each job as succeeded without running it.
    pub noop: bool,
    /// The shell for command lines that need one.
    pub shell: OsString,
    /// Signals that end a job (`--term-seq`).
    pub term_seq: Vec<(i32, Duration)>,
    /// Bytes of one job's output kept in memory before spooling.
    pub spool_threshold: usize,
    /// This worker's name in results.
    pub id: String,
    /// Where warnings go (messages dropped, runs refused).
    pub warn: WarnTo,
}

/// Why serving a run stopped.
#[derive(Debug, PartialEq, Eq)]
enum Served {
    /// The run is over (or was halted or cancelled) on the broker.
    Ended,
    /// This worker was told to shut down.
    Shutdown,
    /// This worker could not go on with the run (its engine failed); the
    /// jobs it held were given back.
    Failed,
    /// This worker will not serve the run (its spec is not signed by a
    /// trusted key, or is invalid); it is not looked at again.
    Refused,
}

/// Serves runs until SIGINT, SIGTERM or SIGHUP. Jobs held then are given
/// back to the broker (NAK) for other workers; finished ones are reported.
/// Blocks; see [`work_async`].
pub fn work(opts: WorkerOptions) -> Result<()> {
    crate::runtime()?.block_on(work_async(opts))
}

/// [`work`], to await inside the caller's tokio runtime. The engine that
/// runs the jobs is awaited in the same task (its future is not `Send`).
pub async fn work_async(opts: WorkerOptions) -> Result<()> {
    let conn = connect(&opts.broker, "worker").await?;
    // The URL without a user or password in it: this goes to a screen.
    let shown = match opts.broker.url.split_once("://") {
        Some((scheme, rest)) => format!("{scheme}://{}", rest.rsplit('@').next().unwrap_or(rest)),
        None => opts
            .broker
            .url
            .rsplit('@')
            .next()
            .unwrap_or_default()
            .to_string(),
    };
    opts.warn.warn(crate::Warning::Connected { broker: shown });
    let mut announce = conn.client.subscribe(ANNOUNCE).await.map_err(broker)?;
    let serving = beat::Serving::default();
    let _beat = beat::Beat::start(
        conn.client.clone(),
        opts.id.clone(),
        opts.jobs,
        serving.clone(),
    );
    // SIGINT, SIGTERM and SIGHUP end a worker.
    let mut stop = Signals::new(true)?;
    let mut refused = HashSet::new();
    loop {
        let mut served = false;
        for run in run_ids(&conn.js).await.unwrap_or_default() {
            let Ok(n) = Names::new(&run) else { continue };
            if !has_jobs(&conn.js, &n).await {
                continue;
            }
            *serving.lock().unwrap_or_else(|e| e.into_inner()) = Some(run.clone());
            let outcome = serve::serve(&conn, &n, &opts, &mut stop, &mut refused).await;
            *serving.lock().unwrap_or_else(|e| e.into_inner()) = None;
            let outcome = outcome?;
            served |= outcome != Served::Refused;
            let served = outcome;
            // Acks and NAKs are sent without waiting for an answer:
            // make sure they leave before the process does.
            let _ = conn.client.flush().await;
            match served {
                Served::Shutdown => return Ok(()),
                Served::Failed => tokio::time::sleep(Duration::from_secs(1)).await,
                Served::Ended | Served::Refused => {}
            }
        }
        if served {
            continue;
        }
        tokio::select! {
            _ = stop.recv_stop() => return Ok(()),
            _ = announce.next() => {}
            () = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
    }
}

async fn has_jobs(js: &async_nats::jetstream::Context, n: &Names) -> bool {
    match js.get_stream(&n.jobs_stream).await {
        Ok(mut s) => s.info().await.is_ok_and(|i| i.state.messages > 0),
        Err(_) => false,
    }
}
