//! Serving one run: pulls as many jobs as there are free slots (plus the
//! prefetch), checks each (version, deliveries, `--allow`), hands it to
//! the engine, keeps held jobs leased with progress heartbeats, and sends
//! results back in batches.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use async_nats::jetstream::consumer::{pull, PullConsumer};
use async_nats::jetstream::message::{Acker, PublishMessage};
use async_nats::jetstream::AckKind;
use async_nats::HeaderMap;
use futures_util::{FutureExt, StreamExt};

use fanout_core::{Commands, JobArgs, JobResult, JobSeq, SlotId};

use super::bridge::Bridge;
use super::gate::{self, JobRefusal};
use super::recent::Recent;
use super::report::{Outbox, Reply};
use super::{Served, WorkerOptions};
use crate::connect::Conn;
use crate::error::broker;
use crate::names::{workers, Names};
use crate::schema::{
    self, Epoch, HaltState, JobMsg, Refusal, RefusalKind, RunSpec, StopMsg, StreamSeq, WireExit,
    WireJob,
};
use crate::streams::{consumer_missing, stream_missing, MAX_MESSAGE};
use crate::trust::{with_signature, Kind, TrustedKeys};
use crate::warning::Warning;
use crate::Result;
use fanout_core::signals::Signals;

/// How long a pull waits for jobs on the server.
const PULL_EXPIRES: Duration = Duration::from_millis(500);
/// How long after that a pull with no answer is given up.
const PULL_GRACE: Duration = Duration::from_millis(250);
/// How long a prefetched job may wait here, about, for a slot: a job
/// held longer waits while another worker may have a free slot, so the
/// prefetch shrinks as jobs get longer (none for jobs of this long).
const PREFETCH_WAIT_NS: f64 = 50e6;
/// Messages taken from a pull at once to ask the coordinator about in
/// one request (see `recheck`).
const RECHECK_MAX: usize = 256;

/// A job message this worker holds: acked once all its jobs that run
/// here have their results stored.
struct HeldMsg {
    acker: Acker,
    /// Its jobs still running (or waiting to) in the engine.
    left: usize,
}

/// A job running (or waiting to) in the engine.
struct HeldJob {
    /// The stream sequence of its message.
    msg: StreamSeq,
    token: String,
}

/// What serving a run keeps.
struct Serving<'a> {
    opts: &'a WorkerOptions,
    run: String,
    /// The keys job messages must be signed with (the spec's signer).
    job_keys: TrustedKeys,
    spec: RunSpec,
    commands: Commands,
    /// By stream sequence.
    msgs: HashMap<StreamSeq, HeldMsg>,
    /// By job seq; their number is what counts against the slots.
    held: HashMap<JobSeq, HeldJob>,
    /// Jobs in the last message: how many messages to pull for the free
    /// slots.
    last_pack: usize,
    outbox: Outbox,
    bridge: Option<Bridge>,
    halting: bool,
    /// Runtime of the jobs run here, a moving average that rises at once
    /// with a longer job; none until a job has finished.
    runtime_ns: Option<f64>,
    /// Jobs the coordinator said are done: acked without running.
    done: HashSet<JobSeq>,
    /// Jobs this worker ran and reported lately: a redelivery of their
    /// message after a broker restart is acked without running them.
    reported: Recent,
}

