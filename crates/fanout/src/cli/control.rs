//! Job-control options to engine settings: `--retries`, `--timeout`,
//! `--halt`, `--term-seq`, `--delay`, `--load`, `--memfree`, and what the
//! job log options ask for.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{anyhow, bail, Result};
use fanout_core::control::parse_halt;
use fanout_core::units::{parse_duration, parse_size};
use fanout_core::JobControl;

use super::Cli;

pub use fanout_core::plan::Resume;

/// The job log, if any.
#[derive(Debug, Clone)]
pub struct JobLogOptions {
    /// Its path.
    pub path: PathBuf,
    /// `+FILE`, or resuming: add to it rather than start it anew.
    pub append: bool,
    /// What is read from it before the run.
    pub resume: Resume,
}

/// `--joblog` with `--resume`, `--resume-failed` or `--retry-failed`.
pub fn joblog_options(cli: &Cli) -> Result<Option<JobLogOptions>> {
    let resume = if cli.retry_failed {
        Resume::RetryFailed
    } else if cli.resume_failed {
        Resume::SkipSucceeded
    } else if cli.resume {
        Resume::Skip
    } else {
        Resume::No
    };
    let Some(log) = &cli.joblog else {
        if resume != Resume::No {
            bail!("--resume, --resume-failed and --retry-failed need --joblog");
        }
        return Ok(None);
    };
    let (append, path) = match log.as_bytes().strip_prefix(b"+") {
        Some(rest) => (true, PathBuf::from(OsStr::from_bytes(rest))),
        None => (false, PathBuf::from(log)),
    };
    if path.as_os_str().is_empty() {
        bail!("--joblog needs a file name");
    }
    Ok(Some(JobLogOptions {
        append: append || resume != Resume::No,
        path,
        resume,
    }))
}

/// Retries, timeout, halt and throttles.
pub fn job_control(cli: &Cli, cpus: usize) -> Result<JobControl> {
    let mut c = JobControl::default();
    // `--retries {2}`: each job's own (see Config::plan).
    if let Some(r) = cli.retries.as_ref().filter(|r| !r.contains('{')) {
        c.retries = r
            .trim()
            .parse()
            .map_err(|_| anyhow!("invalid --retries `{r}`: use a whole number"))?;
    }
    if let Some(t) = cli.timeout.as_deref().filter(|&t| t != "0") {
        // `--timeout 0` means none, as in GNU parallel.
        c.timeout = Some(t.parse().map_err(anyhow::Error::msg)?);
    }
    if let Some(h) = &cli.halt {
        c.halt = parse_halt(h).map_err(anyhow::Error::msg)?;
    }
    if let Some(d) = &cli.delay {
        c.delay = parse_duration(d).ok_or_else(|| {
            anyhow!("invalid --delay `{d}`: use seconds or a duration such as 1m")
        })?;
    }
    if let Some(l) = &cli.load {
        c.max_load = Some(parse_load(l, cpus)?);
    }
    if let Some(m) = &cli.memfree {
        c.memfree =
            Some(parse_size(m).ok_or_else(|| {
                anyhow!("invalid --memfree `{m}`: use a size such as 500M or 2G")
            })?);
    }
    c.noswap = cli.noswap;
    Ok(c)
}

/// `--load N` or `N%` of the CPU threads.
fn parse_load(s: &str, cpus: usize) -> Result<f64> {
    let bad = || anyhow!("invalid --load `{s}`: use a number or N%");
    let v = match s.strip_suffix('%') {
        Some(p) => p.parse::<f64>().map_err(|_| bad())? / 100.0 * cpus as f64,
        None => s.parse::<f64>().map_err(|_| bad())?,
    };
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err(bad())
    }
}

/// `--term-seq`: signal names or numbers, each followed by a wait in
/// milliseconds (the last wait may be left out).
pub fn term_seq(s: &str) -> Result<Vec<(i32, Duration)>> {
    let bad = |why: &str| anyhow!("invalid --term-seq `{s}`: {why}");
    let parts: Vec<&str> = s.split(',').map(str::trim).collect();
    let mut seq = Vec::new();
    for pair in parts.chunks(2) {
        let sig =
            signal_number(pair[0]).ok_or_else(|| bad(&format!("unknown signal `{}`", pair[0])))?;
        let ms = match pair.get(1) {
            Some(w) => w
                .parse::<u64>()
                .map_err(|_| bad(&format!("`{w}` is not a number of milliseconds")))?,
            None => 0,
        };
        seq.push((sig, Duration::from_millis(ms)));
    }
    Ok(seq)
}

fn signal_number(name: &str) -> Option<i32> {
    if let Ok(n) = name.parse::<i32>() {
        return (1..=64).contains(&n).then_some(n);
    }
    let name = name.trim_start_matches("SIG");
    Some(match name {
        "HUP" => libc::SIGHUP,
        "INT" => libc::SIGINT,
        "QUIT" => libc::SIGQUIT,
        "KILL" => libc::SIGKILL,
        "USR1" => libc::SIGUSR1,
        "USR2" => libc::SIGUSR2,
        "PIPE" => libc::SIGPIPE,
        "ALRM" => libc::SIGALRM,
        "TERM" => libc::SIGTERM,
        "CONT" => libc::SIGCONT,
        "STOP" => libc::SIGSTOP,
        "TSTP" => libc::SIGTSTP,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn term_seq_reads_gnu_defaults_and_numbers() {
        let ms = Duration::from_millis;
        assert_eq!(
            term_seq("TERM,200,TERM,100,TERM,50,KILL,25").unwrap(),
            fanout_core::default_term_seq()
        );
        assert_eq!(
            term_seq("INT,10,9").unwrap(),
            [(libc::SIGINT, ms(10)), (libc::SIGKILL, ms(0))]
        );
        assert!(term_seq("BOGUS,1").is_err());
        assert!(term_seq("TERM,x").is_err());
    }

    #[test]
    fn load_can_be_a_share_of_the_cpus() {
        assert_eq!(parse_load("3", 2).unwrap(), 3.0);
        assert_eq!(parse_load("150%", 2).unwrap(), 3.0);
        assert!(parse_load("x", 2).is_err());
        assert!(parse_load("0", 2).is_err());
    }
}
