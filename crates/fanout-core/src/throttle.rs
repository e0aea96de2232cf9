//! `--delay`, `--load`, `--memfree` and `--noswap`: whether a job may start now, and
//! when to look again if not. The decisions take `now` and ask a
//! [`Machine`] for its state (the real one reads `/proc`), at most once
//! per `RECHECK`, so a blocked run does not spin and the rules are tested
//! with a fake machine.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::control::JobControl;

/// What the throttles need to know of the machine.
pub trait Machine: std::fmt::Debug {
    /// Runnable threads on the machine now.
    fn running_processes(&self) -> Option<u64>;
    /// Free memory in bytes, as GNU parallel counts it.
    fn free_memory(&self) -> Option<u64>;
    /// Pages swapped in and out since boot (`None` where unknown).
    fn swapped_pages(&self) -> Option<(u64, u64)> {
        None
    }
}

/// The machine this runs on, read from `/proc` (free memory from
/// `meminfo`, `/proc/meminfo` unless a test says otherwise).
#[derive(Debug)]
pub struct ProcFs {
    /// The meminfo file.
    pub meminfo: PathBuf,
}

impl Machine for ProcFs {
    fn running_processes(&self) -> Option<u64> {
        running_processes()
    }

    fn free_memory(&self) -> Option<u64> {
        free_memory(&self.meminfo)
    }

    fn swapped_pages(&self) -> Option<(u64, u64)> {
        swapped_pages()
    }
}

/// How long to wait before reading the load or free memory again.
const RECHECK: Duration = Duration::from_millis(250);

/// The start throttles of one run.
#[derive(Debug)]
pub struct Throttle {
    delay: Duration,
    max_load: Option<f64>,
    memfree: Option<u64>,
    /// `--noswap`, with the swap counters when last read.
    noswap: Option<Option<(u64, u64)>>,
    machine: Box<dyn Machine + Send>,
    /// No job starts before this (the last start plus `--delay`).
    next_start: Option<Instant>,
    /// The machine was too busy at this time; look again after `RECHECK`.
    busy_since: Option<Instant>,
}

impl Throttle {
    /// The throttles `c` sets, on this machine.
    pub fn new(c: &JobControl) -> Self {
        let machine = ProcFs {
            meminfo: c.meminfo.clone(),
        };
        Throttle::on(c, Box::new(machine))
    }

    /// The throttles `c` sets, on `machine`.
    pub fn on(c: &JobControl, machine: Box<dyn Machine + Send>) -> Self {
        Throttle {
            delay: c.delay,
            max_load: c.max_load,
            memfree: c.memfree,
            // Read at the start, so the first check sees what happened since.
            noswap: c.noswap.then(|| machine.swapped_pages()),
            machine,
            next_start: None,
            busy_since: None,
        }
    }

    /// True when no throttle is set, so the loop can skip all of this.
    pub fn is_off(&self) -> bool {
        self.delay.is_zero()
            && self.max_load.is_none()
            && self.memfree.is_none()
            && self.noswap.is_none()
    }

    /// When a job may start: `None` for now, or the time to look again.
    pub fn wait_until(&mut self, now: Instant) -> Option<Instant> {
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
    pub fn started(&mut self, now: Instant) {
        if !self.delay.is_zero() {
            // A delay too long for an Instant waits as long as one can.
            self.next_start = Some(
                now.checked_add(self.delay)
                    .unwrap_or(now + Duration::from_secs(1 << 32)),
            );
        }
    }

    fn too_busy(&mut self) -> bool {
        if self.swapping() {
            return true;
        }
        if let Some(max) = self.max_load {
            // Like GNU parallel: the number of runnable processes, not the
            // kernel's decaying average, so the answer is current. This
            // process is running while it reads, so it is not counted.
            let running = self.machine.running_processes();
            if running.is_some_and(|n| n.saturating_sub(1) as f64 >= max) {
                return true;
            }
        }
        let free = || self.machine.free_memory();
        self.memfree
            .is_some_and(|need| free().is_some_and(|free| free < need))
    }

    /// `--noswap`: true when pages went both into and out of swap since the
    /// last look, which is GNU parallel's sign of a machine short of memory.
    fn swapping(&mut self) -> bool {
        let Some(last) = self.noswap else {
            return false;
        };
        let now = self.machine.swapped_pages();
        self.noswap = Some(now);
        matches!((last, now), (Some((i0, o0)), Some((i1, o1))) if i1 > i0 && o1 > o0)
    }

    /// True when free memory is under half of `--memfree`: time to kill
    /// the youngest job and run it again later.
    pub fn memory_critical(&self) -> bool {
        let free = || self.machine.free_memory();
        self.memfree
            .is_some_and(|need| free().is_some_and(|free| free < need / 2))
    }

    /// How often running jobs are checked against `--memfree`.
    pub fn watch_interval(&self) -> Option<Duration> {
        self.memfree.map(|_| RECHECK)
    }
}

/// Runnable threads on the machine (`procs_running` in `/proc/stat`).
fn running_processes() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().find(|l| l.starts_with("procs_running "))?;
    line["procs_running ".len()..].trim().parse().ok()
}

