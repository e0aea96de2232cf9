//! Ending a run early: catching SIGINT/SIGTERM, and walking running jobs'
//! process groups through the `--term-seq` so that no descendant outlives
//! fanout.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use tokio::signal::unix::{signal, Signal, SignalKind};
use tokio::sync::mpsc;

use super::run::{recv_live, Run};
use crate::exec::{group_alive, kill_group, Chunk};
use crate::Sink;

/// SIGINT and SIGTERM as a stream, or nothing when not handling signals.
pub(super) struct Signals(Option<(Signal, Signal)>);

impl Signals {
    pub(super) fn new(enabled: bool) -> std::io::Result<Self> {
        if !enabled {
            return Ok(Signals(None));
        }
        Ok(Signals(Some((
            signal(SignalKind::interrupt())?,
            signal(SignalKind::terminate())?,
        ))))
    }

    /// The next signal's number; pending forever when disabled.
    pub(super) async fn recv(&mut self) -> i32 {
        match &mut self.0 {
            Some((int, term)) => tokio::select! {
                _ = int.recv() => libc::SIGINT,
                _ = term.recv() => libc::SIGTERM,
            },
            None => std::future::pending().await,
        }
    }
}

/// How often to look for a job's group to be gone while waiting.
const POLL: Duration = Duration::from_millis(10);

impl<S: Sink> Run<'_, S> {
    /// Sends each signal of the term sequence to every job's process group,
    /// waiting between them while jobs end, until no process of any group
    /// is left. Jobs that end are reported as usual.
    pub(super) async fn terminate(&mut self, live: &mut Option<mpsc::Receiver<Chunk>>) {
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
                self.pump(live, POLL.min(until - Instant::now())).await;
            }
        }
        while !self.running.is_empty() {
            self.pump(live, POLL).await;
        }
    }

    fn all_gone(&self, groups: &[i32]) -> bool {
        self.running.is_empty() && groups.iter().all(|&g| !group_alive(g))
    }

    /// Handles job exits and live output for up to `d`.
    async fn pump(&mut self, live: &mut Option<mpsc::Receiver<Chunk>>, d: Duration) {
        tokio::select! {
            biased;
            Some(c) = recv_live(live) => self.live(c),
            Some(o) = self.running.next(), if !self.running.is_empty() => self.finished(o),
            _ = tokio::time::sleep(d) => {}
        }
    }
}
