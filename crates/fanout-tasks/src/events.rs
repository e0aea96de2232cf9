//! A pool's progress in the CLI's event stream: attach any fanout-core
//! [`Observer`] (the CLI's progress counters, a dashboard, a test's
//! collector) with [`crate::Builder::observe`] and it sees each task as a
//! job: `Queued` and `Started` when its batch is handed out, `Finished`
//! with a [`JobResult`] when its result is back (exit status 0 for a
//! value; for an error 1, or the signal that killed its child; the error's
//! text as its stderr). Tasks are numbered from 1 in the order the pool
//! was given them. Without an observer none of this runs.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use fanout_core::{Event, ExitKind, JobResult, JobSeq, KillReason, Observer, Records, SlotId};

use crate::TaskError;

/// The observer and the task numbering.
pub(crate) struct Events {
    observer: Mutex<Box<dyn Observer + Send>>,
    next: AtomicU64,
}

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Events").field("next", &self.next).finish()
    }
}

impl Events {
    pub fn new(observer: Box<dyn Observer + Send>) -> Events {
        Events {
            observer: Mutex::new(observer),
            next: AtomicU64::new(1),
        }
    }

    fn emit(&self, mut e: Event<'_>) {
        let mut o = self.observer.lock().unwrap_or_else(|p| p.into_inner());
        // An observer that fails is not the tasks' problem: they go on.
        let _ = o.observe(&mut e);
    }

    /// A batch of `n` tasks of `name` is handed out: the first one's number.
    pub fn started(&self, name: &str, n: usize) -> u64 {
        let first = self.next.fetch_add(n as u64, Ordering::Relaxed);
        let args = Records::new();
        for seq in (first..first + n as u64).map(JobSeq) {
            self.emit(Event::Queued { seq });
            self.emit(Event::Started {
                seq,
                slot: SlotId(0),
                command: name.as_bytes(),
                args: &args,
            });
        }
        first
    }

    /// The batch from `first` is back: `errors` are (index, error) of the
    /// tasks that failed, in order; it took `took` in all.
    pub fn finished<'e>(
        &self,
        name: &str,
        first: u64,
        n: usize,
        mut errors: impl Iterator<Item = (u32, &'e TaskError)>,
        took: Duration,
    ) {
        let runtime = took / (n.max(1) as u32);
        let mut next_error = errors.next();
        for i in 0..n as u32 {
            let error = match next_error {
                Some((at, e)) if at == i => {
                    next_error = errors.next();
                    Some(e)
                }
                _ => None,
            };
            self.emit(Event::Finished(result(
                name,
                JobSeq(first + i as u64),
                error,
                runtime,
            )));
        }
    }
}

impl Drop for Events {
    fn drop(&mut self) {
        let o = self.observer.get_mut().unwrap_or_else(|p| p.into_inner());
        let _ = o.finish();
    }
}

/// A task's result as a job's.
fn result(name: &str, seq: JobSeq, error: Option<&TaskError>, runtime: Duration) -> JobResult {
    let exit = match error {
        None => ExitKind::Code(0),
        Some(TaskError::Crashed {
            signal: Some(s), ..
        }) => ExitKind::Signal(*s),
        Some(TaskError::Crashed { code: Some(c), .. }) => ExitKind::Code(*c),
        Some(_) => ExitKind::Code(1),
    };
    let killed = matches!(error, Some(TaskError::TimedOut(_))).then_some(KillReason::Timeout);
    JobResult {
        seq,
        slot: SlotId(0),
        command: name.as_bytes().to_vec(),
        records: Records::new(),
        exit,
        stdout: Default::default(),
        stderr: fanout_core::output::Captured::from_vec(
            error.map_or_else(Vec::new, |e| format!("{e}\n").into_bytes()),
        ),
        runtime,
        cpu_time: Duration::ZERO,
        max_rss_kib: 0,
        started_at: SystemTime::now() - runtime,
        killed,
        attempt: 0,
        worker: None,
    }
}
