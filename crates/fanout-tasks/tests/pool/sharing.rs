//! Shared memory, locks, semaphores, queues and pipes between a pool's
//! threads or processes. Each check makes its objects first and its pool
//! after, since a child inherits only what exists when it starts.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use fanout_tasks::{Builder, Lock, Pipe, Pool, Queue, Semaphore, Shared, TaskError};

type Counter = Shared<AtomicU64>;

fanout_tasks::task! {
    /// Adds to the shared counter atomically.
    pub fn add_shared((c, n): (Counter, u64)) -> u64 { c.fetch_add(n, Ordering::Relaxed) }
}

fanout_tasks::task! {
    /// A read, a pause and a write, made safe only by the lock.
    pub fn deposit_locked((c, lock): (Counter, Lock)) -> u64 {
        let _held = lock.lock();
        let v = c.load(Ordering::Relaxed);
        std::thread::yield_now();
        c.store(v + 1, Ordering::Relaxed);
        v
    }
}

fanout_tasks::task! {
    /// Takes the lock and dies holding it (SIGKILL).
    pub fn die_holding((lock, _n): (Lock, u64)) -> u64 {
        let held = lock.lock();
        std::mem::forget(held);
        // SAFETY: kill(2) on this process itself.
        unsafe { libc::kill(libc::getpid(), libc::SIGKILL) };
        0
    }
}

fanout_tasks::task! {
    /// Inside the semaphore: counts who is inside, records the most seen.
    pub fn inside((sem, now, most): (Semaphore, Counter, Counter)) -> u64 {
        let _permit = sem.acquire();
        let n = now.fetch_add(1, Ordering::SeqCst) + 1;
        most.fetch_max(n, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(2));
        now.fetch_sub(1, Ordering::SeqCst);
        n
    }
}

fanout_tasks::task! {
    /// Takes a permit and dies holding it.
    pub fn die_with_permit(sem: Semaphore) -> u64 {
        std::mem::forget(sem.acquire());
        // SAFETY: kill(2) on this process itself.
        unsafe { libc::kill(libc::getpid(), libc::SIGKILL) };
        0
    }
}

fanout_tasks::task! {
    /// Puts 0..n on the queue.
    pub fn produce((q, n): (Queue<u64>, u64)) -> u64 {
        for i in 0..n {
            q.put(&i).unwrap();
        }
        n
    }
}

fanout_tasks::task! {
    /// Takes n items and sums them.
    pub fn consume((q, n): (Queue<u64>, u64)) -> u64 {
        (0..n).map(|_| q.get().unwrap()).sum()
    }
}

fanout_tasks::task! {
    /// Answers each message on the pipe with the message + 1, n times.
    pub fn echo_plus_one((end, n): (Pipe<u64>, u64)) -> u64 {
        for _ in 0..n {
            let x = end.recv().unwrap();
            end.send(&(x + 1)).unwrap();
        }
        n
    }
}

