//! The coordinator as a backend of the run core: starting a job is
//! publishing it (packed with others), its end is a worker's result, and
//! the control requests, done queries and publish acks are handled on the
//! way. Halting, `-k`, the summary and the exit status are the core's.

use futures_util::StreamExt;

use fanout_core::backend::{sleep_until, Backend};
use fanout_core::{JobSeq, Sink, SlotId};

use super::{publish, Arrived, BrokerCore, Coord};
use crate::error::broker;
use crate::{Error, Result};

impl Backend for Coord<'_> {
    type Error = Error;
    type Job = ();
    type Event = Arrived;

    /// Reports the job started (in input order, which `-k` follows), then
    /// packs it for publishing unless the broker already has it.
    fn start<S: Sink + ?Sized>(
        &mut self,
        core: &mut BrokerCore,
        seq: JobSeq,
        sink: &mut S,
    ) -> Result<()> {
        // Resume: a job with its result already, or still in the stream.
        let early = self.early.remove(&seq);
        let queued = self.queued.remove(&seq);
        let run = core.job_mut(seq).expect("the core started it");
        run.command = self.commands.render(&run.job, SlotId(1));
        if early.is_none() && !queued {
            self.pack.push(self.run_epoch, seq, &run.job.records)?;
        }
        core.announce(seq, SlotId(1), sink);
        self.published += 1;
        if let Some(taken) = early {
            self.finish(core, taken, sink);
            return Ok(());
        }
        if queued {
            return Ok(());
        }
        if self.pack.len() >= self.pack_size() {
            self.publish_pack(core)?;
        }
        Ok(())
    }

    /// Workers kill jobs themselves (`--timeout` is theirs); a halt or a
    /// cancel reaches them as a stop message.
    fn signal(&mut self, _core: &mut BrokerCore, _seq: JobSeq, _signal: i32) {}

    async fn wait(&mut self) -> Arrived {
        let recheck_at = self.deferred.iter().map(|d| d.until).min();
        let probe_end = self.probe_end;
        let acks_pending = !self.acks.is_empty();
        let quiet_news = self
            .quiet_news
            .filter(|_| self.done == 0 && self.published > 0);
        let inbox = self.inbox.as_mut().expect("the run set it up");
        tokio::select! {
            biased;
            Some(req) = inbox.ctl.next() => Arrived::Ctl(req),
            Some(q) = inbox.done_q.next() => Arrived::DoneQuery(q),
            () = sleep_until(recheck_at), if recheck_at.is_some() => Arrived::Recheck,
            m = inbox.results.next() => match m {
                Some(Ok(m)) => Arrived::Result(Box::new(m)),
                // Missed heartbeats while the broker restarts: the stream
                // of messages goes on by itself.
                Some(Err(_)) => Arrived::Tick,
                None => Arrived::ResultsEnded,
            },
            Some(done) = self.acks.next(), if acks_pending => Arrived::Acked(done),
            () = sleep_until(probe_end), if probe_end.is_some() => Arrived::Tick,
            () = sleep_until(quiet_news), if quiet_news.is_some() => Arrived::Quiet,
        }
    }

    async fn handle<S: Sink + ?Sized>(
        &mut self,
        event: Arrived,
        core: &mut BrokerCore,
        sink: &mut S,
    ) -> Result<()> {
        match event {
            Arrived::Ctl(req) => {
                if self.control(core, req).await {
                    core.interrupt(libc::SIGTERM);
                }
            }
            Arrived::DoneQuery(q) => self.answer_done(q).await,
            Arrived::Recheck => self.answer_deferred().await,
            Arrived::Result(m) => {
                self.intake(core, &m, sink).await;
                let _ = m.ack().await;
                if !self.deferred.is_empty() {
                    self.answer_deferred().await;
                }
            }
            Arrived::ResultsEnded => {
                let results = self.results.messages().await.map_err(broker)?;
                self.inbox.as_mut().expect("the run set it up").results = results;
            }
            Arrived::Acked(done) => self.acked(done),
            Arrived::Tick => {}
            Arrived::Quiet => {
                self.quiet_news = None;
                if self.done == 0 {
                    self.opts.warn.warn(crate::Warning::Waiting {
                        run: self.opts.run_id.clone(),
                        secs: 5,
                    });
                }
            }
        }
        Ok(())
    }

    /// Publishes what is packed, and sizes the window: small while the
    /// first jobs probe how long jobs take.
    async fn flush(&mut self, core: &mut BrokerCore) -> Result<()> {
        self.publish_pack(core)?;
        let window = self.window();
        core.set_slots(window);
        self.probe_end = (window < self.opts.window && core.running() >= window)
            .then(|| self.started_at + publish::PROBE_TIME);
        Ok(())
    }

    /// Publishes not yet confirmed keep the run going.
    fn busy(&self) -> bool {
        !self.acks.is_empty()
    }
}
