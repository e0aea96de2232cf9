//! fanout's distributed mode over NATS JetStream.
//!
//! A *coordinator* ([`coordinate`]) publishes a run's jobs to a work-queue
//! stream and turns the results workers send back into the same events a
//! local run produces, recording each job's result once, by its sequence
//! number, however often JetStream redelivers it. A *worker* ([`work`])
//! pulls only as many jobs as it has free slots, runs them with the local
//! engine, keeps long jobs leased with progress heartbeats, and publishes
//! their results. [`status`] and [`cancel`] talk to a running coordinator
//! over request/reply. `docs/DISTRIBUTED.md` describes the protocol.

pub mod check;
mod connect;
mod control;
mod coordinator;
mod error;
pub mod names;
mod observe;
pub mod recheck;
pub mod schema;
mod streams;
pub mod trust;
pub mod warning;
mod worker;

pub use connect::BrokerOptions;
pub use control::{cancel, cancel_async, status, status_async, RunStatus};
pub use coordinator::{coordinate, coordinate_async, CoordinatorOptions};
pub use error::{Error, Result};
pub use observe::{observe, Seen};
pub use schema::RunSpec;
pub use trust::{keygen, SecretKey, TrustError, TrustedKeys};
pub use warning::{WarnTo, Warning};
pub use worker::{work, work_async, WorkerOptions};

/// The runtime the blocking entry points (`coordinate`, `work`, `status`,
/// `cancel`) run their async forms on: one thread, I/O and timers.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

/// Sleeps until `t`; forever without one (a `select!` branch that is off
/// until a deadline is set).
pub(crate) async fn sleep_until(t: Option<tokio::time::Instant>) {
    match t {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}
