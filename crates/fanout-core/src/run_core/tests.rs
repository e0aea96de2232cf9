//! The run core driven by a fake backend and a fake clock: no process,
//! no timer, no /proc. Each test reads as the run it checks.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::control::{parse_halt, JobControl, Timeout};
use crate::job::{ExitKind, KillReason, Records};
use crate::throttle::Machine;

/// What the sink saw, one line per event.
#[derive(Default)]
struct Seen(Vec<String>);

impl Sink for Seen {
    fn event(&mut self, event: Event<'_>) -> io::Result<()> {
        let line = match event {
            Event::Queued { seq } => format!("queued {seq}"),
            Event::Started { seq, slot, .. } => format!("started {seq} in {slot}"),
            Event::Finished(r) => format!("finished {} {:?}", r.seq, r.exit),
            Event::Retried(r) => format!("retried {} attempt {}", r.seq, r.attempt),
            Event::Killed { seq, reason, .. } => format!("killed {seq} {reason:?}"),
            Event::HaltCount { reached, .. } => format!("halt count reached={reached}"),
            Event::Output { .. } => "output".into(),
            Event::Running { jobs } => format!(
                "running {}",
                jobs.iter()
                    .map(|(s, _)| s.to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            ),
        };
        self.0.push(line);
        Ok(())
    }
}

/// Free memory the test sets.
#[derive(Debug, Clone, Default)]
struct FakeMachine(Arc<AtomicU64>);

impl Machine for FakeMachine {
    fn running_processes(&self) -> Option<u64> {
        Some(0)
    }
    fn free_memory(&self) -> Option<u64> {
        Some(self.0.load(Ordering::SeqCst))
    }
}

/// A fake backend: it "runs" what the core starts and records the signals.
struct Run {
    core: Core<String>,
    now: Instant,
    seen: Seen,
    signals: Vec<(u64, i32)>,
    machine: FakeMachine,
}

impl Run {
    fn new(slots: usize, control: JobControl) -> Run {
        let machine = FakeMachine::default();
        machine.0.store(u64::MAX, Ordering::SeqCst);
        let rules = Rules {
            slots,
            control,
            term_seq: vec![
                (15, Duration::from_millis(100)),
                (9, Duration::from_millis(10)),
            ],
            total_jobs: None,
        };
        Run {
            core: Core::with_machine(rules, Box::new(machine.clone())),
            now: Instant::now(),
            seen: Seen::default(),
            signals: Vec::new(),
            machine,
        }
    }

    /// Jobs with these numbers come from the input, then it ends.
    fn input(&mut self, seqs: &[u64]) -> &mut Self {
        for &s in seqs {
            let job = JobArgs {
                seq: JobSeq(s),
                records: Records::one([format!("arg{s}").as_bytes()]),
                stdin: None,
            };
            self.core.input(job, &mut self.seen);
        }
        self.core.input_ended();
        self.settle()
    }

    /// Does what the core asks, as a backend would.
    fn settle(&mut self) -> &mut Self {
        while let Some(a) = self.core.next_action(self.now) {
            match a {
                Action::Start(seq) => {
                    let run = self.core.job_mut(seq).unwrap();
                    run.command = format!("cmd {seq}").into_bytes();
                    let slot = run.slot;
                    self.core.announce(seq, slot, &mut self.seen);
                }
                Action::Signal { seq, signal } => self.signals.push((seq.0, signal)),
            }
        }
        self
    }

    /// Job `seq` exits with `code`.
    fn exit(&mut self, seq: u64, code: i32) -> &mut Self {
        let e = Ended::new(
            JobSeq(seq),
            ExitKind::Code(code),
            Default::default(),
            Default::default(),
        );
        self.core.ended(e, self.now, &mut self.seen);
        self.settle()
    }

    /// Time passes; due timers fire.
    fn after(&mut self, ms: u64) -> &mut Self {
        self.now += Duration::from_millis(ms);
        if self.core.next_due().is_some_and(|t| t <= self.now) {
            self.core.timers(self.now, &mut self.seen);
        }
        self.settle()
    }

    fn started(&self) -> Vec<String> {
        self.seen
            .0
            .iter()
            .filter(|l| l.starts_with("started"))
            .cloned()
            .collect()
    }

