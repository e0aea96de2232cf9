//! Ending a run early: walking running jobs'
//! process groups through the `--term-seq` so that no descendant outlives
//! fanout.

use std::time::{Duration, Instant};

use futures_util::StreamExt;

use super::run::{recv_live, Run};
use crate::exec::{group_alive, kill_group};
use crate::Sink;

/// How often to look for a job's group to be gone while waiting.
const POLL: Duration = Duration::from_millis(10);

impl<S: Sink> Run<'_, S> {
    /// Sends each signal of the term sequence to every job's process group,
    /// waiting between them while jobs end, until no process of any group
    /// is left. Jobs that end are reported as usual.
    pub(super) async fn terminate(&mut self) {
        let groups = self.groups();
        let seq = self.cfg.term_seq.clone();
        for (sig, wait) in seq {
            if self.all_gone(&groups) {
                break;
            }
            for &g in &groups {
                kill_group(g, sig);
            }
            let until = Instant::now() + wait;
            while Instant::now() < until && !self.all_gone(&groups) {
                self.pump(POLL.min(until - Instant::now())).await;
            }
        }
        // A --term-seq without KILL may leave jobs that ignore it; fanout
        // must still end, and leave nothing behind.
        if !self.all_gone(&groups) {
            for &g in &groups {
                kill_group(g, libc::SIGKILL);
            }
        }
        while !self.running.is_empty() {
            self.pump(POLL).await;
        }
    }

    fn all_gone(&self, groups: &[i32]) -> bool {
        self.running.is_empty() && groups.iter().all(|&g| !group_alive(g))
    }

    /// Handles job exits and live output for up to `d`.
    async fn pump(&mut self, d: Duration) {
        tokio::select! {
            biased;
            Some(c) = recv_live(&mut self.live_rx) => self.live(c),
            Some(o) = self.running.next(), if !self.running.is_empty() => self.finished(o),
            _ = tokio::time::sleep(d) => {}
        }
    }
}
