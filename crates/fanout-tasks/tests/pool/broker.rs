//! What only the broker pool does: a killed worker's tasks go to another,
//! a named run resumes from the results stream, and messages that are not
//! ours are dropped without stopping anything.

use std::time::Duration;

use fanout_tasks::{Builder, PoolError};

use crate::nats::Broker;
use crate::tasks::{add_one, sleep_ms};

pub fn killed_worker_tasks_are_redelivered() {
    let mut b = Broker::start(2, 1);
    let pool = Builder::broker(&b.url)
        .lease(Duration::from_secs(2))
        .start()
        .unwrap();
    let handles: Vec<_> = (0..6).map(|_| pool.submit(sleep_ms, 700)).collect();
    std::thread::sleep(Duration::from_millis(400));
    b.kill_worker(0);
    b.add_worker(1);
    for h in handles {
        assert_eq!(h.join(), Ok(700));
    }
}

/// Runs `f`, failing instead of hanging if it has not returned in `limit`
/// (a guard against a deadlock, not a measurement).
fn or_hang<R: Send + 'static>(limit: Duration, f: impl FnOnce() -> R + Send + 'static) -> R {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(f()));
    rx.recv_timeout(limit).expect("hung")
}

/// `add_one` over 0..2,000 as the broker run `name`.
fn run_named(url: &str, name: &str) -> Vec<u64> {
    Builder::broker(url)
        .run_name(name)
        .start()
        .unwrap()
        .map(add_one, 0..2_000u64)
        .map(Result::unwrap)
        .collect()
}

pub fn named_run_resumes() {
    let mut b = Broker::start(1, 2);
    let first = run_named(&b.url, "resume-me");
    assert_eq!(first, (1..=2_000).collect::<Vec<u64>>());
    // No worker left: only the stored results can answer.
    b.kill_worker(0);
    let url = b.url.clone();
    let again = or_hang(Duration::from_secs(60), move || {
        run_named(&url, "resume-me")
    });
    assert_eq!(again, first);
}

pub fn hostile_messages_are_dropped() {
    let b = Broker::start(1, 2);
    let pool = fanout_tasks::broker(&b.url).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let c = async_nats::connect(&b.url).await.unwrap();
        let js = async_nats::jetstream::new(c);
        for (subject, body) in [
            ("ftasks.jobs.x", &b"\x01garbage"[..]),
            ("ftasks.jobs.x", &[0xff; 64][..]),
            ("ftasks.jobs.x", &[][..]),
        ] {
            js.publish(subject, body.into())
                .await
                .unwrap()
                .await
                .unwrap();
        }
    });
    let got: Vec<u64> = pool.map(add_one, 0..500u64).map(Result::unwrap).collect();
    assert_eq!(got, (1..=500).collect::<Vec<u64>>());
}

/// Regression: a pool and its workers started together on a new broker
/// raced to create the streams, and nats-server refused the loser with
/// "subjects overlap with an existing stream" (the broker_queue example
/// failed so in CI).
pub fn pools_started_together_on_a_new_broker_all_start() {
    for _ in 0..3 {
        let b = Broker::start(0, 1);
        let starts: Vec<_> = (0..16)
            .map(|_| {
                let url = b.url.clone();
                std::thread::spawn(move || fanout_tasks::broker(&url).map(drop))
            })
            .collect();
        for s in starts {
            s.join().unwrap().expect("every pool starts");
        }
    }
}

pub fn unreachable_broker_fails_at_start() {
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("nats://{}", free.local_addr().unwrap());
    drop(free);
    let e = fanout_tasks::broker(&url).err().expect("no broker there");
    assert!(matches!(e, PoolError::Broker { .. }), "{e}");
}

fanout_tasks::task! {
    /// Adds 1 to the broker counter `name`, `n` times.
    pub fn count_up((url, name, n): (String, String, u64)) -> i64 {
        let c = fanout_tasks::Counter::open(&url, &name).unwrap();
        (0..n).map(|_| c.add(1).unwrap()).max().unwrap_or(0)
    }
}

fanout_tasks::task! {
    /// Under the broker lock: a slow read-modify-write of a shared value.
    pub fn locked_increments((url, v, n): (String, fanout_tasks::Shared<std::sync::atomic::AtomicU64>, u64)) -> u64 {
        use std::sync::atomic::Ordering;
        let lock = fanout_tasks::DistributedLock::with_lease(&url, "bank", Duration::from_secs(1)).unwrap();
        for _ in 0..n {
            lock.lock().unwrap();
            let x = v.load(Ordering::Relaxed);
            std::thread::sleep(Duration::from_millis(1));
            v.store(x + 1, Ordering::Relaxed);
            lock.unlock().unwrap();
        }
        n
    }
}

fanout_tasks::task! {
    /// Takes the broker lock and dies holding it.
    pub fn die_holding_broker_lock(url: String) -> u64 {
        let lock = fanout_tasks::DistributedLock::with_lease(&url, "dead", Duration::from_secs(1)).unwrap();
        lock.lock().unwrap();
        // SAFETY: kill(2) on this process itself.
        unsafe { libc::kill(libc::getpid(), libc::SIGKILL) };
        0
    }
}

pub fn counter_counts_every_add_from_three_processes() {
    let b = Broker::start(0, 1);
    let pool = fanout_tasks::processes(3).unwrap();
    let arg = (b.url.clone(), "hits".to_string(), 100);
    let ok = pool
        .map(count_up, vec![arg.clone(), arg.clone(), arg])
        .all(|r| r.is_ok());
    assert!(ok);
    let c = fanout_tasks::Counter::open(&b.url, "hits").unwrap();
    assert_eq!(c.get().unwrap(), 300);
}

pub fn broker_lock_excludes_and_a_dead_holder_times_out() {
    use std::sync::atomic::Ordering;
    let b = Broker::start(0, 1);
    let v = fanout_tasks::Shared::<std::sync::atomic::AtomicU64>::new().unwrap();
    let pool = fanout_tasks::processes(3).unwrap();
    let arg = (b.url.clone(), v.clone(), 20);
    let ok = (pool.map(locked_increments, vec![arg.clone(), arg.clone(), arg])).all(|r| r.is_ok());
    assert!(ok);
    assert_eq!(v.load(Ordering::Relaxed), 60);
    let died = pool.submit(die_holding_broker_lock, b.url.clone()).join();
    assert!(died.is_err(), "{died:?}");
    let lock =
        fanout_tasks::DistributedLock::with_lease(&b.url, "dead", Duration::from_secs(1)).unwrap();
    assert!(
        !lock.try_lock().unwrap(),
        "held by the dead process until its lease ends"
    );
    // Once the dead holder's lease runs out the lock is free (were it not,
    // lock() would wait for ever).
    or_hang(Duration::from_secs(60), move || lock.lock().unwrap());
}
