//! A job's end: retry it, requeue it, or report it; apply `--halt`; and
//! the timers that end jobs early (`--timeout`, `--memfree`), each walking
//! the job's process group through the term sequence.

use std::time::{Duration, Instant};

use super::run::{Kill, Meta, Requeued, Run};
use crate::exec::{group_alive, kill_group, Captured, Outcome};
use crate::job::{ExitKind, JobResult, JobSeq, KillReason};
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
            self.slots.release(m.slot);
            return;
        }
        if let Some(err) = o.error {
            // Part of the output is lost (the spool disk is full): print
            // none of it, rather than break --group's whole-or-nothing,
            // and end the run naming the job.
            self.timeouts.remove(m.start, o.seq);
            if let Some(due) = m.kill.as_ref().and_then(|k| k.due) {
                self.kills.remove(&(due, o.seq));
            }
            if group_alive(m.pgid) {
                kill_group(m.pgid, libc::SIGKILL);
            }
            self.slots.release(m.slot);
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
        self.timeouts.remove(m.start, o.seq);
        if let Some(k) = &m.kill {
            if let Some(due) = k.due {
                self.kills.remove(&(due, o.seq));
            }
            // The job's own process is gone; what it left in its group
            // (a background grandchild) goes too.
            if group_alive(m.pgid) {
                kill_group(m.pgid, libc::SIGKILL);
            }
        }
        let mut m = m;
        let mut r = result(&mut m, o.reaped.exit, o.stdout, o.stderr);
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
        self.slots.release(r.slot);
        if self.again(&r) {
            let failed_again = r.killed != Some(KillReason::Memory);
            let mut job = m.job;
            job.records = r.records.clone();
            self.requeue.push_front(Requeued {
                job,
                attempt: Some(m.attempt + u32::from(failed_again)),
            });
            self.emit(Event::Retried(r));
            return;
        }
        if !r.failed() {
            self.timeouts.succeeded(r.runtime);
        }
        let running = self.meta.len();
        self.verdict.finished(&mut *self.sink, r, running);
    }

    /// True when the job runs again: killed for memory, or failed with
    /// retries left (unless the run is being halted or interrupted).
    fn again(&self, r: &JobResult) -> bool {
        if !self.verdict.may_retry() {
            return false;
        }
        if r.killed == Some(KillReason::Memory) {
            return true;
        }
        // Not even the shell could start (E2BIG, no shell): again would
        // fail the same way at once.
        if matches!(r.exit, ExitKind::SpawnFailed(_)) {
            return false;
        }
        let retries = self.cfg.control.retries;
        r.failed() && retries != 1 && (retries == 0 || r.attempt + 1 < retries)
    }

    /// The earliest due step of a term sequence.
    pub(super) fn next_kill(&self) -> Option<Instant> {
        self.kills.first().map(|k| k.0)
    }

    /// Handles every timer due at `now`.
    pub(super) fn on_timers(&mut self, now: Instant) {
        for seq in self.timeouts.expired(now) {
            self.begin_kill(seq, KillReason::Timeout, now);
        }
        while let Some(&(due, seq)) = self.kills.first() {
            if due > now {
                break;
            }
            self.kills.pop_first();
            self.kill_step(seq, now);
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
                .iter()
                .filter(|(_, m)| m.kill.is_none())
                .map(|(&seq, _)| seq)
                .max();
            if let Some(seq) = youngest {
                self.begin_kill(seq, KillReason::Memory, now);
            }
        }
        self.mem_check = self.throttle.watch_interval().map(|d| now + d);
    }

    fn begin_kill(&mut self, seq: JobSeq, reason: KillReason, now: Instant) {
        let Some(m) = self.meta.get_mut(&seq).filter(|m| m.kill.is_none()) else {
            // Already being killed (say, for memory): let that finish.
            return;
        };
        m.kill = Some(Kill {
            reason,
            step: 0,
            due: None,
        });
        let command = m.command.clone();
        self.emit(Event::Killed {
            seq,
            reason,
            command: &command,
        });
        self.kill_step(seq, now);
    }

    /// Sends the next signal of the job's term sequence.
    fn kill_step(&mut self, seq: JobSeq, now: Instant) {
        let Some(m) = self.meta.get_mut(&seq) else {
            return;
        };
        let Some(k) = m.kill.as_mut() else { return };
        k.due = None;
        let Some(&(sig, wait)) = self.cfg.term_seq.get(k.step) else {
            return;
        };
        kill_group(m.pgid, sig);
        k.step += 1;
        let due = now + wait.max(Duration::from_millis(1));
        k.due = Some(due);
        self.kills.insert((due, seq));
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
        killed: m.kill.as_ref().map(|k| k.reason),
        attempt: m.attempt,
    }
}