/// Threads, then processes, each made after `objects` exist.
fn pools(n: usize) -> [(&'static str, Pool); 2] {
    [
        ("threads", fanout_tasks::threads(n).unwrap()),
        ("processes", fanout_tasks::processes(n).unwrap()),
    ]
}

pub fn shared_counter_sees_every_task() {
    let c = Counter::new().unwrap();
    for (place, pool) in pools(2) {
        c.store(0, Ordering::Relaxed);
        let n = pool
            .map(add_shared, std::iter::repeat_n((c.clone(), 2), 1000))
            .filter(Result::is_ok)
            .count();
        assert_eq!((n, c.load(Ordering::Relaxed)), (1000, 2000), "{place}");
    }
}

pub fn lock_makes_read_modify_write_exact() {
    let (c, lock) = (Counter::new().unwrap(), Lock::new().unwrap());
    for (place, pool) in pools(4) {
        c.store(0, Ordering::Relaxed);
        let ok = pool
            .map(
                deposit_locked,
                std::iter::repeat_n((c.clone(), lock.clone()), 2000),
            )
            .all(|r| r.is_ok());
        assert!(ok, "{place}");
        assert_eq!(c.load(Ordering::Relaxed), 2000, "{place}");
    }
}

pub fn lock_held_by_a_killed_process_is_released() {
    let lock = Lock::new().unwrap();
    let pool = fanout_tasks::processes(1).unwrap();
    let died = pool.submit(die_holding, (lock.clone(), 0)).join();
    assert!(
        matches!(
            died,
            Err(TaskError::Crashed {
                signal: Some(9),
                ..
            })
        ),
        "{died:?}"
    );
    let again = lock.try_lock().expect("the dead holder's lock is free");
    assert!(again.recovered());
}

pub fn semaphore_admits_at_most_its_permits() {
    let sem = Semaphore::new(2).unwrap();
    let (now, most) = (Counter::new().unwrap(), Counter::new().unwrap());
    for (place, pool) in pools(4) {
        most.store(0, Ordering::SeqCst);
        let args = std::iter::repeat_n((sem.clone(), now.clone(), most.clone()), 200);
        assert!(
            pool.map_unordered(inside, args).all(|r| r.is_ok()),
            "{place}"
        );
        assert_eq!(most.load(Ordering::SeqCst), 2, "{place}");
    }
}

pub fn semaphore_permit_of_a_killed_process_comes_back() {
    let sem = Semaphore::new(1).unwrap();
    let pool = Builder::processes(1).start().unwrap();
    let died = pool.submit(die_with_permit, sem.clone()).join();
    assert!(matches!(died, Err(TaskError::Crashed { .. })), "{died:?}");
    assert!(
        sem.try_acquire().is_some(),
        "the dead holder's permit is free"
    );
}

pub fn queue_carries_items_between_processes() {
    let q = Queue::<u64>::with_capacity(4096).unwrap();
    for (place, pool) in pools(2) {
        let producer = pool.submit(produce, (q.clone(), 10_000));
        let consumer = pool.submit(consume, (q.clone(), 10_000));
        assert_eq!(producer.join(), Ok(10_000), "{place}");
        assert_eq!(consumer.join(), Ok((0..10_000).sum()), "{place}");
        assert_eq!(q.try_get().unwrap(), None, "{place}");
    }
}

pub fn pipe_is_two_way() {
    let (mine, theirs) = Pipe::<u64>::new().unwrap();
    for (place, pool) in pools(1) {
        let echo = pool.submit(echo_plus_one, (theirs.clone(), 100));
        for i in 0..100 {
            mine.send(&i).unwrap();
            assert_eq!(mine.recv().unwrap(), i + 1, "{place}");
        }
        assert_eq!(echo.join(), Ok(100), "{place}");
    }
}

pub fn a_handle_made_after_the_pool_started_is_refused() {
    let pool = fanout_tasks::processes(1).unwrap();
    let late = Counter::new().unwrap();
    let r = pool.submit(add_shared, (late, 1)).join();
    assert!(
        matches!(&r, Err(TaskError::Codec(m)) if m.contains("before the pool starts")),
        "{r:?}"
    );
}

/// Counts what an observer of the pool sees.
#[derive(Default, Clone)]
struct Seen(std::sync::Arc<std::sync::Mutex<(u64, u64, Vec<i32>)>>);

impl fanout_core::Observer for Seen {
    fn observe(&mut self, event: &mut fanout_core::Event<'_>) -> std::io::Result<()> {
        let mut s = self.0.lock().unwrap();
        match event {
            fanout_core::Event::Started { command, .. } => {
                assert!(command.ends_with(b"panics_on_three"));
                s.0 += 1;
            }
            fanout_core::Event::Finished(r) => {
                s.1 += 1;
                if !r.exit.success() {
                    assert!(!r.stderr.is_empty(), "the error is the stderr");
                    s.2.push(r.seq.0 as i32);
                }
            }
            _ => {}
        }
        Ok(())
    }
}

pub fn an_observer_sees_every_task_as_a_job() {
    use crate::tasks::panics_on_three;
    for place in ["threads", "processes"] {
        let seen = Seen::default();
        let b = if place == "threads" {
            Builder::threads(2)
        } else {
            Builder::processes(2)
        };
        let pool = b.observe(seen.clone()).start().unwrap();
        let got: Vec<_> = pool.map(panics_on_three, 0..6u64).collect();
        assert_eq!(got.len(), 6);
        drop(pool);
        let s = seen.0.lock().unwrap();
        // Task 3 (the fourth, job number 4) panicked.
        assert_eq!((s.0, s.1, s.2.clone()), (6, 6, vec![4]), "{place}");
    }
}
