//! Evaluating a job's perl expressions ahead of its start, in the input
//! thread: a round trip to perl at the start of every job waits for perl
//! to be scheduled on a machine busy with jobs (measured: +50% on P2), while
//! ahead of time it overlaps with the running jobs. What is evaluated waits
//! here, by job number, until the job renders; a job run again (or one
//! whose expressions need its slot) is evaluated when it starts.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::Answers;
use crate::job::{JobArgs, JobSeq, SlotId};
use crate::template::{RenderCtx, Template};

/// What a template's perl expressions know of the run, and the values
/// evaluated ahead.
#[derive(Debug, Default)]
pub(crate) struct RunState {
    total: AtomicU64,
    slots: AtomicU64,
    completed: AtomicU64,
    /// Values of jobs not started yet (at most the input queue's length).
    ahead: Mutex<HashMap<u64, Result<Answers, String>>>,
}

impl Clone for RunState {
    /// The run's facts; what was evaluated ahead stays with the original.
    fn clone(&self) -> Self {
        RunState {
            total: AtomicU64::new(self.total()),
            slots: AtomicU64::new(self.slots()),
            completed: AtomicU64::new(self.completed()),
            ahead: Mutex::default(),
        }
    }
}

impl PartialEq for RunState {
    /// Facts of a run, not of a template: never a difference.
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for RunState {}

impl RunState {
    pub(crate) fn know_run(&self, total: Option<u64>, slots: usize) {
        if let Some(t) = total {
            self.total.store(t, Ordering::Relaxed);
        }
        self.slots.store(slots as u64, Ordering::Relaxed);
    }

    pub(crate) fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }

    pub(crate) fn slots(&self) -> u64 {
        self.slots.load(Ordering::Relaxed)
    }

    pub(crate) fn completed(&self) -> u64 {
        self.completed.load(Ordering::Relaxed)
    }

    /// Counts `n` more ended jobs.
    pub(crate) fn add_completed(&self, n: u64) {
        self.completed.fetch_add(n, Ordering::Relaxed);
    }

    /// The values evaluated ahead for job `seq`, taken out.
    pub(crate) fn take(&self, seq: JobSeq) -> Option<Result<Answers, String>> {
        self.ahead
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&seq.0)
    }

    fn put(&self, seq: JobSeq, a: Result<Answers, String>) {
        self.ahead
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(seq.0, a);
    }
}

/// `jobs` with each job's perl expressions evaluated as it is read (in
/// the input thread); a job whose expression calls `skip()` is left out
/// here. Unchanged when the template has no expressions that can be.
pub(crate) fn ahead<I>(
    template: Arc<Template>,
    context: bool,
    jobs: I,
) -> Box<dyn Iterator<Item = crate::Result<JobArgs>> + Send>
where
    I: Iterator<Item = crate::Result<JobArgs>> + Send + 'static,
{
    if !template.evaluable_ahead() {
        return Box::new(jobs);
    }
    Box::new(jobs.filter(move |job| {
        let Ok(job) = job else { return true };
        let ctx = RenderCtx {
            records: &job.records,
            seq: job.seq,
            slot: SlotId(0),
            context,
        };
        match template.evaluate(&ctx) {
            Ok(Some(a)) if a.skip => false,
            Ok(Some(a)) => {
                template.perl.put(job.seq, Ok(a));
                true
            }
            Ok(None) => true,
            Err(e) => {
                template.perl.put(job.seq, Err(e.to_string()));
                true
            }
        }
    }))
}
