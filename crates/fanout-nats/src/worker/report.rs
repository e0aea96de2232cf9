//! Sending results back: finished jobs are batched (up to 1,024 results or
//! 256 KiB, or 20 ms after the first), output too big to go inline is sent
//! first as raw chunks, and a job message is acked only once the broker
//! has stored the results of all its jobs, so a crash in between reruns
//! them rather than loses them. Batches go out one after another, in
//! order, which is what makes an ack queued after a result safe.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, UNIX_EPOCH};

use async_nats::jetstream::context::PublishErrorKind;
use async_nats::jetstream::message::{Acker, PublishMessage};
use async_nats::jetstream::Context;
use tokio::sync::mpsc::{unbounded_channel, UnboundedSender};
use tokio::task::JoinHandle;

use fanout_core::exec::Captured;
use fanout_core::JobResult;

use super::WorkerOptions;
use crate::connect::Conn;
use crate::names::Names;
use crate::schema::{self, Bytes, Epoch, WireExit, WireResult, VERSION};
use crate::trust::{chunk_bytes, with_signature, Kind, SecretKey};

/// Output up to this size (both streams) travels inside the result (JSON
/// may make it 6 times bigger, escaping control bytes).
const INLINE: u64 = 32 * 1024;
/// A result batch bigger than this is split.
const BATCH_MAX: usize = 900 * 1024;
/// The size of one output chunk.
const CHUNK: usize = 512 * 1024;
const BATCH_RESULTS: usize = 1024;
const BATCH_BYTES: usize = 256 * 1024;
/// How long the first result of a batch waits for others: jobs are
/// acked only after it, but their slots are free already, so this costs
/// latency, not throughput, and saves the broker a message per job.
const LINGER: Duration = Duration::from_millis(20);
/// How long a publish waits for the broker to say it stored the message
/// before it is sent again.
const ACK_TIMEOUT: Duration = Duration::from_secs(2);

/// The start of a result for a job answered without running.
pub(super) struct Reply {
    seq: u64,
    token: String,
}

impl Reply {
    pub(super) fn new(seq: u64, token: String) -> Reply {
        Reply { seq, token }
    }

    /// A result that ends the job with `exit` and `err` on its stderr.
    pub(super) fn failed(self, exit: WireExit, err: String) -> WireResult {
        WireResult {
            seq: self.seq,
            token: self.token,
            slot: 1,
            attempt: 0,
            exit,
            timed_out: false,
            killed: None,
            start_ns: now_ns(),
            runtime_ns: 0,
            cpu_ns: 0,
            max_rss_kib: 0,
            out: None,
            err: (!err.is_empty()).then(|| Bytes(err.into_bytes())),
            chunked: false,
        }
    }
}

/// A result waiting to be sent, with its big output.
struct Item {
    wire: WireResult,
    big: Option<(Captured, Captured)>,
}

/// What goes out in one send: results, then the acks of job messages
/// whose jobs all have their results stored by then.
struct Batch {
    id: String,
    items: Vec<Item>,
    acks: Vec<Acker>,
}

/// Results on their way to the coordinator.
pub(super) struct Outbox {
    js: Context,
    results: String,
    chunks: String,
    worker: String,
    pending: Vec<Item>,
    acks: Vec<Acker>,
    bytes: usize,
    since: Option<Instant>,
    batches: u64,
    sender: Option<(UnboundedSender<Batch>, JoinHandle<()>)>,
    gone: Arc<AtomicBool>,
    /// When this outbox was made: part of every batch's message id.
    epoch: u64,
    run_epoch: Epoch,
    run: String,
    sign: Option<SecretKey>,
}

impl Outbox {
    pub(super) fn new(conn: &Conn, n: &Names, opts: &WorkerOptions, run_epoch: Epoch) -> Outbox {
        Outbox {
            js: conn.js.clone(),
            results: n.results.clone(),
            chunks: n.chunks.clone(),
            worker: opts.id.clone(),
            run: n.run.clone(),
            sign: opts.sign.clone(),
            pending: Vec::new(),
            acks: Vec::new(),
            bytes: 0,
            since: None,
            batches: 0,
            sender: None,
            gone: Arc::default(),
            epoch: now_ns(),
            run_epoch,
        }
    }

    /// Queues a result made up by the worker.
    pub(super) fn push(&mut self, wire: WireResult) {
        self.queue(Item { wire, big: None });
    }

