//! Taking in what workers send: output chunks of big results, then result
//! batches. Each job's result is recorded once, by its sequence number;
//! redeliveries and late duplicates are dropped here.

use std::time::{Duration, Instant, UNIX_EPOCH};

use async_nats::jetstream::Message;

use fanout_core::exec::Captured;
use fanout_core::run_core::{Ended, Remote};
use fanout_core::{ExitKind, HaltWhen, JobSeq, KillReason, Sink, SlotId};

use super::{BrokerCore, Coord, Taken};
use crate::schema::{
    self, Epoch, Refusal, RefusalKind, ResultBatch, StreamSeq, WireExit, WireJob, WireResult,
    SEQ_HEADER, STREAM_HEADER, TOKEN_HEADER,
};
use crate::trust::{self, Kind};
use crate::warning::Warning;
use crate::{check, Error};

impl Coord<'_> {
    /// Takes in one message of the results stream.
    pub(super) async fn intake<S: Sink + ?Sized>(
        &mut self,
        core: &mut BrokerCore,
        m: &Message,
        sink: &mut S,
    ) {
        self.taken = self.taken.max(stream_seq(m));
        let subject = m.subject.as_str();
        if subject == self.n.chunks {
            self.chunk(core, m);
        } else if subject == self.n.results {
            if !self.trusted(m, Kind::Results, &m.payload) {
                return;
            }
            match schema::decode::<ResultBatch>(&m.payload) {
                // Results of an earlier incarnation of this run id.
                Ok(batch) if batch.epoch != self.run_epoch => {}
                Ok(batch) => {
                    // A name from the broker: kept short, whatever a worker sends.
                    let name: String = batch.worker.chars().take(WORKER_NAME_CHARS).collect();
                    for w in batch.results {
                        match check::result(&w) {
                            Ok(()) => self.result(core, w, &name, sink).await,
                            Err(e) => self.warn(
                                &batch.worker,
                                format!(
                                    "ignoring a result of job {} from worker {}: {e}",
                                    w.seq, batch.worker
                                ),
                            ),
                        }
                    }
                }
                Err(why) => self.opts.warn.warn(Warning::UnreadableResults { why }),
            }
        } else if subject == self.n.refused {
            self.refusal(core, m);
        }
    }

    /// Whether a message from a worker may be taken: signed by a trusted
    /// worker key, when this coordinator was given any.
    fn trusted(&mut self, m: &Message, kind: Kind, signed: &[u8]) -> bool {
        if self.opts.trust.is_empty() {
            return true;
        }
        match trust::verify_msg(
            &self.opts.trust,
            kind,
            &self.n.run,
            m.headers.as_ref(),
            signed,
        ) {
            Ok(_) => true,
            Err(e) => {
                let from = trust::header(m.headers.as_ref(), trust::KEY_HEADER)
                    .unwrap_or("unsigned")
                    .to_owned();
                self.warn(&from, format!("ignoring a message on {}: {e}", m.subject));
                false
            }
        }
    }

    /// One warning per sender, so a flood of forged messages is one line.
    fn warn(&mut self, from: &str, text: String) {
        if self.warned.insert(from.to_owned()) {
            self.opts.warn.warn(Warning::Ignored { what: text });
        }
    }

    /// A worker will not serve the run: an invalid spec ends the run (no
    /// worker could serve it); a worker that does not trust the run's key
    /// is worth a warning (others may).
    fn refusal(&mut self, core: &mut BrokerCore, m: &Message) {
        if !self.trusted(m, Kind::Refusal, &m.payload) {
            return;
        }
        let Ok(r) = schema::decode::<Refusal>(&m.payload) else {
            return;
        };
        if r.epoch != self.run_epoch && r.epoch != Epoch(0) {
            return;
        }
        match r.why {
            RefusalKind::Invalid => {
                core.fail(Error::Refused {
                    worker: r.worker,
                    run: self.n.run.clone(),
                    reason: r.reason,
                });
            }
            RefusalKind::Untrusted => {
                let text = format!(
                    "worker {} refuses run {}: {}",
                    r.worker, self.n.run, r.reason
                );
                self.warn(&r.worker.clone(), text);
            }
        }
    }

    fn is_recorded(&self, seq: u64) -> bool {
        self.recorded.contains(JobSeq(seq))
            || (self.draining && self.opts.logged.contains(JobSeq(seq)))
    }

    fn chunk(&mut self, core: &mut BrokerCore, m: &Message) {
        let h = |name: &str| {
            m.headers
                .as_ref()
                .and_then(|h| h.get(name))
                .map(|v| v.as_str().to_owned())
        };
        let (Some(seq), Some(token), Some(stream)) =
            (h(SEQ_HEADER), h(TOKEN_HEADER), h(STREAM_HEADER))
        else {
            return;
        };
        let Ok(seq) = seq.parse::<u64>() else {
            return;
        };
        if !self.opts.trust.is_empty() {
            let signed = trust::chunk_bytes(&seq.to_string(), &token, &stream, &m.payload);
            if !self.trusted(m, Kind::Chunk, &signed) {
                return;
            }
        }
        if self.is_recorded(seq) {
            return;
        }
        let at = stream_seq(m);
        let entry = self.chunks.entry((seq, token)).or_default();
        if at <= entry.last {
            return;
        }
        entry.last = at;
        let target = if stream == "err" {
            &mut entry.err
        } else {
            &mut entry.out
        };
        if let Err(e) = target.push(&m.payload, &self.spool) {
            core.sink_failed(e);
        }
    }

    async fn result<S: Sink + ?Sized>(
        &mut self,
        core: &mut BrokerCore,
        mut w: WireResult,
        worker: &str,
        sink: &mut S,
    ) {
        let seq = w.seq;
        // After `--halt now`, as locally, nothing more is reported (a
        // batch may carry results of jobs that ended after the halting one).
        if self.is_recorded(seq) || !core.reports() {
            self.chunks.remove(&(seq, w.token));
            return;
        }
        let (out, err) = if w.chunked {
            let o = self.chunks.remove(&(seq, w.token.clone()));
            o.map_or_else(Default::default, |o| (o.out, o.err))
        } else {
            let b =
                |x: Option<schema::Bytes>| Captured::from_vec(x.map(|b| b.0).unwrap_or_default());
            (b(w.out.take()), b(w.err.take()))
        };
        if w.exit == WireExit::Skipped {
            self.skipped(core, seq);
            return;
        }
        let key = JobSeq(seq);
        let taken = Taken {
            wire: w,
            worker: worker.to_owned(),
            out,
            err,
        };
        match core.job(key) {
            Some(_) => {
                if let Some(HaltWhen::Soon) = self.finish(core, taken, sink) {
                    self.broadcast_stop(HaltWhen::Soon.into()).await;
                }
            }
            // Resume: the job is not read from the input yet.
            None if self.draining || self.queued.contains(&key) => {
                self.queued.remove(&key);
                self.early.insert(key, taken);
            }
            None => {}
        }
    }

    /// A job a worker did not run because it saw the run halting: not
    /// reported, as a local run never starts it; unless this coordinator
    /// is not halting (the halt was an earlier coordinator's), when it is
    /// published again.
    fn skipped(&mut self, core: &mut BrokerCore, seq: u64) {
        if core.halting().is_some() {
            if core.forget(JobSeq(seq)).is_some() {
                self.recorded.insert(JobSeq(seq));
            }
            return;
        }
        if let Some(run) = core.job(JobSeq(seq)) {
            let again = WireJob {
                seq,
                records: crate::schema::from_records(&run.job.records),
            };
            if let Err(e) = self.publish_jobs(core, vec![again]) {
                let error = e.to_string();
                self.opts.warn.warn(Warning::Republish { seq, error });
            }
        }
    }

    /// Records a job's result and hands it to the core, which reports it
    /// as it does a local job's. Returns the halt it decided, if it did.
    pub(super) fn finish<S: Sink + ?Sized>(
        &mut self,
        core: &mut BrokerCore,
        taken: Taken,
        sink: &mut S,
    ) -> Option<HaltWhen> {
        let Taken {
            wire: w,
            worker,
            out,
            err,
        } = taken;
        let seq = JobSeq(w.seq);
        let run = core.job_mut(seq)?;
        // The command is this coordinator's own rendering, never a string
        // from the broker: the job log's Command column is what
        // `--retry-failed` runs later. Rendered again only when the
        // worker's slot changes it.
        let command = if self.commands.same_in_every_slot() {
            std::mem::take(&mut run.command)
        } else {
            self.commands.render(&run.job, SlotId(w.slot))
        };
        self.recorded.insert(seq);
        self.done += 1;
        let rt = w.runtime_ns as f64;
        self.avg_runtime_ns = Some(self.avg_runtime_ns.map_or(rt, |a| a * 0.9 + rt * 0.1));
        core.ended(ended(&w, worker, command, out, err), Instant::now(), sink)
    }
}

