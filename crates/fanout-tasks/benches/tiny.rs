//! Tiny tasks (`x -> x + 1`) through each pool, and the peers that live in
//! Rust (rayon's `par_iter`, a serial loop): prints one line per
//! measurement, `name tasks seconds tasks/s`, for `bench/tasks` to compare
//! with Python's pools measured in the same run.
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

fn main() {
    fanout_tasks::init();
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(2_000_000);
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
    ];
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
