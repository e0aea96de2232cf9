//! The run core: everything a run decides, for every backend, with no I/O
//! and no clock of its own. It owns the slots and the queue in front of
//! them ([`Dispatch`]), the start throttles ([`Throttle`]), the kill
//! schedule ([`Killing`]) and the run's decisions ([`Verdict`]), and keeps
//! each running job's arguments and command line. A backend (local
//! processes, the broker) tells it what happened, with `now`; it answers
//! with [`Action`]s (start this job, send that signal) and events to the
//! sink, and says when the run is over ([`Core::state`]) and how it ended
//! ([`Core::outcome`]). [`crate::backend::drive`] is the one loop that
//! connects the two.

use std::collections::VecDeque;
use std::io;
use std::time::{Instant, SystemTime};

use crate::control::HaltWhen;
use crate::job::{JobArgs, JobSeq, SeqMap, SlotId};
use crate::killing::Killing;
use crate::scheduler::Dispatch;
use crate::throttle::{Machine, Throttle};
use crate::{Event, RunSummary, Sink, Stopped, Verdict};

/// The decisions of one run; `E` is the backend's error type, `T` what it
/// keeps of each running job.
#[derive(Debug)]
pub struct Core<E, T = ()> {
    dispatch: Dispatch,
    killing: Killing,
    throttle: Throttle,
    verdict: Verdict<E>,
    running: SeqMap<Running<T>>,
    retries: u32,
    /// When running jobs are next checked against `--memfree`.
    mem_check: Option<Instant>,
    /// When a throttle lets the next job start.
    throttled: Option<Instant>,
    input_error: Option<E>,
    signals: VecDeque<Action>,
}

mod events;
#[cfg(test)]
mod tests;
mod types;

pub use types::{Action, Ended, Remote, Rules, Running, State};

impl<E, T: Default> Core<E, T> {
    /// A core for `rules`, measuring this machine for the throttles.
    pub fn new(rules: Rules) -> Self {
        let throttle = Throttle::new(&rules.control);
        Core::on(rules, throttle)
    }

    /// A core for `rules` whose throttles read `machine` (a fake, in tests).
    pub fn with_machine(rules: Rules, machine: Box<dyn Machine + Send>) -> Self {
        let throttle = Throttle::on(&rules.control, machine);
        Core::on(rules, throttle)
    }

    fn on(rules: Rules, throttle: Throttle) -> Self {
        let c = &rules.control;
        Core {
            dispatch: Dispatch::new(rules.slots),
            killing: Killing::new(c.timeout, rules.term_seq.clone()),
            throttle,
            verdict: Verdict::new(c.halt, rules.total_jobs),
            running: SeqMap::default(),
            retries: c.retries,
            mem_check: None,
            throttled: None,
            input_error: None,
            signals: VecDeque::new(),
        }
    }

    /// The next thing to do at `now`: signals due first, then a start
    /// when a job waits, a slot is free and no throttle holds it back.
    pub fn next_action(&mut self, now: Instant) -> Option<Action> {
        if let Some(a) = self.signals.pop_front() {
            return Some(a);
        }
        self.throttled = None;
        if self.verdict.takes_no_new() || !self.dispatch.slots.has_free() {
            return None;
        }
        if !self.throttle.is_off() {
            self.throttled = self.throttle.wait_until(now);
            if self.throttled.is_some() {
                return None;
            }
        }
        let w = self.dispatch.next_waiting()?;
        let slot = self.dispatch.slots.acquire().expect("a slot is free");
        if w.attempt.is_none() {
            self.verdict.started();
        }
        self.throttle.started(now);
        if self.mem_check.is_none() {
            self.mem_check = self.throttle.watch_interval().map(|d| now + d);
        }
        let seq = w.job.seq;
        let run = Running {
            job: w.job,
            command: Vec::new(),
            slot,
            attempt: w.attempt.unwrap_or(0),
            start: now,
            started_at: SystemTime::now(),
            data: T::default(),
            retries: None,
        };
        self.running.insert(seq, run);
        self.killing.started(seq, now);
        Some(Action::Start(seq))
    }
}

impl<E, T> Core<E, T> {
    /// A job from the input: queued behind the others.
    pub fn input<S: Sink + ?Sized>(&mut self, job: JobArgs, sink: &mut S) {
        self.emit(sink, Event::Queued { seq: job.seq });
        self.dispatch.hold(job);
    }

    /// The input has no more jobs.
    pub fn input_ended(&mut self) {
        self.dispatch.input_ended();
    }

    /// The input failed: no new job starts, running ones finish, and the
    /// run ends with `e`.
    pub fn input_failed(&mut self, e: E) {
        self.input_error.get_or_insert(e);
        self.dispatch.input_ended();
    }

    /// True once the input ended (or failed).
    pub fn input_done(&self) -> bool {
        self.dispatch.input_done()
    }

    /// True when the backend should read more input now.
    pub fn wants_input(&self) -> bool {
        !self.verdict.takes_no_new() && self.dispatch.wants_input()
    }

    /// Where the run is.
    pub fn state(&self) -> State {
        if self.verdict.stops_now() {
            return State::Stop;
        }
        let no_new = self.verdict.takes_no_new() || self.dispatch.exhausted();
        if no_new && self.running.is_empty() {
            State::Done
        } else {
            State::Going
        }
    }

