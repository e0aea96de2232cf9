//! The run's decisions driven with fake results and a recording sink: no
//! process, no clock.

use std::io;

use super::*;
use crate::job::{ExitKind, KillReason};
use crate::test_support::result;

/// A sink that records what it got, and fails once told to.
#[derive(Default)]
struct Seen {
    finished: Vec<u64>,
    halt_counts: Vec<(bool, usize)>,
    fail_with: Option<io::ErrorKind>,
}

impl Sink for Seen {
    fn event(&mut self, event: Event<'_>) -> io::Result<()> {
        if let Some(k) = self.fail_with {
            return Err(k.into());
        }
        match event {
            Event::Finished(r) => self.finished.push(r.seq.0),
            Event::HaltCount {
                reached, running, ..
            } => self.halt_counts.push((reached, running)),
            _ => {}
        }
        Ok(())
    }
}

impl Seen {
    /// A sink whose every event fails with `kind`.
    fn failing(kind: io::ErrorKind) -> Seen {
        Seen {
            fail_with: Some(kind),
            ..Seen::default()
        }
    }
}

fn verdict(halt: &str) -> Verdict<String> {
    Verdict::new(crate::control::parse_halt(halt).unwrap(), None)
}

/// Starts and finishes jobs 1..=codes.len() with these exit codes.
fn run(v: &mut Verdict<String>, sink: &mut Seen, codes: &[i32]) -> Vec<Option<HaltWhen>> {
    codes
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            v.started();
            v.finished(sink, result(i as u64 + 1, c), 0)
        })
        .collect()
}

#[test]
fn halt_soon_on_the_second_failure_stops_new_jobs_but_reports_running_ones() {
    let (mut v, mut sink) = (verdict("soon,fail=2"), Seen::default());
    let decided = run(&mut v, &mut sink, &[1, 0, 3]);
    assert_eq!(decided, [None, None, Some(HaltWhen::Soon)]);
    assert!(v.takes_no_new() && !v.stops_now() && v.reports() && !v.may_retry());
    assert_eq!(sink.finished, [1, 2, 3]);
    assert_eq!(sink.halt_counts, [(false, 0), (true, 0)]);
    let s = v.outcome(Ok(()), None).unwrap();
    assert_eq!(
        (s.started, s.failed, s.halted, s.halt_status),
        (3, 2, Some(HaltWhen::Soon), Some(2))
    );
}

#[test]
fn halt_now_on_one_failure_exits_with_that_jobs_status_and_reports_nothing_after() {
    let (mut v, mut sink) = (verdict("now,fail=1"), Seen::default());
    assert_eq!(run(&mut v, &mut sink, &[0, 7]), [None, Some(HaltWhen::Now)]);
    assert!(v.stops_now() && !v.reports());
    let s = v.outcome(Ok(()), None).unwrap();
    assert_eq!((s.halted, s.halt_status), (Some(HaltWhen::Now), Some(7)));
}

#[test]
fn a_halt_is_decided_once() {
    let (mut v, mut sink) = (verdict("soon,fail=1"), Seen::default());
    assert_eq!(
        run(&mut v, &mut sink, &[1, 2]),
        [Some(HaltWhen::Soon), None]
    );
    assert_eq!(v.outcome(Ok(()), None).unwrap().halt_status, Some(1));
}

#[test]
fn halt_percent_that_never_halts_exits_with_the_failed_share() {
    // Out of a known total of 4 (unknown, the first failure would be 100%
    // of the jobs started so far).
    let halt = crate::control::parse_halt("soon,fail=60%").unwrap();
    let (mut v, mut sink) = (Verdict::new(halt, Some(4)), Seen::default());
    run(&mut v, &mut sink, &[1, 0, 0, 0]);
    assert_eq!(v.halting(), None);
    assert_eq!(v.outcome(Ok(()), None).unwrap().halt_status, Some(25));
}

#[test]
fn an_interruption_stops_at_once_and_keeps_the_first_signal() {
    let mut v = verdict("never");
    v.interrupt(libc::SIGINT);
    v.interrupt(libc::SIGTERM);
    assert!(v.stops_now() && !v.reports() && !v.may_retry());
    assert_eq!(
        v.outcome(Ok(()), None).unwrap().interrupted,
        Some(libc::SIGINT)
    );
}

#[test]
fn a_closed_pipe_ends_the_run_normally_and_other_sink_errors_fail_it() {
    let mut v = verdict("never");
    let mut sink = Seen::failing(io::ErrorKind::BrokenPipe);
    run(&mut v, &mut sink, &[0]);
    assert!(v.stops_now());
    assert!(v.outcome(Ok(()), None).unwrap().broken_pipe);
    let mut v = verdict("never");
    let err = v.outcome(Err(io::ErrorKind::StorageFull.into()), None);
    assert!(matches!(err, Err(Stopped::Sink(e)) if e.kind() == io::ErrorKind::StorageFull));
}

#[test]
fn bad_input_wins_over_a_fatal_error_which_wins_over_a_sink_error() {
    let mut v = verdict("never");
    v.fail("spool".to_owned());
    v.sink_failed(io::ErrorKind::StorageFull.into());
    assert!(v.stops_now() && !v.reports());
    let first = v.outcome(Ok(()), Some("input".to_owned()));
    assert!(matches!(first, Err(Stopped::Failed(e)) if e == "input"));
    let mut v = verdict("never");
    v.fail("spool".to_owned());
    v.fail("later".to_owned());
    assert!(matches!(v.outcome(Ok(()), None), Err(Stopped::Failed(e)) if e == "spool"));
}

#[test]
fn no_event_goes_to_a_sink_after_it_failed() {
    let mut v = verdict("never");
    let mut sink = Seen::failing(io::ErrorKind::Other);
    run(&mut v, &mut sink, &[0]);
    sink.fail_with = None;
    run(&mut v, &mut sink, &[0]);
    assert!(sink.finished.is_empty());
    assert_eq!(v.failed_jobs(), 0);
}

#[test]
fn a_failed_job_runs_again_while_retries_are_left_and_never_once_halting() {
    let v = verdict("never");
    let failed = |attempt| JobResult {
        attempt,
        ..result(1, 1)
    };
    assert!(v.runs_again(&failed(0), 3) && v.runs_again(&failed(1), 3));
    assert!(!v.runs_again(&failed(2), 3), "3 runs in all");
    assert!(!v.runs_again(&failed(0), 1), "--retries 1: no retry");
    assert!(
        v.runs_again(&failed(40), 0),
        "--retries 0: until it succeeds"
    );
    assert!(!v.runs_again(&result(1, 0), 3), "succeeded");
    let spawn = JobResult {
        exit: ExitKind::SpawnFailed(libc::E2BIG),
        ..result(1, 0)
    };
    assert!(!v.runs_again(&spawn, 0), "would fail the same way at once");
    let memory = JobResult {
        killed: Some(KillReason::Memory),
        ..result(1, 0)
    };
    assert!(v.runs_again(&memory, 1), "a --memfree kill is requeued");
    let (mut v, mut sink) = (verdict("soon,fail=1"), Seen::default());
    run(&mut v, &mut sink, &[1]);
    assert!(!v.runs_again(&failed(0), 3) && !v.runs_again(&memory, 1));
}
