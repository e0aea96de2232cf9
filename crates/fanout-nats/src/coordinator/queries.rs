//! What the coordinator answers while a run goes on: control requests
//! (status, cancel) and workers' questions about which jobs are done.

use fanout_core::JobSeq;

use super::{BrokerCore, Coord};
use crate::schema::{self, CtlOp, CtlReply, CtlRequest, RunState, Status, StreamSeq, VERSION};
use crate::trust::Kind;

/// A done query waiting for the coordinator to take in what the results
/// stream held when it came.
pub(super) struct Deferred {
    pub(super) q: async_nats::Message,
    /// The stream sequence to take in first.
    pub(super) target: StreamSeq,
    /// When it is answered anyway.
    pub(super) until: std::time::Instant,
}

impl Coord<'_> {
    /// Answers a control request; true when it asks to cancel the run.
    pub(super) async fn control(&mut self, core: &BrokerCore, req: async_nats::Message) -> bool {
        let Some(reply) = req.reply.clone() else {
            return false;
        };
        let reply_with = |ok, error| CtlReply {
            v: VERSION,
            ok,
            error,
        };
        let (answer, cancel) = match schema::decode::<CtlRequest>(&req.payload).map(|r| r.op) {
            Ok(CtlOp::Status) => (serde_json::to_vec(&self.status(core)), false),
            Ok(CtlOp::Cancel) => (serde_json::to_vec(&reply_with(true, None)), true),
            // An unknown op is an unreadable request too.
            Err(e) => (serde_json::to_vec(&reply_with(false, Some(e))), false),
        };
        let answer = answer.unwrap_or_default();
        let _ = self.conn.client.publish(reply, answer.into()).await;
        let _ = self.conn.client.flush().await;
        cancel
    }

    /// Tells a worker which of the jobs it asks about are recorded (see
    /// `recheck`), once the result messages the broker stored before the
    /// question are taken in: after a broker restart the coordinator is
    /// behind, and a job whose result waits in the stream must not be
    /// called undone and run again. Answered anyway after
    /// `recheck::ANSWER_WITHIN`, or at once when the broker cannot say.
    pub(super) async fn answer_done(&mut self, q: async_nats::Message) {
        // Messages of the stream up to `delivered` went out to this
        // coordinator; `num_pending` more wait, numbered after it.
        let target = match self.results.info().await {
            Ok(i) => StreamSeq(i.delivered.stream_sequence + i.num_pending),
            Err(_) => StreamSeq(0),
        };
        let until = std::time::Instant::now() + crate::recheck::ANSWER_WITHIN;
        self.deferred.push(Deferred { q, target, until });
        self.answer_deferred().await;
    }

    /// Answers the deferred done queries that are caught up with, or due.
    pub(super) async fn answer_deferred(&mut self) {
        let now = std::time::Instant::now();
        let taken = self.taken;
        let (due, wait) = std::mem::take(&mut self.deferred)
            .into_iter()
            .partition(|d| d.target <= taken || d.until <= now);
        self.deferred = wait;
        for d in due {
            self.send_done(d.q).await;
        }
    }

    async fn send_done(&mut self, q: async_nats::Message) {
        let Some(reply) = q.reply.clone() else {
            return;
        };
        let (recorded, logged) = (&self.recorded, &self.opts.logged);
        let answer = crate::recheck::answer(&q.payload, self.run_epoch, |s| {
            recorded.contains(JobSeq(s)) || logged.contains(JobSeq(s))
        });
        if let Some(a) = answer {
            // Signed like the spec: a forged "done" would make workers
            // drop jobs that never ran.
            let mut headers = async_nats::HeaderMap::new();
            if let Some(key) = &self.opts.sign {
                let (k, sig) = key.sign(Kind::Done, &self.n.run, &a);
                headers.insert(crate::trust::KEY_HEADER, k.as_str());
                headers.insert(crate::trust::SIG_HEADER, sig.as_str());
            }
            let _ = self
                .conn
                .client
                .publish_with_headers(reply, headers, a.into())
                .await;
        }
    }

    fn status(&self, core: &BrokerCore) -> Status {
        let state = match core.halting() {
            Some(_) => RunState::Halting,
            None => RunState::Running,
        };
        Status {
            v: VERSION,
            run: self.n.run.clone(),
            state,
            published: self.published,
            done: self.done,
            failed: core.failed_jobs(),
            in_flight: core.running() as u64,
            input_done: core.input_done(),
        }
    }
}
