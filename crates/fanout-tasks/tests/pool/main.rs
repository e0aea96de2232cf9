//! One suite for every pool: the same calls give the same results on
//! threads, on child processes and on broker workers; then what only
//! processes can do (a crash, a kill, a timeout fail one task and the pool
//! goes on), what only the broker does (a dead worker's tasks go to
//! another, a named run resumes), and sharing between processes. The child
//! processes and the workers are this test binary again, so it has its own
//! `main`, which calls `fanout_tasks::init()` first.

use std::time::{Duration, Instant};

use fanout_tasks::{Builder, Pool, TaskError};
use futures_util::StreamExt as _;

mod broker;
mod harness;
mod nats;
mod sharing;
mod tasks;
use tasks::*;

fn main() {
    fanout_tasks::init();
    nats::serve_if_worker();
    let mut t = harness::Tests::new();
    let cluster = nats::Broker::start(2, 2);
    for (place, pool) in [
        ("threads", fanout_tasks::threads(2)),
        ("processes", fanout_tasks::processes(2)),
        ("broker", fanout_tasks::broker(&cluster.url)),
    ] {
        let pool = pool.expect("the pool starts");
        t.run(
            &format!("{place}: map gives results in input order"),
            || map_in_order(&pool),
        );
        t.run(
            &format!("{place}: map_unordered gives every result"),
            || map_unordered_all(&pool),
        );
        t.run(&format!("{place}: submit, join and await"), || {
            submit_join_await(&pool)
        });
        t.run(
            &format!("{place}: map_async inside a tokio runtime"),
            || map_async_in_tokio(&pool),
        );
        t.run(&format!("{place}: a panic fails only its task"), || {
            panic_fails_only_its_task(&pool)
        });
        t.run(&format!("{place}: cancel before start"), || {
            cancel_before_start(&pool)
        });
        t.run(
            &format!("{place}: a tuple argument and a string result"),
            || tuple_and_string(&pool),
        );
    }
    t.run(
        "threads: memory stays flat over 3,000,000 inputs",
        map_memory_is_flat,
    );
    t.run(
        "processes: abort and segfault fail only their task",
        crashes_fail_only_their_task,
    );
    t.run(
        "processes: SIGKILL mid-task fails that task, the pool goes on",
        sigkill_mid_task,
    );
    t.run(
        "processes: a timeout kills the task's process group",
        timeout_kills_the_group,
    );
    t.run(
        "processes: retries run a failed task again",
        retries_run_again,
    );
    drop(cluster);
    for (name, check) in [
        (
            "a worker SIGKILLed mid-task: another finishes its tasks",
            broker::killed_worker_tasks_are_redelivered as fn(),
        ),
        (
            "a named run resumes without running its tasks again",
            broker::named_run_resumes,
        ),
        (
            "hostile messages are dropped, the run goes on",
            broker::hostile_messages_are_dropped,
        ),
        (
            "pools started together on a new broker all start",
            broker::pools_started_together_on_a_new_broker_all_start,
        ),
        (
            "an unreachable broker is an error at start",
            broker::unreachable_broker_fails_at_start,
        ),
        (
            "a distributed counter counts every add from three processes",
            broker::counter_counts_every_add_from_three_processes,
        ),
        (
            "a distributed lock excludes; a dead holder's lease runs out",
            broker::broker_lock_excludes_and_a_dead_holder_times_out,
        ),
    ] {
        t.run(&format!("broker: {name}"), check);
    }
    for (name, check) in [
        (
            "a shared counter sees every task",
            sharing::shared_counter_sees_every_task as fn(),
        ),
        (
            "a lock makes read-modify-write exact",
            sharing::lock_makes_read_modify_write_exact,
        ),
        (
            "a lock held by a killed process is released",
            sharing::lock_held_by_a_killed_process_is_released,
        ),
        (
            "a semaphore admits at most its permits",
            sharing::semaphore_admits_at_most_its_permits,
        ),
        (
            "a killed process's permit comes back",
            sharing::semaphore_permit_of_a_killed_process_comes_back,
        ),
        (
            "a queue carries items between processes",
            sharing::queue_carries_items_between_processes,
        ),
        ("a pipe is two-way", sharing::pipe_is_two_way),
        (
            "a handle made after the pool started is refused",
            sharing::a_handle_made_after_the_pool_started_is_refused,
        ),
        (
            "an observer sees every task as a job",
            sharing::an_observer_sees_every_task_as_a_job,
        ),
    ] {
        t.run(&format!("sharing: {name}"), check);
    }
    t.finish();
}

fn map_in_order(pool: &Pool) {
    let got: Vec<u64> = pool
        .map(add_one, 0..20_000u64)
        .map(Result::unwrap)
        .collect();
    assert_eq!(got, (1..=20_000).collect::<Vec<u64>>());
}

fn map_unordered_all(pool: &Pool) {
    let mut got: Vec<u64> = pool
        .map_unordered(add_one, 0..5_000u64)
        .map(Result::unwrap)
        .collect();
    got.sort_unstable();
    assert_eq!(got, (1..=5_000).collect::<Vec<u64>>());
}

