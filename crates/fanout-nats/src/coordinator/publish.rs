//! Publishing jobs: one message each, pipelined (acks are awaited all
//! together, not one by one), retried with the same message id while the
//! broker is away, so a retry that reached the broker twice is dropped as
//! a duplicate. And, on resume, finding what the broker already holds.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::Context;
use futures_util::StreamExt;

use fanout_core::{JobSeq, Records, Sink};

use super::{BrokerCore, Coord};
use crate::error::broker;
use crate::schema::{Epoch, JobMsg, RecordsRef, WireJob, WireJobRef, VERSION};
use crate::trust::{self, with_signature, Kind, TrustedKeys};
use crate::{streams, Error, Result};

/// A publish in flight: its first job's seq, the message and what the
/// broker said.
pub(super) type AckWait = Pin<Box<dyn Future<Output = (u64, Vec<u8>, Result<(), String>)>>>;

/// Jobs of one message take about this long in all, when the jobs are
/// short: fewer messages per job spare the broker.
const PACK_TIME_NS: f64 = 20e6;
/// Jobs in one message, at most.
const PACK_MAX: usize = 256;
/// Jobs published before the first result says how long jobs take.
pub(super) const PROBE_WINDOW: usize = 256;
/// How long the probe lasts without a result: jobs that take longer are
/// not packed anyway.
pub(super) const PROBE_TIME: Duration = Duration::from_millis(100);

impl Coord<'_> {
    /// Jobs per message now: one until results show how long jobs take,
    /// then as many as take about [`PACK_TIME_NS`] together.
    pub(super) fn pack_size(&self) -> usize {
        match self.avg_runtime_ns {
            None => 1,
            Some(avg) => (PACK_TIME_NS / avg.max(1e4)).clamp(1.0, PACK_MAX as f64) as usize,
        }
    }

    /// Jobs published and unanswered, at most, now: few while the first
    /// jobs probe how long jobs take.
    pub(super) fn window(&self) -> usize {
        let probing = self.avg_runtime_ns.is_none() && self.started_at.elapsed() < PROBE_TIME;
        if probing {
            PROBE_WINDOW.min(self.opts.window)
        } else {
            self.opts.window
        }
    }

    /// Publishes the packed jobs as one message (split while too big).
    pub(super) fn publish_pack(&mut self, core: &mut BrokerCore) -> Result<()> {
        match self.pack.take() {
            Some((first, n, msg)) => self.publish_msg(core, first, n, msg),
            None => Ok(()),
        }
    }

    /// Publishes `jobs` as one message (split while too big).
    pub(super) fn publish_jobs(&mut self, core: &mut BrokerCore, jobs: Vec<WireJob>) -> Result<()> {
        let Some(first) = jobs.first().map(|j| j.seq) else {
            return Ok(());
        };
        let n = jobs.len();
        let msg = serde_json::to_vec(&JobMsg {
            v: VERSION,
            epoch: self.run_epoch,
            jobs,
        })
        .map_err(broker)?;
        self.publish_msg(core, first, n, msg)
    }

    /// Publishes the job message `msg` of `n` jobs from `first` on.
    fn publish_msg(
        &mut self,
        core: &mut BrokerCore,
        first: u64,
        n: usize,
        msg: Vec<u8>,
    ) -> Result<()> {
        let limit = self.conn.max_payload.min(streams::MAX_MESSAGE) - 256;
        if msg.len() > limit {
            let JobMsg { mut jobs, .. } = serde_json::from_slice(&msg).map_err(broker)?;
            if n > 1 {
                let rest = jobs.split_off(n / 2);
                self.publish_jobs(core, jobs)?;
                return self.publish_jobs(core, rest);
            }
            // As bad input in a local run: nothing new starts, published
            // jobs finish, then fanout exits 255.
            core.forget(JobSeq(first));
            core.input_failed(Error::TooBig {
                seq: first,
                size: msg.len(),
                limit,
            });
            return Ok(());
        }
        let js = self.conn.js.clone();
        let (subject, id) = (self.n.jobs.clone(), self.msg_id(first));
        let sig = self.signature(&msg);
        self.acks.push(Box::pin(publish(
            js,
            subject,
            id,
            first,
            msg,
            sig,
            Duration::ZERO,
        )));
        Ok(())
    }

    /// The signature headers of a job message, with `--sign-key`.
    fn signature(&self, msg: &[u8]) -> Option<(String, String)> {
        let key = self.opts.sign.as_ref()?;
        Some(key.sign(Kind::Jobs, &self.n.run, msg))
    }

    fn msg_id(&self, seq: u64) -> String {
        format!("{}.{}.{seq}", self.n.run, self.epoch)
    }

    /// A publish's ack came back; failed ones are sent again.
    pub(super) fn acked(&mut self, (seq, msg, res): (u64, Vec<u8>, Result<(), String>)) {
        // Retried also while halting: the jobs wait in the table for an
        // answer (run or skipped), so they must reach the workers.
        if res.is_err() {
            let js = self.conn.js.clone();
            let (subject, id) = (self.n.jobs.clone(), self.msg_id(seq));
            let sig = self.signature(&msg);
            let retry = publish(js, subject, id, seq, msg, sig, Duration::from_millis(200));
            self.acks.push(Box::pin(retry));
        }
    }

    /// Resume: note the jobs still in the job stream (not to be published
    /// again), then take in every result the run has so far, including
    /// those that came while no coordinator was running. In that order: a
    /// worker publishes a job's result before it acks the job, so a job
    /// gone from the stream has its result in the results stream.
    pub(super) async fn catch_up<S: Sink + ?Sized>(
        &mut self,
        core: &mut BrokerCore,
        sink: &mut S,
    ) -> Result<()> {
        let own = self.opts.sign.as_ref().map(TrustedKeys::of);
        let mut jobs = self
            .conn
            .js
            .get_stream(&self.n.jobs_stream)
            .await
            .map_err(broker)?;
        let state = jobs.info().await.map_err(broker)?.state.clone();
        if state.messages > 0 {
            for s in state.first_sequence..=state.last_sequence {
                let Ok(m) = jobs.get_raw_message(s).await else {
                    continue;
                };
                // A job message someone else put in the stream must not
                // stand for a job of this run (it would never be published):
                // when this coordinator signs, only its own signature counts.
                if let Some(own) = &own {
                    let run = &self.n.run;
                    if trust::verify_msg(own, Kind::Jobs, run, Some(&m.headers), &m.payload)
                        .is_err()
                    {
                        continue;
                    }
                }
                if let Ok(m) = serde_json::from_slice::<JobMsg>(&m.payload) {
                    self.queued.extend(m.jobs.iter().map(|j| JobSeq(j.seq)));
                }
            }
        }
        self.draining = true;
        loop {
            let mut batch = self
                .results
                .fetch()
                .max_messages(1000)
                .messages()
                .await
                .map_err(broker)?;
            let mut got = 0;
            while let Some(m) = batch.next().await {
                let m = m.map_err(broker)?;
                self.intake(core, &m, sink).await;
                let _ = m.ack().await;
                got += 1;
            }
            if got == 0 {
                break;
            }
        }
        self.draining = false;
        Ok(())
    }
}

