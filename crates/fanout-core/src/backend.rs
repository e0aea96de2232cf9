//! Backends and the one loop that drives them. A [`Backend`] does a run's
//! I/O — starts jobs, signals them, waits for what they report — and the
//! [`Core`] decides everything else. [`drive`] connects the two with the
//! input (read ahead on a thread of its own, bounded), signals and
//! cancellation, for the local engine and the broker coordinator alike.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use crate::feed;
use crate::job::{JobArgs, JobSeq};
use crate::run_core::{Action, Core, State};
use crate::signals::Signals;
use crate::Sink;

/// A way of running jobs: local processes, broker workers, and (to come)
/// Rust functions in this process.
pub trait Backend {
    /// What ends a run of this backend.
    type Error: From<crate::Error>;
    /// What the backend keeps of each running job, in the core.
    type Job: Default;
    /// Something the backend waited for (a job's exit, a message).
    type Event;

    /// Starts job `seq` (see [`Action::Start`]): sets its command line in
    /// the core, emits [`crate::Event::Started`], and, when it cannot
    /// start, reports it ended at once.
    fn start<S: Sink + ?Sized>(
        &mut self,
        core: &mut Core<Self::Error, Self::Job>,
        seq: JobSeq,
        sink: &mut S,
    ) -> Result<(), Self::Error>;

    /// Sends `signal` to job `seq`.
    fn signal(&mut self, core: &mut Core<Self::Error, Self::Job>, seq: JobSeq, signal: i32);

    /// Waits for the next thing to handle. Must be cancel-safe (it loses
    /// nothing when dropped before it completes): the loop drops it when
    /// input, a signal or a timer comes first.
    fn wait(&mut self) -> impl Future<Output = Self::Event>;

    /// Handles what [`Backend::wait`] returned, telling the core; runs to
    /// completion. An error ends the run at once, jobs left as they are.
    fn handle<S: Sink + ?Sized>(
        &mut self,
        event: Self::Event,
        core: &mut Core<Self::Error, Self::Job>,
        sink: &mut S,
    ) -> impl Future<Output = Result<(), Self::Error>>;

    /// Called before the loop waits: what was batched goes out.
    fn flush(
        &mut self,
        _core: &mut Core<Self::Error, Self::Job>,
    ) -> impl Future<Output = Result<(), Self::Error>> {
        async { Ok(()) }
    }

    /// True while the backend has work of its own left (publishes not
    /// yet confirmed) after the core is done.
    fn busy(&self) -> bool {
        false
    }
}

/// The jobs of a run, read ahead of the running ones on a thread of their
/// own, at most a bounded number, so memory stays flat however long the
/// input.
pub struct Jobs(feed::Receiver<crate::Result<JobArgs>>);

impl Jobs {
    /// Starts reading `jobs`, at most `queue` ahead of the loop.
    pub fn read_ahead<I>(jobs: I, queue: usize) -> std::io::Result<Jobs>
    where
        I: Iterator<Item = crate::Result<JobArgs>> + Send + 'static,
    {
        let (tx, rx) = feed::feed(queue);
        std::thread::Builder::new()
            .name("fanout-input".into())
            .spawn(move || {
                let mut jobs = jobs;
                while tx.wait_space() {
                    let Some(job) = jobs.next() else { break };
                    let stop = job.is_err();
                    if tx.send(job).is_err() || stop {
                        break;
                    }
                }
            })?;
        Ok(Jobs(rx))
    }
}

/// A handle that ends a run from another thread ([`crate::RunConfig::cancel`]).
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<(std::sync::atomic::AtomicBool, tokio::sync::Notify)>);

impl CancelToken {
    /// Ends the run the token was given to (also if it has not started).
    pub fn cancel(&self) {
        self.0 .0.store(true, std::sync::atomic::Ordering::SeqCst);
        self.0 .1.notify_waiters();
    }

    /// True once [`CancelToken::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        self.0 .0.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Completes once the token is cancelled; never without a token.
    pub(crate) async fn cancelled(token: Option<&CancelToken>) {
        let Some(t) = token else {
            return std::future::pending().await;
        };
        let notified = t.0 .1.notified();
        tokio::pin!(notified);
        // Registered before the check, so a cancel in between is not lost.
        notified.as_mut().enable();
        if !t.is_cancelled() {
            notified.await;
        }
    }
}

/// What can end a run from outside.
pub struct Stops<'a> {
    /// SIGINT, SIGTERM (and SIGHUP) when caught.
    pub signals: &'a mut Signals,
    /// A cancel from another thread or task.
    pub cancel: Option<&'a CancelToken>,
}

/// Runs `core` with `backend` until the core is done or stops: starts what
/// the core says, feeds it input while it wants more, and hands it what the
/// backend, the signals and the timers report. Returns the backend's error
/// when one ended the run; the rest of how it ended is in the core.
pub async fn drive<B, S>(
    core: &mut Core<B::Error, B::Job>,
    backend: &mut B,
    jobs: &Jobs,
    stops: Stops<'_>,
    sink: &mut S,
) -> Result<(), B::Error>
where
    B: Backend,
    S: Sink + ?Sized,
{
    let Stops { signals, cancel } = stops;
    loop {
        settle(core, backend, jobs, sink)?;
        match core.state() {
            State::Stop => return Ok(()),
            State::Done if !backend.busy() => return Ok(()),
            _ => {}
        }
        backend.flush(core).await?;
        let want_input = core.wants_input();
        let timer = core.next_due();
        tokio::select! {
            biased;
            sig = signals.recv() => core.signal(sig, sink),
            () = CancelToken::cancelled(cancel) => core.interrupt(libc::SIGTERM),
            ev = backend.wait() => backend.handle(ev, core, sink).await?,
            () = sleep_until(timer), if timer.is_some() => core.timers(Instant::now(), sink),
            // Input is read whenever a slot is free, even while a throttle
            // holds starts back, so the end of the input is seen without
            // waiting out a --delay.
            msg = jobs.0.recv(), if want_input => take(core, msg, sink),
        }
    }
}

/// Does what the core says, and gives it the input that is ready while it
/// wants more, until it has nothing more to do without waiting. (A broker
/// packs the jobs started here into one message.)
fn settle<B, S>(
    core: &mut Core<B::Error, B::Job>,
    backend: &mut B,
    jobs: &Jobs,
    sink: &mut S,
) -> Result<(), B::Error>
where
    B: Backend,
    S: Sink + ?Sized,
{
    loop {
        while let Some(action) = core.next_action(Instant::now()) {
            match action {
                Action::Start(seq) => backend.start(core, seq, sink)?,
                Action::Signal { seq, signal } => backend.signal(core, seq, signal),
            }
        }
        if core.state() != State::Going || !core.wants_input() {
            return Ok(());
        }
        match jobs.0.try_recv() {
            Some(msg) => take(core, msg, sink),
            None => return Ok(()),
        }
    }
}

/// One item of the input: a job, bad input (no new job starts, running
/// ones finish) or the end.
fn take<E, T, S>(core: &mut Core<E, T>, msg: Option<crate::Result<JobArgs>>, sink: &mut S)
where
    E: From<crate::Error>,
    S: Sink + ?Sized,
{
    match msg {
        Some(Ok(job)) => core.input(job, sink),
        Some(Err(e)) => core.input_failed(e.into()),
        None => core.input_ended(),
    }
}

/// Sleeps until `t`; forever when there is no `t`.
pub async fn sleep_until(t: Option<Instant>) {
    match t {
        Some(t) => tokio::time::sleep_until(t.into()).await,
        None => std::future::pending().await,
    }
}
