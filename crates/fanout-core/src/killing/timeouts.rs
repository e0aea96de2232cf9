//! `--timeout`: which running job is over its time, and the median
//! runtime that `--timeout N%` is measured against.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use crate::control::Timeout;
use crate::job::JobSeq;

/// Running jobs by start time, for `--timeout`. Every job gets the same
/// allowance, so the job that started first is always the first to expire.
#[derive(Debug)]
pub(crate) struct Timeouts {
    timeout: Option<Timeout>,
    by_start: BTreeSet<(Instant, JobSeq)>,
    median: Remedian,
}

impl Timeouts {
    pub(crate) fn new(timeout: Option<Timeout>) -> Self {
        Timeouts {
            timeout,
            by_start: BTreeSet::new(),
            median: Remedian::default(),
        }
    }

    /// How long a job may run now; `None` while there is no limit (no
    /// `--timeout`, or `N%` before any job succeeded).
    fn allowance(&self) -> Option<Duration> {
        match self.timeout? {
            Timeout::Fixed(d) => Some(d),
            Timeout::Median(share) => self
                .median
                .get()
                .and_then(|m| Duration::try_from_secs_f64(m.as_secs_f64() * share).ok()),
        }
    }

    pub(crate) fn insert(&mut self, start: Instant, seq: JobSeq) {
        if self.timeout.is_some() {
            self.by_start.insert((start, seq));
        }
    }

    pub(crate) fn remove(&mut self, start: Instant, seq: JobSeq) {
        self.by_start.remove(&(start, seq));
    }

    /// When the oldest running job runs out of time.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        let first = self.by_start.first()?;
        // A deadline past what an Instant holds is no deadline.
        first.0.checked_add(self.allowance()?)
    }

    /// Takes out the jobs whose time is up at `now`.
    pub(crate) fn expired(&mut self, now: Instant) -> Vec<JobSeq> {
        let Some(allow) = self.allowance() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        while let Some(&(start, seq)) = self.by_start.first() {
            if start.checked_add(allow).is_none_or(|end| end > now) {
                break;
            }
            self.by_start.pop_first();
            out.push(seq);
        }
        out
    }

    /// Counts a succeeded job's runtime towards the median (as GNU
    /// parallel, only succeeded jobs count).
    pub(crate) fn succeeded(&mut self, runtime: Duration) {
        if matches!(self.timeout, Some(Timeout::Median(_))) {
            self.median.push(runtime.as_secs_f64());
        }
    }
}

/// A median in bounded memory (the remedian: medians of blocks of 999,
/// three levels deep), as GNU parallel keeps for `--timeout N%`.
#[derive(Debug, Default)]
struct Remedian {
    n: usize,
    levels: [Vec<f64>; 3],
    value: Option<f64>,
}

const BLOCK: usize = 999;

impl Remedian {
    fn push(&mut self, v: f64) {
        let i = self.n;
        self.n += 1;
        let put = |level: &mut Vec<f64>, at: usize, v: f64| {
            if at < level.len() {
                level[at] = v;
            } else {
                level.push(v);
            }
        };
        put(&mut self.levels[0], i % BLOCK, v);
        let m0 = median(&self.levels[0]);
        put(&mut self.levels[1], i / BLOCK % BLOCK, m0);
        let m1 = median(&self.levels[1]);
        put(&mut self.levels[2], i / BLOCK / BLOCK % BLOCK, m1);
        self.value = Some(median(&self.levels[2]));
    }

    fn get(&self) -> Option<Duration> {
        self.value.and_then(|s| Duration::try_from_secs_f64(s).ok())
    }
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    s[(s.len() - 1) / 2]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remedian_is_the_median_for_small_counts() {
        let mut r = Remedian::default();
        assert_eq!(r.get(), None);
        for v in [5.0, 1.0, 3.0] {
            r.push(v);
        }
        assert_eq!(r.get(), Some(Duration::from_secs(3)));
        for _ in 0..5000 {
            r.push(2.0);
        }
        assert_eq!(r.get(), Some(Duration::from_secs(2)));
    }

    #[test]
    fn the_oldest_job_expires_first() {
        let mut t = Timeouts::new(Some(Timeout::Fixed(Duration::from_secs(1))));
        let now = Instant::now();
        t.insert(now, JobSeq(2));
        t.insert(now + Duration::from_millis(500), JobSeq(1));
        assert_eq!(t.next_deadline(), Some(now + Duration::from_secs(1)));
        assert_eq!(t.expired(now + Duration::from_millis(1200)), [JobSeq(2)]);
        assert_eq!(t.expired(now + Duration::from_secs(2)), [JobSeq(1)]);
    }

    #[test]
    fn a_median_timeout_waits_for_a_success() {
        let mut t = Timeouts::new(Some(Timeout::Median(2.0)));
        let now = Instant::now();
        t.insert(now, JobSeq(1));
        assert_eq!(t.next_deadline(), None);
        t.succeeded(Duration::from_secs(1));
        assert_eq!(t.next_deadline(), Some(now + Duration::from_secs(2)));
    }
}
