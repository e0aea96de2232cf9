//! Job slots for `-j`: which slot a starting job takes and when another may
//! start. Pure bookkeeping with no I/O, so it is tested without processes.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::job::SlotId;

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
