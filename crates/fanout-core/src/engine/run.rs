//! The local backend: jobs are child processes in process groups of their
//! own, driven by one single-threaded async loop ([`crate::backend::drive`])
//! that the run core decides for.

use std::collections::HashSet;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::time::Instant;

use futures_util::stream::{FuturesUnordered, StreamExt};
use tokio::sync::mpsc;

use super::{Commands, OutputMode, RunConfig, RunSummary};
use crate::backend::{drive, Backend, Jobs, Stops};
use crate::exec::{self, Chunk, Outcome, Spool};
use crate::job::JobSeq;
use crate::run_core::{Core, Ended, Rules, State};
use crate::signals::Signals;
use crate::{Error, Event, Result, Sink, Stopped};

pub(super) type JobFuture<'a> = Pin<Box<dyn Future<Output = Outcome> + 'a>>;

/// The run core of a local run.
pub(super) type LocalCore = Core<Error, LocalJob>;

/// What the local backend keeps of a running job.
#[derive(Debug, Default)]
pub(super) struct LocalJob {
    /// Its process group (0 until it is spawned).
    pub pgid: i32,
    /// `--cat`/`--fifo`: the file `{}` names, removed when the job ends
    /// (whichever way: this is dropped with the rest of the job's state).
    pub temp: Option<tempfile::TempPath>,
    /// `--wd ...`: the job's private directory, removed when it ends.
    pub workdir: Option<tempfile::TempDir>,
    /// `--tmpl` files with `--cleanup`, removed when it ends.
    pub tmpl: Vec<tempfile::TempPath>,
}

/// The local backend's I/O state.
pub(super) struct Local<'a> {
    pub cfg: &'a RunConfig,
    pub spool: &'a Spool,
    pub commands: &'a Commands,
    pub running: FuturesUnordered<JobFuture<'a>>,
    pub live_tx: Option<mpsc::Sender<Chunk>>,
    /// Live output under `--line-buffer`.
    pub live_rx: Option<mpsc::Receiver<Chunk>>,
    orphans: Orphans,
    /// Direct commands' programs found in `PATH`.
    pub programs: crate::exec::Programs,
    /// `-j FILE`: when the file was last read (its modification time).
    jobs_seen: Option<std::time::SystemTime>,
}

/// What the local backend waited for.
pub(super) enum LocalEvent {
    Exit(Outcome),
    Live(Chunk),
    /// A descendant that left its job's group exited (as a subreaper).
    Orphan,
}

pub(super) async fn run<S: Sink>(
    cfg: &RunConfig,
    jobs: Jobs,
    commands: &Commands,
    sink: &mut S,
) -> Result<RunSummary> {
    let spool =
        Spool::in_dir(cfg.spool_threshold, cfg.tmpdir.clone()).compressed(cfg.compress.clone());
    let mut signals = Signals::new(cfg.handle_signals).map_err(Error::Runtime)?;
    let orphans = Orphans::new(cfg.subreaper).map_err(Error::Runtime)?;
    let mut core = LocalCore::new(Rules {
        slots: cfg.jobs,
        control: cfg.control.clone(),
        term_seq: cfg.term_seq.clone(),
        total_jobs: cfg.total_jobs,
    });
    let mut local = Local::new(cfg, &spool, commands, orphans);
    let stops = Stops {
        signals: &mut signals,
        cancel: cfg.cancel.as_ref(),
    };
    let driven = drive(&mut core, &mut local, &jobs, stops, sink).await;
    drop(jobs);
    // A run that stops early ends its jobs, and what they left behind
    // outside their groups; one that ran out of jobs leaves a job's
    // background descendants alone, as GNU parallel does.
    let stopped = core.state() == State::Stop;
    if core.running() > 0 || (stopped && cfg.subreaper) {
        local.terminate(&mut core, sink).await;
    }
    let finish = sink.finish();
    driven?;
    core.outcome(finish).map_err(|e| match e {
        Stopped::Failed(e) => e,
        Stopped::Sink(e) => Error::from_sink(e),
    })
}

/// fanout's `PATH`, when it is also its jobs' (no `--env`-style variable
/// sets another).
fn jobs_path(cfg: &RunConfig) -> Option<std::ffi::OsString> {
    let own = !cfg.env.iter().any(|(k, _)| k == "PATH");
    own.then(|| std::env::var_os("PATH")).flatten()
}

impl<'a> Local<'a> {
    fn new(cfg: &'a RunConfig, spool: &'a Spool, commands: &'a Commands, orphans: Orphans) -> Self {
        let (live_tx, live_rx) = match cfg.output {
            OutputMode::LineBuffer => {
                let (tx, rx) = mpsc::channel(64);
                (Some(tx), Some(rx))
            }
            _ => (None, None),
        };
        Local {
            cfg,
            spool,
            commands,
            running: FuturesUnordered::new(),
            live_tx,
            live_rx,
            orphans,
            programs: crate::exec::Programs::new(jobs_path(cfg).as_deref()),
            jobs_seen: None,
        }
    }

    pub(super) fn live<S: Sink + ?Sized>(core: &mut LocalCore, c: Chunk, sink: &mut S) {
        core.emit(
            sink,
            Event::Output {
                seq: c.seq,
                stream: c.stream,
                data: &c.data,
            },
        );
    }

