//! Tiny tasks (`x -> x + 1`) through each pool, and the peers that live in
//! Rust (rayon's `par_iter`, procspawn's pool, a serial loop): prints one
//! line per measurement, `name tasks seconds tasks/s`, for `bench/tasks` to
//! compare with Python's pools measured in the same run. With `NATS_URL`
//! set, also through the broker with two local workers (this program
//! again, started with `--worker URL`).
//!
//!   cargo bench -p fanout-tasks --bench tiny -- [N]

use std::time::Instant;

use rayon::prelude::*;

fanout_tasks::task! {
    /// The tiny task.
    pub fn add_one(x: u64) -> u64 { x + 1 }
}

fanout_tasks::task! {
    /// Sums `from..to`: one share of the split sum.
    pub fn sum_range((from, to): (u64, u64)) -> u64 {
        (from..to).fold(0u64, |s, x| s.wrapping_add(std::hint::black_box(x)))
    }
}

/// Runs each measurement `ROUNDS` times, interleaved, and prints the
/// median of each: `name tasks seconds tasks/s`.
const ROUNDS: usize = 5;

/// procspawn gets fewer tasks: each is a message of its own.
const PROCSPAWN_TASKS: u64 = 20_000;

/// Kills the broker workers when the bench ends.
struct Workers(Vec<std::process::Child>);

impl Drop for Workers {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn main() {
    procspawn::init();
    fanout_tasks::init();
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    if args.first().map(String::as_str) == Some("--worker") {
        let e = fanout_tasks::Worker::new(&args[1]).slots(1).run();
        panic!("worker ended: {e:?}");
    }
    let n: u64 = args
        .first()
        .and_then(|a| a.parse().ok())
        .unwrap_or(2_000_000);
    let url = std::env::var("NATS_URL").ok();
    let _workers = Workers(
        (url.iter().flat_map(|u| [u, u]))
            .map(|u| {
                std::process::Command::new(std::env::current_exe().unwrap())
                    .args(["--worker", u])
                    .spawn()
                    .expect("start a worker")
            })
            .collect(),
    );
    let broker = url.map(|u| {
        fanout_tasks::Builder::broker(u)
            .in_flight(4)
            .start()
            .expect("broker pool")
    });
    let spawner = procspawn::Pool::new(2).expect("procspawn pool");
    let procs = fanout_tasks::processes(2).expect("process pool");
    let threads = fanout_tasks::threads(2).expect("thread pool");
    let rayon = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    let expect = n * (n + 1) / 2;
    let top = 100_000_001u64;
    let half = top / 2;
    let serial_sum = sum_range.call((1, top));
    type Run<'a> = Box<dyn Fn() + 'a>;
    let runs: Vec<(&str, u64, Run)> = vec![
        (
            "fanout-tasks-processes",
            n,
            Box::new(|| {
                let s: u64 = procs.map(add_one, 0..n).map(Result::unwrap).sum();
                assert_eq!(s, expect);
            }),
        ),
        (
            "fanout-tasks-threads",
            n,
            Box::new(|| {
                let s: u64 = threads.map(add_one, 0..n).map(Result::unwrap).sum();
                assert_eq!(s, expect);
            }),
        ),
        (
            "rayon-par_iter",
            n,
            Box::new(|| {
                let v: Vec<u64> =
                    rayon.install(|| (0..n).into_par_iter().map(|x| add_one.call(x)).collect());
                assert_eq!(v.iter().sum::<u64>(), expect);
            }),
        ),
        (
            "sum-serial",
            top - 1,
            Box::new(|| {
                assert_eq!(sum_range.call((1, top)), serial_sum);
            }),
        ),
        (
            "sum-split-processes",
            top - 1,
            Box::new(|| {
                let s: u64 = procs
                    .map(sum_range, [(1, half), (half, top)])
                    .map(Result::unwrap)
                    .sum();
                assert_eq!(s, serial_sum);
            }),
        ),
        (
            // The machine's own limit for the split: two bare threads.
            "sum-split-std-threads",
            top - 1,
            Box::new(|| {
                let s = std::thread::scope(|sc| {
                    let other = sc.spawn(|| sum_range.call((half, top)));
                    sum_range.call((1, half)) + other.join().unwrap()
                });
                assert_eq!(s, serial_sum);
            }),
        ),
        (
            "procspawn-pool",
            PROCSPAWN_TASKS,
            Box::new(|| {
                // Each waiting handle holds fds of its own: 250 at a time.
                let mut s = 0u64;
                for chunk in (0..PROCSPAWN_TASKS).collect::<Vec<_>>().chunks(250) {
                    let handles: Vec<_> = (chunk.iter())
                        .map(|&x| spawner.spawn(x, |x: u64| x + 1))
                        .collect();
                    s += handles.into_iter().map(|h| h.join().unwrap()).sum::<u64>();
                }
                assert_eq!(s, PROCSPAWN_TASKS * (PROCSPAWN_TASKS + 1) / 2);
            }),
        ),
    ];
    let mut runs = runs;
    if let Some(pool) = &broker {
        runs.push((
            "fanout-tasks-broker-2-workers",
            n,
            Box::new(move || {
                let s: u64 = pool.map(add_one, 0..n).map(Result::unwrap).sum();
                assert_eq!(s, expect);
            }),
        ));
    }
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); runs.len()];
    for _ in 0..ROUNDS {
        for (i, (_, _, run)) in runs.iter().enumerate() {
            let start = Instant::now();
            run();
            times[i].push(start.elapsed().as_secs_f64());
        }
    }
    for ((name, tasks, _), mut t) in runs.iter().zip(times) {
        t.sort_by(f64::total_cmp);
        let median = t[t.len() / 2];
        println!("{name} {tasks} {median:.4} {:.0}", *tasks as f64 / median);
    }
}
