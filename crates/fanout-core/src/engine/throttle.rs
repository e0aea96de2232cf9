//! `--delay`, `--load` and `--memfree`: whether a job may start now, and
//! when to look again if not. The machine's state is read from `/proc`,
//! at most once per `RECHECK`, so a blocked run does not spin.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::control::JobControl;

/// How long to wait before reading the load or free memory again.
const RECHECK: Duration = Duration::from_millis(250);

/// The start throttles of one run.
#[derive(Debug)]
pub(super) struct Throttle {
    delay: Duration,
    max_load: Option<f64>,
    memfree: Option<u64>,
    meminfo: PathBuf,
    /// No job starts before this (the last start plus `--delay`).
    next_start: Option<Instant>,
    /// The machine was too busy at this time; look again after `RECHECK`.
    busy_since: Option<Instant>,
}

impl Throttle {
    pub(super) fn new(c: &JobControl) -> Self {
        Throttle {
            delay: c.delay,
            max_load: c.max_load,
            memfree: c.memfree,
            meminfo: c.meminfo.clone(),
            next_start: None,
            busy_since: None,
        }
    }

    /// True when no throttle is set, so the loop can skip all of this.
    pub(super) fn is_off(&self) -> bool {
        self.delay.is_zero() && self.max_load.is_none() && self.memfree.is_none()
    }

    /// When a job may start: `None` for now, or the time to look again.
    pub(super) fn wait_until(&mut self, now: Instant) -> Option<Instant> {
        if let Some(t) = self.next_start.filter(|&t| t > now) {
            return Some(t);
        }
        if let Some(since) = self.busy_since {
            if now < since + RECHECK {
                return Some(since + RECHECK);
            }
            self.busy_since = None;
        }
        if self.too_busy() {
            self.busy_since = Some(now);
            return Some(now + RECHECK);
        }
        None
    }

    /// Notes that a job started, for `--delay`.
    pub(super) fn started(&mut self, now: Instant) {
        if !self.delay.is_zero() {
            // A delay too long for an Instant waits as long as one can.
            self.next_start = Some(
                now.checked_add(self.delay)
                    .unwrap_or(now + Duration::from_secs(1 << 32)),
            );
        }
    }

    fn too_busy(&self) -> bool {
        if let Some(max) = self.max_load {
            // Like GNU parallel: the number of runnable processes, not the
            // kernel's decaying average, so the answer is current. This
            // process is running while it reads, so it is not counted.
            if running_processes().is_some_and(|n| n.saturating_sub(1) as f64 >= max) {
                return true;
            }
        }
        self.memfree
            .is_some_and(|need| free_memory(&self.meminfo).is_some_and(|free| free < need))
    }

    /// True when free memory is under half of `--memfree`: time to kill
    /// the youngest job and run it again later.
    pub(super) fn memory_critical(&self) -> bool {
        self.memfree
            .is_some_and(|need| free_memory(&self.meminfo).is_some_and(|free| free < need / 2))
    }

    /// How often running jobs are checked against `--memfree`.
    pub(super) fn watch_interval(&self) -> Option<Duration> {
        self.memfree.map(|_| RECHECK)
    }
}

/// Runnable threads on the machine (`procs_running` in `/proc/stat`).
fn running_processes() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().find(|l| l.starts_with("procs_running "))?;
    line["procs_running ".len()..].trim().parse().ok()
}

/// Free memory in bytes as GNU parallel counts it: MemFree, Buffers,
/// Cached and SwapCached from `/proc/meminfo`.
fn free_memory(meminfo: &Path) -> Option<u64> {
    let info = std::fs::read_to_string(meminfo).ok()?;
    let mut kib = 0;
    let mut seen = false;
    for line in info.lines() {
        let Some((key, rest)) = line.split_once(':') else {
            continue;
        };
        if matches!(key, "MemFree" | "Buffers" | "Cached" | "SwapCached") {
            let v: u64 = rest.trim().trim_end_matches(" kB").trim().parse().ok()?;
            kib += v;
            seen = true;
        }
    }
    seen.then_some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_files_are_readable_here() {
        assert!(running_processes().is_some_and(|n| n >= 1));
        assert!(free_memory(Path::new("/proc/meminfo")).is_some_and(|b| b > 0));
    }

    #[test]
    fn delay_spaces_out_starts() {
        let mut t = Throttle::new(&JobControl {
            delay: Duration::from_secs(1),
            ..JobControl::default()
        });
        let now = Instant::now();
        assert_eq!(t.wait_until(now), None);
        t.started(now);
        assert_eq!(t.wait_until(now), Some(now + Duration::from_secs(1)));
        assert_eq!(t.wait_until(now + Duration::from_secs(1)), None);
    }

    #[test]
    fn an_impossible_memfree_blocks_starts() {
        let mut t = Throttle::new(&JobControl {
            memfree: Some(u64::MAX),
            ..JobControl::default()
        });
        let now = Instant::now();
        assert_eq!(t.wait_until(now), Some(now + RECHECK));
        assert!(t.memory_critical());
    }
}
