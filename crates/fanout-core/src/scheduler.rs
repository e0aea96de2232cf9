//! Job slots for `-j` and the queue in front of them: which job starts
//! next and which slot it takes. Pure bookkeeping with no I/O, so it is
//! tested without processes.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use crate::job::{JobArgs, SlotId};

/// A job waiting for its start.
#[derive(Debug)]
pub struct Waiting {
    /// The job (its `{#}` stays whatever happens).
    pub job: JobArgs,
    /// Failed runs so far; `None` for a new job a throttle held back.
    pub attempt: Option<u32>,
}

/// Which job starts next: jobs to run again (retries, `--memfree`
/// requeues) before anything else, then new jobs a throttle held back, in
/// input order, then more input, read only while a slot is free and
/// nothing waits (so memory stays bounded by the slots).
#[derive(Debug)]
pub struct Dispatch {
    /// The `-j` slots.
    pub slots: Slots,
    waiting: VecDeque<Waiting>,
    input_done: bool,
}

impl Dispatch {
    /// A queue in front of `jobs` slots.
    pub fn new(jobs: usize) -> Self {
        Dispatch {
            slots: Slots::new(jobs),
            waiting: VecDeque::new(),
            input_done: false,
        }
    }

    /// `job` runs again after failing `attempt` times: ahead of all.
    pub fn again(&mut self, job: JobArgs, attempt: u32) {
        let attempt = Some(attempt);
        self.waiting.push_front(Waiting { job, attempt });
    }

    /// A new `job` that may not start yet (a throttle): after the others.
    pub fn hold(&mut self, job: JobArgs) {
        let attempt = None;
        self.waiting.push_back(Waiting { job, attempt });
    }

    /// The input has no more jobs.
    pub fn input_ended(&mut self) {
        self.input_done = true;
    }

    /// True once the input has no more jobs (or failed).
    pub fn input_done(&self) -> bool {
        self.input_done
    }

    /// True when no job is left to start: the input ended, none waits.
    pub fn exhausted(&self) -> bool {
        self.input_done && self.waiting.is_empty()
    }

    /// True when more input is to be read now.
    pub fn wants_input(&self) -> bool {
        !self.input_done && self.waiting.is_empty() && self.slots.has_free()
    }

    /// The next waiting job, first in line.
    pub fn next_waiting(&mut self) -> Option<Waiting> {
        self.waiting.pop_front()
    }
}

/// The `-j N` slot pool. A job takes the lowest free slot, as GNU parallel
/// numbers `{%}` and `$PARALLEL_JOBSLOT`.
#[derive(Debug)]
pub struct Slots {
    max: usize,
    in_use: usize,
    released: BinaryHeap<Reverse<u32>>,
    next_new: u32,
}

impl Slots {
    /// A pool of `max` slots (at least one).
    pub fn new(max: usize) -> Self {
        Slots {
            max: max.max(1),
            in_use: 0,
            released: BinaryHeap::new(),
            next_new: 1,
        }
    }

    /// True when another job may start now.
    pub fn has_free(&self) -> bool {
        self.in_use < self.max
    }

    /// Changes the number of slots (at least one). Jobs in slots beyond a
    /// smaller number run on; no new one starts until they are back under.
    pub fn resize(&mut self, max: usize) {
        self.max = max.max(1);
    }

    /// Number of slots in use.
    pub fn in_use(&self) -> usize {
        self.in_use
    }

    /// Takes the lowest free slot, or `None` when all are busy.
    pub fn acquire(&mut self) -> Option<SlotId> {
        if !self.has_free() {
            return None;
        }
        self.in_use += 1;
        let id = match self.released.pop() {
            Some(Reverse(id)) => id,
            None => {
                self.next_new += 1;
                self.next_new - 1
            }
        };
        Some(SlotId(id))
    }

    /// Returns a slot to the pool.
    pub fn release(&mut self, slot: SlotId) {
        debug_assert!(self.in_use > 0, "release without acquire");
        self.in_use -= 1;
        self.released.push(Reverse(slot.0));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(seq: u64) -> JobArgs {
        JobArgs {
            seq: crate::JobSeq(seq),
            records: crate::Records::new(),
            stdin: None,
        }
    }

    #[test]
    fn a_job_run_again_goes_before_held_jobs_and_keeps_its_number() {
        let mut d = Dispatch::new(2);
        d.hold(job(3));
        d.hold(job(4));
        d.again(job(1), 1);
        let order: Vec<(u64, Option<u32>)> = std::iter::from_fn(|| d.next_waiting())
            .map(|w| (w.job.seq.0, w.attempt))
            .collect();
        assert_eq!(order, [(1, Some(1)), (3, None), (4, None)]);
    }

    #[test]
    fn input_is_read_only_with_a_free_slot_and_nothing_waiting() {
        let mut d = Dispatch::new(1);
        assert!(d.wants_input() && !d.exhausted());
        d.hold(job(1));
        assert!(!d.wants_input(), "a held job first");
        let w = d.next_waiting().unwrap();
        let slot = d.slots.acquire().unwrap();
        assert!(!d.wants_input(), "no free slot");
        d.slots.release(slot);
        d.input_ended();
        assert!(!d.wants_input() && d.exhausted());
        d.again(w.job, 1);
        assert!(!d.exhausted(), "a retry is still to start");
    }

    #[test]
    fn reuses_the_lowest_free_slot() {
        let mut s = Slots::new(3);
        let a: Vec<_> = (0..3).map(|_| s.acquire().unwrap().0).collect();
        assert_eq!(a, [1, 2, 3]);
        assert_eq!(s.acquire(), None);
        s.release(SlotId(3));
        s.release(SlotId(1));
        assert_eq!(s.acquire(), Some(SlotId(1)));
        assert_eq!(s.acquire(), Some(SlotId(3)));
        assert!(!s.has_free());
    }

    #[test]
    fn never_hands_out_a_busy_slot() {
        let mut s = Slots::new(4);
        let mut busy = std::collections::HashSet::new();
        for i in 0..1000u32 {
            if i % 3 == 0 && !busy.is_empty() {
                let x = *busy.iter().next().unwrap();
                busy.remove(&x);
                s.release(SlotId(x));
            } else if let Some(id) = s.acquire() {
                assert!(busy.insert(id.0), "slot {id} handed out twice");
                assert!(id.0 >= 1 && id.0 <= 4);
            }
            assert_eq!(s.in_use(), busy.len());
        }
    }
}
