//! A job's end: retry it, requeue it, or report it; apply `--halt`; and
//! the timers that end jobs early (`--timeout`, `--memfree`), each walking
//! the job's process group through the term sequence.

use std::time::{Duration, Instant};

use super::run::{Meta, Run};
use crate::exec::{group_alive, kill_group, Captured, Outcome};
use crate::job::{ExitKind, JobResult, KillReason};
use crate::killing::KillStep;
use crate::{Error, Event, Sink};

impl<S: Sink> Run<'_, S> {
    pub(super) fn finished(&mut self, o: Outcome) {
        let m = self
            .meta
            .remove(&o.seq)
            .expect("every running job has meta");
        if !self.verdict.reports() {
            // Killed by `--halt now`, an interruption or a fatal error
            // (see `Verdict::reports`).
            self.dispatch.slots.release(m.slot);
            return;
        }
        if let Some(err) = o.error {
            // Part of the output is lost (the spool disk is full): print
            // none of it, rather than break --group's whole-or-nothing,
            // and end the run naming the job.
            self.killing.ended(o.seq, m.start);
            if group_alive(m.pgid) {
                kill_group(m.pgid, libc::SIGKILL);
            }
            self.dispatch.slots.release(m.slot);
            self.verdict.fail(Error::Spool {
                seq: o.seq.0,
                command: m.command,
                err,
            });
            return;
        }
        // The job sent all its live output before it ended; pass it on
        // before the job's end, so no sink sees output after Finished.
        while let Some(c) = self.live_rx.as_mut().and_then(|rx| rx.try_recv().ok()) {
            self.live(c);
        }
        let killed = self.killing.ended(o.seq, m.start);
        // The job's own process is gone; what a killed job left in its
        // group (a background grandchild) goes too.
        if killed.is_some() && group_alive(m.pgid) {
            kill_group(m.pgid, libc::SIGKILL);
        }
        let mut m = m;
        let mut r = result(&mut m, o.reaped.exit, o.stdout, o.stderr);
        r.killed = killed;
        r.cpu_time = o.reaped.cpu_time;
        r.max_rss_kib = o.reaped.max_rss_kib;
        self.report(m, r);
    }

    /// Reports a job that ended without running (dry run, spawn failure).
    pub(super) fn done(&mut self, mut m: Meta, exit: ExitKind, stdout: Captured, stderr: Captured) {
        let r = result(&mut m, exit, stdout, stderr);
        self.report(m, r);
    }

    fn report(&mut self, m: Meta, r: JobResult) {
        self.dispatch.slots.release(r.slot);
        if self.verdict.runs_again(&r, self.cfg.control.retries) {
            let failed_again = r.killed != Some(KillReason::Memory);
            let mut job = m.job;
            job.records = r.records.clone();
            self.dispatch
                .again(job, m.attempt + u32::from(failed_again));
            self.emit(Event::Retried(r));
            return;
        }
        if !r.failed() {
            self.killing.succeeded(r.runtime);
        }
        let running = self.meta.len();
        self.verdict.finished(&mut *self.sink, r, running);
    }

    /// Handles every timer due at `now`.
    pub(super) fn on_timers(&mut self, now: Instant) {
        for step in self.killing.due(now) {
            self.kill_step(step);
        }
        if self.mem_check.is_some_and(|t| t <= now) {
            self.check_memory(now);
        }
    }

    /// Under half of `--memfree` free: kill the youngest running job (it
    /// goes back to the queue), as GNU parallel does.
    fn check_memory(&mut self, now: Instant) {
        self.mem_check = None;
        if self.meta.is_empty() {
            return;
        }
        if self.throttle.memory_critical() {
            let youngest = self
                .meta
                .keys()
                .filter(|&&seq| !self.killing.is_killing(seq))
                .max()
                .copied();
            if let Some(step) = youngest.and_then(|s| self.killing.kill(s, KillReason::Memory, now))
            {
                self.kill_step(step);
            }
        }
        self.mem_check = self.throttle.watch_interval().map(|d| now + d);
    }

    /// Takes a step the kill schedule decided: reports a kill begun, and
    /// signals the job's process group.
    fn kill_step(&mut self, step: KillStep) {
        let (seq, signal) = match step {
            KillStep::Begin {
                seq,
                reason,
                signal,
            } => {
                if let Some(m) = self.meta.get(&seq) {
                    let command = m.command.clone();
                    self.emit(Event::Killed {
                        seq,
                        reason,
                        command: &command,
                    });
                }
                (seq, signal)
            }
            KillStep::Next { seq, signal } => (seq, Some(signal)),
        };
        if let (Some(m), Some(sig)) = (self.meta.get(&seq), signal) {
            kill_group(m.pgid, sig);
        }
    }
}

fn result(m: &mut Meta, exit: ExitKind, stdout: Captured, stderr: Captured) -> JobResult {
    JobResult {
        seq: m.job.seq,
        slot: m.slot,
        command: std::mem::take(&mut m.command),
        // Moved, not copied (a -X job holds tens of thousands of values);
        // a job that runs again gets them back in report().
        records: std::mem::take(&mut m.job.records),
        exit,
        stdout,
        stderr,
        runtime: m.start.elapsed(),
        cpu_time: Duration::ZERO,
        max_rss_kib: 0,
        started_at: m.started_at,
        killed: None,
        attempt: m.attempt,
    }
}
