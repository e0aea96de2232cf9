//! The event loop of one run: start jobs while slots, throttles and halt
//! allow; handle exits, live output, timers and signals as they come.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::time::{Instant, SystemTime};

use futures_util::stream::{FuturesUnordered, StreamExt};
use tokio::sync::mpsc;

use super::feed::Receiver as Feed;
use super::{Commands, OutputMode, RunConfig, RunSummary};
use crate::exec::{Chunk, Outcome, Spool};
use crate::job::{JobArgs, JobSeq, SlotId};
use crate::killing::Killing;
use crate::scheduler::Dispatch;
use crate::signals::Signals;
use crate::throttle::Throttle;
use crate::{Error, Event, Result, Sink, Stopped, Verdict};

pub(super) type JobFuture<'a> = Pin<Box<dyn Future<Output = Outcome> + 'a>>;

/// What the loop remembers of a running job.
pub(super) struct Meta {
    pub slot: SlotId,
    pub pgid: i32,
    pub command: Vec<u8>,
    pub job: JobArgs,
    pub start: Instant,
    pub started_at: SystemTime,
    /// Failed runs before this one.
    pub attempt: u32,
    /// `--cat`/`--fifo`: the file `{}` names, removed when the job ends
    /// (whichever way: this is dropped with the rest of the job's state).
    pub temp: Option<tempfile::TempPath>,
}

/// The state of one run, shared by the loop and the termination sequence.
pub(super) struct Run<'a, S> {
    pub cfg: &'a RunConfig,
    pub spool: &'a Spool,
    pub sink: &'a mut S,
    /// Slots, and the jobs waiting for one (retries first).
    pub dispatch: Dispatch,
    pub running: FuturesUnordered<JobFuture<'a>>,
    pub meta: HashMap<JobSeq, Meta>,
    /// `--timeout` deadlines and the term sequences of jobs being killed.
    pub killing: Killing,
    pub throttle: Throttle,
    /// When running jobs are next checked against `--memfree`.
    pub mem_check: Option<Instant>,
    /// Halting, interruption, fatal and sink errors, the summary.
    pub verdict: Verdict<Error>,
    pub live_tx: Option<mpsc::Sender<Chunk>>,
    /// Live output under `--line-buffer`.
    pub live_rx: Option<mpsc::Receiver<Chunk>>,
}

pub(super) async fn run<S: Sink>(
    cfg: &RunConfig,
    jobs: Feed<Result<JobArgs>>,
    commands: &Commands,
    sink: &mut S,
) -> Result<RunSummary> {
    let spool = Spool::in_dir(cfg.spool_threshold, cfg.tmpdir.clone());
    let mut signals = Signals::new(cfg.handle_signals).map_err(Error::Runtime)?;
    let mut orphans = Orphans::new(cfg.subreaper).map_err(Error::Runtime)?;
    let mut run = Run::new(cfg, &spool, sink);
    let input_error = run
        .main_loop(jobs, commands, &mut signals, &mut orphans)
        .await;
    // A run that stops early ends its jobs, and what they left behind
    // outside their groups; one that ran out of jobs leaves a job's
    // background descendants alone, as GNU parallel does.
    let stopped = run.verdict.stops_now();
    if !run.running.is_empty() || (stopped && cfg.subreaper) {
        run.terminate().await;
    }
    run.outcome(input_error)
}

impl<'a, S: Sink> Run<'a, S> {
    fn new(cfg: &'a RunConfig, spool: &'a Spool, sink: &'a mut S) -> Self {
        let (live_tx, live_rx) = match cfg.output {
            OutputMode::LineBuffer => {
                let (tx, rx) = mpsc::channel(64);
                (Some(tx), Some(rx))
            }
            _ => (None, None),
        };
        Run {
            cfg,
            spool,
            sink,
            dispatch: Dispatch::new(cfg.jobs),
            running: FuturesUnordered::new(),
            meta: HashMap::new(),
            killing: Killing::new(cfg.control.timeout, cfg.term_seq.clone()),
            throttle: Throttle::new(&cfg.control),
            mem_check: None,
            verdict: Verdict::new(cfg.control.halt, cfg.total_jobs),
            live_tx,
            live_rx,
        }
    }