    fn saw(&self, line: &str) -> bool {
        self.seen.0.iter().any(|l| l == line)
    }
}

fn control(f: impl FnOnce(&mut JobControl)) -> JobControl {
    let mut c = JobControl::default();
    f(&mut c);
    c
}

#[test]
fn jobs_start_as_slots_free_up_in_the_lowest_free_slot() {
    let mut r = Run::new(2, JobControl::default());
    r.input(&[1, 2, 3]);
    assert_eq!(r.started(), ["started 1 in 1", "started 2 in 2"]);
    r.exit(2, 0);
    assert_eq!(r.started().last().unwrap(), "started 3 in 2");
    r.exit(1, 0).exit(3, 0);
    assert_eq!(r.core.state(), State::Done);
    let s = r.core.outcome(Ok(())).unwrap();
    assert_eq!((s.started, s.failed), (3, 0));
}

#[test]
fn a_failed_job_is_retried_first_and_keeps_its_number() {
    let mut r = Run::new(1, control(|c| c.retries = 2));
    r.input(&[1, 2]);
    r.exit(1, 1);
    assert!(r.saw("retried 1 attempt 0"));
    assert_eq!(r.started(), ["started 1 in 1", "started 1 in 1"]);
    r.exit(1, 1);
    assert!(
        r.saw("finished 1 Code(1)"),
        "two runs in all: {:?}",
        r.seen.0
    );
    r.exit(2, 0);
    let s = r.core.outcome(Ok(())).unwrap();
    assert_eq!((s.started, s.failed), (2, 1), "a retry is not a new start");
}

#[test]
fn halt_now_stops_at_once_and_reports_no_running_job() {
    let mut r = Run::new(2, control(|c| c.halt = parse_halt("now,fail=1").unwrap()));
    r.input(&[1, 2, 3]);
    r.exit(1, 3);
    assert_eq!(r.core.state(), State::Stop);
    assert!(!r.core.wants_input());
    r.exit(2, 0);
    assert!(
        !r.saw("finished 2 Code(0)"),
        "killed by the halt, not reported"
    );
    assert_eq!(r.started().len(), 2, "job 3 never starts");
    let s = r.core.outcome(Ok(())).unwrap();
    assert_eq!(s.halt_status, Some(3));
}

#[test]
fn halt_soon_lets_running_jobs_finish_and_starts_none() {
    let mut r = Run::new(2, control(|c| c.halt = parse_halt("soon,fail=1").unwrap()));
    r.input(&[1, 2, 3]);
    r.exit(1, 1);
    assert_eq!(r.core.state(), State::Going);
    assert_eq!(r.started().len(), 2, "job 3 never starts");
    r.exit(2, 0);
    assert!(r.saw("finished 2 Code(0)"));
    assert_eq!(r.core.state(), State::Done);
}

#[test]
fn a_timeout_kills_through_the_term_sequence() {
    let timeout = Some(Timeout::Fixed(Duration::from_secs(1)));
    let mut r = Run::new(1, control(|c| c.timeout = timeout));
    r.input(&[1]);
    r.after(999);
    assert!(r.signals.is_empty());
    r.after(1);
    assert!(r.saw("killed 1 Timeout"));
    assert_eq!(r.signals, [(1, 15)]);
    r.after(100);
    assert_eq!(r.signals, [(1, 15), (1, 9)]);
    r.core.ended(
        Ended::new(
            JobSeq(1),
            ExitKind::Signal(9),
            Default::default(),
            Default::default(),
        ),
        r.now,
        &mut r.seen,
    );
    assert!(r.saw("finished 1 Signal(9)"));
    assert_eq!(r.core.next_due(), None, "nothing left to time");
}

#[test]
fn memfree_kills_the_youngest_job_and_runs_it_again() {
    let mut r = Run::new(2, control(|c| c.memfree = Some(1000)));
    r.input(&[1, 2]);
    assert_eq!(r.started().len(), 2);
    r.machine.0.store(400, Ordering::SeqCst);
    r.after(1000);
    assert!(r.saw("killed 2 Memory"), "{:?}", r.seen.0);
    assert_eq!(r.signals, [(2, 15)]);
    let killed = Ended::new(
        JobSeq(2),
        ExitKind::Signal(15),
        Default::default(),
        Default::default(),
    );
    r.core.ended(killed, r.now, &mut r.seen);
    assert!(
        r.saw("retried 2 attempt 0"),
        "requeued, not failed: {:?}",
        r.seen.0
    );
    assert_eq!(r.started().len(), 2, "not while memory is short");
    r.machine.0.store(u64::MAX, Ordering::SeqCst);
    r.after(1000);
    assert_eq!(r.started().len(), 3, "again once memory is back");
}

#[test]
fn resumed_runs_keep_the_gaps_in_their_numbers() {
    let mut r = Run::new(4, JobControl::default());
    r.input(&[2, 5, 9]);
    assert_eq!(
        r.started(),
        ["started 2 in 1", "started 5 in 2", "started 9 in 3"]
    );
    for s in [9, 2, 5] {
        r.exit(s, 0);
    }
    assert_eq!(r.core.outcome(Ok(())).unwrap().started, 3);
}

#[test]
fn a_first_hangup_starts_no_more_jobs_and_the_running_ones_count() {
    let mut r = Run::new(2, JobControl::default());
    r.input(&[1, 2, 3]).settle();
    assert_eq!(r.started(), ["started 1 in 1", "started 2 in 2"]);
    r.core.signal(libc::SIGUSR1, &mut r.seen);
    assert!(r.saw("running 1,2"));
    r.core.signal(libc::SIGHUP, &mut r.seen);
    r.exit(1, 0).exit(2, 0).settle();
    assert_eq!(r.started().len(), 2, "job 3 never starts");
    assert!(r.saw("finished 2 Code(0)"));
    assert_eq!(r.core.state(), State::Done);
    let summary = r.core.outcome(Ok(())).unwrap();
    assert_eq!((summary.started, summary.interrupted), (2, None));
}

#[test]
fn a_second_hangup_interrupts_the_run() {
    let mut r = Run::new(2, JobControl::default());
    r.input(&[1, 2]).settle();
    r.core.signal(libc::SIGHUP, &mut r.seen);
    assert_eq!(r.core.state(), State::Going);
    r.core.signal(libc::SIGHUP, &mut r.seen);
    assert_eq!(r.core.state(), State::Stop);
}

#[test]
fn a_cancel_stops_the_run_and_nothing_is_reported_after_it() {
    let mut r = Run::new(2, JobControl::default());
    r.input(&[1, 2, 3]);
    r.core.interrupt(libc::SIGTERM);
    assert_eq!(r.core.state(), State::Stop);
    r.exit(1, 0);
    assert!(!r.saw("finished 1 Code(0)"));
    assert_eq!(
        r.core.outcome(Ok(())).unwrap().interrupted,
        Some(libc::SIGTERM)
    );
}

#[test]
fn bad_input_starts_nothing_new_and_ends_the_run_with_it() {
    let mut r = Run::new(1, JobControl::default());
    let job = JobArgs {
        seq: JobSeq(1),
        records: Records::new(),
        stdin: None,
    };
    r.core.input(job, &mut r.seen);
    r.core.input_failed("unreadable".into());
    r.settle();
    assert!(!r.core.wants_input());
    r.exit(1, 0);
    assert_eq!(r.core.state(), State::Done);
    assert!(matches!(r.core.outcome(Ok(())), Err(Stopped::Failed(e)) if e == "unreadable"));
}

#[test]
fn a_delay_holds_the_next_start_until_its_time() {
    let mut r = Run::new(3, control(|c| c.delay = Duration::from_millis(50)));
    r.input(&[1, 2]);
    assert_eq!(r.started().len(), 1);
    assert_eq!(r.core.next_due(), Some(r.now + Duration::from_millis(50)));
    r.after(50);
    assert_eq!(r.started().len(), 2);
}

#[test]
fn a_remote_result_is_final_and_its_kill_is_reported() {
    let mut r = Run::new(8, control(|c| c.retries = 3));
    r.input(&[1]);
    let mut e = Ended::new(
        JobSeq(1),
        ExitKind::Signal(9),
        Default::default(),
        Default::default(),
    );
    e.remote = Some(Remote {
        slot: SlotId(5),
        attempt: 2,
        runtime: Duration::from_secs(3),
        started_at: SystemTime::UNIX_EPOCH,
        killed: Some(KillReason::Timeout),
        command: b"cmd 1 on slot 5".to_vec(),
        worker: "host-1".into(),
    });
    r.core.ended(e, r.now, &mut r.seen);
    assert!(!r.saw("retried 1 attempt 2"), "the worker retried already");
    assert!(r.saw("killed 1 Timeout") && r.saw("finished 1 Signal(9)"));
}
