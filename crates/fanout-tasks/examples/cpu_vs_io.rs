//! CPU-bound and I/O-bound tasks on threads and on processes, timed: 8
//! prime counts and 8 waits of 200 ms, each on a pool of 4 threads and a
//! pool of 4 processes. With no GIL both kinds scale on threads; processes
//! add only their start-up and the copying of arguments.
//!
//!     cargo run --release --example cpu_vs_io

use std::time::{Duration, Instant};

use fanout_tasks::Pool;

fanout_tasks::task! {
    /// How many primes are below `n` (trial division: all CPU).
    pub fn primes_below(n: u64) -> u64 {
        (2..n).filter(|&k| (2..).take_while(|d| d * d <= k).all(|d| k % d != 0)).count() as u64
    }
}

fanout_tasks::task! {
    /// Waits `ms` (all I/O: the CPU is idle).
    pub fn wait_ms(ms: u64) -> u64 {
        std::thread::sleep(Duration::from_millis(ms));
        ms
    }
}

fn timed(pool: &Pool, cpu: bool, n: u64) -> (f64, u64) {
    let t = Instant::now();
    let total: u64 = if cpu {
        pool.map(primes_below, vec![n; 8]).map(|r| r.unwrap()).sum()
    } else {
        pool.map(wait_ms, vec![200; 8]).map(|r| r.unwrap()).sum()
    };
    (t.elapsed().as_secs_f64(), total)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    fanout_tasks::init();
    let n: u64 = std::env::args().nth(1).map_or(Ok(200_000), |s| s.parse())?;
    let pools = [
        ("threads", fanout_tasks::threads(4)?),
        ("processes", fanout_tasks::processes(4)?),
    ];
    for (kind, cpu) in [("CPU-bound", true), ("I/O-bound", false)] {
        for (place, pool) in &pools {
            let (secs, total) = timed(pool, cpu, n);
            println!("{kind:9} on 4 {place:9}: {secs:.3} s (result {total})");
        }
    }
    Ok(())
}
