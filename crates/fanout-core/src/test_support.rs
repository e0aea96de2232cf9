//! Fakes shared by unit tests: a finished job's result without a process.

use std::time::{Duration, SystemTime};

use crate::job::{ExitKind, JobResult, JobSeq, Records, SlotId};
use crate::output::Captured;

/// Job `seq`'s result: it exited with `code` after a millisecond.
pub(crate) fn result(seq: u64, code: i32) -> JobResult {
    JobResult {
        seq: JobSeq(seq),
        slot: SlotId(1),
        command: format!("job {seq}").into_bytes(),
        records: Records::new(),
        exit: ExitKind::Code(code),
        stdout: Captured::default(),
        stderr: Captured::default(),
        runtime: Duration::from_millis(1),
        cpu_time: Duration::ZERO,
        max_rss_kib: 0,
        started_at: SystemTime::now(),
        killed: None,
        attempt: 0,
        worker: None,
    }
}