    /// Starts jobs as slots free up and handles what running jobs report,
    /// until the input is used up and every job ended, or something stops
    /// the run (a signal, `--halt now`, a sink error, a fatal error).
    /// Returns an input error, if that is what stopped it.
    async fn main_loop(
        &mut self,
        jobs: Feed<Result<JobArgs>>,
        commands: &Commands,
        signals: &mut Signals,
        orphans: &mut Orphans,
    ) -> Option<Error> {
        let mut input_error = None;
        loop {
            let no_new = self.verdict.halting().is_some() || self.dispatch.exhausted();
            if (no_new && self.running.is_empty()) || self.verdict.stops_now() {
                return input_error;
            }
            let (can_start, wait) = self.may_start(no_new);
            if can_start {
                if let Some(w) = self.dispatch.next_waiting() {
                    self.start(w.job, w.attempt, commands);
                    continue;
                }
            }
            let want_input = self.verdict.halting().is_none() && self.dispatch.wants_input();
            let timer = [wait, self.killing.next_due(), self.mem_check]
                .into_iter()
                .flatten()
                .min();
            tokio::select! {
                biased;
                sig = signals.recv() => {
                    self.verdict.interrupt(sig);
                    return input_error;
                }
                () = super::CancelToken::cancelled(self.cfg.cancel.as_ref()) => {
                    self.verdict.interrupt(libc::SIGTERM);
                    return input_error;
                }
                () = orphans.exited() => {
                    crate::exec::orphans::reap(&self.job_pids());
                }
                Some(chunk) = recv_live(&mut self.live_rx) => self.live(chunk),
                Some(outcome) = self.running.next(), if !self.running.is_empty() => self.finished(outcome),
                _ = sleep_until(timer), if timer.is_some() => self.on_timers(Instant::now()),
                // Input is read whenever a slot is free, even while a
                // throttle holds starts back, so the end of the input is
                // seen without waiting out a --delay.
                msg = jobs.recv(), if want_input => match msg {
                    Some(Ok(job)) => {
                        self.emit(Event::Queued { seq: job.seq });
                        if can_start {
                            self.start(job, None, commands);
                        } else {
                            self.dispatch.hold(job);
                        }
                    }
                    // Bad input stops new jobs; running ones finish normally.
                    Some(Err(e)) => {
                        input_error = Some(e);
                        self.dispatch.input_ended();
                    }
                    None => self.dispatch.input_ended(),
                },
            }
        }
    }

    /// Whether a job may start now, and if a throttle says not yet, when to
    /// look again.
    fn may_start(&mut self, no_new: bool) -> (bool, Option<std::time::Instant>) {
        if no_new || !self.dispatch.slots.has_free() {
            return (false, None);
        }
        if self.throttle.is_off() {
            return (true, None);
        }
        match self.throttle.wait_until(Instant::now()) {
            None => (true, None),
            wait => (false, wait),
        }
    }

    /// What the run comes to, once every job has ended.
    fn outcome(mut self, input_error: Option<Error>) -> Result<RunSummary> {
        let finish = self.sink.finish();
        self.verdict
            .outcome(finish, input_error)
            .map_err(|e| match e {
                Stopped::Failed(e) => e,
                Stopped::Sink(e) => Error::from_sink(e),
            })
    }

    pub(super) fn emit(&mut self, event: Event<'_>) {
        self.verdict.emit(&mut *self.sink, event);
    }

    pub(super) fn live(&mut self, c: Chunk) {
        self.emit(Event::Output {
            seq: c.seq,
            stream: c.stream,
            data: &c.data,
        });
    }

    /// Process groups of the jobs still running.
    pub(super) fn groups(&self) -> Vec<i32> {
        self.meta.values().map(|m| m.pgid).collect()
    }

    /// The pids of the running jobs' processes (each its group's id), which
    /// only their drivers may reap.
    pub(super) fn job_pids(&self) -> HashSet<i32> {
        self.meta
            .values()
            .map(|m| m.pgid)
            .filter(|&p| p > 0)
            .collect()
    }
}

/// SIGCHLD as a stream when fanout is a subreaper: a reparented descendant
/// has exited and is to be reaped. Pending forever otherwise.
struct Orphans(Option<tokio::signal::unix::Signal>);

impl Orphans {
    fn new(subreaper: bool) -> io::Result<Self> {
        if !subreaper {
            return Ok(Orphans(None));
        }
        let s = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::child())?;
        Ok(Orphans(Some(s)))
    }

    async fn exited(&mut self) {
        match &mut self.0 {
            Some(s) => {
                s.recv().await;
            }
            None => std::future::pending().await,
        }
    }
}

/// Receives live output when line buffering is on; never otherwise.
pub(super) async fn recv_live(rx: &mut Option<mpsc::Receiver<Chunk>>) -> Option<Chunk> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// Sleeps until `t`; forever when there is no `t`.
async fn sleep_until(t: Option<Instant>) {
    match t {
        Some(t) => tokio::time::sleep_until(t.into()).await,
        None => std::future::pending().await,
    }
}