fn submit_join_await(pool: &Pool) {
    assert_eq!(pool.submit(add_one, 41).join(), Ok(42));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let sum: u64 = rt.block_on(async {
        let handles: Vec<_> = (0..10).map(|i| pool.submit(add_one, i)).collect();
        let mut sum = 0;
        for h in handles {
            sum += h.await.unwrap();
        }
        sum
    });
    assert_eq!(sum, (1..=10).sum::<u64>());
}

fn map_async_in_tokio(pool: &Pool) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let got: Vec<u64> = rt.block_on(async {
        pool.map_async(add_one, 0..3_000u64)
            .map(Result::unwrap)
            .collect()
            .await
    });
    assert_eq!(got, (1..=3_000).collect::<Vec<u64>>());
}

fn panic_fails_only_its_task(pool: &Pool) {
    let got: Vec<Result<u64, TaskError>> = pool.map(panics_on_three, 0..6u64).collect();
    for (i, r) in got.iter().enumerate() {
        if i == 3 {
            assert!(
                matches!(r, Err(TaskError::Panicked { message }) if message == "three"),
                "{r:?}"
            );
        } else {
            assert_eq!(r, &Ok(i as u64));
        }
    }
}

fn cancel_before_start(pool: &Pool) {
    // Both workers busy, so the third task waits in the queue.
    let busy: Vec<_> = (0..pool.workers())
        .map(|_| pool.submit(sleep_ms, 300))
        .collect();
    let queued = pool.submit(sleep_ms, 0);
    queued.cancel();
    assert_eq!(queued.join(), Err(TaskError::Cancelled));
    for b in busy {
        assert_eq!(b.join(), Ok(300));
    }
}

fn tuple_and_string(pool: &Pool) {
    let got: Vec<String> = pool
        .map(describe, vec![(1, "a".to_string()), (2, "b".to_string())])
        .map(Result::unwrap)
        .collect();
    assert_eq!(got, ["1:a", "2:b"]);
}

fn map_memory_is_flat() {
    let pool = fanout_tasks::threads(2).unwrap();
    let mut early = 0;
    let mut n = 0u64;
    for r in pool.map(add_one, 0..3_000_000u64) {
        n += 1;
        assert_eq!(r.unwrap(), n);
        if n == 200_000 {
            early = harness::rss_kib();
        }
    }
    let late = harness::rss_kib();
    assert!(
        late <= early + 8 * 1024,
        "RSS {early} KiB at 200,000, {late} KiB at 3,000,000"
    );
}

fn crashes_fail_only_their_task() {
    let pool = fanout_tasks::processes(2).unwrap();
    let got: Vec<Result<u64, TaskError>> = pool.map(crashes_on, vec![0, 6, 1, 11, 2]).collect();
    assert_eq!(got[0], Ok(0));
    assert_eq!(
        got[1],
        Err(TaskError::Crashed {
            signal: Some(6),
            code: None
        })
    );
    assert_eq!(got[2], Ok(1));
    assert_eq!(
        got[3],
        Err(TaskError::Crashed {
            signal: Some(11),
            code: None
        })
    );
    assert_eq!(got[4], Ok(2));
    // The pool replaced the children and goes on.
    let after: Vec<u64> = pool.map(add_one, 0..100u64).map(Result::unwrap).collect();
    assert_eq!(after, (1..=100).collect::<Vec<u64>>());
}

fn sigkill_mid_task() {
    let pool = fanout_tasks::processes(2).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let pidfile = dir.join("pid");
    let victim = pool.submit(write_pid_then_sleep, pidfile.to_string_lossy().into_owned());
    let others = pool.map(add_one, 0..1000u64);
    let pid = harness::wait_for_pid(&pidfile);
    // SAFETY: kill(2) of the child that runs the task.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    assert_eq!(
        victim.join(),
        Err(TaskError::Crashed {
            signal: Some(9),
            code: None
        })
    );
    let others: Vec<u64> = others.map(Result::unwrap).collect();
    assert_eq!(others, (1..=1000).collect::<Vec<u64>>());
    assert_eq!(pool.submit(add_one, 1).join(), Ok(2));
}

fn timeout_kills_the_group() {
    let pool = Builder::processes(1)
        .timeout(Duration::from_millis(300))
        .start()
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let pidfile = dir.join("grandchild");
    let start = Instant::now();
    let got = pool
        .submit(
            spawn_sleeper_and_wait,
            pidfile.to_string_lossy().into_owned(),
        )
        .join();
    assert_eq!(got, Err(TaskError::TimedOut(Duration::from_millis(300))));
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "{:?}",
        start.elapsed()
    );
    let grandchild = harness::wait_for_pid(&pidfile);
    harness::wait_gone(grandchild);
    assert_eq!(pool.submit(add_one, 1).join(), Ok(2), "a new child serves");
}

fn retries_run_again() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let marker = dir.join("tried").to_string_lossy().into_owned();
    let once = Builder::processes(1).start().unwrap();
    assert!(matches!(
        once.submit(aborts_first_time, marker.clone()).join(),
        Err(TaskError::Crashed { .. })
    ));
    let _ = std::fs::remove_file(&marker);
    let retrying = Builder::processes(1).retries(1).start().unwrap();
    assert_eq!(retrying.submit(aborts_first_time, marker).join(), Ok(2));
}
