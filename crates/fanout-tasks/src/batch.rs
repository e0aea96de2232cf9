//! How many tasks go in one batch: enough that a batch takes about
//! [`TARGET`] (so a tiny task's cost is a function call, not a message),
//! few enough that every worker still gets a share of a short input. The
//! time per task is learnt from the batches that finished.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// What a batch should take.
const TARGET: Duration = Duration::from_millis(2);
/// The most tasks in one batch (bounds the memory a batch holds).
const MOST: usize = 65_536;

/// The batch size of one call, shared by its feeder and its results.
#[derive(Debug, Default)]
pub struct Sizer {
    /// Nanoseconds per task, smoothed; 0 before the first batch is back.
    per_task: AtomicU64,
}

impl Sizer {
    /// The size of the next batch, for `workers` workers and at least
    /// `left` tasks still to come (the input's lower size hint).
    pub fn next(&self, workers: usize, left: usize) -> usize {
        let per = self.per_task.load(Ordering::Relaxed);
        if per == 0 {
            return 1;
        }
        let by_time = (TARGET.as_nanos() as u64 / per).clamp(1, MOST as u64) as usize;
        // Four batches a worker of what is known to be left, so the end of
        // a short input is shared out, not held by one worker.
        let share = (left / (workers * 4)).max(1);
        if left > 0 {
            by_time.min(share)
        } else {
            by_time
        }
    }

    /// A batch of `n` tasks took `took`.
    pub fn record(&self, n: usize, took: Duration) {
        if n == 0 {
            return;
        }
        let now = (took.as_nanos() as u64 / n as u64).max(1);
        let old = self.per_task.load(Ordering::Relaxed);
        // Quick to believe a batch that ran faster (the first, one-task
        // batch times mostly the overhead, and tiny tasks must reach big
        // batches within a few rounds), slow to believe a slower one.
        let new = match old {
            0 => now,
            _ if now < old => (old + now * 3) / 4,
            _ => (old * 3 + now) / 4,
        };
        self.per_task.store(new.max(1), Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_task_until_a_time_is_known_then_a_batch_of_about_two_ms() {
        let s = Sizer::default();
        assert_eq!(s.next(2, 0), 1);
        s.record(10, Duration::from_micros(10));
        assert_eq!(s.next(2, 0), 2000);
        assert_eq!(s.next(2, 80), 10, "a short input is shared out");
        s.record(1, Duration::from_secs(1));
        assert_eq!(s.next(2, 0), 1, "slow tasks go one at a time");
    }

    #[test]
    fn batches_never_exceed_the_most() {
        let s = Sizer::default();
        s.record(1000, Duration::from_nanos(1));
        assert_eq!(s.next(2, 0), MOST);
    }
}
