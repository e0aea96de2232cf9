//! What a run has decided and how it ends: `--halt` counting and
//! halting, an interruption (signal or cancel), the first fatal error, the
//! first sink error, the summary, and the final outcome with its exit
//! status. No I/O and no clock: the local engine and the broker
//! coordinator both feed it the same facts and ask it the same questions,
//! so halting, the summary and the end of a run are written once.

use std::io;

use crate::control::{Halt, HaltWhen};
use crate::halt::HaltCounter;
use crate::job::{ExitKind, JobResult, KillReason};
use crate::{Event, RunSummary, Sink};

/// The decisions of one run. `E` is the error type of the backend that
/// feeds it (a fatal error ends the run with it).
#[derive(Debug)]
pub struct Verdict<E> {
    halt: HaltCounter,
    halting: Option<HaltWhen>,
    summary: RunSummary,
    fatal: Option<E>,
    sink_error: Option<io::Error>,
    /// A first SIGHUP: no new jobs; the running ones finish and count.
    draining: bool,
}

/// How a run ended without a summary to report: a closed set, so callers
/// map both cases to their own error.
#[derive(Debug)]
pub enum Stopped<E> {
    /// Bad input or a fatal error of the backend.
    Failed(E),
    /// A sink failed (other than a closed pipe, which ends a run normally).
    Sink(io::Error),
}

impl<E> Verdict<E> {
    /// A run with `halt` (none: it only counts) out of `total` jobs when
    /// known in advance.
    pub fn new(halt: Option<Halt>, total: Option<u64>) -> Self {
        Verdict {
            halt: HaltCounter::new(halt, total),
            halting: None,
            summary: RunSummary::default(),
            fatal: None,
            sink_error: None,
            draining: false,
        }
    }

    /// A hangup: the first stops new jobs starting and lets the running
    /// ones finish (true); a second is an interruption, as SIGTERM's.
    pub fn hangup(&mut self) -> bool {
        if self.draining {
            self.interrupt(libc::SIGHUP);
            return false;
        }
        self.draining = true;
        true
    }

    /// A job started (`--halt N%` counts against the jobs started when the
    /// total is not known).
    pub fn started(&mut self) {
        self.summary.started += 1;
        self.halt.started();
    }

    /// The halt `--halt` decided, if it did.
    pub fn halting(&self) -> Option<HaltWhen> {
        self.halting
    }

    /// The run was interrupted by `signal` (a cancel counts as SIGTERM);
    /// the first one is kept.
    pub fn interrupt(&mut self, signal: i32) {
        self.summary.interrupted.get_or_insert(signal);
    }

    /// Ends the run with `e` (the first fatal error is kept).
    pub fn fail(&mut self, e: E) {
        self.fatal.get_or_insert(e);
    }

    /// The fatal error, taken out (the run still stops as failed).
    pub fn take_fatal(&mut self) -> Option<E> {
        self.fatal.take()
    }

    /// A sink failed; the first error is kept and no more events go out.
    pub fn sink_failed(&mut self, e: io::Error) {
        self.sink_error.get_or_insert(e);
    }

    /// Passes `event` to `sink`, unless a sink already failed.
    pub fn emit<S: Sink + ?Sized>(&mut self, sink: &mut S, event: Event<'_>) {
        if self.sink_error.is_none() {
            if let Err(e) = sink.event(event) {
                self.sink_error = Some(e);
            }
        }
    }

    /// True when the run stops at once: `--halt now`, an interruption, a
    /// fatal error or a failed sink. Running jobs are then ended.
    pub fn stops_now(&self) -> bool {
        self.halting == Some(HaltWhen::Now)
            || self.summary.interrupted.is_some()
            || self.fatal.is_some()
            || self.sink_error.is_some()
    }

    /// True when no new job may start (jobs running may finish).
    pub fn takes_no_new(&self) -> bool {
        self.halting.is_some() || self.draining || self.stops_now()
    }

    /// True when finished jobs are still reported. As GNU parallel: jobs
    /// killed by `--halt now` or an interruption are not reported, printed
    /// or logged (so `--resume` runs them again); neither are those a
    /// fatal error cut short.
    pub fn reports(&self) -> bool {
        self.halting != Some(HaltWhen::Now)
            && self.summary.interrupted.is_none()
            && self.fatal.is_none()
    }

    /// True when a failed job may run again (not while halting or after
    /// an interruption).
    pub fn may_retry(&self) -> bool {
        self.halting.is_none() && !self.draining && self.summary.interrupted.is_none()
    }

    /// True when a job that ended with `r` runs again: killed for memory
    /// (`--memfree` requeues it), or failed with retries left of
    /// `--retries` (`retries` runs in all; 0: until it succeeds) — never
    /// while halting or after an interruption.
    pub fn runs_again(&self, r: &JobResult, retries: u32) -> bool {
        if !self.may_retry() {
            return false;
        }
        if r.killed == Some(KillReason::Memory) {
            return true;
        }
        // Not even the shell could start (E2BIG, no shell): again would
        // fail the same way at once.
        if matches!(r.exit, ExitKind::SpawnFailed(_)) {
            return false;
        }
        r.failed() && retries != 1 && (retries == 0 || r.attempt + 1 < retries)
    }

    /// Jobs reported failed so far.
    pub fn failed_jobs(&self) -> u64 {
        self.summary.failed
    }

    /// Reports a job's final result (after any retry decision) to `sink`,
    /// counts it for `--halt`, and reports the halt count with `running`
    /// jobs left. Returns the halt this job decided, when it did.
    pub fn finished<S: Sink + ?Sized>(
        &mut self,
        sink: &mut S,
        r: JobResult,
        running: usize,
    ) -> Option<HaltWhen> {
        if r.failed() {
            self.summary.failed += 1;
        }
        let counted = self.halt.count(&r);
        self.emit(sink, Event::Finished(r));
        let c = counted?;
        let decided = (c.reached && self.halting.is_none()).then_some(c.halt.when);
        if decided.is_some() {
            self.halting = decided;
        }
        self.emit(sink, c.event(running));
        decided
    }

    /// How the run ends, once its sinks are finished (`finish` is what
    /// their `finish` returned). `first` (bad input) wins over a fatal
    /// error, which wins over a sink error; a closed pipe is a normal end.
    pub fn outcome(
        &mut self,
        finish: io::Result<()>,
        first: Option<E>,
    ) -> Result<RunSummary, Stopped<E>> {
        let sink_error = self.sink_error.take().or(finish.err());
        if let Some(e) = first.or(self.fatal.take()) {
            return Err(Stopped::Failed(e));
        }
        let mut summary = self.summary.clone();
        summary.halted = self.halting;
        summary.halt_status = self.halt.final_status();
        match sink_error {
            Some(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(RunSummary {
                broken_pipe: true,
                ..summary
            }),
            Some(e) => Err(Stopped::Sink(e)),
            None => Ok(summary),
        }
    }
}

#[cfg(test)]
mod tests;
