//! What only the broker pool does: a killed worker's tasks go to another,
//! a named run resumes from the results stream, and messages that are not
//! ours are dropped without stopping anything.

use std::time::{Duration, Instant};

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

pub fn named_run_resumes() {
    let mut b = Broker::start(1, 2);
    let first: Vec<u64> = Builder::broker(&b.url)
        .run_name("resume-me")
        .start()
        .unwrap()
        .map(add_one, 0..2_000u64)
        .map(Result::unwrap)
        .collect();
    assert_eq!(first, (1..=2_000).collect::<Vec<u64>>());
    // No worker left: only the stored results can answer.
    b.kill_worker(0);
    let start = Instant::now();
    let again: Vec<u64> = Builder::broker(&b.url)
        .run_name("resume-me")
        .start()
        .unwrap()
        .map(add_one, 0..2_000u64)
        .map(Result::unwrap)
        .collect();
    assert_eq!(again, first);
    assert!(start.elapsed() < Duration::from_secs(60));
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

pub fn unreachable_broker_fails_at_start() {
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("nats://{}", free.local_addr().unwrap());
    drop(free);
    let e = fanout_tasks::broker(&url).err().expect("no broker there");
    assert!(matches!(e, PoolError::Broker { .. }), "{e}");
}
