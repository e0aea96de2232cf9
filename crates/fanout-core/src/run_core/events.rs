//! What the core does when a job ends or a timer is due: run it again,
//! report it, count it for `--halt`; begin and step kills.

use std::time::Instant;

use super::types::result;
use super::{Action, Core, Ended};
use crate::control::HaltWhen;
use crate::job::{JobArgs, KillReason};
use crate::killing::KillStep;
use crate::{Event, Sink};

impl<E, T> Core<E, T> {
    /// Job `e.seq` ended at `now`: it runs again (`--retries` left, or
    /// killed for `--memfree`), or is reported and counted for `--halt`.
    /// Returns the halt this job decided, if it did. A job ended after the
    /// run stopped at once is not reported (as GNU parallel: `--resume`
    /// runs it again).
    pub fn ended<S: Sink + ?Sized>(
        &mut self,
        e: Ended,
        now: Instant,
        sink: &mut S,
    ) -> Option<HaltWhen> {
        let mut run = self.running.remove(&e.seq)?;
        self.dispatch.slots.release(run.slot);
        let killed = self.killing.ended(e.seq, run.start);
        if !self.verdict.reports() {
            return None;
        }
        let remote = e.remote.is_some();
        let stdin = run.job.stdin.take();
        let retries = run.retries.unwrap_or(self.retries);
        let r = result(run, e, now, killed);
        // A remote runner ran the retries itself; what it reports is final.
        if !remote && self.verdict.runs_again(&r, retries) {
            let failed_again = r.killed != Some(KillReason::Memory);
            let job = JobArgs {
                seq: r.seq,
                records: r.records.clone(),
                stdin,
            };
            self.dispatch
                .again(job, r.attempt + u32::from(failed_again));
            self.emit(sink, Event::Retried(r));
            return None;
        }
        if remote {
            if let Some(reason) = r.killed {
                let command = r.command.clone();
                self.emit(
                    sink,
                    Event::Killed {
                        seq: r.seq,
                        reason,
                        command: &command,
                    },
                );
            }
        }
        if !r.failed() {
            self.killing.succeeded(r.runtime);
        }
        let running = self.running.len();
        self.verdict.finished(sink, r, running)
    }

    /// Under half of `--memfree` free: kill the youngest running job (it
    /// goes back to the queue), as GNU parallel does.
    pub(super) fn check_memory<S: Sink + ?Sized>(&mut self, now: Instant, sink: &mut S) {
        self.mem_check = None;
        if self.running.is_empty() {
            return;
        }
        if self.throttle.memory_critical() {
            let youngest = self
                .running
                .keys()
                .filter(|&&seq| !self.killing.is_killing(seq))
                .max()
                .copied();
            if let Some(step) = youngest.and_then(|s| self.killing.kill(s, KillReason::Memory, now))
            {
                self.kill_step(step, sink);
            }
        }
        self.mem_check = self.throttle.watch_interval().map(|d| now + d);
    }

    /// A step the kill schedule decided: reports a kill begun, and queues
    /// the signal for the backend.
    pub(super) fn kill_step<S: Sink + ?Sized>(&mut self, step: KillStep, sink: &mut S) {
        let (seq, signal) = match step {
            KillStep::Begin {
                seq,
                reason,
                signal,
            } => {
                if let Some(run) = self.running.get(&seq) {
                    let command = run.command.clone();
                    self.emit(
                        sink,
                        Event::Killed {
                            seq,
                            reason,
                            command: &command,
                        },
                    );
                }
                (seq, signal)
            }
            KillStep::Next { seq, signal } => (seq, Some(signal)),
        };
        if let (true, Some(signal)) = (self.running.contains_key(&seq), signal) {
            self.signals.push_back(Action::Signal { seq, signal });
        }
    }
}
