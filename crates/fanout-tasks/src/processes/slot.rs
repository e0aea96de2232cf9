//! One slot of the process pool: a thread that owns one child at a time,
//! sends it batches and reads back their results, and replaces it when it
//! dies or overruns the timeout. Whatever a child's death leaves unfinished
//! goes to the next child: the task it was running fails (or is retried),
//! the ones after it run, and the ones before it whose results were lost
//! with the child's buffer run again.

use std::io::{self, Write};
use std::path::Path;
use std::time::Duration;

use super::progress::now_ns;
use super::spawn::Child;
use crate::packed::Results;
use crate::pool::Options;
use crate::wire::{self, Failure, Fields, Kind};
use crate::work::Work;
use crate::TaskError;

/// Deaths in a row with no task to blame (a child that dies as it starts)
/// before the batch's first task is failed, so that a slot cannot loop.
const BLAMELESS_DEATHS: u32 = 3;

/// The slot's thread: starts its child, says so on `ready`, then serves
/// the queue until it closes.
pub fn serve(
    exe: &Path,
    queue: flume::Receiver<Work>,
    opts: &Options,
    ready: flume::Sender<io::Result<()>>,
) {
    let mut child = match Child::start(exe) {
        Ok(c) => Some(c),
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    let _ = ready.send(Ok(()));
    let mut slot = Slot {
        exe,
        opts,
        next_batch: 1,
        buf: Vec::new(),
    };
    while let Ok(work) = queue.recv() {
        if work.is_cancelled() {
            work.cancel();
            continue;
        }
        slot.run(&mut child, work);
    }
    if let Some(c) = child {
        c.close();
    }
}

struct Slot<'a> {
    exe: &'a Path,
    opts: &'a Options,
    next_batch: u64,
    buf: Vec<u8>,
}

/// How a batch on one child ended early.
struct Death {
    /// The batch position of the task that was running, if one was.
    running: Option<usize>,
    /// What to report for it.
    error: TaskError,
}