    /// Queues the ack of a job message, sent once every result queued
    /// before it is stored.
    pub(super) fn push_ack(&mut self, acker: Acker) {
        self.since.get_or_insert_with(Instant::now);
        self.acks.push(acker);
    }

    /// Queues the result of a job the engine ran.
    pub(super) fn push_result(&mut self, r: JobResult, token: String) {
        let big = r.stdout.len() + r.stderr.len() > INLINE;
        let inline =
            |c: &Captured| (!big && !c.is_empty()).then(|| Bytes(c.to_vec().unwrap_or_default()));
        let wire = WireResult {
            seq: r.seq.0,
            token,
            slot: r.slot.0,
            attempt: r.attempt,
            exit: r.exit.into(),
            timed_out: r.killed.is_some(),
            killed: r.killed.and_then(|k| k.try_into().ok()),
            start_ns: r
                .started_at
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64),
            runtime_ns: r.runtime.as_nanos() as u64,
            cpu_ns: r.cpu_time.as_nanos() as u64,
            max_rss_kib: r.max_rss_kib,
            out: inline(&r.stdout),
            err: inline(&r.stderr),
            chunked: big,
        };
        let big = big.then_some((r.stdout, r.stderr));
        self.queue(Item { wire, big });
    }

    fn queue(&mut self, item: Item) {
        self.bytes += 128
            + item.wire.out.as_ref().map_or(0, |b| b.0.len() * 4 / 3)
            + item.wire.err.as_ref().map_or(0, |b| b.0.len() * 4 / 3);
        self.since.get_or_insert_with(Instant::now);
        self.pending.push(item);
    }

    /// Whether a batch is ready to go now.
    pub(super) fn full(&self) -> bool {
        self.pending.len() >= BATCH_RESULTS || self.bytes >= BATCH_BYTES
    }

    /// Completes when the oldest queued result has waited long enough.
    pub(super) async fn due(&self) {
        crate::sleep_until(self.since.map(|t| (t + LINGER).into())).await;
    }

    /// True once the run's streams turned out to be gone.
    pub(super) fn failed_run(&self) -> bool {
        self.gone.load(Ordering::Relaxed)
    }

    /// Sends what is queued, in the background, after earlier sends.
    pub(super) fn flush(&mut self) {
        if self.pending.is_empty() && self.acks.is_empty() {
            return;
        }
        let items = std::mem::take(&mut self.pending);
        let acks = std::mem::take(&mut self.acks);
        self.bytes = 0;
        self.since = None;
        self.batches += 1;
        // Unique for each time this worker serves the run, so the broker's
        // deduplication never takes a new batch for an old one.
        let id = format!("{}.{}.{}", self.worker, self.epoch, self.batches);
        let (tx, _) = self.sender.get_or_insert_with(|| {
            let send = Send {
                js: self.js.clone(),
                results: self.results.clone(),
                chunks: self.chunks.clone(),
                worker: self.worker.clone(),
                gone: self.gone.clone(),
                run_epoch: self.run_epoch,
                run: self.run.clone(),
                sign: self.sign.clone(),
            };
            let (tx, mut rx) = unbounded_channel::<Batch>();
            let task = tokio::spawn(async move {
                while let Some(b) = rx.recv().await {
                    send.batch(b).await;
                }
            });
            (tx, task)
        });
        let _ = tx.send(Batch { id, items, acks });
    }

    /// Waits until everything flushed is sent.
    pub(super) async fn drain(&mut self) {
        if let Some((tx, task)) = self.sender.take() {
            drop(tx);
            let _ = task.await;
        }
    }
}

/// What a background send needs.
struct Send {
    js: Context,
    results: String,
    chunks: String,
    worker: String,
    gone: Arc<AtomicBool>,
    run_epoch: Epoch,
    run: String,
    sign: Option<SecretKey>,
}

impl Send {
    async fn batch(&self, Batch { id, items, acks }: Batch) {
        if self.gone.load(Ordering::Relaxed) {
            return;
        }
        let mut wires = Vec::with_capacity(items.len());
        for it in items {
            if let Some((out, err)) = it.big {
                for (name, c) in [("out", out), ("err", err)] {
                    if !self.chunked(&it.wire, name, c).await {
                        return;
                    }
                }
            }
            wires.push(it.wire);
        }
        if !wires.is_empty() && !self.results_batch(&id, wires).await {
            return;
        }
        for a in acks {
            let _ = a.ack().await;
        }
    }

