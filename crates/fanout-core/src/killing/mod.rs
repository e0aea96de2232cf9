//! Which running jobs to signal, and when: `--timeout` deadlines,
//! `--memfree` kills, and each killed job's walk through `--term-seq`, one
//! timed step at a time. No I/O and no clock of its own: the caller passes
//! `now`, sends the signals it is told to (to the job's process group, or
//! through a worker), and reports the `Killed` event for each kill begun.
//! The local engine uses it; any backend that can signal a job can.

mod timeouts;

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use crate::control::Timeout;
use crate::job::{JobSeq, KillReason};

use timeouts::Timeouts;

/// What to do to a running job now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KillStep {
    /// Start killing it (report it killed for `reason`) with `signal`.
    Begin {
        /// The job.
        seq: JobSeq,
        /// Why.
        reason: KillReason,
        /// The first signal of the term sequence (none when it is empty).
        signal: Option<i32>,
    },
    /// Send it the next `signal` of the term sequence.
    Next {
        /// The job.
        seq: JobSeq,
        /// The signal.
        signal: i32,
    },
}

/// A kill in progress.
#[derive(Debug)]
struct Walk {
    reason: KillReason,
    /// The next step of the term sequence.
    step: usize,
    /// When that step is due.
    due: Option<Instant>,
}

/// The kill schedule of a run's running jobs.
#[derive(Debug)]
pub struct Killing {
    timeouts: Timeouts,
    term_seq: Vec<(i32, Duration)>,
    walks: HashMap<JobSeq, Walk>,
    /// Due steps of term sequences, by time.
    due: BTreeSet<(Instant, JobSeq)>,
}

impl Killing {
    /// A schedule for `--timeout` (none: jobs never time out) and the
    /// `--term-seq` signals with the waits after each.
    pub fn new(timeout: Option<Timeout>, term_seq: Vec<(i32, Duration)>) -> Self {
        Killing {
            timeouts: Timeouts::new(timeout),
            term_seq,
            walks: HashMap::new(),
            due: BTreeSet::new(),
        }
    }

    /// Job `seq` started at `at`.
    pub fn started(&mut self, seq: JobSeq, at: Instant) {
        self.timeouts.insert(at, seq);
    }

    /// A job succeeded after `runtime` (what `--timeout N%` measures).
    pub fn succeeded(&mut self, runtime: Duration) {
        self.timeouts.succeeded(runtime);
    }

    /// Job `seq` (started at `at`) ended; forgets it. Returns why it was
    /// being killed, if it was.
    pub fn ended(&mut self, seq: JobSeq, at: Instant) -> Option<KillReason> {
        self.timeouts.remove(at, seq);
        let w = self.walks.remove(&seq)?;
        if let Some(due) = w.due {
            self.due.remove(&(due, seq));
        }
        Some(w.reason)
    }

    /// Whether `seq` is being killed.
    pub fn is_killing(&self, seq: JobSeq) -> bool {
        self.walks.contains_key(&seq)
    }

    /// Starts killing `seq` for `reason`; the step to take, unless it is
    /// already being killed (that kill goes on).
    pub fn kill(&mut self, seq: JobSeq, reason: KillReason, now: Instant) -> Option<KillStep> {
        if self.walks.contains_key(&seq) {
            return None;
        }
        let walk = Walk {
            reason,
            step: 0,
            due: None,
        };
        self.walks.insert(seq, walk);
        let signal = self.step(seq, now);
        Some(KillStep::Begin {
            seq,
            reason,
            signal,
        })
    }

    /// When something is next due: a job's timeout or a step.
    pub fn next_due(&self) -> Option<Instant> {
        let step = self.due.first().map(|d| d.0);
        [self.timeouts.next_deadline(), step]
            .into_iter()
            .flatten()
            .min()
    }

    /// Everything due at `now`: kills of jobs that ran out of time, then
    /// the next steps of kills in progress.
    pub fn due(&mut self, now: Instant) -> Vec<KillStep> {
        let mut steps = Vec::new();
        for seq in self.timeouts.expired(now) {
            steps.extend(self.kill(seq, KillReason::Timeout, now));
        }
        while let Some(&(due, seq)) = self.due.first() {
            if due > now {
                break;
            }
            self.due.pop_first();
            if let Some(signal) = self.step(seq, now) {
                steps.push(KillStep::Next { seq, signal });
            }
        }
        steps
    }

    /// Takes the next step of `seq`'s term sequence: its signal, with the
    /// step after it scheduled; none once the sequence is done.
    fn step(&mut self, seq: JobSeq, now: Instant) -> Option<i32> {
        let w = self.walks.get_mut(&seq)?;
        w.due = None;
        let &(signal, wait) = self.term_seq.get(w.step)?;
        w.step += 1;
        // A zero wait would make a due step that never leaves the loop.
        let due = now + wait.max(Duration::from_millis(1));
        w.due = Some(due);
        self.due.insert((due, seq));
        Some(signal)
    }
}

#[cfg(test)]
mod tests;
