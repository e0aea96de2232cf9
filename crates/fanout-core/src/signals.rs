//! The signals that end a run: SIGINT, SIGTERM and SIGHUP, caught as a
//! stream by the engine's loop, and by a distributed coordinator and
//! worker, so all three stop on the same signals.

use tokio::signal::unix::{signal, Signal, SignalKind};

/// SIGINT, SIGTERM and SIGHUP as a stream, or nothing when not handling
/// signals. A hangup ends the run like TERM: the terminal is gone, and the
/// jobs (in their own process groups) would not hear of it otherwise.
pub struct Signals(Option<[Signal; 3]>);

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
        ];
        Ok(Signals(Some([
            signal(kinds[0])?,
            signal(kinds[1])?,
            signal(kinds[2])?,
        ])))
    }

    /// The next signal's number; pending forever when disabled.
    pub async fn recv(&mut self) -> i32 {
        match &mut self.0 {
            Some([int, term, hup]) => tokio::select! {
                _ = int.recv() => libc::SIGINT,
                _ = term.recv() => libc::SIGTERM,
                _ = hup.recv() => libc::SIGHUP,
            },
            None => std::future::pending().await,
        }
    }
}