    /// A job's process ended: its end goes to the core, unless part of
    /// its output is lost (the spool disk is full), which ends the run.
    pub(super) fn finished<S: Sink + ?Sized>(
        &mut self,
        core: &mut LocalCore,
        o: Outcome,
        sink: &mut S,
    ) {
        let now = Instant::now();
        let pgid = core.job(o.seq).map_or(0, |j| j.data.pgid);
        if let (Some(err), true) = (o.error, core.reports()) {
            // Print none of it, rather than break --group's
            // whole-or-nothing, and end the run naming the job.
            if exec::group_alive(pgid) {
                exec::kill_group(pgid, libc::SIGKILL);
            }
            return core.broke(o.seq, |seq, command| Error::Spool {
                seq: seq.0,
                command,
                err,
            });
        }
        // The job sent all its live output before it ended; pass it on
        // before the job's end, so no sink sees output after Finished.
        while let Some(c) = self.live_rx.as_mut().and_then(|rx| rx.try_recv().ok()) {
            Self::live(core, c, sink);
        }
        // The job's own process is gone; what a killed job left in its
        // group (a background grandchild) goes too.
        if core.is_killing(o.seq) && exec::group_alive(pgid) {
            exec::kill_group(pgid, libc::SIGKILL);
        }
        let ended = Ended {
            cpu_time: o.reaped.cpu_time,
            max_rss_kib: o.reaped.max_rss_kib,
            ..Ended::new(o.seq, o.reaped.exit, o.stdout, o.stderr)
        };
        core.ended(ended, now, sink);
        if let Commands::Template { template, .. } = self.commands {
            template.add_completed(1);
        }
        self.reread_jobs_file(core);
    }

    /// `-j FILE`: a changed file changes the number of slots (running jobs
    /// beyond a smaller number finish; no new one starts until they have).
    fn reread_jobs_file(&mut self, core: &mut LocalCore) {
        let Some(f) = &self.cfg.jobs_file else {
            return;
        };
        let Ok(modified) = std::fs::metadata(&f.path).and_then(|m| m.modified()) else {
            return;
        };
        if self.jobs_seen == Some(modified) {
            return;
        }
        self.jobs_seen = Some(modified);
        if let Some(n) = std::fs::read_to_string(&f.path)
            .ok()
            .and_then(|t| (f.parse)(t.trim()))
        {
            core.set_slots(n.max(1));
        }
    }

    /// The pids of the running jobs' processes (each its group's id), which
    /// only their drivers may reap.
    pub(super) fn job_pids(core: &LocalCore) -> HashSet<i32> {
        core.jobs()
            .map(|j| j.data.pgid)
            .filter(|&p| p > 0)
            .collect()
    }
}

impl Backend for Local<'_> {
    type Error = Error;
    type Job = LocalJob;
    type Event = LocalEvent;

    fn start<S: Sink + ?Sized>(
        &mut self,
        core: &mut LocalCore,
        seq: JobSeq,
        sink: &mut S,
    ) -> Result<()> {
        self.start_job(core, seq, sink);
        Ok(())
    }

    fn signal(&mut self, core: &mut LocalCore, seq: JobSeq, signal: i32) {
        // 0 is a job not spawned: a signal to group 0 would be fanout's own.
        if let Some(pgid) = core.job(seq).map(|j| j.data.pgid).filter(|&p| p > 0) {
            exec::kill_group(pgid, signal);
        }
    }

    async fn wait(&mut self) -> LocalEvent {
        tokio::select! {
            biased;
            () = self.orphans.exited() => LocalEvent::Orphan,
            Some(c) = recv_live(&mut self.live_rx) => LocalEvent::Live(c),
            Some(o) = self.running.next(), if !self.running.is_empty() => LocalEvent::Exit(o),
        }
    }

    async fn handle<S: Sink + ?Sized>(
        &mut self,
        event: LocalEvent,
        core: &mut LocalCore,
        sink: &mut S,
    ) -> Result<()> {
        match event {
            LocalEvent::Exit(o) => self.finished(core, o, sink),
            LocalEvent::Live(c) => Self::live(core, c, sink),
            LocalEvent::Orphan => {
                exec::orphans::reap(&Self::job_pids(core));
            }
        }
        Ok(())
    }
}

/// SIGCHLD as a stream when fanout is a subreaper: a reparented descendant
/// has exited and is to be reaped. Pending forever otherwise.
///
/// Every job's exit raises SIGCHLD too, and finding orphans is a scan of
/// `/proc/self/task/*/children` (eight system calls), so the signals of
/// [`ORPHAN_SCAN`] are answered with one scan at its end: not one per job.
struct Orphans {
    signal: Option<tokio::signal::unix::Signal>,
    due: Option<tokio::time::Instant>,
}

/// How long SIGCHLDs are gathered before one orphan scan.
const ORPHAN_SCAN: std::time::Duration = std::time::Duration::from_millis(50);

impl Orphans {
    fn new(subreaper: bool) -> io::Result<Self> {
        let signal = match subreaper {
            true => Some(tokio::signal::unix::signal(
                tokio::signal::unix::SignalKind::child(),
            )?),
            false => None,
        };
        Ok(Orphans { signal, due: None })
    }

    /// Resolves when a scan is due. Cancel-safe: a SIGCHLD seen before the
    /// caller's other branch won is remembered in `due`.
    async fn exited(&mut self) {
        loop {
            let Some(signal) = &mut self.signal else {
                return std::future::pending().await;
            };
            match self.due {
                None => {
                    signal.recv().await;
                    self.due = Some(tokio::time::Instant::now() + ORPHAN_SCAN);
                }
                Some(due) => tokio::select! {
                    _ = signal.recv() => {}
                    () = tokio::time::sleep_until(due) => {
                        self.due = None;
                        return;
                    }
                },
            }
        }
    }
}

/// Receives live output when line buffering is on; never otherwise.
pub(super) async fn recv_live(rx: &mut Option<mpsc::Receiver<Chunk>>) -> Option<Chunk> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}
