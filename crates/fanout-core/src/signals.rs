//! The signals a run answers: SIGINT, SIGTERM and SIGHUP (which end it)
//! and SIGUSR1 (which lists the running jobs), caught as a stream by the
//! engine's loop, and by a distributed coordinator and worker, so all of
//! them stop on the same signals.

use tokio::signal::unix::{signal, Signal, SignalKind};

/// SIGINT, SIGTERM, SIGHUP and SIGUSR1 as a stream, or nothing when not
/// handling signals. What each does is the run core's decision
/// (`Core::signal`): a first hangup stops new jobs starting, as GNU
/// parallel's does.
pub struct Signals(Option<[Signal; 4]>);

impl Signals {
    /// Catches the three signals when `enabled` (inside a Tokio runtime).
    pub fn new(enabled: bool) -> std::io::Result<Self> {
        if !enabled {
            return Ok(Signals(None));
        }
        let kinds = [
            SignalKind::interrupt(),
            SignalKind::terminate(),
            SignalKind::hangup(),
            SignalKind::user_defined1(),
        ];
        Ok(Signals(Some([
            signal(kinds[0])?,
            signal(kinds[1])?,
            signal(kinds[2])?,
            signal(kinds[3])?,
        ])))
    }

    /// The next signal's number; pending forever when disabled.
    pub async fn recv(&mut self) -> i32 {
        match &mut self.0 {
            Some([int, term, hup, usr1]) => tokio::select! {
                _ = int.recv() => libc::SIGINT,
                _ = term.recv() => libc::SIGTERM,
                _ = hup.recv() => libc::SIGHUP,
                _ = usr1.recv() => libc::SIGUSR1,
            },
            None => std::future::pending().await,
        }
    }

    /// The next signal that ends a run (SIGUSR1, which only asks, is
    /// passed over): for a worker, which lists nothing.
    pub async fn recv_stop(&mut self) -> i32 {
        loop {
            let s = self.recv().await;
            if s != libc::SIGUSR1 {
                return s;
            }
        }
    }
}
