//! 100 threads depositing into one account: without a lock, deposits
//! that read the balance at the same time overwrite each other and the
//! total comes out wrong; with a [`fanout_tasks::Lock`] it is right — on
//! threads, and the same code on child processes.
//!
//!     cargo run --example bank

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use fanout_tasks::{Lock, Shared};

const DEPOSITS: u64 = 100;

fanout_tasks::task! {
    /// Deposits 1, DEPOSITS times, as read-then-write: racy without a lock.
    pub fn deposit((account, lock): (Shared<AtomicU64>, Option<Lock>)) -> u64 {
        for _ in 0..DEPOSITS {
            let _held = lock.as_ref().map(Lock::lock);
            let balance = account.load(Ordering::Relaxed);
            std::thread::sleep(Duration::from_micros(20)); // the bank's slow ledger
            account.store(balance + 1, Ordering::Relaxed);
        }
        DEPOSITS
    }
}

fn run(pool: &fanout_tasks::Pool, account: &Shared<AtomicU64>, lock: Option<Lock>, n: u64) -> u64 {
    account.store(0, Ordering::Relaxed);
    let args = std::iter::repeat_n((account.clone(), lock), n as usize);
    let done: u64 = pool.map_unordered(deposit, args).map(|r| r.unwrap()).sum();
    assert_eq!(done, n * DEPOSITS);
    account.load(Ordering::Relaxed)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    fanout_tasks::init();
    let account = Shared::<AtomicU64>::new()?;
    let lock = Lock::new()?;
    let threads = fanout_tasks::threads(100)?;
    let expected = 100 * DEPOSITS;
    let without = run(&threads, &account, None, 100);
    println!("100 threads without a lock: balance {without} (expected {expected})");
    let with = run(&threads, &account, Some(lock.clone()), 100);
    println!("100 threads with a lock: balance {with} (expected {expected})");
    let processes = fanout_tasks::processes(4)?;
    let across = run(&processes, &account, Some(lock), 20);
    println!(
        "4 processes with a lock: balance {across} (expected {})",
        20 * DEPOSITS
    );
    Ok(())
}
