//! The kill schedule driven with a fake clock: no process, no sleeping.

use std::time::{Duration, Instant};

use super::*;

const TERM: i32 = libc::SIGTERM;
const KILL: i32 = libc::SIGKILL;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// TERM, 200 ms, TERM, 100 ms, KILL.
fn schedule(timeout: Option<Timeout>) -> Killing {
    Killing::new(
        timeout,
        vec![(TERM, ms(200)), (TERM, ms(100)), (KILL, ms(0))],
    )
}

#[test]
fn a_timed_out_job_walks_the_term_sequence_one_timed_step_at_a_time() {
    let t0 = Instant::now();
    let mut k = schedule(Some(Timeout::Fixed(ms(1000))));
    k.started(JobSeq(1), t0);
    assert_eq!(k.next_due(), Some(t0 + ms(1000)));
    assert!(k.due(t0 + ms(999)).is_empty());
    let begin = KillStep::Begin {
        seq: JobSeq(1),
        reason: KillReason::Timeout,
        signal: Some(TERM),
    };
    assert_eq!(k.due(t0 + ms(1000)), [begin]);
    assert_eq!(k.next_due(), Some(t0 + ms(1200)));
    assert!(k.due(t0 + ms(1199)).is_empty());
    let next = |signal| KillStep::Next {
        seq: JobSeq(1),
        signal,
    };
    assert_eq!(k.due(t0 + ms(1200)), [next(TERM)]);
    assert_eq!(k.due(t0 + ms(1300)), [next(KILL)]);
    // Done with the sequence: nothing more is due for it.
    assert!(k.due(t0 + ms(5000)).is_empty());
    assert_eq!(k.ended(JobSeq(1), t0), Some(KillReason::Timeout));
    assert_eq!(k.next_due(), None);
}

#[test]
fn a_job_that_ends_during_its_kill_leaves_nothing_due() {
    let t0 = Instant::now();
    let mut k = schedule(None);
    k.started(JobSeq(4), t0);
    assert_eq!(k.next_due(), None, "no --timeout, no deadline");
    assert!(k.kill(JobSeq(4), KillReason::Memory, t0).is_some());
    assert!(k.is_killing(JobSeq(4)));
    assert_eq!(k.ended(JobSeq(4), t0), Some(KillReason::Memory));
    assert_eq!(k.next_due(), None);
    assert!(k.due(t0 + ms(10_000)).is_empty());
    assert_eq!(k.ended(JobSeq(5), t0), None, "never killed");
}

#[test]
fn a_job_killed_for_memory_is_not_killed_again_when_it_times_out() {
    let t0 = Instant::now();
    let mut k = schedule(Some(Timeout::Fixed(ms(100))));
    k.started(JobSeq(2), t0);
    assert!(matches!(
        k.kill(JobSeq(2), KillReason::Memory, t0),
        Some(KillStep::Begin {
            reason: KillReason::Memory,
            ..
        })
    ));
    assert_eq!(k.kill(JobSeq(2), KillReason::Timeout, t0), None);
    // The timeout passes: the memory kill goes on, no second Begin.
    let steps = k.due(t0 + ms(200));
    assert_eq!(
        steps,
        [KillStep::Next {
            seq: JobSeq(2),
            signal: TERM
        }]
    );
}

#[test]
fn the_oldest_jobs_time_out_first_and_a_median_timeout_waits_for_a_success() {
    let t0 = Instant::now();
    let mut k = schedule(Some(Timeout::Median(2.0)));
    k.started(JobSeq(1), t0);
    k.started(JobSeq(2), t0 + ms(500));
    assert_eq!(k.next_due(), None);
    k.succeeded(Duration::from_secs(1));
    assert_eq!(k.next_due(), Some(t0 + ms(2000)));
    let steps = k.due(t0 + ms(2000));
    assert!(matches!(
        steps[..],
        [KillStep::Begin { seq: JobSeq(1), .. }]
    ));
}

#[test]
fn an_empty_term_sequence_still_reports_the_kill() {
    let t0 = Instant::now();
    let mut k = Killing::new(None, Vec::new());
    let begin = k.kill(JobSeq(3), KillReason::Timeout, t0);
    assert!(matches!(begin, Some(KillStep::Begin { signal: None, .. })));
    assert_eq!(k.next_due(), None);
}
