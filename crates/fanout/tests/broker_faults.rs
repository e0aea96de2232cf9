//! Faults of the broker itself: a nats-server SIGKILLed and restarted
//! mid-run, long jobs and the workers' prefetch, and a node of a
//! JetStream cluster lost mid-run. Real servers, real workers.

mod common;

use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

use common::cluster::{worker_in, Cluster};
use common::fanout;
use common::nats::{self, each_once, finished_ok, lines, start, wait_for, Nats, Worker};

/// The seqs of a job log's rows.
fn logged(log: &Path) -> Vec<String> {
    lines(log)
        .iter()
        .skip(1)
        .map(|r| r.split('\t').next().unwrap().to_owned())
        .collect()
}

/// How many executions `exec` (one seq per line, per execution) has
/// beyond one per job of 1..=n; every job must have run.
fn extra_executions(exec: &Path, n: usize) -> usize {
    let runs = lines(exec);
    let mut count = vec![0usize; n + 1];
    for r in &runs {
        count[r.trim().parse::<usize>().unwrap()] += 1;
    }
    assert!(count[1..].iter().all(|&c| c >= 1), "a job never ran");
    runs.len() - n
}

/// A signed coordinator (`broker` options) running jobs 1..=`n` that each
/// note their execution in `exec`, sleep `sleep` and print their seq, with
/// a job log at `log`.
fn start_noting(broker: &[&str], log: &Path, exec: &Path, sleep: &str, n: usize) -> Child {
    let job = format!("echo {{}} >> {}; sleep {sleep}; echo {{}}", exec.display());
    start(
        fanout(broker)
            .args(nats::coordinator_keys())
            .args(["--joblog", log.to_str().unwrap(), &job, ":::"])
            .args((1..=n).map(|i| i.to_string())),
    )
}

#[test]
fn a_broker_sigkill_reruns_only_jobs_in_flight() {
    // Before: nats-server 2.9 brings back job messages acked long before
    // the kill, and results (with the acks behind them) waited 10 s after
    // each restart: with kills a second apart, up to 3 in 10 jobs ran
    // twice (how many depends on what the server had written). Then jobs
    // whose results were stored but not yet taken in by the coordinator
    // were called undone and ran again: 36-56 against a bound of 48.
    const N: usize = 1500;
    const KILLS: usize = 3;
    const SLOTS: usize = 4;
    const PREFETCH: usize = 4;
    const WORKERS: usize = 2;
    let mut nats = Nats::start(&[]);
    let workers: Vec<Worker> = (0..WORKERS)
        .map(|_| Worker::start(&nats.url(), &["-j4", "--prefetch", "4"]))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let (log, exec) = (dir.path().join("log"), dir.path().join("exec"));
    let child = start_noting(&["--broker", &nats.url()], &log, &exec, "0.01", N);
    wait_for("jobs to run", || lines(&exec).len() >= N / 10);
    for _ in 0..KILLS {
        nats.restart_after(Duration::from_millis(300));
        // Paces the kills (a second of running between them), asserts
        // nothing.
        std::thread::sleep(Duration::from_secs(1));
    }
    each_once(&finished_ok(child), N);
    each_once(&logged(&log), N);
    // In flight at a kill: what the workers hold, slots and prefetch.
    // Jobs that ran but whose results the coordinator had not taken in
    // yet are not to run again: their results are stored or still being
    // sent, and the worker that ran them remembers them.
    let bound = (SLOTS + PREFETCH) * WORKERS * KILLS;
    let extra = extra_executions(&exec, N);
    eprintln!("{extra} extra executions; {bound} jobs in flight at the {KILLS} kills");
    assert!(
        extra <= bound,
        "{extra} executions beyond one per job, more than the {bound} jobs in flight at {KILLS} kills"
    );
    drop(workers);
}

#[test]
fn prefetch_does_not_pile_long_jobs_on_one_worker() {
    // Before: one worker took all 8 jobs (4 running, 4 prefetched) and
    // the run took two job lengths instead of one.
    let nats = Nats::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("worker-a"), dir.path().join("worker-b"));
    std::fs::create_dir(&a).unwrap();
    std::fs::create_dir(&b).unwrap();
    let _wa = worker_in(&a, &nats.url(), &["-j4"]);
    let _wb = worker_in(&b, &nats.url(), &["-j4"]);
    let events = dir.path().join("events");
    let job = format!(
        "echo start $(pwd) >> {0}; sleep 3; echo end >> {0}",
        events.display()
    );
    fanout(["--broker", &nats.url()])
        .args(nats::coordinator_keys())
        .args([job.as_str(), ":::"])
        .args((1..=8).map(|i| i.to_string()))
        .run()
        .code(0);
    let ev = lines(&events);
    assert_eq!(ev.len(), 16, "{ev:?}");
    let on = |w: &str| ev.iter().filter(|e| e.ends_with(w)).count();
    assert_eq!((on("/worker-a"), on("/worker-b")), (4, 4), "{ev:?}");
    // Nothing waited for another job to end: all 8 started first.
    assert!(ev[..8].iter().all(|e| e.starts_with("start ")), "{ev:?}");
}

#[test]
fn a_cluster_node_sigkilled_mid_run_loses_and_duplicates_nothing() {
    const N: usize = 300;
    let mut cluster = Cluster::start();
    // Every client knows two nodes, and node 1 is not the only one any
    // of them knows.
    let _w1 = Worker::start(&cluster.urls(&[1, 2]), &["-j4"]);
    let _w2 = Worker::start(&cluster.urls(&[2, 0]), &["-j4"]);
    let dir = tempfile::tempdir().unwrap();
    let (log, exec) = (dir.path().join("log"), dir.path().join("exec"));
    let began = Instant::now();
    let broker = cluster.urls(&[0, 1]);
    let child = start_noting(
        &["--broker", &broker, "--replicas", "3"],
        &log,
        &exec,
        "0.02",
        N,
    );
    wait_for("jobs to run", || lines(&exec).len() >= N / 3);
    let killed_at = began.elapsed();
    cluster.kill(1);
    each_once(&finished_ok(child), N);
    each_once(&logged(&log), N);
    let extra = extra_executions(&exec, N);
    eprintln!(
        "cluster: {N} jobs in {:.2} s (node killed at {:.2} s), {extra} executed twice",
        began.elapsed().as_secs_f64(),
        killed_at.as_secs_f64()
    );
}
