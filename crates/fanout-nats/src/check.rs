//! Checks on what comes off the wire, before any of it is used: a broker
//! message is untrusted input. Every number that becomes a duration, a
//! count or a slot is kept in range, and a job message may not name one
//! job twice, so no message, however crafted, can make a worker or a
//! coordinator panic or mix two jobs up.

use std::collections::HashSet;
use std::time::Duration;

use crate::schema::{Bytes, JobMsg, RunSpec, WireExit, WireResult, WireTimeout};

/// `--timeout` in seconds at most (about 31 years).
const MAX_TIMEOUT_SECS: f64 = 1e9;
/// `--retries` at most.
const MAX_RETRIES: u32 = 1_000_000;
/// Jobs in one message at most (the coordinator packs at most 64).
const MAX_PACK: usize = 4096;
/// Slots of a worker at most.
const MAX_SLOT: u32 = 1 << 20;

/// What makes a message unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Invalid {
    /// A field is out of its range.
    #[error("{field} out of range: {value}")]
    Range {
        /// The field.
        field: &'static str,
        /// Its value, as received.
        value: String,
    },
    /// A job message names a job twice.
    #[error("job {0} appears twice in one message")]
    DuplicateSeq(u64),
    /// A job message has no jobs.
    #[error("a job message without jobs")]
    NoJobs,
}

fn range(field: &'static str, value: impl std::fmt::Display) -> Invalid {
    Invalid::Range {
        field,
        value: value.to_string(),
    }
}

/// The `--timeout` a spec asks for, checked.
pub fn timeout(t: WireTimeout) -> Result<fanout_core::Timeout, Invalid> {
    match t {
        WireTimeout::Secs(s) if s.is_finite() && s > 0.0 && s <= MAX_TIMEOUT_SECS => {
            Duration::try_from_secs_f64(s)
                .map(fanout_core::Timeout::Fixed)
                .map_err(|_| range("timeout", s))
        }
        WireTimeout::Median(f) if f.is_finite() && f > 0.0 && f <= 1e6 => {
            Ok(fanout_core::Timeout::Median(f))
        }
        WireTimeout::Secs(v) | WireTimeout::Median(v) => Err(range("timeout", v)),
    }
}

/// Checks a run spec's numbers.
pub fn spec(s: &RunSpec) -> Result<(), Invalid> {
    if let Some(t) = s.timeout {
        timeout(t)?;
    }
    if s.retries > MAX_RETRIES {
        return Err(range("retries", s.retries));
    }
    if !(1..=10_000).contains(&s.max_deliveries) {
        return Err(range("max_deliveries", s.max_deliveries));
    }
    if !(1_000..=86_400_000).contains(&s.ack_wait_ms) {
        return Err(range("ack_wait_ms", s.ack_wait_ms));
    }
    if s.replace.0.is_empty() {
        return Err(range("replace", "\"\""));
    }
    env(&s.env)
}

/// `--env` variables: a name is a shell word without `=` or NUL, a value
/// holds no NUL (neither could be passed to `execve`); a few thousand at
/// most, a megabyte in all.
fn env(vars: &[(Bytes, Bytes)]) -> Result<(), Invalid> {
    const MAX_VARS: usize = 4096;
    const MAX_BYTES: usize = 1 << 20;
    if vars.len() > MAX_VARS {
        return Err(range("env", vars.len()));
    }
    let size: usize = vars.iter().map(|(k, v)| k.0.len() + v.0.len()).sum();
    if size > MAX_BYTES {
        return Err(range("env", format!("{size} bytes")));
    }
    for (k, v) in vars {
        let name_ok = !k.0.is_empty() && !k.0.iter().any(|&b| b == b'=' || b == 0);
        if !name_ok || v.0.contains(&0) {
            return Err(range("env", String::from_utf8_lossy(&k.0).into_owned()));
        }
    }
    Ok(())
}

/// Checks a job message: some jobs, each seq once and at least 1.
pub fn jobs(m: &JobMsg) -> Result<(), Invalid> {
    if m.jobs.is_empty() {
        return Err(Invalid::NoJobs);
    }
    if m.jobs.len() > MAX_PACK {
        return Err(range("jobs", m.jobs.len()));
    }
    let mut seen = HashSet::with_capacity(m.jobs.len());
    for j in &m.jobs {
        if j.seq == 0 {
            return Err(range("seq", 0));
        }
        if !seen.insert(j.seq) {
            return Err(Invalid::DuplicateSeq(j.seq));
        }
    }
    Ok(())
}

/// Checks one result's numbers.
pub fn result(r: &WireResult) -> Result<(), Invalid> {
    if !(1..=MAX_SLOT).contains(&r.slot) {
        return Err(range("slot", r.slot));
    }
    if r.attempt > MAX_RETRIES {
        return Err(range("attempt", r.attempt));
    }
    match r.exit {
        WireExit::Code(c) if !(0..=255).contains(&c) => Err(range("exit code", c)),
        WireExit::Signal(s) if !(1..=64).contains(&s) => Err(range("signal", s)),
        WireExit::SpawnFailed(e) if !(1..=4095).contains(&e) => Err(range("os error", e)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{Bytes, WireJob};

    fn spec_with(timeout: Option<WireTimeout>) -> RunSpec {
        RunSpec {
            env: Vec::new(),
            v: crate::schema::VERSION,
            epoch: crate::schema::Epoch(1),
            command: vec![Bytes(b"echo".to_vec())],
            replace: Bytes(b"{}".to_vec()),
            quote_command: false,
            header: vec![],
            append_missing: true,
            context: false,
            retries: 0,
            timeout,
            max_deliveries: 5,
            ack_wait_ms: 30_000,
        }
    }

    #[test]
    fn a_timeout_of_1e300_seconds_is_refused_not_a_panic() {
        for bad in [1e300, f64::INFINITY, f64::NAN, -1.0, 0.0, 1.8e19] {
            let s = spec_with(Some(WireTimeout::Secs(bad)));
            assert!(spec(&s).is_err(), "{bad}");
            let m = spec_with(Some(WireTimeout::Median(bad)));
            assert!(spec(&m).is_err(), "{bad}");
        }
        assert!(spec(&spec_with(Some(WireTimeout::Secs(1.5)))).is_ok());
        assert!(spec(&spec_with(None)).is_ok());
    }

    #[test]
    fn two_jobs_with_one_seq_in_a_message_are_refused() {
        let job = |seq| WireJob {
            seq,
            records: vec![vec![Bytes(b"a".to_vec())]],
        };
        let m = JobMsg {
            v: 2,
            epoch: crate::schema::Epoch(1),
            jobs: vec![job(1), job(2), job(1)],
        };
        assert_eq!(jobs(&m), Err(Invalid::DuplicateSeq(1)));
        let empty = JobMsg {
            v: 2,
            epoch: crate::schema::Epoch(1),
            jobs: vec![],
        };
        assert_eq!(jobs(&empty), Err(Invalid::NoJobs));
    }
}
