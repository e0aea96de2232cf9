//! Producer and consumers over a [`fanout_tasks::Queue`] with a
//! [`fanout_tasks::Condition`]: one child process produces numbers, two
//! others consume them. The count of items ready, and the "no more" flag,
//! live in shared memory under a lock; consumers wait on the condition
//! until there is an item or the producer is done.
//!
//!     cargo run --example producer_consumer [ITEMS]

use std::sync::atomic::{AtomicU64, Ordering};

use fanout_tasks::{Condition, Lock, Queue, Shared};

/// What the three processes share.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct Line {
    queue: Queue<u64>,
    lock: Lock,
    changed: Condition,
    /// Items put and not yet claimed, and 1 once the producer is done.
    ready: Shared<[AtomicU64; 2]>,
}

fanout_tasks::task! {
    /// Puts 1..=n on the queue, announcing each.
    pub fn produce((line, n): (Line, u64)) -> u64 {
        for i in 1..=n {
            line.queue.put(&i).unwrap();
            let _held = line.lock.lock();
            line.ready[0].fetch_add(1, Ordering::SeqCst);
            line.changed.notify_one();
        }
        let _held = line.lock.lock();
        line.ready[1].store(1, Ordering::SeqCst);
        line.changed.notify_all();
        n
    }
}

fanout_tasks::task! {
    /// Claims items until the producer is done and none are left: how
    /// many it took, and their sum.
    pub fn consume(line: Line) -> (u64, u64) {
        let (mut count, mut sum) = (0, 0);
        loop {
            let held = line.lock.lock();
            let held = line.changed.wait_while(held, || {
                line.ready[0].load(Ordering::SeqCst) == 0 && line.ready[1].load(Ordering::SeqCst) == 0
            });
            if line.ready[0].load(Ordering::SeqCst) == 0 {
                return (count, sum);
            }
            line.ready[0].fetch_sub(1, Ordering::SeqCst);
            drop(held);
            sum += line.queue.get().unwrap();
            count += 1;
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    fanout_tasks::init();
    let n: u64 = std::env::args().nth(1).map_or(Ok(10_000), |s| s.parse())?;
    let line = Line {
        queue: Queue::with_capacity(4096)?,
        lock: Lock::new()?,
        changed: Condition::new()?,
        ready: Shared::new()?,
    };
    let pool = fanout_tasks::processes(3)?;
    let consumers: Vec<_> = (0..2).map(|_| pool.submit(consume, line.clone())).collect();
    let produced = pool.submit(produce, (line.clone(), n)).join()?;
    let mut total = 0;
    for (i, c) in consumers.into_iter().enumerate() {
        let (count, sum) = c.join()?;
        println!("consumer {}: {count} items, sum {sum}", i + 1);
        total += sum;
    }
    println!(
        "produced {produced} items; consumed sum {total} (expected {})",
        n * (n + 1) / 2
    );
    Ok(())
}
