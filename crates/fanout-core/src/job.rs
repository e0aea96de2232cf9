//! What a job is and what running it produced: the ID newtypes, the
//! arguments a job was built from, and its result.

use std::fmt;
use std::time::{Duration, SystemTime};

use crate::exec::Captured;
use crate::pipe::JobStdin;

/// A job's sequence number: 1 for the first job built from the input, as
/// `{#}` and `$PARALLEL_SEQ` show it. Output order under `-k` is this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct JobSeq(pub u64);

/// A job slot: 1..=N for `-j N`, reused as jobs finish, as `{%}` and
/// `$PARALLEL_JOBSLOT` show it. The lowest free slot is always taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SlotId(pub u32);

impl fmt::Display for JobSeq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Display for SlotId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// One input record: the values of every input column for one job
/// position (one per source, or one per `--colsep` column).
pub type Record = Vec<Vec<u8>>;

/// The input a job consumes: usually one record, several under `-n`, `-N`,
/// `-X`, `-m` and `--xargs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobArgs {
    /// The job's sequence number.
    pub seq: JobSeq,
    /// The records, in input order.
    pub records: Vec<Record>,
    /// Pipe mode: the chunk the job reads (on stdin, or as the file or
    /// fifo `{}` names).
    pub stdin: Option<JobStdin>,
}

/// How a job's process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitKind {
    /// It exited with this status.
    Code(i32),
    /// A signal killed it.
    Signal(i32),
    /// It could not be started at all (the OS error number).
    SpawnFailed(i32),
}

impl ExitKind {
    /// True when the job counts as succeeded: exit status 0.
    pub fn success(self) -> bool {
        self == ExitKind::Code(0)
    }

    /// The status GNU parallel reports for the job (a signal as 128+N is
    /// how a shell shows it; spawn failures as 127 like a shell's
    /// "command not found").
    pub fn code(self) -> i32 {
        match self {
            ExitKind::Code(c) => c,
            ExitKind::Signal(s) => 128 + s,
            ExitKind::SpawnFailed(_) => 127,
        }
    }
}

/// Everything known about a finished job.
#[derive(Debug)]
pub struct JobResult {
    /// The job's sequence number.
    pub seq: JobSeq,
    /// The slot it ran in.
    pub slot: SlotId,
    /// The composed command line as it was run (or would be, for
    /// `--dry-run`).
    pub command: Vec<u8>,
    /// The input records the job was built from, in order (each a value
    /// per source or column).
    pub records: Vec<Record>,
    /// How it ended.
    pub exit: ExitKind,
    /// Its standard output, unless output was not captured.
    pub stdout: Captured,
    /// Its standard error, unless output was not captured.
    pub stderr: Captured,
    /// Wall-clock run time.
    pub runtime: Duration,
    /// CPU time the job's process used, user plus system.
    pub cpu_time: Duration,
    /// Peak resident memory of the job's process, in KiB.
    pub max_rss_kib: u64,
    /// When it started, by the wall clock.
    pub started_at: SystemTime,
    /// Why fanout killed it, if it did.
    pub killed: Option<KillReason>,
    /// How many times it ran before, and failed (0 on the first run).
    pub attempt: u32,
}

/// Why fanout ended a job before it ended by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KillReason {
    /// It ran longer than `--timeout`.
    Timeout,
    /// Free memory fell under half of `--memfree`; it runs again later.
    Memory,
}

impl JobResult {
    /// The input values, all records' columns in order.
    pub fn args(&self) -> Vec<Vec<u8>> {
        self.records.iter().flatten().cloned().collect()
    }

    /// True when the job counts as failed: a non-zero exit, a signal, not
    /// started, or killed by fanout.
    pub fn failed(&self) -> bool {
        !self.exit.success() || self.killed.is_some()
    }

    /// The status `--halt ...=1` exits with, as GNU parallel: the job's
    /// exit status, 128 + the signal that killed it, or -1 when fanout
    /// killed it.
    pub fn halt_code(&self) -> i32 {
        if self.killed.is_some() {
            -1
        } else {
            self.exit.code()
        }
    }
}
