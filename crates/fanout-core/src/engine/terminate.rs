//! Ending a run early: walking running jobs' process groups, and the
//! descendants that left them (see `exec::orphans`), through the
//! `--term-seq` so that no descendant outlives fanout.

use std::time::{Duration, Instant};

use futures_util::StreamExt;

use super::run::{recv_live, Local, LocalCore};
use crate::exec::{group_alive, kill_group, orphans};
use crate::Sink;

/// How often to look for a job's group to be gone while waiting.
const POLL: Duration = Duration::from_millis(10);

/// How long killed descendants outside the jobs' groups are waited for.
const ORPHAN_GRACE: Duration = Duration::from_secs(2);

impl Local<'_> {
    /// Sends each signal of the term sequence to every job's process group,
    /// and (as a subreaper) to every descendant that left its group and
    /// was reparented to fanout, waiting between them while jobs end, until
    /// no process of any group and no such descendant is left. Jobs that
    /// end are reported as usual.
    pub(super) async fn terminate<S: Sink + ?Sized>(&mut self, core: &mut LocalCore, sink: &mut S) {
        let groups: Vec<i32> = core.jobs().map(|j| j.data.pgid).collect();
        let seq = self.cfg.term_seq.clone();
        for (sig, wait) in seq {
            if self.all_gone(core, &groups) {
                break;
            }
            for &g in &groups {
                kill_group(g, sig);
            }
            self.signal_orphans(core, sig);
            let until = Instant::now() + wait;
            while Instant::now() < until && !self.all_gone(core, &groups) {
                self.pump(core, POLL.min(until - Instant::now()), sink)
                    .await;
            }
        }
        // A --term-seq without KILL may leave jobs that ignore it; fanout
        // must still end, and leave nothing behind.
        if !self.all_gone(core, &groups) {
            for &g in &groups {
                kill_group(g, libc::SIGKILL);
            }
            self.signal_orphans(core, libc::SIGKILL);
        }
        while !self.running.is_empty() {
            self.pump(core, POLL, sink).await;
        }
        self.kill_orphans(core).await;
    }

    fn signal_orphans(&self, core: &LocalCore, sig: i32) {
        if self.cfg.subreaper {
            orphans::signal(&Self::job_pids(core), sig);
        }
    }

    /// Kills and reaps the reparented descendants still there. One that
    /// dies may hand fanout its own escaped children, so this looks again
    /// until none is left, or gives up after a while (a process stuck in
    /// the kernel cannot be waited out).
    async fn kill_orphans(&mut self, core: &LocalCore) {
        if !self.cfg.subreaper {
            return;
        }
        let give_up = Instant::now() + ORPHAN_GRACE;
        loop {
            let jobs = Self::job_pids(core);
            if orphans::reap(&jobs) == 0 || Instant::now() >= give_up {
                return;
            }
            orphans::signal(&jobs, libc::SIGKILL);
            tokio::time::sleep(POLL).await;
        }
    }

    fn all_gone(&self, core: &LocalCore, groups: &[i32]) -> bool {
        self.running.is_empty()
            && groups.iter().all(|&g| !group_alive(g))
            && (!self.cfg.subreaper || orphans::reap(&Self::job_pids(core)) == 0)
    }

    /// Handles job exits and live output for up to `d`.
    async fn pump<S: Sink + ?Sized>(&mut self, core: &mut LocalCore, d: Duration, sink: &mut S) {
        tokio::select! {
            biased;
            Some(c) = recv_live(&mut self.live_rx) => Self::live(core, c, sink),
            Some(o) = self.running.next(), if !self.running.is_empty() => self.finished(core, o, sink),
            _ = tokio::time::sleep(d) => {}
        }
    }
}
