//! `-k`: results leave in the order jobs started (input order, as jobs
//! start in sequence), whatever order they finish in. Jobs that never
//! start (skipped by `--resume`) leave no gap to wait for; a job run again
//! (`--retries`) keeps its place. With `--line-buffer`, the oldest job's
//! lines pass through at once and later jobs' lines wait for their turn.

use std::collections::{HashMap, HashSet, VecDeque};
use std::io;

use crate::control::HaltWhen;
use crate::event::{Event, Sink};
use crate::job::{JobResult, JobSeq};
use crate::output::Stream;

/// Puts `Finished` (and live `Output`) events back in start order.
#[derive(Debug)]
pub struct Ordered<S> {
    inner: S,
    /// Started jobs not yet passed on, oldest first.
    order: VecDeque<JobSeq>,
    waiting: HashSet<JobSeq>,
    done: HashMap<JobSeq, JobResult>,
    held: HashMap<JobSeq, Vec<(Stream, Vec<u8>)>>,
    /// `--halt now` struck: what is still held is never printed, as GNU
    /// parallel exits without printing it.
    halted_now: bool,
}

impl<S: Sink> Ordered<S> {
    /// Wraps `inner`.
    pub fn new(inner: S) -> Self {
        Ordered {
            inner,
            order: VecDeque::new(),
            waiting: HashSet::new(),
            done: HashMap::new(),
            held: HashMap::new(),
            halted_now: false,
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

    /// Passes on everything the oldest job has waiting, and moves past
    /// every finished job at the front.
    fn release_ready(&mut self) -> io::Result<()> {
        while let Some(&seq) = self.order.front() {
            self.flush_held(seq)?;
            let Some(r) = self.done.remove(&seq) else {
                return Ok(());
            };
            self.order.pop_front();
            self.waiting.remove(&seq);
            self.inner.event(Event::Finished(r))?;
        }
        Ok(())
    }
}

impl<S: Sink> Sink for Ordered<S> {
    fn event(&mut self, event: Event<'_>) -> io::Result<()> {
        match event {
            Event::Started { seq, .. } => {
                if self.waiting.insert(seq) {
                    self.order.push_back(seq);
                }
                self.inner.event(event)
            }
            Event::Output { seq, stream, data } if self.order.front() != Some(&seq) => {
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
            Event::HaltCount {
                when: HaltWhen::Now,
                reached: true,
                ..
            } => {
                self.halted_now = true;
                self.inner.event(event)
            }
            other => self.inner.event(other),
        }
    }

    fn finish(&mut self) -> io::Result<()> {
        // Jobs that never finished (a run cut short) leave gaps; print the
        // rest in order.
        if self.halted_now {
            self.order.clear();
        }
        while let Some(seq) = self.order.pop_front() {
            self.flush_held(seq)?;
            if let Some(r) = self.done.remove(&seq) {
                self.inner.event(Event::Finished(r))?;
            }
        }
        self.inner.finish()
    }
}
