//! The run core's vocabulary: what it asks a backend to do, where a run
//! is, what it keeps of a running job, and how a backend reports a job's
//! end.

use std::time::{Duration, Instant, SystemTime};

use crate::control::JobControl;
use crate::job::{ExitKind, JobArgs, JobResult, JobSeq, KillReason, SlotId};
use crate::output::Captured;

/// What the core asks its backend to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Start job `seq`: its arguments, slot and attempt are in
    /// [`Core::job_mut`]; the backend sets its command line there, reports
    /// it [`Event::Started`] through [`Core::emit`], and later tells the
    /// core how it [`Core::ended`].
    Start(JobSeq),
    /// Send `signal` to job `seq` (its process group, or through a worker).
    Signal {
        /// The job.
        seq: JobSeq,
        /// The signal.
        signal: i32,
    },
}

/// Where the run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Jobs run or are still to start.
    Going,
    /// Every job ended and no more will start: the run is over.
    Done,
    /// The run stops at once (`--halt now`, an interruption, a fatal or a
    /// sink error): the backend ends the jobs still running, unreported.
    Stop,
}

/// A job the backend is running, as the core keeps it.
#[derive(Debug)]
#[non_exhaustive]
pub struct Running<T> {
    /// Its arguments (a backend may replace the values: `--cat` makes
    /// `{}` the chunk's file).
    pub job: JobArgs,
    /// Its command line, set by the backend when it starts the job.
    pub command: Vec<u8>,
    /// The slot it took.
    pub slot: SlotId,
    /// Failed runs before this one.
    pub attempt: u32,
    /// When the core started it.
    pub start: Instant,
    /// The same, by the wall clock (the job log's start time).
    pub started_at: SystemTime,
    /// What the backend keeps of it (a process group, a temp file).
    pub data: T,
    /// Its own `--retries`, when the option is a replacement string that
    /// the backend rendered for it; the run's otherwise.
    pub retries: Option<u32>,
}

/// How a job ended, as its backend saw it.
#[derive(Debug)]
#[non_exhaustive]
pub struct Ended {
    /// The job.
    pub seq: JobSeq,
    /// Its exit.
    pub exit: ExitKind,
    /// What it wrote to stdout.
    pub stdout: Captured,
    /// What it wrote to stderr.
    pub stderr: Captured,
    /// CPU time it used.
    pub cpu_time: Duration,
    /// Its peak resident set size.
    pub max_rss_kib: u64,
    /// Set when the job ran elsewhere and the numbers are the runner's.
    pub remote: Option<Remote>,
}

/// What a remote runner (a broker worker) measured of a job it ran: it
/// picked the slot, ran the retries and the timeouts.
#[derive(Debug)]
#[non_exhaustive]
pub struct Remote {
    /// The worker's slot.
    pub slot: SlotId,
    /// Failed runs before the one reported.
    pub attempt: u32,
    /// How long it ran.
    pub runtime: Duration,
    /// When it started.
    pub started_at: SystemTime,
    /// Why the worker killed it, if it did.
    pub killed: Option<KillReason>,
    /// The command line, rendered for the worker's slot.
    pub command: Vec<u8>,
    /// The worker's name for itself (empty when it gave none).
    pub worker: String,
}

impl Ended {
    /// A job that ended with `exit` and no resource figures.
    pub fn new(seq: JobSeq, exit: ExitKind, stdout: Captured, stderr: Captured) -> Self {
        Ended {
            seq,
            exit,
            stdout,
            stderr,
            cpu_time: Duration::ZERO,
            max_rss_kib: 0,
            remote: None,
        }
    }
}

/// The settings the core decides by.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Rules {
    /// Jobs running at once, at most.
    pub slots: usize,
    /// Retries, timeouts, halting and start throttles.
    pub control: JobControl,
    /// Signals a killed job gets, each followed by a wait.
    pub term_seq: Vec<(i32, Duration)>,
    /// Jobs in the run, when known in advance (`--halt N%`).
    pub total_jobs: Option<u64>,
}

impl Rules {
    /// `slots` jobs at once under `control`, GNU's default `--term-seq`,
    /// the number of jobs unknown.
    pub fn new(slots: usize, control: JobControl) -> Self {
        Rules {
            slots,
            control,
            term_seq: crate::default_term_seq(),
            total_jobs: None,
        }
    }
}

impl Remote {
    /// What a runner measured: its slot, the failed runs before, the
    /// runtime and start, and the command rendered for that slot.
    pub fn new(
        slot: SlotId,
        attempt: u32,
        runtime: Duration,
        started_at: SystemTime,
        command: Vec<u8>,
    ) -> Self {
        Remote {
            slot,
            attempt,
            runtime,
            started_at,
            killed: None,
            command,
            worker: String::new(),
        }
    }
}

/// A job's result from what the core kept and how it ended.
pub(super) fn result<T>(
    run: Running<T>,
    e: Ended,
    now: Instant,
    killed: Option<KillReason>,
) -> JobResult {
    let mut r = JobResult {
        seq: run.job.seq,
        slot: run.slot,
        command: run.command,
        records: run.job.records,
        exit: e.exit,
        stdout: e.stdout,
        stderr: e.stderr,
        runtime: now.saturating_duration_since(run.start),
        cpu_time: e.cpu_time,
        max_rss_kib: e.max_rss_kib,
        started_at: run.started_at,
        killed,
        attempt: run.attempt,
        worker: None,
    };
    if let Some(remote) = e.remote {
        r.slot = remote.slot;
        r.attempt = remote.attempt;
        r.runtime = remote.runtime;
        r.started_at = remote.started_at;
        r.killed = remote.killed;
        r.command = remote.command;
        r.worker = Some(remote.worker);
    }
    r
}
