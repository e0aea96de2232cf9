//! The names a run uses on the broker: streams, subjects and consumers,
//! all derived from the run id.

use crate::{Error, Result};

/// The durable consumer all workers share on a run's job stream, named
/// after the run's incarnation (`RunSpec::epoch`): acks a worker still
/// sends for an earlier incarnation of the run id reach no consumer.
pub fn workers(epoch: crate::schema::Epoch) -> String {
    format!("workers-{epoch}")
}
/// Subject coordinators announce new runs on, so idle workers look now.
pub const ANNOUNCE: &str = "fanout.announce";
/// Subject workers send their heartbeats ([`crate::schema::WorkerBeat`]) on.
pub const WORKERS: &str = "fanout.workers";
/// Prefix and suffix of job stream names (`FANOUT_<run>_JOBS`).
pub const JOBS_PREFIX: &str = "FANOUT_";
/// See [`JOBS_PREFIX`].
pub const JOBS_SUFFIX: &str = "_JOBS";

/// Every name of one run.
#[derive(Debug, Clone)]
pub struct Names {
    /// The run id.
    pub run: String,
    /// The work-queue stream of jobs.
    pub jobs_stream: String,
    /// Its one subject.
    pub jobs: String,
    /// The stream of results, output chunks, the spec and the state.
    pub results_stream: String,
    /// Result batches.
    pub results: String,
    /// Output chunks of big results.
    pub chunks: String,
    /// Workers' refusals to serve the run.
    pub refused: String,
    /// Filter for both of the above.
    pub results_all: String,
    /// The run's spec (how workers build commands).
    pub spec: String,
    /// The run's state (running, halting).
    pub state: String,
    /// Request/reply: status and cancel.
    pub ctl: String,
    /// Broadcast to workers: stop (halt) the run.
    pub stop: String,
    /// Request/reply: which jobs are done (see `recheck`).
    pub done: String,
}

impl Names {
    /// The names of run `run`, checked.
    pub fn new(run: &str) -> Result<Names> {
        check_run_id(run)?;
        let p = format!("fanout.{run}");
        Ok(Names {
            run: run.to_owned(),
            jobs_stream: format!("{JOBS_PREFIX}{run}{JOBS_SUFFIX}"),
            jobs: format!("{p}.jobs"),
            results_stream: format!("{JOBS_PREFIX}{run}_RESULTS"),
            results: format!("{p}.r.res"),
            chunks: format!("{p}.r.out"),
            refused: format!("{p}.r.refused"),
            results_all: format!("{p}.r.>"),
            spec: format!("{p}.spec"),
            state: format!("{p}.state"),
            ctl: format!("{p}.ctl"),
            stop: format!("{p}.stop"),
            done: format!("{p}.done"),
        })
    }

    /// The run id of a job stream's name, if it is one.
    pub fn run_of_stream(stream: &str) -> Option<&str> {
        stream
            .strip_prefix(JOBS_PREFIX)?
            .strip_suffix(JOBS_SUFFIX)
            .filter(|r| check_run_id(r).is_ok())
    }
}

/// Run ids are 1 to 32 of `A-Za-z0-9_-`, so they are safe in subjects and
/// stream names.
pub fn check_run_id(run: &str) -> Result<()> {
    let ok = (1..=32).contains(&run.len())
        && run
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(Error::RunId(run.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_are_checked() {
        assert!(Names::new("abc_1-2").is_ok());
        for bad in ["", "a.b", "a b", "a*", "a>", &"x".repeat(33)] {
            assert!(Names::new(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn stream_names_give_back_the_run() {
        let n = Names::new("r1").unwrap();
        assert_eq!(Names::run_of_stream(&n.jobs_stream), Some("r1"));
        assert_eq!(Names::run_of_stream(&n.results_stream), None);
        assert_eq!(Names::run_of_stream("OTHER"), None);
    }
}