/// Pages swapped in and out since boot (`pswpin`, `pswpout` in
/// `/proc/vmstat`).
fn swapped_pages() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/vmstat").ok()?;
    let value = |key: &str| {
        stat.lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix(' '))
            .and_then(|v| v.trim().parse().ok())
    };
    Some((value("pswpin")?, value("pswpout")?))
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
        assert!(swapped_pages().is_some());
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

    /// A machine whose state the test sets.
    #[derive(Debug)]
    struct Fake(std::sync::Arc<std::sync::Mutex<(u64, u64)>>);

    impl Machine for Fake {
        fn running_processes(&self) -> Option<u64> {
            Some(self.0.lock().unwrap().0)
        }

        fn free_memory(&self) -> Option<u64> {
            Some(self.0.lock().unwrap().1)
        }
    }

    #[test]
    fn load_blocks_starts_while_busy_and_looks_again_only_after_a_while() {
        let state = std::sync::Arc::new(std::sync::Mutex::new((5, 1 << 30)));
        let c = JobControl {
            max_load: Some(2.0),
            ..JobControl::default()
        };
        let mut t = Throttle::on(&c, Box::new(Fake(state.clone())));
        let now = Instant::now();
        assert_eq!(t.wait_until(now), Some(now + RECHECK), "4 others running");
        state.lock().unwrap().0 = 1;
        let soon = now + Duration::from_millis(100);
        assert_eq!(
            t.wait_until(soon),
            Some(now + RECHECK),
            "not read again yet"
        );
        assert_eq!(t.wait_until(now + RECHECK), None);
    }

    #[test]
    fn memfree_blocks_starts_under_it_and_is_critical_under_half() {
        let state = std::sync::Arc::new(std::sync::Mutex::new((1, 700)));
        let c = JobControl {
            memfree: Some(1000),
            ..JobControl::default()
        };
        let mut t = Throttle::on(&c, Box::new(Fake(state.clone())));
        let now = Instant::now();
        assert_eq!(t.wait_until(now), Some(now + RECHECK));
        assert!(!t.memory_critical(), "700 of 1000 is not under half");
        state.lock().unwrap().1 = 400;
        assert!(t.memory_critical());
        state.lock().unwrap().1 = 2000;
        assert_eq!(t.wait_until(now + RECHECK), None);
        assert_eq!(t.watch_interval(), Some(RECHECK));
    }

    /// A machine whose swap counters the test sets.
    #[derive(Debug)]
    struct Swapping(std::sync::Arc<std::sync::Mutex<(u64, u64)>>);

    impl Machine for Swapping {
        fn running_processes(&self) -> Option<u64> {
            Some(1)
        }

        fn free_memory(&self) -> Option<u64> {
            Some(1 << 30)
        }

        fn swapped_pages(&self) -> Option<(u64, u64)> {
            Some(*self.0.lock().unwrap())
        }
    }

    #[test]
    fn noswap_blocks_starts_only_while_pages_go_both_in_and_out() {
        let pages = std::sync::Arc::new(std::sync::Mutex::new((10, 10)));
        let c = JobControl {
            noswap: true,
            ..JobControl::default()
        };
        let mut t = Throttle::on(&c, Box::new(Swapping(pages.clone())));
        assert!(!t.is_off());
        let now = Instant::now();
        assert_eq!(t.wait_until(now), None, "no swapping since the start");
        *pages.lock().unwrap() = (20, 10);
        assert_eq!(t.wait_until(now), None, "swap-in alone is not swapping");
        *pages.lock().unwrap() = (30, 20);
        assert_eq!(t.wait_until(now), Some(now + RECHECK), "in and out");
        assert_eq!(t.wait_until(now + RECHECK), None, "quiet since");
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
