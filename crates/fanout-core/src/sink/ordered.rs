//! `-k`: results leave in job order, whatever order jobs finish in. With
//! `--line-buffer`, the oldest running job's lines pass through at once
//! and later jobs' lines wait until it is their turn.

use std::collections::{BTreeMap, HashMap};
use std::io;

use crate::event::{Event, Sink};
use crate::exec::Stream;
use crate::job::{JobResult, JobSeq};

/// Puts `Finished` (and live `Output`) events back in sequence order.
#[derive(Debug)]
pub struct Ordered<S> {
    inner: S,
    next: JobSeq,
    done: BTreeMap<JobSeq, JobResult>,
    held: HashMap<JobSeq, Vec<(Stream, Vec<u8>)>>,
}

impl<S: Sink> Ordered<S> {
    /// Wraps `inner`; the first job is number 1.
    pub fn new(inner: S) -> Self {
        Ordered {
            inner,
            next: JobSeq(1),
            done: BTreeMap::new(),
            held: HashMap::new(),
        }
    }

    /// The wrapped sink.
    pub fn into_inner(self) -> S {
        self.inner
    }

    /// Passes on the live output held back for job `seq`.
    fn flush_held(&mut self, seq: JobSeq) -> io::Result<()> {
        for (stream, data) in self.held.remove(&seq).unwrap_or_default() {
            self.inner.event(Event::Output {
                seq,
                stream,
                data: &data,
            })?;
        }
        Ok(())
    }

    /// Passes on everything the head job has waiting, and moves the head
    /// past every finished job.
    fn release_ready(&mut self) -> io::Result<()> {
        loop {
            let seq = self.next;
            self.flush_held(seq)?;
            let Some(r) = self.done.remove(&seq) else {
                return Ok(());
            };
            self.inner.event(Event::Finished(r))?;
            self.next = JobSeq(seq.0 + 1);
        }
    }
}

impl<S: Sink> Sink for Ordered<S> {
    fn event(&mut self, event: Event<'_>) -> io::Result<()> {
        match event {
            Event::Output { seq, stream, data } if seq != self.next => {
                self.held
                    .entry(seq)
                    .or_default()
                    .push((stream, data.to_vec()));
                Ok(())
            }
            Event::Finished(r) => {
                self.done.insert(r.seq, r);
                self.release_ready()
            }
            other => self.inner.event(other),
        }
    }

    fn finish(&mut self) -> io::Result<()> {
        // Jobs that never ran (a run cut short) leave gaps; print the rest.
        while let Some((seq, r)) = self.done.pop_first() {
            self.flush_held(seq)?;
            self.inner.event(Event::Finished(r))?;
        }
        self.inner.finish()
    }
}
