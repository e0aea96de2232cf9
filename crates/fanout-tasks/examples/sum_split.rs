//! Summing 1..=N (100,000,000 by default) split over P processes (2 by
//! default), against one loop in this process.
//!
//!     cargo run --release --example sum_split [P] [N]

use std::time::Instant;

fanout_tasks::task! {
    /// The sum of `from..=to`.
    pub fn sum_range((from, to): (u64, u64)) -> u64 {
        let mut s = 0u64;
        for i in from..=to {
            s = s.wrapping_add(std::hint::black_box(i));
        }
        s
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    fanout_tasks::init();
    let mut args = std::env::args().skip(1);
    let p: u64 = args.next().map_or(Ok(2), |s| s.parse())?;
    let n: u64 = args.next().map_or(Ok(100_000_000), |s| s.parse())?;

    let t = Instant::now();
    let serial = sum_range.call((1, n));
    let serial_time = t.elapsed().as_secs_f64();

    let pool = fanout_tasks::processes(p as usize)?;
    let t = Instant::now();
    let chunk = n.div_ceil(p);
    let parts = (0..p).map(|i| (i * chunk + 1, ((i + 1) * chunk).min(n)));
    let split: u64 = pool
        .map(sum_range, parts.collect::<Vec<_>>())
        .map(|r| r.unwrap())
        .sum();
    let split_time = t.elapsed().as_secs_f64();

    println!("serial: {serial} in {serial_time:.3} s");
    println!(
        "{p} processes: {split} in {split_time:.3} s ({:.2}x)",
        serial_time / split_time
    );
    println!("expected: {}", n * (n + 1) / 2);
    Ok(())
}
