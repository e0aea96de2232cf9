//! The coordinator: publishes a run's jobs, takes in the results workers
//! send back, records each job once by its sequence number, and turns
//! them into the same events a local run produces, so printing, `-k`,
//! the job log and the exit status are the local ones.

mod backend;
mod intake;
mod publish;
mod queries;
mod setup;

use queries::Deferred;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use async_nats::jetstream::consumer::PullConsumer;
use futures_util::stream::FuturesUnordered;

use fanout_core::backend::{drive, Jobs, Stops};
use fanout_core::exec::{Captured, Spool};
use fanout_core::joblog::SeqSet;
use fanout_core::run_core::{Core, Rules, State};
use fanout_core::signals::Signals;
use fanout_core::{Commands, Halt, JobArgs, JobControl, JobSeq, RunSummary, Sink, Stopped};

use crate::connect::{connect, BrokerOptions, Conn};
use crate::error::broker;
use crate::names::Names;
use crate::schema::{Epoch, HaltState, RunSpec, StopMsg, StreamSeq, WireResult};
use crate::trust::{SecretKey, TrustedKeys};
use crate::warning::{WarnTo, Warning};
use crate::{streams, Error, Result};

/// Settings of a coordinator.
#[derive(Debug, Clone)]
pub struct CoordinatorOptions {
    /// The broker.
    pub broker: BrokerOptions,
    /// The run id (streams and subjects are named after it).
    pub run_id: String,
    /// Continue the run on the broker instead of starting it afresh.
    pub resume: bool,
    /// Jobs the job log already has: their results are not reported again.
    pub logged: SeqSet,
    /// How long a worker may hold a job without a heartbeat.
    pub ack_wait: Duration,
    /// Deliveries of one job at most; then it is reported lost.
    pub max_deliveries: u32,
    /// Copies of the run's streams (a JetStream cluster keeps them on
    /// that many servers).
    pub replicas: usize,
    /// `--halt`.
    pub halt: Option<Halt>,
    /// Number of jobs, when known in advance (`--halt N%`).
    pub total_jobs: Option<u64>,
    /// Catch SIGINT/SIGTERM/SIGHUP and cancel the run on them.
    pub handle_signals: bool,
    /// Jobs published and not yet answered, at most.
    pub window: usize,
    /// Bytes of one job's output kept in memory before spooling to disk.
    pub spool_threshold: usize,
    /// Sign the spec and every job message with this key (workers with
    /// `--trust` run nothing else).
    pub sign: Option<SecretKey>,
    /// Take results only when signed by one of these worker keys (any
    /// result, when empty).
    pub trust: TrustedKeys,
    /// Where warnings go (messages ignored, streams left behind).
    pub warn: WarnTo,
}

/// Runs `jobs` on the broker's workers; blocks until each has a result
/// (or the run halts or is cancelled) and pushes events to `sink` as a
/// local run would. See [`coordinate_async`] to await it instead.
pub fn coordinate<I>(
    jobs: I,
    commands: &Commands,
    spec: RunSpec,
    sink: &mut dyn Sink,
    opts: CoordinatorOptions,
) -> Result<RunSummary>
where
    I: Iterator<Item = fanout_core::Result<JobArgs>> + Send + 'static,
{
    crate::runtime()?.block_on(coordinate_async(jobs, commands, spec, sink, opts))
}

/// [`coordinate`], to await inside the caller's tokio runtime (I/O and
/// time drivers enabled). `jobs` is read on a thread of its own.
pub async fn coordinate_async<I>(
    jobs: I,
    commands: &Commands,
    spec: RunSpec,
    sink: &mut dyn Sink,
    opts: CoordinatorOptions,
) -> Result<RunSummary>
where
    I: Iterator<Item = fanout_core::Result<JobArgs>> + Send + 'static,
{
    // A bad perl expression, or no perl, ends the run before it starts.
    commands.prepare(opts.window, opts.total_jobs)?;
    let jobs = Jobs::read_ahead(jobs, INPUT_AHEAD)?;
    let conn = connect(&opts.broker, "coordinator").await?;
    let mut control = JobControl::default();
    control.halt = opts.halt;
    let mut rules = Rules::new(publish::PROBE_WINDOW.min(opts.window), control);
    rules.total_jobs = opts.total_jobs;
    let mut core = BrokerCore::new(rules);
    let mut c = Coord::start(conn, commands, opts, spec).await?;
    let result = c.run(&mut core, &jobs, sink).await;
    drop(jobs);
    c.end(core, result, sink).await
}

/// Jobs read from the input ahead of the published ones, at most.
const INPUT_AHEAD: usize = 1024;

/// The run core of a coordinator: its slots are the window of jobs
/// published and not yet answered (a worker picks the real slot), its
/// retries and timeouts are the workers'.
type BrokerCore = Core<Error>;

/// A job's output while its chunks arrive, before its result does.
#[derive(Default)]
struct Outputs {
    out: Captured,
    err: Captured,
    /// The stream sequence of the last chunk taken: a chunk delivered
    /// again is not appended twice.
    last: StreamSeq,
}

/// A worker's result as taken from the broker, with its output; kept in
/// `early` when it came before its job was read from the input (resume).
struct Taken {
    wire: WireResult,
    /// The worker that sent it.
    worker: String,
    out: Captured,
    err: Captured,
}

