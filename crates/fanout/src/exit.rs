//! fanout's exit status, as GNU parallel's: 0 when every job succeeded, the
//! number of failed jobs up to 100, 101 for more, 255 for fanout's own
//! errors and for an interrupted run.

use fanout_core::RunSummary;

/// fanout's own error (bad option, unreadable input, interrupted).
pub const ERROR: u8 = 255;

/// Standard output was closed before the run ended (128 + SIGPIPE).
pub const BROKEN_PIPE: u8 = 141;

/// The exit status for a finished run.
pub fn status(summary: &RunSummary) -> u8 {
    if summary.interrupted.is_some() {
        return ERROR;
    }
    if let Some(s) = summary.halt_status {
        // As a process exit status: -1 (a job fanout killed) reads 255.
        return s as u8;
    }
    if summary.broken_pipe {
        // Output went nowhere and later jobs never ran: report it as a
        // shell reports a SIGPIPE death, as GNU parallel's status does.
        return BROKEN_PIPE;
    }
    match summary.failed {
        0..=100 => summary.failed as u8,
        _ => 101,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_failures_like_gnu_parallel() {
        let s = |failed| {
            let mut s = RunSummary::default();
            s.failed = failed;
            s
        };
        assert_eq!(status(&s(0)), 0);
        assert_eq!(status(&s(3)), 3);
        assert_eq!(status(&s(100)), 100);
        assert_eq!(status(&s(101)), 101);
        assert_eq!(status(&s(5000)), 101);
        let mut int = RunSummary::default();
        int.interrupted = Some(2);
        assert_eq!(status(&int), 255);
        let mut pipe = RunSummary::default();
        pipe.broken_pipe = true;
        assert_eq!(status(&pipe), 141);
    }
}
