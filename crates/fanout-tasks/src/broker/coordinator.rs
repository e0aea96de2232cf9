//! The pool's side of the broker: publishes each batch as job messages
//! and matches the results that come back, by the run's task index, to the
//! batches waiting for them. A result for a task already answered (a job
//! redelivered after its worker was presumed dead, then finished twice)
//! is dropped: each task is answered once.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use async_nats::jetstream::consumer::{pull, DeliverPolicy};
use async_nats::jetstream::{self, Context};
use futures_util::StreamExt as _;
use serde::Serialize;

use super::protocol::{self, ResultMsg, MAX_MESSAGE, MAX_TASKS, VERSION};
use super::BrokerOptions;
use crate::packed::PackedRange;
use crate::pool::Options;
use crate::work::Work;
use crate::TaskError;

type Outcome = Result<Vec<u8>, TaskError>;

/// How often batches are checked for a caller's cancel (a worker may be
/// running them: their results are dropped when they come).
const CANCEL_CHECK: Duration = Duration::from_millis(50);

/// A job message as published: [`protocol::JobMsg`]'s layout, borrowing
/// the batch's arguments instead of copying them.
#[derive(Serialize)]
struct JobRef<'a> {
    version: u8,
    run: &'a str,
    start: u64,
    name: &'a str,
    args: PackedRange<'a>,
    timeout_ms: Option<u64>,
    retries: u32,
}

/// Tasks `start..start + len` of the run: part of one batch.
struct Part {
    batch: u64,
    offset: usize,
    len: usize,
}

/// A batch waiting for its results.
struct Batch {
    work: Work,
    results: Vec<Option<Outcome>>,
    left: usize,
    parts: Vec<u64>,
    took: Duration,
}

struct Coordinator {
    js: Context,
    run: String,
    subject: String,
    opts: Options,
    /// The run's next task index.
    next: u64,
    next_batch: u64,
    parts: BTreeMap<u64, Part>,
    batches: HashMap<u64, Batch>,
    /// Results an earlier coordinator of this run name got, by task index.
    history: HashMap<u64, Outcome>,
}

/// The coordinator thread: connects, says whether it could, then serves
/// batches from `rx` until the pool is gone and every batch is answered.
pub(super) fn serve(
    b: BrokerOptions,
    run: String,
    opts: Options,
    rx: flume::Receiver<Work>,
    ready: flume::Sender<Result<(), String>>,
) {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return drop(ready.send(Err(e.to_string()))),
    };
    rt.block_on(async move {
        let (mut c, mut results) = match connect(&b, run, opts).await {
            Ok(c) => c,
            Err(e) => return drop(ready.send(Err(e))),
        };
        let _ = ready.send(Ok(()));
        let mut open = true;
        let mut tick = tokio::time::interval(CANCEL_CHECK);
        while open || !c.batches.is_empty() {
            tokio::select! {
                _ = tick.tick() => c.drop_cancelled(),
                w = rx.recv_async(), if open => match w {
                    Ok(w) => c.take(w).await,
                    Err(_) => open = false,
                },
                m = results.next() => match m {
                    Some(Ok(m)) => c.result(&m.payload, false),
                    Some(Err(_)) => tokio::time::sleep(Duration::from_millis(50)).await,
                    None => break,
                },
            }
        }
        c.fail_all("the broker connection ended");
    });
}

/// Connects, sets up the streams and the workers' lease, and (for a named
/// run) reads the results an earlier run of that name already has.
async fn connect(
    b: &BrokerOptions,
    run: String,
    opts: Options,
) -> Result<(Coordinator, pull::Ordered), String> {
    let client = tokio::time::timeout(Duration::from_secs(10), async_nats::connect(&b.url))
        .await
        .map_err(|_| "no answer in 10 s".to_string())?
        .map_err(|e| e.to_string())?;
    let js = jetstream::new(client);
    let (jobs, results) = protocol::streams(&js).await?;
    protocol::workers(&jobs, Some(b.lease)).await?;
    let subject = protocol::results_subject(&run);
    let last = results
        .get_last_raw_message_by_subject(&subject)
        .await
        .ok()
        .map(|m| m.sequence);
    let mut messages = results
        .create_consumer(pull::OrderedConfig {
            filter_subject: subject,
            deliver_policy: DeliverPolicy::All,
            ..Default::default()
        })
        .await
        .map_err(|e| e.to_string())?
        .messages()
        .await
        .map_err(|e| e.to_string())?;
    let mut c = Coordinator {
        js,
        subject: protocol::jobs_subject(&run),
        run,
        opts,
        next: 0,
        next_batch: 0,
        parts: BTreeMap::new(),
        batches: HashMap::new(),
        history: HashMap::new(),
    };
    if let Some(last) = last {
        while let Some(Ok(m)) = messages.next().await {
            c.result(&m.payload, true);
            if m.info().is_ok_and(|i| i.stream_sequence >= last) {
                break;
            }
        }
    }
    Ok((c, messages))
}