    /// Publishes results, split in halves while too big for a message.
    async fn results_batch(&self, id: &str, mut wires: Vec<WireResult>) -> bool {
        let payload = serde_json::to_vec(&BatchRef {
            v: VERSION,
            epoch: self.run_epoch,
            worker: &self.worker,
            results: &wires,
        })
        .unwrap_or_default();
        if payload.len() > BATCH_MAX && wires.len() > 1 {
            let rest = wires.split_off(wires.len() / 2);
            return Box::pin(self.results_batch(&format!("{id}a"), wires)).await
                && Box::pin(self.results_batch(&format!("{id}b"), rest)).await;
        }
        let sig = self
            .sign
            .as_ref()
            .map(|k| k.sign(Kind::Results, &self.run, &payload));
        self.publish(&self.results, payload, Some(id), &[], sig)
            .await
    }

    /// Sends one stream of a big output as chunks, read from its spool
    /// file on a blocking thread so the loop never waits on the disk.
    async fn chunked(&self, w: &WireResult, stream: &str, c: Captured) -> bool {
        if c.is_empty() {
            return true;
        }
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<u8>>(2);
        let reader = tokio::task::spawn_blocking(move || {
            let mut buf = Vec::with_capacity(CHUNK);
            let r = c.for_each_chunk(|data| {
                buf.extend_from_slice(data);
                if buf.len() >= CHUNK {
                    let full = std::mem::replace(&mut buf, Vec::with_capacity(CHUNK));
                    tx.blocking_send(full)
                        .map_err(|_| std::io::ErrorKind::BrokenPipe)?;
                }
                Ok(())
            });
            if !buf.is_empty() {
                let _ = tx.blocking_send(buf);
            }
            r
        });
        let seq = w.seq.to_string();
        let headers = [
            (schema::SEQ_HEADER, seq.as_str()),
            (schema::TOKEN_HEADER, w.token.as_str()),
            (schema::STREAM_HEADER, stream),
        ];
        let mut ok = true;
        let mut index = 0u64;
        while let Some(piece) = rx.recv().await {
            if ok {
                let sig = self.sign.as_ref().map(|k| {
                    let signed = chunk_bytes(&seq, &w.token, stream, &piece);
                    k.sign(Kind::Chunk, &self.run, &signed)
                });
                // A publish retried after a lost ack is dropped by the
                // broker as a duplicate: the coordinator would otherwise
                // append the chunk twice. The token names the delivery.
                let id = format!("{}.{stream}.{index}", w.token);
                index += 1;
                ok = self
                    .publish(&self.chunks, piece, Some(&id), &headers, sig)
                    .await;
            }
        }
        let _ = reader.await;
        ok
    }

    /// Publishes and waits for the broker to store it, retrying while the
    /// broker is away; false when the run's stream is gone.
    async fn publish(
        &self,
        subject: &str,
        payload: Vec<u8>,
        id: Option<&str>,
        headers: &[(&str, &str)],
        sig: Option<(String, String)>,
    ) -> bool {
        for attempt in 0..600 {
            let mut m = PublishMessage::build().payload(payload.clone().into());
            if let Some(id) = id {
                m = m.message_id(id);
            }
            for (k, v) in headers {
                m = m.header(*k, *v);
            }
            m = with_signature(m, sig.as_ref());
            // A publish whose broker died is never answered: waiting the
            // client's whole timeout would hold back every later result
            // (and the acks behind them). The retry has the same id.
            // `None`: no answer in time.
            let res = match self.js.send_publish(subject.to_owned(), m).await {
                Ok(ack) => match tokio::time::timeout(ACK_TIMEOUT, ack).await {
                    Ok(r) => r.map(drop).map_err(|e| Some(e.kind())),
                    Err(_) => Err(None),
                },
                Err(e) => Err(Some(e.kind())),
            };
            match res {
                Ok(()) => return true,
                // Nothing takes the subject for ~5 s: the run's streams
                // are gone.
                Err(Some(PublishErrorKind::StreamNotFound)) if attempt > 25 => break,
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
        self.gone.store(true, Ordering::Relaxed);
        false
    }
}

/// A [`ResultBatch`] as it is written, borrowing its results.
#[derive(serde::Serialize)]
struct BatchRef<'a> {
    v: u32,
    epoch: Epoch,
    worker: &'a str,
    results: &'a [WireResult],
}

fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}