/// A worker's result as the core takes it: every field comes from the
/// checked wire result (`check::result`) except the command, which the
/// caller rendered itself.
pub(super) fn ended(
    w: &WireResult,
    worker: String,
    command: Vec<u8>,
    out: Captured,
    err: Captured,
) -> Ended {
    // A skipped job is answered before it gets here.
    let exit = ExitKind::try_from(w.exit).unwrap_or(ExitKind::SpawnFailed(libc::EPERM));
    let mut e = Ended::new(JobSeq(w.seq), exit, out, err);
    e.cpu_time = Duration::from_nanos(w.cpu_ns);
    e.max_rss_kib = w.max_rss_kib;
    let runtime = Duration::from_nanos(w.runtime_ns);
    let started_at = UNIX_EPOCH + Duration::from_nanos(w.start_ns);
    let mut remote = Remote::new(SlotId(w.slot), w.attempt, runtime, started_at, command);
    remote.killed = w
        .killed
        .map(KillReason::from)
        .or(w.timed_out.then_some(KillReason::Timeout));
    remote.worker = worker;
    e.remote = Some(remote);
    e
}

/// The characters of a worker's name kept with its results.
const WORKER_NAME_CHARS: usize = 120;

/// A message's place in its stream (0 when the broker did not say).
fn stream_seq(m: &Message) -> StreamSeq {
    StreamSeq(m.info().map_or(0, |i| i.stream_sequence))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::schema::Bytes;
    use fanout_core::JobArgs;

    proptest! {
        /// Whatever numbers a result that passed the checks carries, the
        /// coordinator turns it into a job result and a job log row
        /// without panicking, and the row's command is the one it rendered.
        #[test]
        fn any_checked_result_makes_a_job_result_and_a_joblog_row(
            slot in any::<u32>(), attempt in any::<u32>(), exit in any::<i32>(), kind in 0..4u8,
            start in any::<u64>(), runtime in any::<u64>(), cpu in any::<u64>(),
            rss in any::<u64>(), timed_out in any::<bool>(),
        ) {
            let w = WireResult {
                seq: 1,
                token: "t".into(),
                slot,
                attempt,
                exit: match kind {
                    0 => WireExit::Code(exit),
                    1 => WireExit::Signal(exit),
                    2 => WireExit::SpawnFailed(exit),
                    _ => WireExit::Skipped,
                },
                timed_out,
                killed: None,
                start_ns: start,
                runtime_ns: runtime,
                cpu_ns: cpu,
                max_rss_kib: rss,
                out: Some(Bytes(b"x".to_vec())),
                err: None,
                chunked: false,
            };
            if crate::check::result(&w).is_err() {
                return Ok(());
            }
            let job = JobArgs { seq: JobSeq(1), records: vec![vec![b"a".to_vec()]].into(), stdin: None };
            let mut core = BrokerCore::new(fanout_core::run_core::Rules::new(1, Default::default()));
            let mut rows = Rows::default();
            core.input(job, &mut rows);
            core.next_action(Instant::now());
            let e = ended(&w, "w-1".into(), b"echo a".to_vec(), Captured::default(), Captured::default());
            core.ended(e, Instant::now(), &mut rows);
            prop_assert_eq!(rows.0.len(), 1);
            prop_assert!(rows.0[0].ends_with(b"echo a\n"));
        }
    }

    /// Job log rows of the jobs reported finished.
    #[derive(Default)]
    struct Rows(Vec<Vec<u8>>);

    impl Sink for Rows {
        fn event(&mut self, event: fanout_core::Event<'_>) -> std::io::Result<()> {
            if let fanout_core::Event::Finished(r) = event {
                let mut row = Vec::new();
                fanout_core::joblog::format_row(&r, &mut row);
                self.0.push(row);
            }
            Ok(())
        }
    }
}
