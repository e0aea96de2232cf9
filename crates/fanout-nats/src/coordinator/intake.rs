//! Taking in what workers send: output chunks of big results, then result
//! batches. Each job's result is recorded once, by its sequence number;
//! redeliveries and late duplicates are dropped here.

use std::time::{Duration, UNIX_EPOCH};

use async_nats::jetstream::Message;

use fanout_core::exec::Captured;
use fanout_core::{Event, ExitKind, HaltWhen, JobArgs, JobResult, JobSeq, KillReason, SlotId};

use super::{Coord, Early};
use crate::schema::{
    self, Epoch, Refusal, RefusalKind, ResultBatch, StreamSeq, WireExit, WireJob, WireResult,
    SEQ_HEADER, STREAM_HEADER, TOKEN_HEADER,
};
use crate::trust::{self, Kind};
use crate::warning::Warning;
use crate::{check, Error};

impl Coord<'_> {
    /// Takes in one message of the results stream.
    pub(super) async fn intake(&mut self, m: &Message) {
        self.taken = self.taken.max(stream_seq(m));
        let subject = m.subject.as_str();
        if subject == self.n.chunks {
            self.chunk(m);
        } else if subject == self.n.results {
            if !self.trusted(m, Kind::Results, &m.payload) {
                return;
            }
            match schema::decode::<ResultBatch>(&m.payload) {
                // Results of an earlier incarnation of this run id.
                Ok(batch) if batch.epoch != self.run_epoch => {}
                Ok(batch) => {
                    for w in batch.results {
                        match check::result(&w) {
                            Ok(()) => self.result(w).await,
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
            self.refusal(m);
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
    fn refusal(&mut self, m: &Message) {
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
                self.verdict.fail(Error::Refused {
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

    fn chunk(&mut self, m: &Message) {
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
            self.verdict.sink_failed(e);
        }
    }

    async fn result(&mut self, mut w: WireResult) {
        let seq = w.seq;
        // After `--halt now`, as locally, nothing more is reported (a
        // batch may carry results of jobs that ended after the halting one).
        if self.is_recorded(seq) || !self.verdict.reports() {
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
            self.skipped(seq);
            return;
        }
        let key = JobSeq(seq);
        match self.table.remove(&key) {
            Some(job) => self.finish(job, w, out, err).await,
            // Resume: the job is not read from the input yet.
            None if self.draining || self.queued.contains(&key) => {
                self.queued.remove(&key);
                self.early.insert(key, Early { wire: w, out, err });
            }
            None => {}
        }
    }

    /// A job a worker did not run because it saw the run halting: not
    /// reported, as a local run never starts it; unless this coordinator
    /// is not halting (the halt was an earlier coordinator's), when it is
    /// published again.
    fn skipped(&mut self, seq: u64) {
        if self.verdict.halting().is_some() {
            if self.table.remove(&JobSeq(seq)).is_some() {
                self.recorded.insert(JobSeq(seq));
            }
            return;
        }
        if let Some(job) = self.table.get(&JobSeq(seq)) {
            let again = WireJob {
                seq,
                records: crate::schema::from_records(&job.records),
            };
            if let Err(e) = self.publish_jobs(vec![again]) {
                let error = e.to_string();
                self.opts.warn.warn(Warning::Republish { seq, error });
            }
        }
    }

    /// Records a job's result and reports it, as the engine does.
    pub(super) async fn finish(
        &mut self,
        job: JobArgs,
        w: WireResult,
        out: Captured,
        err: Captured,
    ) {
        self.recorded.insert(job.seq);
        self.done += 1;
        let rt = w.runtime_ns as f64;
        self.avg_runtime_ns = Some(self.avg_runtime_ns.map_or(rt, |a| a * 0.9 + rt * 0.1));
        // The command is this coordinator's own rendering, never a string
        // from the broker: the job log's Command column is what
        // `--retry-failed` runs later.
        let command = self.commands.render(&job, SlotId(w.slot));
        let r = job_result(job, &w, command, out, err);
        if let Some(reason) = r.killed {
            self.emit(Event::Killed {
                seq: r.seq,
                reason,
                command: &r.command.clone(),
            });
        }
        let running = self.table.len();
        if self.verdict.finished(&mut *self.sink, r, running) == Some(HaltWhen::Soon) {
            self.broadcast_stop(HaltWhen::Soon.into()).await;
        }
    }

    pub(super) fn emit(&mut self, e: Event<'_>) {
        self.verdict.emit(&mut *self.sink, e);
    }
}

/// A worker's result as the engine's: every field comes from the checked
/// wire result (`check::result`) except the command, which the caller
/// rendered itself.
pub(super) fn job_result(
    job: JobArgs,
    w: &WireResult,
    command: Vec<u8>,
    out: Captured,
    err: Captured,
) -> JobResult {
    JobResult {
        seq: job.seq,
        slot: SlotId(w.slot),
        command,
        records: job.records,
        // A skipped job is answered before it gets here.
        exit: ExitKind::try_from(w.exit).unwrap_or(ExitKind::SpawnFailed(libc::EPERM)),
        stdout: out,
        stderr: err,
        runtime: Duration::from_nanos(w.runtime_ns),
        cpu_time: Duration::from_nanos(w.cpu_ns),
        max_rss_kib: w.max_rss_kib,
        started_at: UNIX_EPOCH + Duration::from_nanos(w.start_ns),
        killed: w
            .killed
            .map(KillReason::from)
            .or(w.timed_out.then_some(KillReason::Timeout)),
        attempt: w.attempt,
    }
}

/// A message's place in its stream (0 when the broker did not say).
fn stream_seq(m: &Message) -> StreamSeq {
    StreamSeq(m.info().map_or(0, |i| i.stream_sequence))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::schema::Bytes;

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
            let r = job_result(job, &w, b"echo a".to_vec(), Captured::default(), Captured::default());
            let mut row = Vec::new();
            fanout_core::joblog::format_row(&r, &mut row);
            prop_assert!(row.ends_with(b"echo a\n"));
            let _ = r.failed();
        }
    }
}
