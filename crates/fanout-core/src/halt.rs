//! Counting jobs for `--halt`: when enough failed, succeeded or ended, and
//! the exit status GNU parallel gives a halted run.

use crate::control::{Halt, HaltOn, Threshold};
use crate::job::JobResult;
use crate::Event;

/// A finished job that counted towards `--halt` (see
/// [`HaltCounter::count`]).
#[derive(Debug)]
pub struct Counted {
    /// The halt it counted for.
    pub halt: Halt,
    /// True when the threshold is reached (now or before).
    pub reached: bool,
    /// The job's command line, for the halt message.
    pub command: Vec<u8>,
}

impl Counted {
    /// The [`Event::HaltCount`] to report, with `running` jobs left.
    pub fn event(&self, running: usize) -> Event<'_> {
        Event::HaltCount {
            when: self.halt.when,
            on: self.halt.on,
            command: &self.command,
            reached: self.reached,
            running,
        }
    }
}

/// Counts for `--halt`, and the exit status a halt decides, following GNU
/// parallel. The engine uses it, and so does a distributed coordinator,
/// so both halt alike.
#[derive(Debug)]
pub struct HaltCounter {
    halt: Option<Halt>,
    total: Option<u64>,
    started: u64,
    done: u64,
    failed: u64,
    status: Option<i32>,
}

impl HaltCounter {
    /// A counter for `halt` (none: it only counts), out of `total` jobs
    /// when known in advance.
    pub fn new(halt: Option<Halt>, total: Option<u64>) -> Self {
        HaltCounter {
            halt,
            total,
            started: 0,
            done: 0,
            failed: 0,
            status: None,
        }
    }

    /// Counts a started job (`--halt N%` without a known total counts
    /// against the jobs started so far).
    pub fn started(&mut self) {
        self.started += 1;
    }

    /// Counts a finished job, following GNU parallel's `should_we_halt`.
    /// Returns `None` when the job does not count towards the halt, and
    /// whether the threshold is reached when it does.
    pub fn finished(&mut self, r: &JobResult) -> Option<bool> {
        self.done += 1;
        let failed = r.failed();
        self.failed += u64::from(failed);
        let h = self.halt?;
        let count = match h.on {
            HaltOn::Fail if failed => self.failed,
            HaltOn::Success if !failed => self.done - self.failed,
            HaltOn::Done => self.done,
            _ => return None,
        };
        let total = self.total.unwrap_or(self.started).max(1);
        let needed = match h.threshold {
            Threshold::Count(n) => n as f64,
            Threshold::Percent(p) => total as f64 * p,
        };
        if (count as f64) < needed {
            return Some(false);
        }
        if self.status.is_none() {
            self.status = Some(match (h.on, h.threshold) {
                // GNU parallel reads a zero threshold as "no number": 0.
                (HaltOn::Success, _) | (_, Threshold::Count(0) | Threshold::Percent(0.0)) => 0,
                // GNU parallel: a threshold of one job (also as N% of
                // the total) exits with that job's status.
                (_, Threshold::Count(1)) => r.halt_code(),
                (_, Threshold::Percent(_)) if needed == 1.0 => r.halt_code(),
                (_, Threshold::Percent(_)) => pct(self.failed, total),
                (_, Threshold::Count(_)) => self.failed.min(101) as i32,
            });
        }
        Some(true)
    }

    /// Counts a finished job ([`HaltCounter::finished`]) and, when it
    /// counts towards the halt, what to report of it.
    pub fn count(&mut self, r: &JobResult) -> Option<Counted> {
        let reached = self.finished(r)?;
        Some(Counted {
            halt: self.halt?,
            reached,
            command: r.command.clone(),
        })
    }

    /// The exit status of a run with `--halt N%` that never halted: the
    /// percentage of started jobs that failed, as GNU parallel reports it.
    pub fn final_status(&self) -> Option<i32> {
        match (self.status, self.halt) {
            (Some(s), _) => Some(s),
            (None, Some(h)) if matches!(h.threshold, Threshold::Percent(_)) => {
                Some(pct(self.failed, self.started.max(1)))
            }
            _ => None,
        }
    }
}

fn pct(failed: u64, of: u64) -> i32 {
    (failed as f64 / of as f64 * 100.0).ceil() as i32
}
