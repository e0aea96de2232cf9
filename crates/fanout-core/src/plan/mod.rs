//! Planning a run around its jobs, the same for the CLI and a library
//! user: what a job log says to skip or run again (`--resume`,
//! `--resume-failed`, `--retry-failed`), reading every job first when the
//! run must know their number or shuffle them (numbering them in their
//! shuffled order, as GNU parallel), and the stack of sinks in the order
//! that gives GNU parallel's output. No printing: a torn job log row is
//! reported in [`Prior::torn`] for the caller to warn about.

use std::path::Path;

use crate::event::{Observed, Observer};
use crate::joblog::{self, SeqSet, TornRow};
use crate::sink::Ordered;
use crate::{JobArgs, JobSeq, Result, Sink};

/// Jobs as a run takes them.
pub type Jobs = Box<dyn Iterator<Item = Result<JobArgs>> + Send>;

/// How the job log of an earlier run is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Resume {
    /// Run every job.
    #[default]
    No,
    /// `--resume`: skip jobs the log lists.
    Skip,
    /// `--resume-failed`: skip jobs the log lists as succeeded.
    SkipSucceeded,
    /// `--retry-failed`: run the log's failed commands, not the input.
    RetryFailed,
}

/// What the job log says before the run.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct Prior {
    /// Jobs not to run again.
    pub skip: SeqSet,
    /// Every job the log has, succeeded or not.
    pub logged: SeqSet,
    /// `--retry-failed`: the failed jobs' command lines, by job number.
    pub retry: Option<Vec<(JobSeq, Vec<u8>)>>,
    /// A last row cut short by an earlier run, dropped (its job counts as
    /// not run).
    pub torn: Option<TornRow>,
}

impl Prior {
    /// Reads the job log at `path` for `resume` (nothing for
    /// [`Resume::No`], or when there is no log yet).
    pub fn read(path: &Path, resume: Resume) -> Result<Prior> {
        let mut prior = Prior::default();
        if resume == Resume::No {
            return Ok(prior);
        }
        let mut succeeded = SeqSet::default();
        let mut failed = std::collections::BTreeMap::new();
        let found = joblog::read(path, |row| {
            if resume != Resume::SkipSucceeded || row.succeeded() {
                prior.skip.insert(row.seq);
            }
            prior.logged.insert(row.seq);
            if row.succeeded() {
                succeeded.insert(row.seq);
            } else {
                failed.insert(row.seq, row.command);
            }
        })?;
        prior.torn = found.torn;
        if resume == Resume::RetryFailed {
            // A job that failed and later succeeded (an appended log) is done.
            let again = failed.into_iter().filter(|(s, _)| !succeeded.contains(*s));
            prior.retry = Some(again.collect());
        }
        Ok(prior)
    }

    /// `jobs` without those the log says not to run again.
    pub fn skipping(&self, jobs: Jobs) -> Jobs {
        let skip = self.skip.clone();
        Box::new(jobs.filter(move |j| !matches!(j, Ok(j) if skip.contains(j.seq))))
    }

    /// `--retry-failed`: the failed commands as jobs, each one value (the
    /// command line) under its old number; `None` for other runs.
    pub fn retry_jobs(&mut self) -> Option<Jobs> {
        let failed = self.retry.take()?;
        Some(Box::new(failed.into_iter().map(|(seq, command)| {
            Ok(JobArgs {
                seq,
                records: vec![vec![command]].into(),
                stdin: None,
            })
        })))
    }
}

/// Reads every job first when the run must know how many there are
/// (`count`: `--bar`, `--eta`, `--halt N%`) or `shuffle` them, as GNU
/// parallel does, and returns them with their number; otherwise jobs
/// stream and the number is unknown. Shuffled jobs are numbered in their
/// new order. A read error ends the jobs read so far.
pub fn prepare(jobs: Jobs, shuffle: bool, count: bool) -> (Jobs, Option<u64>) {
    if !(shuffle || count) {
        return (jobs, None);
    }
    let mut all = Vec::new();
    let mut error = None;
    for j in jobs {
        match j {
            Ok(j) => all.push(j),
            Err(e) => {
                error = Some(e);
                break;
            }
        }
    }
    if shuffle {
        fastrand::shuffle(&mut all);
        for (i, j) in all.iter_mut().enumerate() {
            j.seq = JobSeq(i as u64 + 1);
        }
    }
    let total = all.len() as u64;
    (
        Box::new(all.into_iter().map(Ok).chain(error.map(Err))),
        Some(total),
    )
}

/// The sinks of a run, stacked in the order GNU parallel's output needs:
/// the printer last, with the job log, results and files in front of it
/// (they see a job when it is printed), all behind `-k`'s ordering, and
/// what must see events as they happen (progress) in front of that.
pub struct SinkStack {
    /// Prints (or writes JSON lines): the last sink.
    pub printer: Box<dyn Sink>,
    /// See each job as it is printed (job log, results, files), in order.
    pub with_output: Vec<Box<dyn Observer>>,
    /// `-k`: events reach the printer in input order.
    pub keep_order: bool,
    /// See events as they happen, before any reordering (progress).
    pub live: Vec<Box<dyn Observer>>,
}

impl SinkStack {
    /// The stack as one sink.
    pub fn build(self) -> Box<dyn Sink> {
        let mut sink = Observed::new(self.printer);
        for o in self.with_output {
            sink = sink.with(o);
        }
        let ordered: Box<dyn Sink> = match self.keep_order {
            true => Box::new(Ordered::new(sink)),
            false => Box::new(sink),
        };
        let mut outer = Observed::new(ordered);
        for o in self.live {
            outer = outer.with(o);
        }
        Box::new(outer)
    }
}

impl<O: Observer + ?Sized> Observer for Box<O> {
    fn observe(&mut self, event: &mut crate::Event<'_>) -> std::io::Result<()> {
        (**self).observe(event)
    }

    fn finish(&mut self) -> std::io::Result<()> {
        (**self).finish()
    }
}

#[cfg(test)]
mod tests;