impl Slot<'_> {
    /// Runs `work` to the end, on as many children as it takes.
    fn run(&mut self, child: &mut Option<Child>, work: Work) {
        let n = work.args.len();
        let mut results = Results::pending(n);
        let mut tries = vec![0u32; n];
        let mut took = 0u64;
        let mut blameless = 0;
        loop {
            let todo = results.pending_indices();
            let Some(&first) = todo.first() else { break };
            let c = match child.take() {
                Some(c) => c,
                None => match Child::start(self.exe) {
                    Ok(c) => c,
                    Err(e) => {
                        let error = TaskError::Codec(format!("cannot start a child: {e}"));
                        todo.iter()
                            .for_each(|&i| results.set_failed(i, error.clone()));
                        break;
                    }
                },
            };
            let mut c = c;
            match self.batch(&mut c, &work, &todo, &mut results, &mut tries) {
                Ok(ns) => {
                    took += ns;
                    *child = Some(c);
                }
                Err(death) => {
                    let error = match death.error {
                        TaskError::TimedOut(d) => {
                            c.kill();
                            TaskError::TimedOut(d)
                        }
                        _ => c.kill(),
                    };
                    let blamed = death.running.or_else(|| {
                        blameless += 1;
                        (blameless >= BLAMELESS_DEATHS).then_some(first)
                    });
                    if let Some(i) = blamed {
                        blameless = 0;
                        self.failed(i, error, &mut results, &mut tries);
                    }
                }
            }
        }
        work.finish(results, Duration::from_nanos(took));
    }

    /// Task `i` failed: its result, or another try when retries remain.
    fn failed(&self, i: usize, error: TaskError, results: &mut Results, tries: &mut [u32]) {
        tries[i] += 1;
        if tries[i] > self.opts.retries {
            results.set_failed(i, error);
        }
    }

    /// Sends the tasks `todo` of `work` to `c` as one batch and reads
    /// their results into `results`; the child's time for the batch, or
    /// how it died.
    fn batch(
        &mut self,
        c: &mut Child,
        work: &Work,
        todo: &[usize],
        results: &mut Results,
        tries: &mut [u32],
    ) -> Result<u64, Death> {
        let id = self.next_batch;
        self.next_batch += 1;
        if self.send(c, id, work, todo).is_err() {
            return Err(self.died(c, id, todo, results));
        }
        loop {
            let frame = self.next_frame(c, id, todo, results)?;
            let mut f = Fields(&frame.body);
            if f.u64().map_err(bad)? != id {
                return Err(bad("a frame of another batch"));
            }
            match frame.kind {
                Kind::End => return f.u64().map_err(bad),
                Kind::Results => self.results(f, todo, results, tries).map_err(bad)?,
                Kind::Batch => return Err(bad("a batch frame from a child")),
            }
        }
    }

    /// Takes a run of results (`first`, `count`, then each task's status,
    /// length and bytes), checking every field.
    fn results(
        &self,
        mut f: Fields<'_>,
        todo: &[usize],
        results: &mut Results,
        tries: &mut [u32],
    ) -> io::Result<()> {
        let first = f.u32()? as usize;
        let count = f.u32()? as usize;
        let tasks = todo
            .get(first..first.saturating_add(count))
            .ok_or_else(|| wire::bad("results out of range".into()))?;
        for &i in tasks {
            let status = f.bytes(1)?[0];
            let len = f.u32()? as usize;
            let bytes = f.bytes(len)?;
            if status == wire::VALUE {
                results.set_value(i, bytes);
            } else {
                let text = String::from_utf8_lossy(bytes).into_owned();
                self.failed(i, Failure::try_from(status)?.error(text), results, tries);
            }
        }
        Ok(())
    }

    /// Writes the batch frame: its id, the task's name, the arguments'
    /// lengths, the arguments.
    fn send(&mut self, c: &mut Child, id: u64, work: &Work, todo: &[usize]) -> io::Result<()> {
        let name = work.name.as_bytes();
        let mut head = Vec::with_capacity(14 + name.len() + 4 * todo.len());
        head.extend_from_slice(&id.to_le_bytes());
        head.extend_from_slice(&(name.len() as u16).to_le_bytes());
        head.extend_from_slice(name);
        head.extend_from_slice(&(todo.len() as u32).to_le_bytes());
        for &i in todo {
            let len = u32::try_from(work.args.get(i).len())
                .map_err(|_| wire::bad("argument too long".into()))?;
            head.extend_from_slice(&len.to_le_bytes());
        }
        // A whole batch (the usual case) goes as one slice; what is left
        // of one after a child died, argument by argument.
        let n = work.args.len();
        let parts: Vec<&[u8]> = if todo.len() == n {
            vec![&head, work.args.span(0, n)]
        } else {
            std::iter::once(&head[..])
                .chain(todo.iter().map(|&i| work.args.get(i)))
                .collect()
        };
        wire::write_frame(&mut c.to, &mut self.buf, Kind::Batch, &parts)?;
        c.to.flush()
    }

    /// The next frame from `c`; when the child dies, or its task overruns
    /// the timeout, what to blame.
    fn next_frame(
        &self,
        c: &mut Child,
        id: u64,
        todo: &[usize],
        results: &Results,
    ) -> Result<wire::Frame, Death> {
        if let Some(limit) = self.opts.timeout {
            // Buffered bytes are a frame the child already wrote whole.
            if c.from.buffer().is_empty() && !self.readable(c, id, limit) {
                let running = c
                    .progress
                    .running(id)
                    .and_then(|(k, _)| todo.get(k as usize).copied());
                return Err(Death {
                    running: running.filter(|&i| results.is_pending(i)),
                    error: TaskError::TimedOut(limit),
                });
            }
        }
        match wire::read_frame(&mut c.from) {
            Ok(Some(frame)) => Ok(frame),
            Ok(None) | Err(_) => Err(self.died(c, id, todo, results)),
        }
    }

    /// Waits until `c` has written something, or its task has run for
    /// `limit`: false then.
    fn readable(&self, c: &Child, id: u64, limit: Duration) -> bool {
        use rustix::event::{poll, PollFd, PollFlags, Timespec};
        let fd = c.from.get_ref();
        loop {
            let started = c.progress.running(id).map_or_else(now_ns, |(_, t)| t);
            let deadline = started.saturating_add(limit.as_nanos() as u64);
            let now = now_ns();
            if now >= deadline {
                return false;
            }
            let wait = deadline - now;
            let timeout = Timespec {
                tv_sec: (wait / 1_000_000_000) as i64,
                tv_nsec: (wait % 1_000_000_000) as i64,
            };
            let mut fds = [PollFd::new(fd, PollFlags::IN)];
            if matches!(poll(&mut fds, Some(&timeout)), Ok(n) if n > 0) {
                return true;
            }
            // Timed out: the task running now may have started since.
        }
    }

    /// The child died during batch `id`: the task it was running, if that
    /// task has no result yet.
    fn died(&self, c: &Child, id: u64, todo: &[usize], results: &Results) -> Death {
        let running = c
            .progress
            .running(id)
            .and_then(|(k, _)| todo.get(k as usize).copied());
        Death {
            running: running.filter(|&i| results.is_pending(i)),
            error: TaskError::Crashed {
                signal: None,
                code: None,
            },
        }
    }
}

/// A frame that breaks the protocol: the child is not to be trusted
/// further, and no task is blamed.
fn bad<E: std::fmt::Display>(why: E) -> Death {
    Death {
        running: None,
        error: TaskError::Codec(format!("protocol error from a child: {why}")),
    }
}