/// Serves run `n` until it ends on the broker or the worker is stopped.
/// A spec refused once (its bytes are remembered in `refused`) is not
/// looked at again.
pub(super) async fn serve(
    conn: &Conn,
    n: &Names,
    opts: &WorkerOptions,
    stop: &mut Signals,
    refused: &mut HashSet<u64>,
) -> Result<Served> {
    let Some((headers, payload)) = last(conn, n, &n.spec).await else {
        return Ok(Served::Ended);
    };
    let key = hash(&payload);
    if refused.contains(&key) {
        return Ok(Served::Refused);
    }
    let accepted = gate::spec(&opts.trust, &n.run, Some(&headers), &payload).and_then(|a| {
        // --allow vets command lines; variables (PATH, BASH_ENV, an
        // exported function) could make an allowed line run something else.
        if !opts.allow.is_empty() && !a.0.env.is_empty() {
            return Err((
                RefusalKind::Invalid,
                "run spec carries --env variables, which a worker with --allow does not take"
                    .to_string(),
            ));
        }
        Ok(a)
    });
    let (spec, job_keys) = match accepted {
        Ok(accepted) => accepted,
        Err((why, reason)) => {
            // One bad run must not stop the worker serving others.
            opts.warn.warn(Warning::RefusingRun {
                run: n.run.clone(),
                reason: reason.clone(),
            });
            refused.insert(key);
            refuse(conn, n, opts, &payload, why, reason).await;
            return Ok(Served::Refused);
        }
    };
    opts.warn.warn(Warning::Serving { run: n.run.clone() });
    let mut halting = false;
    if let Some((_, state)) = last(conn, n, &n.state).await {
        match schema::decode::<StopMsg>(&state).map(|s| s.halt) {
            Ok(HaltState::Now) => return Ok(Served::Ended),
            Ok(h) => halting = h == HaltState::Soon,
            Err(_) => {}
        }
    }
    let commands = match gate::commands(&spec) {
        Ok(c) => c,
        Err(e) => {
            opts.warn.warn(Warning::CannotServe {
                run: n.run.clone(),
                error: e.to_string(),
            });
            return Ok(Served::Failed);
        }
    };
    let consumer: PullConsumer = match conn.js.get_stream(&n.jobs_stream).await {
        Ok(s) => match s.get_consumer::<pull::Config>(&workers(spec.epoch)).await {
            Ok(c) => c,
            Err(_) => return Ok(Served::Ended),
        },
        Err(_) => return Ok(Served::Ended),
    };
    let (done_tx, done_rx) = tokio::sync::mpsc::unbounded_channel();
    let (bridge, engine) = match opts.noop {
        true => (None, None),
        false => {
            let (b, run) = Bridge::start(opts, &spec, commands.clone(), done_tx);
            (Some(b), Some(run))
        }
    };
    let mut s = Serving {
        opts,
        run: n.run.clone(),
        job_keys,
        commands,
        msgs: HashMap::new(),
        held: HashMap::new(),
        last_pack: 1,
        outbox: Outbox::new(conn, n, opts, spec.epoch),
        bridge,
        halting,
        runtime_ns: None,
        done: HashSet::new(),
        reported: Recent::default(),
        spec,
    };
    let work = async {
        let served = s.run(conn, n, &consumer, done_rx, stop).await;
        s.end(matches!(served, Ok(Served::Shutdown | Served::Failed)))
            .await;
        served
    };
    // The engine runs in this task, beside the loop.
    match engine {
        Some(engine) => tokio::join!(work, engine).0,
        None => work.await,
    }
}

fn hash(b: &[u8]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    b.hash(&mut h);
    h.finish()
}

/// Tells the run's coordinator that this worker will not serve the run.
async fn refuse(
    conn: &Conn,
    n: &Names,
    opts: &WorkerOptions,
    spec: &[u8],
    why: RefusalKind,
    reason: String,
) {
    let epoch = serde_json::from_slice::<serde_json::Value>(spec)
        .ok()
        .and_then(|v| v.get("epoch")?.as_u64())
        .map_or(Epoch(0), Epoch);
    let msg = Refusal {
        v: schema::VERSION,
        epoch,
        worker: opts.id.clone(),
        why,
        reason,
    };
    let Ok(payload) = serde_json::to_vec(&msg) else {
        return;
    };
    let sig = opts
        .sign
        .as_ref()
        .map(|k| k.sign(Kind::Refusal, &n.run, &payload));
    let m = with_signature(PublishMessage::build(), sig.as_ref());
    if let Ok(ack) = conn
        .js
        .send_publish(n.refused.clone(), m.payload(payload.into()))
        .await
    {
        let _ = ack.await;
    }
}