/// The state of one coordinator.
struct Coord<'a> {
    conn: Conn,
    n: Names,
    opts: CoordinatorOptions,
    commands: &'a Commands,
    spool: Spool,
    results: PullConsumer,
    results_name: String,
    recorded: SeqSet,
    /// Resume: jobs still in the job stream, not to be published again.
    queued: HashSet<JobSeq>,
    /// Resume: results of jobs not yet read from the input.
    early: HashMap<JobSeq, Taken>,
    chunks: HashMap<(u64, String), Outputs>,
    acks: FuturesUnordered<publish::AckWait>,
    /// This process's start, in message ids.
    epoch: u64,
    /// The run's incarnation (see `RunSpec::epoch`).
    run_epoch: Epoch,
    published: u64,
    done: u64,
    /// Resume: taking in the results the run already has.
    draining: bool,
    /// Jobs read from the input, to be published as one message.
    pack: publish::Pack,
    /// Average runtime of recent jobs (what packing goes by).
    avg_runtime_ns: Option<f64>,
    started_at: std::time::Instant,
    /// Senders of rejected messages already warned about.
    warned: HashSet<String>,
    /// The stream sequence of the last result message taken in.
    taken: StreamSeq,
    /// Done queries waiting for the results already stored to be taken
    /// in (see `answer_done`), with when they must be answered anyway.
    deferred: Vec<Deferred>,
    /// When the probe's small window ends, while it holds jobs back.
    probe_end: Option<std::time::Instant>,
    /// When to say that no worker has answered yet (once; cleared when
    /// said or when a result comes).
    quiet_news: Option<std::time::Instant>,
    /// What the coordinator listens to while the run goes on.
    inbox: Option<Inbox>,
}

/// The subscriptions of a running coordinator.
struct Inbox {
    ctl: async_nats::Subscriber,
    done_q: async_nats::Subscriber,
    results: async_nats::jetstream::consumer::pull::Stream,
}

/// What a coordinator waited for.
enum Arrived {
    Ctl(async_nats::Message),
    DoneQuery(async_nats::Message),
    Recheck,
    Result(Box<async_nats::jetstream::Message>),
    /// The results subscription ended (the broker restarted).
    ResultsEnded,
    Acked((u64, Vec<u8>, std::result::Result<(), String>)),
    /// No worker has answered in the first seconds: time to say so.
    Quiet,
    /// Nothing to handle, only to look again (the probe ended; a missed
    /// heartbeat).
    Tick,
}

impl Coord<'_> {
    /// Publishes jobs while the window allows and takes in results, until
    /// every job has its result or the run is halted or cancelled; the run
    /// core decides, as it does for a local run.
    async fn run<S: Sink + ?Sized>(
        &mut self,
        core: &mut BrokerCore,
        jobs: &Jobs,
        sink: &mut S,
    ) -> Result<()> {
        if self.opts.resume {
            self.catch_up(core, sink).await?;
        }
        let mut signals = Signals::new(self.opts.handle_signals)?;
        let client = &self.conn.client;
        let ctl = client.subscribe(self.n.ctl.clone()).await.map_err(broker)?;
        let done_q = client
            .subscribe(self.n.done.clone())
            .await
            .map_err(broker)?;
        let results = self.results.messages().await.map_err(broker)?;
        let inbox = Inbox {
            ctl,
            done_q,
            results,
        };
        self.inbox = Some(inbox);
        let stops = Stops {
            signals: &mut signals,
            cancel: None,
        };
        drive(core, self, jobs, stops, sink).await?;
        if core.state() == State::Stop {
            let fatal = core.take_fatal();
            self.stop_now().await?;
            return fatal.map_or(Ok(()), Err);
        }
        Ok(())
    }

    /// Tells workers to kill the run's jobs and removes the run from the
    /// broker: `--halt now`, cancel, or a signal.
    async fn stop_now(&mut self) -> Result<()> {
        self.broadcast_stop(HaltState::Now).await;
        streams::delete(&self.conn.js, &self.n).await
    }

    pub(super) async fn broadcast_stop(&self, halt: HaltState) {
        let msg = StopMsg::encode(halt);
        let _ = self
            .conn
            .client
            .publish(self.n.stop.clone(), msg.clone().into())
            .await;
        // Stored too, for workers that attach (or reconnect) later.
        if let Ok(f) = self.conn.js.publish(self.n.state.clone(), msg.into()).await {
            let _ = f.await;
        }
        let _ = self.conn.client.flush().await;
    }

    /// The run's end: the streams go (unless the run was interrupted or
    /// failed, when `--resume` may continue it), sinks finish.
    async fn end<S: Sink + ?Sized>(
        &mut self,
        core: BrokerCore,
        result: Result<()>,
        sink: &mut S,
    ) -> Result<RunSummary> {
        if result.is_ok() {
            // Workers waiting on the run's jobs leave at once.
            let done = StopMsg::encode(HaltState::Done);
            let _ = self
                .conn
                .client
                .publish(self.n.stop.clone(), done.into())
                .await;
            // Every job has its result by now: a stream that cannot be
            // deleted is worth a warning, not a failed run.
            if let Err(e) = streams::delete(&self.conn.js, &self.n).await {
                self.opts.warn.warn(Warning::LeftOnBroker {
                    run: self.n.run.clone(),
                    error: e.to_string(),
                });
            }
        } else {
            // Broken off by a broker failure: the run stays, for --resume.
            let _ = self
                .conn
                .js
                .delete_consumer_from_stream(&self.results_name, &self.n.results_stream)
                .await;
        }
        let _ = self.conn.client.flush().await;
        let finish = sink.finish();
        result?;
        core.outcome(finish).map_err(|e| match e {
            Stopped::Failed(e) => e,
            Stopped::Sink(e) => Error::Io(e),
        })
    }
}