/// Jobs read from the input, written one by one into the JSON of the
/// message that will carry them: the same bytes as a [`JobMsg`] of them,
/// without a copy of every job's values in between.
#[derive(Default)]
pub(super) struct Pack {
    msg: Vec<u8>,
    first: u64,
    jobs: usize,
}

impl Pack {
    /// Adds job `seq` of `records`.
    pub(super) fn push(&mut self, epoch: Epoch, seq: JobSeq, records: &Records) -> Result<()> {
        if self.jobs == 0 {
            self.msg.clear();
            let head = format!(r#"{{"v":{VERSION},"epoch":{epoch},"jobs":["#);
            self.msg.extend_from_slice(head.as_bytes());
            self.first = seq.0;
        } else {
            self.msg.push(b',');
        }
        let job = WireJobRef {
            seq: seq.0,
            records: RecordsRef(records),
        };
        serde_json::to_writer(&mut self.msg, &job).map_err(broker)?;
        self.jobs += 1;
        Ok(())
    }

    /// Jobs packed.
    pub(super) fn len(&self) -> usize {
        self.jobs
    }

    /// The message of the packed jobs (first seq, jobs, bytes), if any;
    /// the pack is empty after.
    fn take(&mut self) -> Option<(u64, usize, Vec<u8>)> {
        if self.jobs == 0 {
            return None;
        }
        self.msg.extend_from_slice(b"]}");
        let n = std::mem::take(&mut self.jobs);
        Some((self.first, n, std::mem::take(&mut self.msg)))
    }
}

/// Publishes one job after `delay`, with a message id for deduplication.
async fn publish(
    js: Context,
    subject: String,
    id: String,
    seq: u64,
    msg: Vec<u8>,
    sig: Option<(String, String)>,
    delay: Duration,
) -> (u64, Vec<u8>, Result<(), String>) {
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let m = PublishMessage::build()
        .payload(msg.clone().into())
        .message_id(id);
    let m = with_signature(m, sig.as_ref());
    let res = match js.send_publish(subject, m).await {
        Ok(ack) => ack.await.map(drop).map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    (seq, msg, res)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pack writes what serde would write for the same jobs.
    #[test]
    fn a_pack_is_the_json_of_a_job_message_of_its_jobs() {
        let records: Vec<Records> = vec![
            vec![vec![b"a b".to_vec(), b"\"q\"".to_vec()]].into(),
            vec![vec![vec![0xff, 0]]].into(),
            vec![vec![b"x".to_vec()], vec![b"y".to_vec()]].into(),
        ];
        let mut pack = Pack::default();
        for (i, r) in records.iter().enumerate() {
            pack.push(Epoch(7), JobSeq(i as u64 + 3), r).unwrap();
        }
        assert_eq!(pack.len(), 3);
        let (first, n, msg) = pack.take().unwrap();
        let jobs = records
            .iter()
            .enumerate()
            .map(|(i, r)| WireJob {
                seq: i as u64 + 3,
                records: crate::schema::from_records(r),
            })
            .collect();
        let want = serde_json::to_vec(&JobMsg {
            v: VERSION,
            epoch: Epoch(7),
            jobs,
        })
        .unwrap();
        assert_eq!((first, n), (3, 3));
        assert_eq!(
            String::from_utf8_lossy(&msg),
            String::from_utf8_lossy(&want)
        );
        assert!(pack.take().is_none());
    }
}