impl Coordinator {
    /// Answers a batch from the run's history, or publishes it.
    async fn take(&mut self, work: Work) {
        if work.is_cancelled() {
            return work.cancel();
        }
        let n = work.args.len();
        let start = self.next;
        self.next += n as u64;
        if (start..start + n as u64).all(|i| self.history.contains_key(&i)) {
            let out: Vec<_> = (start..start + n as u64)
                .filter_map(|i| self.history.remove(&i))
                .collect();
            return work.finish(out.into(), Duration::ZERO);
        }
        let id = self.next_batch;
        self.next_batch += 1;
        let mut batch = Batch {
            results: (0..n).map(|_| None).collect(),
            left: n,
            parts: Vec::new(),
            took: Duration::ZERO,
            work,
        };
        let mut failed = Vec::new();
        for (offset, len) in cut(batch.work.args.iter().map(<[u8]>::len)) {
            let part_start = start + offset as u64;
            match self.publish(&batch.work, part_start, offset, len).await {
                Ok(()) => {
                    batch.parts.push(part_start);
                    self.parts.insert(
                        part_start,
                        Part {
                            batch: id,
                            offset,
                            len,
                        },
                    );
                }
                Err(e) => failed.push((offset, len, e)),
            }
        }
        for (offset, len, e) in failed {
            for r in &mut batch.results[offset..offset + len] {
                *r = Some(Err(TaskError::Broker(e.clone())));
            }
            batch.left -= len;
        }
        self.batches.insert(id, batch);
        self.finish_if_done(id);
    }

    /// Publishes tasks `offset..offset + len` of the batch and waits for
    /// the broker to store them.
    async fn publish(
        &self,
        work: &Work,
        start: u64,
        offset: usize,
        len: usize,
    ) -> Result<(), String> {
        let job = JobRef {
            version: VERSION,
            run: &self.run,
            start,
            name: work.name,
            args: work.args.range(offset, offset + len),
            timeout_ms: self.opts.timeout.map(|t| t.as_millis() as u64),
            retries: self.opts.retries,
        };
        let payload = postcard::to_allocvec(&job).map_err(|e| e.to_string())?;
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Msg-Id", format!("{}.{start}", self.run).as_str());
        let ack = self
            .js
            .publish_with_headers(self.subject.clone(), headers, payload.into())
            .await
            .map_err(|e| e.to_string())?;
        ack.await.map(drop).map_err(|e| e.to_string())
    }

    /// Takes one result message (untrusted: anything malformed, unknown
    /// or already answered is dropped).
    fn result(&mut self, payload: &[u8], replaying: bool) {
        let Ok(m) = ResultMsg::decode(payload) else {
            return;
        };
        let took = Duration::from_nanos(m.took_ns);
        let mut touched = Vec::new();
        for (i, r) in m.results.into_iter().enumerate() {
            let index = m.start + i as u64;
            let Some((&part_start, part)) = self.parts.range(..=index).next_back() else {
                if replaying {
                    self.history.insert(index, r);
                }
                continue;
            };
            if index >= part_start + part.len as u64 {
                if replaying {
                    self.history.insert(index, r);
                }
                continue;
            }
            let Some(batch) = self.batches.get_mut(&part.batch) else {
                continue;
            };
            let slot = &mut batch.results[part.offset + (index - part_start) as usize];
            if slot.is_none() {
                *slot = Some(r);
                batch.left -= 1;
                if touched.last() != Some(&part.batch) {
                    batch.took += took;
                    touched.push(part.batch);
                }
            }
        }
        for id in touched {
            self.finish_if_done(id);
        }
    }

    fn finish_if_done(&mut self, id: u64) {
        if self.batches.get(&id).is_some_and(|b| b.left == 0) {
            // Every task is answered: `missing` is never called.
            self.end(id, || TaskError::Broker("no result".into()));
        }
    }

    /// Ends the batches the caller cancelled: unanswered tasks are
    /// cancelled.
    fn drop_cancelled(&mut self) {
        let gone: Vec<u64> = (self.batches.iter())
            .filter(|(_, b)| b.work.is_cancelled())
            .map(|(id, _)| *id)
            .collect();
        for id in gone {
            self.end(id, || TaskError::Cancelled);
        }
    }

    /// Ends every waiting batch with `why` for the tasks still unanswered.
    fn fail_all(&mut self, why: &str) {
        let ids: Vec<u64> = self.batches.keys().copied().collect();
        for id in ids {
            self.end(id, || TaskError::Broker(why.into()));
        }
    }

    /// Reports batch `id` and forgets it and its parts; a task with no
    /// result yet gets `missing()`.
    fn end(&mut self, id: u64, missing: impl Fn() -> TaskError) {
        let Some(b) = self.batches.remove(&id) else {
            return;
        };
        for p in &b.parts {
            self.parts.remove(p);
        }
        let out: Vec<_> = (b.results.into_iter())
            .map(|r| r.unwrap_or_else(|| Err(missing())))
            .collect();
        b.work.finish(out.into(), b.took);
    }
}

/// Cuts a batch's arguments into job messages under the broker's size
/// and count limits: `(offset, len)` of each.
fn cut(lens: impl ExactSizeIterator<Item = usize>) -> Vec<(usize, usize)> {
    const BUDGET: usize = MAX_MESSAGE - 4096;
    let n = lens.len();
    let mut parts = Vec::new();
    let (mut offset, mut bytes) = (0, 0);
    for (i, len) in lens.enumerate() {
        let size = len + 5;
        if i > offset && (bytes + size > BUDGET || i - offset == MAX_TASKS) {
            parts.push((offset, i - offset));
            (offset, bytes) = (i, 0);
        }
        bytes += size;
    }
    if offset < n {
        parts.push((offset, n - offset));
    }
    parts
}

#[cfg(test)]
mod tests {
    #[test]
    fn cut_keeps_each_message_under_the_limits() {
        let parts = super::cut(std::iter::repeat_n(10, 200_000));
        assert_eq!(parts.iter().map(|p| p.1).sum::<usize>(), 200_000);
        assert!(parts.iter().all(|p| p.1 <= super::MAX_TASKS));
        assert_eq!(
            super::cut(std::iter::repeat_n(600_000, 3)),
            [(0, 1), (1, 1), (2, 1)]
        );
    }
}
