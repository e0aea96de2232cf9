//! Watching a broker without touching it: every run on it (its spec, its
//! state, every result in its results stream from the first — so a run
//! whose coordinator died still has its history) and every worker's
//! heartbeat, sent as [`Seen`] to a dashboard. Nothing here publishes to a
//! run or acks a message: the results are read through consumers that ack
//! nothing, on a stream whose messages stay until the run ends.
//! Everything read is untrusted input: malformed or oversized messages are
//! dropped.

use std::collections::HashMap;
use std::time::Duration;

use async_nats::jetstream::consumer::{pull, AckPolicy, DeliverPolicy};
use async_nats::jetstream::Context;
use futures_util::StreamExt;
use tokio::sync::mpsc::Sender;

use crate::connect::{connect, BrokerOptions};
use crate::control::{ask_within, run_ids, RunStatus};
use crate::error::broker;
use crate::names::{Names, WORKERS};
use crate::schema::{self, CtlOp, ResultBatch, RunSpec, Status, WireResult, WorkerBeat};
use crate::streams::MAX_MESSAGE;
use crate::Result;

/// How often the runs on the broker are listed and asked for their state.
const LOOK: Duration = Duration::from_secs(2);
/// The most a heartbeat may weigh.
const MAX_BEAT: usize = 4096;

/// What the watcher saw.
#[derive(Debug)]
#[non_exhaustive]
pub enum Seen {
    /// A run on the broker, with its command (the spec's words, joined;
    /// empty when the spec could not be read).
    Run {
        /// The run id.
        run: String,
        /// The command.
        command: String,
    },
    /// A run's state now.
    State(RunStatus),
    /// Results of a run, from one worker.
    Results {
        /// The run id.
        run: String,
        /// The worker that sent them (as it says).
        worker: String,
        /// The results.
        results: Vec<WireResult>,
    },
    /// A worker's heartbeat.
    Beat(WorkerBeat),
    /// The run's streams are gone: it ended or was cancelled.
    Gone {
        /// The run id.
        run: String,
    },
}

/// Watches the broker until `tx` closes (or the connection fails at the
/// start).
pub async fn observe(opts: &BrokerOptions, tx: Sender<Seen>) -> Result<()> {
    let conn = connect(opts, "dashboard").await?;
    let mut beats = conn.client.subscribe(WORKERS).await.map_err(broker)?;
    let mut readers: HashMap<String, tokio::task::JoinHandle<()>> = HashMap::new();
    let mut look = tokio::time::interval(LOOK);
    loop {
        tokio::select! {
            () = tx.closed() => break,
            m = beats.next() => {
                let Some(m) = m else { break };
                if m.payload.len() <= MAX_BEAT {
                    if let Ok(b) = schema::decode::<WorkerBeat>(&m.payload) {
                        let _ = tx.send(Seen::Beat(b)).await;
                    }
                }
            }
            _ = look.tick() => {
                let runs = run_ids(&conn.js).await.unwrap_or_default();
                readers.retain(|run, task| {
                    let alive = runs.contains(run);
                    if !alive {
                        task.abort();
                        let _ = tx.try_send(Seen::Gone { run: run.clone() });
                    }
                    alive
                });
                for run in &runs {
                    if !readers.contains_key(run) {
                        let task = tokio::spawn(read_run(conn.js.clone(), run.clone(), tx.clone()));
                        readers.insert(run.clone(), task);
                    }
                }
                let states = futures_util::future::join_all(
                    runs.iter().map(|r| state(&conn.client, &conn.js, r)),
                )
                .await;
                for s in states.into_iter().flatten() {
                    let _ = tx.send(Seen::State(s)).await;
                }
            }
        }
    }
    readers.values().for_each(|t| t.abort());
    Ok(())
}

/// A run's state: its coordinator's answer, or what its job stream holds.
async fn state(client: &async_nats::Client, js: &Context, run: &str) -> Option<RunStatus> {
    let n = Names::new(run).ok()?;
    if let Some(reply) = ask_within(client, &n, CtlOp::Status, Duration::from_secs(1)).await {
        return schema::decode::<Status>(&reply)
            .ok()
            .map(RunStatus::Coordinated);
    }
    let mut st = js.get_stream(&n.jobs_stream).await.ok()?;
    let queued = st.info().await.ok()?.state.messages;
    Some(RunStatus::NoCoordinator {
        run: run.to_owned(),
        queued,
    })
}

/// Reads run `run`'s spec, then every result batch from the first. A run
/// is listed by its job stream, which its coordinator makes before the
/// results stream and the spec: until those exist, and after a lost
/// connection, it tries again (from the first result: the store keeps a
/// job's first record, so nothing counts twice).
async fn read_run(js: Context, run: String, tx: Sender<Seen>) {
    while !tx.is_closed() {
        let _ = read_results(&js, &run, &tx).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn read_results(js: &Context, run: &str, tx: &Sender<Seen>) -> Result<()> {
    let n = Names::new(run)?;
    let stream = js.get_stream(&n.results_stream).await.map_err(broker)?;
    let mut spec = None;
    for _ in 0..20 {
        spec = match stream.get_last_raw_message_by_subject(&n.spec).await {
            Ok(m) if m.payload.len() <= MAX_MESSAGE => schema::decode::<RunSpec>(&m.payload).ok(),
            _ => None,
        };
        if spec.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let command = spec
        .as_ref()
        .map(|s| {
            (s.command.iter())
                .map(|w| String::from_utf8_lossy(&w.0).into_owned())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default();
    let epoch = spec.map(|s| s.epoch);
    let _ = tx
        .send(Seen::Run {
            run: run.to_owned(),
            command,
        })
        .await;
    let consumer = stream
        .create_consumer(pull::Config {
            // Reads, acks nothing: the run's own consumers are untouched.
            ack_policy: AckPolicy::None,
            deliver_policy: DeliverPolicy::All,
            filter_subject: n.results.clone(),
            inactive_threshold: Duration::from_secs(60),
            ..Default::default()
        })
        .await
        .map_err(broker)?;
    let mut messages = consumer.messages().await.map_err(broker)?;
    while let Some(m) = messages.next().await {
        let Ok(m) = m else { continue };
        if m.payload.len() > MAX_MESSAGE {
            continue;
        }
        let Ok(batch) = schema::decode::<ResultBatch>(&m.payload) else {
            continue;
        };
        // An earlier incarnation of the run id is another run.
        if epoch.is_some_and(|e| e != batch.epoch) {
            continue;
        }
        let seen = Seen::Results {
            run: run.to_owned(),
            worker: batch.worker,
            results: batch.results,
        };
        if tx.send(seen).await.is_err() {
            break;
        }
    }
    Ok(())
}
