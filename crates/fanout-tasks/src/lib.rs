//! fanout-tasks: Rust functions run in parallel on a pool of threads or
//! of child processes, with one API — Python's `multiprocessing.Pool` and
//! `concurrent.futures`, without pickling or a GIL.
//!
//! ```no_run
//! fanout_tasks::task! {
//!     /// Squares a number.
//!     pub fn square(x: u64) -> u64 { x * x }
//! }
//!
//! fn main() -> Result<(), fanout_tasks::PoolError> {
//!     fanout_tasks::init(); // first: a child process of the pool stops here
//!     let pool = fanout_tasks::processes(4)?;
//!     let squares: Vec<u64> = pool.map(square, 0..100).map(Result::unwrap).collect();
//!     assert_eq!(squares[9], 81);
//!     let later = pool.submit(square, 12);
//!     assert_eq!(later.join(), Ok(144));
//!     Ok(())
//! }
//! ```
//!
//! A task is a function of one serde argument to a serde result, declared
//! with [`task!`], which registers it under its module path and name: a
//! child process finds it by that name, never by its address. In a
//! process pool a task that panics, segfaults, aborts or is killed fails
//! alone ([`TaskError`]); the child is replaced and the other tasks go on.
//! See `docs/TASKS.md` for the map from Python's modules.

mod batch;
mod broker;
mod calls;
mod child;
mod error;
mod events;
mod handle;
mod map;
mod outcomes;
mod packed;
mod pool;
mod processes;
mod share;
mod task;
mod threads;
mod wire;
mod work;

pub use broker::{BrokerOptions, Counter, DistributedLock, StateError, Worker};
pub use child::init;
pub use error::{PoolError, TaskError};
pub use handle::Handle;
pub use map::{Map, MapStream};
pub use pool::{broker, processes, threads, Builder, Options, Place, Pool};
pub use share::{
    Condition, Lock, LockGuard, Permit, Pipe, Plain, Queue, Semaphore, ShareError, Shared,
};
#[doc(hidden)]
pub use task::Entry;
pub use task::Task;

#[doc(hidden)]
pub use inventory;
