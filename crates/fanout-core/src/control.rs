//! Job control settings, as GNU parallel names them: `--retries`,
//! `--timeout`, `--halt`, `--delay`, `--load` and `--memfree`, with their
//! parsers. The engine applies them (see `engine::policy`).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::units::parse_duration;

/// How a run treats failing, slow and resource-hungry jobs.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct JobControl {
    /// `--retries N`: a failing job is run up to N times in all (1 = no
    /// retry; 0 = until it succeeds, as GNU parallel reads 0).
    pub retries: u32,
    /// `--timeout`: jobs running longer are killed by the term sequence.
    pub timeout: Option<Timeout>,
    /// `--halt`: when to stop the run early.
    pub halt: Option<Halt>,
    /// `--delay`: at least this long between two job starts.
    pub delay: Duration,
    /// `--load`: start no job while this many processes are runnable.
    pub max_load: Option<f64>,
    /// `--memfree`: start no job while less memory than this (bytes) is
    /// free; below half of it, kill the youngest job and run it again later.
    pub memfree: Option<u64>,
    /// `--noswap`: start no job while the machine swaps both in and out.
    pub noswap: bool,
    /// Where free memory is read from: `/proc/meminfo` (a test can point
    /// this at a file it controls).
    pub meminfo: std::path::PathBuf,
}

impl Default for JobControl {
    fn default() -> Self {
        JobControl {
            retries: 1,
            timeout: None,
            halt: None,
            delay: Duration::ZERO,
            max_load: None,
            memfree: None,
            noswap: false,
            meminfo: "/proc/meminfo".into(),
        }
    }
}

/// `--timeout`: a fixed time, or a share of the median runtime of the jobs
/// that succeeded so far.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Timeout {
    /// Kill a job that runs longer than this.
    Fixed(Duration),
    /// Kill a job that runs longer than this fraction (2.0 for `200%`) of
    /// the median runtime of succeeded jobs; none is killed before one job
    /// has succeeded.
    Median(f64),
}

impl FromStr for Timeout {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad =
            || format!("invalid --timeout `{s}`: use seconds, a duration such as 1h30m, or N%");
        if let Some(pct) = s.strip_suffix('%') {
            let p: f64 = pct.parse().map_err(|_| bad())?;
            return (p > 0.0 && p.is_finite())
                .then_some(Timeout::Median(p / 100.0))
                .ok_or_else(bad);
        }
        match parse_duration(s) {
            Some(d) if !d.is_zero() => Ok(Timeout::Fixed(d)),
            _ => Err(bad()),
        }
    }
}

/// `--halt`: stop the run when enough jobs failed, succeeded or ended.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Halt {
    /// Kill running jobs (`now`) or let them finish (`soon`).
    pub when: HaltWhen,
    /// Which jobs count.
    pub on: HaltOn,
    /// How many must have counted.
    pub threshold: Threshold,
}

/// How a halting run treats the jobs still running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HaltWhen {
    /// Kill them (with the term sequence) and stop at once.
    Now,
    /// Start no new jobs; wait for the running ones.
    Soon,
}

/// Which finished jobs count towards the halt threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HaltOn {
    /// Failed jobs.
    Fail,
    /// Succeeded jobs.
    Success,
    /// Every finished job.
    Done,
}

/// A number of jobs, or a share of all jobs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Threshold {
    /// This many jobs.
    Count(u64),
    /// This fraction (0.1 for `10%`) of all jobs of the run.
    Percent(f64),
}

impl FromStr for Halt {
    type Err = String;