    /// When the core next wants [`Core::timers`] called: a throttle lets a
    /// job start, a job times out, a kill's next step, a memory check.
    pub fn next_due(&self) -> Option<Instant> {
        [self.throttled, self.killing.next_due(), self.mem_check]
            .into_iter()
            .flatten()
            .min()
    }

    /// Changes the number of slots (a broker's window grows once the
    /// first results say how long jobs take).
    pub fn set_slots(&mut self, slots: usize) {
        self.dispatch.slots.resize(slots);
    }

    /// A running job.
    pub fn job(&self, seq: JobSeq) -> Option<&Running<T>> {
        self.running.get(&seq)
    }

    /// A running job, to set its command or the backend's data.
    pub fn job_mut(&mut self, seq: JobSeq) -> Option<&mut Running<T>> {
        self.running.get_mut(&seq)
    }

    /// The running jobs.
    pub fn jobs(&self) -> impl Iterator<Item = &Running<T>> {
        self.running.values()
    }

    /// Number of running jobs.
    pub fn running(&self) -> usize {
        self.running.len()
    }

    /// True when job `seq` is being killed (so what it leaves behind in
    /// its process group goes too when it ends).
    pub fn is_killing(&self, seq: JobSeq) -> bool {
        self.killing.is_killing(seq)
    }

    /// Reports job `seq` started, in `slot` (its own, or where a remote
    /// runner will pick one), with the command line the backend set.
    pub fn announce<S: Sink + ?Sized>(&mut self, seq: JobSeq, slot: SlotId, sink: &mut S) {
        if let Some(run) = self.running.get(&seq) {
            let event = Event::Started {
                seq,
                slot,
                command: &run.command,
                args: &run.job.records,
            };
            self.verdict.emit(sink, event);
        }
    }

    /// Passes `event` to `sink`, unless a sink already failed.
    pub fn emit<S: Sink + ?Sized>(&mut self, sink: &mut S, event: Event<'_>) {
        self.verdict.emit(sink, event);
    }

    /// The run was interrupted by `signal` (a cancel is SIGTERM).
    pub fn interrupt(&mut self, signal: i32) {
        self.verdict.interrupt(signal);
    }

    /// A signal fanout was sent: SIGUSR1 lists the running jobs (an event
    /// for the sinks to show); a first SIGHUP lets the running jobs finish
    /// but starts no more, a second ends them; others interrupt the run.
    pub fn signal<S: Sink + ?Sized>(&mut self, signal: i32, sink: &mut S) {
        match signal {
            libc::SIGUSR1 => {
                let mut running: Vec<(JobSeq, Vec<u8>)> = self
                    .running
                    .iter()
                    .map(|(seq, r)| (*seq, r.command.clone()))
                    .collect();
                running.sort_by_key(|(seq, _)| *seq);
                self.verdict.emit(sink, Event::Running { jobs: &running });
            }
            libc::SIGHUP => {
                self.verdict.hangup();
            }
            other => self.interrupt(other),
        }
    }

    /// Ends the run with `e` (the first fatal error is kept).
    pub fn fail(&mut self, e: E) {
        self.verdict.fail(e);
    }

    /// The fatal error, taken out (the run still stops as failed): a
    /// backend that cleans up differently after one needs it first.
    pub fn take_fatal(&mut self) -> Option<E> {
        self.verdict.take_fatal()
    }

    /// A sink failed outside an event (e.g. while spooling output).
    pub fn sink_failed(&mut self, e: io::Error) {
        self.verdict.sink_failed(e);
    }

    /// The halt `--halt` decided, if it did.
    pub fn halting(&self) -> Option<HaltWhen> {
        self.verdict.halting()
    }

    /// Jobs reported failed so far.
    pub fn failed_jobs(&self) -> u64 {
        self.verdict.failed_jobs()
    }

    /// True when finished jobs are still reported (see [`Verdict::reports`]).
    pub fn reports(&self) -> bool {
        self.verdict.reports()
    }

    /// Job `seq` ends without a report and without running again (a broker
    /// worker skipped it while the run halted; it was too big to send).
    pub fn forget(&mut self, seq: JobSeq) -> Option<Running<T>> {
        let run = self.running.remove(&seq)?;
        self.dispatch.slots.release(run.slot);
        self.killing.ended(seq, run.start);
        Some(run)
    }

    /// Job `seq` broke in a way that ends the run (part of its output was
    /// lost): it is not reported, and the run fails with `error(seq,
    /// command)`.
    pub fn broke(&mut self, seq: JobSeq, error: impl FnOnce(JobSeq, Vec<u8>) -> E) {
        if let Some(run) = self.forget(seq) {
            self.verdict.fail(error(seq, run.command));
        }
    }

    /// How the run ended, once the sinks are finished (`finish` is what
    /// their `finish` returned).
    pub fn outcome(mut self, finish: io::Result<()>) -> Result<RunSummary, Stopped<E>> {
        let first = self.input_error.take();
        self.verdict.outcome(finish, first)
    }

    /// Handles every timer due at `now`: timeouts, kill steps, the
    /// `--memfree` check. The signals to send come from
    /// [`Core::next_action`].
    pub fn timers<S: Sink + ?Sized>(&mut self, now: Instant, sink: &mut S) {
        for step in self.killing.due(now) {
            self.kill_step(step, sink);
        }
        if self.mem_check.is_some_and(|t| t <= now) {
            self.check_memory(now, sink);
        }
    }
}
