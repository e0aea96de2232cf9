//! The bounded queue between the input thread and the event loop.
//!
//! A plain bounded channel wakes the producer for every job the loop takes
//! once the queue is full, which costs a context switch (and often a CPU
//! migration) per job: measurable when jobs are as short as `true`. This
//! queue wakes the producer only when the queue has drained to half, and
//! the loop only when the queue turns non-empty, so both sides run in
//! batches while memory stays bounded by the queue's capacity (256 jobs;
//! in pipe mode, where a job holds a whole chunk, as many as job slots).

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use tokio::sync::Notify;

/// Jobs read ahead of the running ones, at most, by default.
pub(crate) const CAPACITY: usize = 256;

struct State<T> {
    items: VecDeque<T>,
    sender_gone: bool,
    receiver_gone: bool,
}

struct Shared<T> {
    capacity: usize,
    state: Mutex<State<T>>,
    space: Condvar,
    ready: Notify,
}

impl<T> Shared<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // A panic while holding this lock leaves plain data behind.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The input thread's end.
pub(crate) struct Sender<T>(Arc<Shared<T>>);

/// The event loop's end.
pub(crate) struct Receiver<T>(Arc<Shared<T>>);

/// A new queue.
pub(crate) fn feed<T>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    let shared = Arc::new(Shared {
        capacity: capacity.max(1),
        state: Mutex::new(State {
            items: VecDeque::new(),
            sender_gone: false,
            receiver_gone: false,
        }),
        space: Condvar::new(),
        ready: Notify::new(),
    });
    (Sender(shared.clone()), Receiver(shared))
}

impl<T> Sender<T> {
    /// Blocks while the queue is full; false once the receiver is gone.
    /// The input thread waits here before it reads the next job, so that
    /// no finished job waits outside the queue (a `-X` job is a whole
    /// line of values).
    pub(crate) fn wait_space(&self) -> bool {
        let mut st = self.0.lock();
        while st.items.len() >= self.0.capacity && !st.receiver_gone {
            st = self.0.space.wait(st).unwrap_or_else(|e| e.into_inner());
        }
        !st.receiver_gone
    }

    /// Queues `item`, blocking while the queue is full; `Err` once the
    /// receiver is gone.
    pub(crate) fn send(&self, item: T) -> Result<(), T> {
        let mut st = self.0.lock();
        while st.items.len() >= self.0.capacity && !st.receiver_gone {
            st = self.0.space.wait(st).unwrap_or_else(|e| e.into_inner());
        }
        if st.receiver_gone {
            return Err(item);
        }
        let was_empty = st.items.is_empty();
        st.items.push_back(item);
        drop(st);
        if was_empty {
            self.0.ready.notify_one();
        }
        Ok(())
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        self.0.lock().sender_gone = true;
        self.0.ready.notify_one();
    }
}

impl<T> Receiver<T> {
    /// The next item; `None` when the sender is gone and the queue empty.
    /// Cancel-safe: an item is taken only in the poll that returns it.
    pub(crate) async fn recv(&self) -> Option<T> {
        loop {
            {
                let mut st = self.0.lock();
                if let Some(item) = st.items.pop_front() {
                    if st.items.len() == self.0.capacity / 2 {
                        self.0.space.notify_one();
                    }
                    return Some(item);
                }
                if st.sender_gone {
                    return None;
                }
            }
            // notify_one stores a permit when nobody waits, so an item
            // queued between the check above and this await is not missed.
            self.0.ready.notified().await;
        }
    }
}

impl<T> Receiver<T> {
    /// An item if one is queued now: `Some(None)` when the sender is gone
    /// and the queue empty, `None` when nothing is ready yet.
    pub(crate) fn try_recv(&self) -> Option<Option<T>> {
        let mut st = self.0.lock();
        match st.items.pop_front() {
            Some(item) => {
                if st.items.len() == self.0.capacity / 2 {
                    self.0.space.notify_one();
                }
                Some(Some(item))
            }
            None if st.sender_gone => Some(None),
            None => None,
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let mut st = self.0.lock();
        st.receiver_gone = true;
        st.items.clear();
        drop(st);
        self.0.space.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivers_everything_in_order_and_ends() {
        let (tx, rx) = feed(CAPACITY);
        let producer = std::thread::spawn(move || {
            for i in 0..10_000 {
                tx.send(i).unwrap();
            }
        });
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let got = rt.block_on(async {
            let mut got = Vec::new();
            while let Some(i) = rx.recv().await {
                got.push(i);
            }
            got
        });
        producer.join().unwrap();
        assert_eq!(got, (0..10_000).collect::<Vec<_>>());
    }

    #[test]
    fn a_gone_receiver_unblocks_the_sender() {
        let (tx, rx) = feed(CAPACITY);
        let producer = std::thread::spawn(move || (0..).map(|i| tx.send(i)).find(Result::is_err));
        std::thread::sleep(std::time::Duration::from_millis(50));
        drop(rx);
        assert!(producer.join().unwrap().is_some());
    }
}