    /// Parses GNU parallel's forms: `never` (gives an error here; use
    /// `Option<Halt>`), `now|soon,fail|success|done=N|N%`, `N%`, and the
    /// legacy numbers 1, 2, -1, -2.
    fn from_str(s: &str) -> Result<Self, String> {
        let expanded = match s {
            "1" => "soon,fail=1".to_string(),
            "2" => "now,fail=1".to_string(),
            "-1" => "soon,success=1".to_string(),
            "-2" => "now,success=1".to_string(),
            p if p.ends_with('%') && p[..p.len() - 1].bytes().all(|b| b.is_ascii_digit()) => {
                format!("soon,fail={p}")
            }
            other => other.to_string(),
        };
        let mut parts = expanded.split([',', '=']);
        let when = match parts.next() {
            Some("now") => HaltWhen::Now,
            Some("soon") => HaltWhen::Soon,
            _ => return Err("--halt must have 'never', 'soon', or 'now'.".into()),
        };
        let w = if when == HaltWhen::Now { "now" } else { "soon" };
        let (on, name) = match parts.next() {
            Some("fail") => (HaltOn::Fail, "fail"),
            Some("success") => (HaltOn::Success, "success"),
            Some("done") => (HaltOn::Done, "done"),
            _ => return Err(format!("--halt {w} must be followed by ,success or ,fail.")),
        };
        let bad = || format!("--halt {w},{name} must be followed by ,number or ,percent%.");
        let n = parts.next().ok_or_else(bad)?;
        if parts.next().is_some() {
            return Err(bad());
        }
        let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
        let threshold = match n.strip_suffix('%') {
            Some(p) if digits(p) => {
                Threshold::Percent(p.parse::<f64>().map_err(|_| bad())? / 100.0)
            }
            None if digits(n) => Threshold::Count(n.parse().map_err(|_| bad())?),
            _ => return Err(bad()),
        };
        Ok(Halt {
            when,
            on,
            threshold,
        })
    }
}

/// Parses `--halt` including `never` and `0`, which mean no halt.
pub fn parse_halt(s: &str) -> Result<Option<Halt>, String> {
    match s {
        "never" | "0" => Ok(None),
        s if s.starts_with("never,") => Ok(None),
        s => s.parse().map(Some),
    }
}

impl fmt::Display for HaltWhen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HaltWhen::Now => "now",
            HaltWhen::Soon => "soon",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn halt(s: &str) -> Halt {
        s.parse().unwrap()
    }

    #[test]
    fn halt_reads_every_gnu_form() {
        let h = |when, on, threshold| Halt {
            when,
            on,
            threshold,
        };
        use HaltOn::*;
        use HaltWhen::*;
        assert_eq!(halt("now,fail=1"), h(Now, Fail, Threshold::Count(1)));
        assert_eq!(
            halt("soon,success=3"),
            h(Soon, Success, Threshold::Count(3))
        );
        assert_eq!(halt("now,done=50%"), h(Now, Done, Threshold::Percent(0.5)));
        assert_eq!(halt("1"), h(Soon, Fail, Threshold::Count(1)));
        assert_eq!(halt("2"), h(Now, Fail, Threshold::Count(1)));
        assert_eq!(halt("-1"), h(Soon, Success, Threshold::Count(1)));
        assert_eq!(halt("-2"), h(Now, Success, Threshold::Count(1)));
        assert_eq!(halt("20%"), h(Soon, Fail, Threshold::Percent(0.2)));
        assert_eq!(parse_halt("never"), Ok(None));
        assert_eq!(parse_halt("0"), Ok(None));
    }

    #[test]
    fn bad_halt_values_say_what_is_wrong() {
        for (s, msg) in [
            ("foo", "--halt must have 'never', 'soon', or 'now'."),
            ("now", "--halt now must be followed by ,success or ,fail."),
            (
                "now,oops=1",
                "--halt now must be followed by ,success or ,fail.",
            ),
            (
                "soon,fail",
                "--halt soon,fail must be followed by ,number or ,percent%.",
            ),
            (
                "soon,fail=x",
                "--halt soon,fail must be followed by ,number or ,percent%.",
            ),
            (
                "now,fail=-1",
                "--halt now,fail must be followed by ,number or ,percent%.",
            ),
        ] {
            assert_eq!(s.parse::<Halt>().unwrap_err(), msg, "{s}");
        }
    }

    #[test]
    fn timeouts_are_durations_or_percentages() {
        assert_eq!("2".parse(), Ok(Timeout::Fixed(Duration::from_secs(2))));
        assert_eq!("1m".parse(), Ok(Timeout::Fixed(Duration::from_secs(60))));
        assert_eq!("200%".parse(), Ok(Timeout::Median(2.0)));
        assert!("abc".parse::<Timeout>().is_err());
        assert!("0".parse::<Timeout>().is_err());
        assert!("%".parse::<Timeout>().is_err());
    }
}