impl Serving<'_> {
    async fn run(
        &mut self,
        conn: &Conn,
        n: &Names,
        consumer: &PullConsumer,
        mut done: tokio::sync::mpsc::UnboundedReceiver<JobResult>,
        stop: &mut Signals,
    ) -> Result<Served> {
        let mut stops = conn
            .client
            .subscribe(n.stop.clone())
            .await
            .map_err(broker)?;
        let beat = Duration::from_millis(self.spec.ack_wait_ms / 3).max(Duration::from_millis(100));
        let mut heartbeat = tokio::time::interval(beat);
        let mut batch = None;
        let mut got = 0;
        // The client ends a pull the server dropped (its consumer was
        // deleted) only seconds after it expired; this ends it sooner.
        let mut pull_deadline = None;
        loop {
            let prefetch = self.prefetch();
            let capacity = self.opts.jobs + prefetch;
            let free = capacity.saturating_sub(self.held.len());
            // Pull when half the capacity is free, not for every slot that
            // frees: fewer, bigger pulls cost the broker far less. The
            // prefetch keeps slots busy meanwhile; without one (long jobs)
            // a free slot pulls at once.
            let pull = free * 2 >= capacity || self.held.is_empty() || prefetch == 0;
            if batch.is_none() && free > 0 && pull {
                let want = (free / self.last_pack.max(1)).clamp(1, 1000);
                let b = consumer
                    .batch()
                    .max_messages(want)
                    .expires(PULL_EXPIRES)
                    .messages()
                    .await;
                match b {
                    Ok(b) => {
                        batch = Some(b);
                        got = 0;
                        pull_deadline =
                            Some(tokio::time::Instant::now() + PULL_EXPIRES + PULL_GRACE);
                    }
                    Err(_) if gone(conn, n, self.spec.epoch).await => return Ok(Served::Ended),
                    Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
                }
                continue;
            }
            tokio::select! {
                biased;
                _ = stop.recv_stop() => {
                    give_back(batch.take()).await;
                    return Ok(Served::Shutdown);
                }
                Some(m) = stops.next() => match schema::decode::<StopMsg>(&m.payload) {
                    Ok(s) if s.halt.ends() => return Ok(Served::Ended),
                    // Soon, or running from a coordinator resuming the run.
                    Ok(s) => self.halting = s.halt == HaltState::Soon,
                    Err(_) => {}
                },
                Some(r) = done.recv() => self.finished(r),
                m = next(&mut batch) => match m {
                    Some(Ok(m)) => {
                        got += 1;
                        let mut ms = vec![m];
                        if conn.disconnects() > 0 {
                            // What else the pull has ready, to ask about
                            // all in one request.
                            while ms.len() < RECHECK_MAX {
                                match batch.as_mut().and_then(|b| b.next().now_or_never()) {
                                    Some(Some(Ok(m))) => {
                                        got += 1;
                                        ms.push(m);
                                    }
                                    Some(None) => {
                                        batch = None;
                                        pull_deadline = None;
                                    }
                                    _ => break,
                                }
                            }
                            self.recheck(conn, n, &ms).await;
                        }
                        for m in ms {
                            if self.message(m).await {
                                return Ok(Served::Ended);
                            }
                        }
                    }
                    // async-nats reports a deleted consumer only as text:
                    // ask the broker instead of reading it.
                    Some(Err(_)) => if gone(conn, n, self.spec.epoch).await {
                        return Ok(Served::Ended);
                    },
                    None => {
                        batch = None;
                        pull_deadline = None;
                        // An empty pull: the run may be over (a pull on a
                        // deleted consumer just expires).
                        if got == 0 && self.held.is_empty() && gone(conn, n, self.spec.epoch).await {
                            return Ok(Served::Ended);
                        }
                    }
                },
                () = crate::sleep_until(pull_deadline), if pull_deadline.is_some() && got == 0 => {
                    batch = None;
                    pull_deadline = None;
                    if self.held.is_empty() && gone(conn, n, self.spec.epoch).await {
                        return Ok(Served::Ended);
                    }
                }
                () = self.outbox.due() => self.outbox.flush(),
                _ = heartbeat.tick() => if !self.heartbeat().await {
                    return Ok(Served::Failed);
                },
            }
            if self.outbox.full() {
                self.outbox.flush();
            }
            if self.outbox.failed_run() {
                return Ok(Served::Ended);
            }
        }
    }

    /// One pulled message: each of its jobs is run, or answered at once
    /// (lost, skipped, refused, no-op).
    /// Returns true when the message belongs to another incarnation of
    /// the run (the run id was started afresh): then this worker leaves
    /// and reads the run's spec again.
    async fn message(&mut self, m: async_nats::jetstream::Message) -> bool {
        let (delivered, stream_seq) = m.info().map_or((1, StreamSeq(0)), |i| {
            (i.delivered.max(1) as u64, StreamSeq(i.stream_sequence))
        });
        let (msg, acker) = m.split();
        if msg.payload.len() > MAX_MESSAGE {
            let bytes = msg.payload.len();
            self.opts.warn.warn(Warning::OversizedJobs { bytes });
            let _ = acker.ack_with(AckKind::Term).await;
            return false;
        }
        let checked = gate::jobs(
            &self.job_keys,
            &self.run,
            self.spec.epoch,
            msg.headers.as_ref(),
            &msg.payload,
        );
        let jobs = match checked {
            Ok(j) => j.jobs,
            Err(JobRefusal::OtherEpoch) => {
                let _ = acker.ack_with(AckKind::Nak(None)).await;
                return true;
            }
            Err(JobRefusal::Untrusted(why)) => {
                // Not the coordinator's: dropped, nothing run or reported.
                let run = self.run.clone();
                self.opts.warn.warn(Warning::UntrustedJobs { run, why });
                let _ = acker.ack_with(AckKind::Term).await;
                return false;
            }
            Err(JobRefusal::Invalid(e)) => {
                self.unreadable(&msg.payload, &e, acker);
                return false;
            }
        };
        if let Some(h) = self.msgs.get_mut(&stream_seq) {
            // Redelivered while this worker still runs it (a heartbeat was
            // late): keep running it once, under the newer delivery.
            h.acker = acker;
            return false;
        }
        self.last_pack = jobs.len().max(1);
        let token = format!("{}.{stream_seq}.{delivered}", self.opts.id);
        let mut left = 0;
        for job in jobs {
            let seq = JobSeq(job.seq);
            if self.done.remove(&seq) || self.reported.contains(seq) {
                continue;
            }
            if self.job(job, &token, delivered, stream_seq) {
                left += 1;
            }
        }
        if left == 0 {
            self.outbox.push_ack(acker);
        } else {
            self.msgs.insert(stream_seq, HeldMsg { acker, left });
        }
        false
    }

    /// A job message this worker cannot read (another protocol version, or
    /// not fanout's): its jobs, when their numbers can be found, are
    /// reported failed with the reason, so the run does not wait for them.
    fn unreadable(&mut self, payload: &[u8], why: &str, acker: Acker) {
        let text = why.to_owned();
        self.opts.warn.warn(Warning::UnreadableJobs { why: text });
        let seqs: Vec<u64> = serde_json::from_slice::<serde_json::Value>(payload)
            .ok()
            .and_then(|v| {
                let jobs = v.get("jobs")?.as_array()?.clone();
                Some(jobs.iter().filter_map(|j| j.get("seq")?.as_u64()).collect())
            })
            .unwrap_or_default();
        for seq in seqs {
            let reply = Reply::new(seq, self.opts.id.clone());
            let text = format!(
                "fanout: worker {} cannot run job {seq}: {why}\n",
                self.opts.id
            );
            self.outbox
                .push(reply.failed(WireExit::SpawnFailed(libc::EPROTO), text));
        }
        self.outbox.push_ack(acker);
    }

    /// One job of a message; true when it went to the engine.
    fn job(&mut self, job: WireJob, token: &str, delivered: u64, stream_seq: StreamSeq) -> bool {
        let seq = job.seq;
        if self.held.contains_key(&JobSeq(seq)) {
            // Another message names a job this worker already runs: the
            // one held answers for it; this copy is neither run nor
            // reported, so two jobs never mix under one number.
            let run = self.run.clone();
            self.opts.warn.warn(Warning::AlreadyRunning { run, seq });
            return false;
        }
        let args = JobArgs {
            seq: fanout_core::JobSeq(seq),
            records: schema::to_records(job.records),
            stdin: None,
        };
        let max = u64::from(self.spec.max_deliveries.max(1));
        let at_once = if delivered > max {
            let why = format!(
                "fanout: job {seq} lost: delivered {delivered} times, more than --max-deliveries {max}\n"
            );
            Some((WireExit::Signal(libc::SIGKILL), why))
        } else if self.halting {
            Some((WireExit::Skipped, String::new()))
        } else {
            None
        };
        // The command line is rendered here only when the job is answered
        // at once or --allow must see it; otherwise the engine renders it
        // (with the real slot) when the job starts.
        let needed = at_once.is_some() || !self.opts.allow.is_empty() || self.bridge.is_none();
        let command = needed.then(|| self.commands.render(&args, SlotId(1)));
        let (exit, why) = match at_once {
            Some(answer) => answer,
            None if !gate::allowed(
                &self.opts.allow,
                self.opts.allow_metachars,
                command.as_deref().unwrap_or_default(),
            ) =>
            {
                let why = format!(
                    "fanout: worker {} refused the job: its command matches no --allow pattern\n",
                    self.opts.id
                );
                (WireExit::SpawnFailed(libc::EACCES), why)
            }
            None => match self.bridge.as_ref().map(|b| b.jobs.as_ref()) {
                Some(jobs) => {
                    if jobs.is_none_or(|j| j.send(args).is_err()) {
                        // The engine is gone (the run is ending): not
                        // acked, so the job is delivered again.
                        return false;
                    }
                    let held = HeldJob {
                        msg: stream_seq,
                        token: token.to_owned(),
                    };
                    self.held.insert(JobSeq(seq), held);
                    return true;
                }
                // --noop-jobs: succeeded, nothing run.
                None => (WireExit::Code(0), String::new()),
            },
        };
        let reply = Reply::new(seq, token.to_owned());
        self.outbox.push(reply.failed(exit, why));
        false
    }

    /// Jobs held beyond the free slots now: `--prefetch`, less as far as
    /// jobs here take long, none until a job has shown how long they take
    /// (8 long jobs on two 4-slot workers then run 4 and 4, at once).
    fn prefetch(&self) -> usize {
        if self.bridge.is_none() {
            // --noop-jobs: answered at once, never waiting for a slot.
            return self.opts.prefetch;
        }
        match self.runtime_ns {
            None => 0,
            Some(avg) => {
                let fits = PREFETCH_WAIT_NS * self.opts.jobs as f64 / avg.max(1.0);
                (fits as usize).min(self.opts.prefetch)
            }
        }
    }

    /// Asks the coordinator which jobs of these messages are done: after a
    /// broker restart some may be delivered again though acked (see
    /// `recheck`).
    async fn recheck(&mut self, conn: &Conn, n: &Names, ms: &[async_nats::jetstream::Message]) {
        let seqs = ms
            .iter()
            .filter_map(|m| serde_json::from_slice::<JobMsg>(&m.payload).ok())
            .filter(|j| j.epoch == self.spec.epoch)
            .flat_map(|j| j.jobs.into_iter().map(|j| j.seq))
            .filter(|&s| !self.held.contains_key(&JobSeq(s)) && !self.reported.contains(JobSeq(s)))
            .collect();
        let done = crate::recheck::ask(conn, n, &self.opts.trust, self.spec.epoch, seqs).await;
        self.done.extend(done.into_iter().map(JobSeq));
    }

    fn finished(&mut self, r: JobResult) {
        let Some(h) = self.held.remove(&r.seq) else {
            return;
        };
        // Up at once with a long job, down slowly: one long job is enough
        // to stop prefetching more behind it.
        let rt = r.runtime.as_nanos() as f64;
        self.runtime_ns = Some(self.runtime_ns.map_or(rt, |a| (a * 0.9 + rt * 0.1).max(rt)));
        self.reported.insert(r.seq);
        self.outbox.push_result(r, h.token);
        if let Some(m) = self.msgs.get_mut(&h.msg) {
            m.left -= 1;
            if m.left == 0 {
                let m = self.msgs.remove(&h.msg).expect("present");
                self.outbox.push_ack(m.acker);
            }
        }
    }

    /// Keeps held messages leased; false when the engine has died, so its
    /// jobs would never be answered (then they are given back).
    async fn heartbeat(&mut self) -> bool {
        if self.bridge.as_ref().is_some_and(Bridge::is_finished) {
            return false;
        }
        for m in self.msgs.values() {
            let _ = m.acker.ack_with(AckKind::Progress).await;
        }
        true
    }

    /// Leaves the run: results of finished jobs are sent; with `give_back`
    /// (shutdown) the jobs still held are given back for other workers.
    async fn end(&mut self, give_back: bool) {
        if let Some(b) = self.bridge.take() {
            b.stop(true);
        }
        self.outbox.flush();
        self.outbox.drain().await;
        self.held.clear();
        for (_, m) in self.msgs.drain() {
            if give_back {
                let _ = m.acker.ack_with(AckKind::Nak(None)).await;
            }
        }
    }
}

