//! The jobs this worker reported lately, so that a job message the broker
//! delivers again after a restart does not run them a second time.
//!
//! A broker SIGKILLed before it wrote a job message's ack down delivers
//! the message again once it is back, though the job ran and its result
//! is stored or still being sent (the outbox retries until the broker
//! stores it, and sends acks only after the results before them). The
//! coordinator knows only the results it has taken in; this worker also
//! knows the ones it sent. Bounded: the redeliveries a restart causes are
//! of recent jobs, and memory must not grow with the run.

use std::collections::{HashSet, VecDeque};

use fanout_core::JobSeq;

/// How many reported jobs are remembered.
const REMEMBERED: usize = 16_384;

/// The last [`REMEMBERED`] job seqs reported, oldest forgotten first.
#[derive(Debug, Default)]
pub(super) struct Recent {
    set: HashSet<JobSeq>,
    order: VecDeque<JobSeq>,
}

impl Recent {
    /// Remembers `seq`, forgetting the oldest one when full.
    pub(super) fn insert(&mut self, seq: JobSeq) {
        if !self.set.insert(seq) {
            return;
        }
        self.order.push_back(seq);
        if self.order.len() > REMEMBERED {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
    }

    /// Whether `seq` was reported lately.
    pub(super) fn contains(&self, seq: JobSeq) -> bool {
        self.set.contains(&seq)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_reported_job_is_forgotten_first_and_memory_stays_bounded() {
        let mut r = Recent::default();
        for s in 0..(REMEMBERED as u64 + 10) {
            r.insert(JobSeq(s));
            r.insert(JobSeq(s));
        }
        assert!(!r.contains(JobSeq(9)));
        assert!(r.contains(JobSeq(10)));
        assert!(r.contains(JobSeq(REMEMBERED as u64 + 9)));
        assert_eq!(r.order.len(), REMEMBERED);
        assert_eq!(r.set.len(), REMEMBERED);
    }
}
