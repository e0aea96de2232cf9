//! What the engine reports as jobs move along, and the [`Sink`] trait that
//! consumers implement. Output printing, ordering and collecting results
//! are all sinks; the engine itself never prints.

use std::io;

use crate::control::{HaltOn, HaltWhen};
use crate::job::{JobResult, JobSeq, KillReason, Records, SlotId};
use crate::output::Stream;

/// One step in a job's life, pushed to the sink in the order it happened.
#[derive(Debug)]
#[non_exhaustive]
pub enum Event<'a> {
    /// The job was taken from the input: it starts as soon as a slot and
    /// the throttles (`--delay`, `--load`, `--memfree`) allow.
    Queued {
        /// The job.
        seq: JobSeq,
    },
    /// The job's process was started (or, for `--dry-run`, would be).
    Started {
        /// The job.
        seq: JobSeq,
        /// Its slot.
        slot: SlotId,
        /// Its composed command line.
        command: &'a [u8],
        /// The input records it was built from ([`Records::values`] gives
        /// them as one list of values).
        args: &'a Records,
    },
    /// Output as it arrived; only under [`crate::OutputMode::LineBuffer`].
    Output {
        /// The job.
        seq: JobSeq,
        /// Which stream.
        stream: Stream,
        /// The bytes, not necessarily whole lines.
        data: &'a [u8],
    },
    /// The job ended; its captured output travels with the result.
    Finished(JobResult),
    /// The job ended but will run again: it failed with `--retries` left,
    /// or was killed for `--memfree`. Its output is not printed.
    Retried(JobResult),
    /// fanout began killing the job (its term sequence started).
    Killed {
        /// The job.
        seq: JobSeq,
        /// Why.
        reason: KillReason,
        /// Its command line.
        command: &'a [u8],
    },
    /// A job counted towards the `--halt` threshold (it failed, succeeded
    /// or ended, as the halt asks). Once the threshold is `reached`, no new
    /// jobs start, and with `now` the running ones are killed unreported.
    HaltCount {
        /// `now` or `soon`.
        when: HaltWhen,
        /// True when this job reached the threshold (or it was reached
        /// before).
        reached: bool,
        /// What made it halt: failed, succeeded or done jobs.
        on: HaltOn,
        /// The command line of the job that reached the threshold.
        command: &'a [u8],
        /// Jobs still running.
        running: usize,
    },
    /// fanout was asked (SIGUSR1) which jobs are running: these, in job
    /// order, with their command lines.
    Running {
        /// The running jobs.
        jobs: &'a [(JobSeq, Vec<u8>)],
    },
}

/// A consumer of engine events.
///
/// An error from a sink stops the run: running jobs are terminated and the
/// error is returned (a closed stdout pipe ends the run quietly).
pub trait Sink {
    /// Handles one event.
    fn event(&mut self, event: Event<'_>) -> io::Result<()>;

    /// Called once after the last event.
    fn finish(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<S: Sink + ?Sized> Sink for Box<S> {
    fn event(&mut self, event: Event<'_>) -> io::Result<()> {
        (**self).event(event)
    }

    fn finish(&mut self) -> io::Result<()> {
        (**self).finish()
    }
}

impl<S: Sink + ?Sized> Sink for &mut S {
    fn event(&mut self, event: Event<'_>) -> io::Result<()> {
        (**self).event(event)
    }

    fn finish(&mut self) -> io::Result<()> {
        (**self).finish()
    }
}

/// Sees every event before the sink that prints it, and may amend a
/// finished job's result (as `--files` replaces output by a file name).
/// The job log, the results directory and progress counters observe.
pub trait Observer {
    /// Looks at one event; an error stops the run as a sink error does.
    fn observe(&mut self, event: &mut Event<'_>) -> io::Result<()>;

    /// Called once after the last event.
    fn finish(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A sink with observers in front: each event goes to every observer in
/// turn, then to the sink.
pub struct Observed<S> {
    observers: Vec<Box<dyn Observer>>,
    inner: S,
}

impl<S: Sink> Observed<S> {
    /// `inner` with no observers yet.
    pub fn new(inner: S) -> Self {
        Observed {
            observers: Vec::new(),
            inner,
        }
    }

    /// Adds an observer after those already there.
    pub fn with(mut self, o: impl Observer + 'static) -> Self {
        self.observers.push(Box::new(o));
        self
    }
}

impl<S: Sink> Sink for Observed<S> {
    fn event(&mut self, mut event: Event<'_>) -> io::Result<()> {
        for o in &mut self.observers {
            o.observe(&mut event)?;
        }
        self.inner.event(event)
    }

    fn finish(&mut self) -> io::Result<()> {
        for o in &mut self.observers {
            o.finish()?;
        }
        self.inner.finish()
    }
}

/// A sink that keeps every result, for library users who want them all.
#[derive(Debug, Default)]
pub struct Collect {
    /// The results, in the order the jobs finished.
    pub results: Vec<JobResult>,
}

impl Collect {
    /// The results in job order (`{#}` order).
    pub fn into_sorted(mut self) -> Vec<JobResult> {
        self.results.sort_by_key(|r| r.seq);
        self.results
    }
}

impl Sink for Collect {
    fn event(&mut self, event: Event<'_>) -> io::Result<()> {
        if let Event::Finished(r) = event {
            self.results.push(r);
        }
        Ok(())
    }
}