/// Gives back the messages a pull still brings: the server may have sent
/// them already, and unread they would wait out the whole ack wait.
async fn give_back(batch: Option<pull::Batch>) {
    let Some(mut b) = batch else { return };
    let until = tokio::time::Instant::now() + PULL_EXPIRES + PULL_GRACE;
    while let Ok(Some(m)) = tokio::time::timeout_at(until, b.next()).await {
        if let Ok(m) = m {
            let _ = m.ack_with(AckKind::Nak(None)).await;
        }
    }
}

async fn next(
    b: &mut Option<pull::Batch>,
) -> Option<Result<async_nats::jetstream::Message, async_nats::Error>> {
    match b {
        Some(b) => b.next().await,
        None => std::future::pending().await,
    }
}

/// Whether this incarnation of the run is gone: the broker says its job
/// stream or its workers' consumer does not exist (a pull on a missing
/// consumer just expires, it does not fail). A broker that cannot be
/// asked (restarting, say) has not said so.
async fn gone(conn: &Conn, n: &Names, epoch: Epoch) -> bool {
    match conn.js.get_stream(&n.jobs_stream).await {
        Ok(s) => s
            .consumer_info(workers(epoch))
            .await
            .is_err_and(|e| consumer_missing(&e)),
        Err(e) => stream_missing(&e),
    }
}

/// The last message on `subject` of the run's results stream, with its
/// headers.
async fn last(conn: &Conn, n: &Names, subject: &str) -> Option<(HeaderMap, Vec<u8>)> {
    let s = conn.js.get_stream(&n.results_stream).await.ok()?;
    let m = s.get_last_raw_message_by_subject(subject).await.ok()?;
    Some((m.headers, m.payload.to_vec()))
}
