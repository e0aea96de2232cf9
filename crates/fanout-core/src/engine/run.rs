//! The event loop of one run.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::time::Instant;

use futures_util::stream::{FuturesUnordered, StreamExt};
use tokio::sync::mpsc;

use super::feed::Receiver as Feed;
use super::terminate::Signals;
use super::{Commands, OutputMode, RunConfig, RunSummary};
use crate::exec::{self, Captured, Chunk, DriveCtx, Outcome, Program, Spool};
use crate::job::{ExitKind, JobArgs, JobResult, JobSeq, SlotId};
use crate::scheduler::Slots;
use crate::{Error, Event, Result, Sink};

type JobFuture<'a> = Pin<Box<dyn Future<Output = Outcome> + 'a>>;

/// What the loop remembers of a running job.
struct Meta {
    slot: SlotId,
    pgid: i32,
    command: Vec<u8>,
    args: Vec<Vec<u8>>,
    start: Instant,
}

/// The state of one run, shared by the loop and the termination sequence.
pub(super) struct Run<'a, S> {
    pub cfg: &'a RunConfig,
    spool: &'a Spool,
    pub sink: &'a mut S,
    slots: Slots,
    pub running: FuturesUnordered<JobFuture<'a>>,
    meta: HashMap<JobSeq, Meta>,
    live_tx: Option<mpsc::Sender<Chunk>>,
    /// Live output under `--line-buffer`.
    pub live_rx: Option<mpsc::Receiver<Chunk>>,
    pub summary: RunSummary,
    /// An error that ends the run (output could not be spooled).
    pub fatal: Option<Error>,
    /// The first sink error; the run stops when one is set.
    pub sink_error: Option<io::Error>,
}

pub(super) async fn run<S: Sink>(
    cfg: &RunConfig,
    jobs: Feed<Result<JobArgs>>,
    commands: &Commands,
    sink: &mut S,
) -> Result<RunSummary> {
    let spool = Spool::new(cfg.spool_threshold);
    let mut signals = Signals::new(cfg.handle_signals).map_err(Error::Runtime)?;
    let mut run = Run::new(cfg, &spool, sink);
    let input_error = run.main_loop(jobs, commands, &mut signals).await;
    if !run.running.is_empty() {
        run.terminate().await;
    }
    run.outcome(input_error)
}

impl<'a, S: Sink> Run<'a, S> {
    fn new(cfg: &'a RunConfig, spool: &'a Spool, sink: &'a mut S) -> Self {
        let (live_tx, live_rx) = match cfg.output {
            OutputMode::LineBuffer => {
                let (tx, rx) = mpsc::channel(64);
                (Some(tx), Some(rx))
            }
            _ => (None, None),
        };
        Run {
            cfg,
            spool,
            sink,
            slots: Slots::new(cfg.jobs),
            running: FuturesUnordered::new(),
            meta: HashMap::new(),
            live_tx,
            live_rx,
            summary: RunSummary::default(),
            fatal: None,
            sink_error: None,
        }
    }

    /// Starts jobs as slots free up and handles what running jobs report,
    /// until the input is used up and every job ended, or something stops
    /// the run (a signal, a sink error, a fatal error). Returns an input
    /// error, if that is what stopped it.
    async fn main_loop(
        &mut self,
        jobs: Feed<Result<JobArgs>>,
        commands: &Commands,
        signals: &mut Signals,
    ) -> Option<Error> {
        let mut input_done = false;
        let mut input_error = None;
        while !(input_done && self.running.is_empty())
            && self.sink_error.is_none()
            && self.fatal.is_none()
        {
            let can_start = !input_done && self.slots.has_free();
            tokio::select! {
                biased;
                sig = signals.recv() => {
                    self.summary.interrupted = Some(sig);
                    return input_error;
                }
                Some(chunk) = recv_live(&mut self.live_rx) => self.live(chunk),
                Some(outcome) = self.running.next(), if !self.running.is_empty() => self.finished(outcome),
                msg = jobs.recv(), if can_start => match msg {
                    Some(Ok(args)) => self.start(args, commands),
                    // Bad input stops new jobs; running ones finish normally.
                    Some(Err(e)) => {
                        input_error = Some(e);
                        input_done = true;
                    }
                    None => input_done = true,
                },
            }
        }
        input_error
    }

    /// What the run comes to, once every job has ended.
    fn outcome(mut self, input_error: Option<Error>) -> Result<RunSummary> {
        let finish = self.sink.finish();
        let sink_error = self.sink_error.take().or(finish.err());
        if let Some(e) = input_error.or(self.fatal.take()) {
            return Err(e);
        }
        match sink_error {
            Some(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(RunSummary {
                broken_pipe: true,
                ..self.summary
            }),
            Some(e) => Err(Error::Output(e)),
            None => Ok(self.summary),
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

impl<'a, S: Sink> Run<'a, S> {
    fn emit(&mut self, event: Event<'_>) {
        if self.sink_error.is_none() {
            if let Err(e) = self.sink.event(event) {
                self.sink_error = Some(e);
            }
        }
    }

    pub(super) fn live(&mut self, c: Chunk) {
        self.emit(Event::Output {
            seq: c.seq,
            stream: c.stream,
            data: &c.data,
        });
    }

    fn start(&mut self, job: JobArgs, commands: &Commands) {
        let slot = self.slots.acquire().expect("started only with a free slot");
        let command = commands.render(&job, slot);
        let args: Vec<Vec<u8>> = job.records.into_iter().flatten().collect();
        let seq = job.seq;
        self.summary.started += 1;
        self.emit(Event::Started {
            seq,
            slot,
            command: &command,
            args: &args,
        });
        let m = Meta {
            slot,
            pgid: 0,
            command,
            args,
            start: Instant::now(),
        };
        if self.cfg.dry_run {
            let mut line = m.command.clone();
            line.push(b'\n');
            let r = result(
                seq,
                m,
                ExitKind::Code(0),
                Captured::from_vec(line),
                Captured::default(),
            );
            return self.done(r);
        }
        self.launch(seq, m, commands);
    }

    /// Starts the job's process and hands it to the event loop.
    fn launch(&mut self, seq: JobSeq, mut m: Meta, commands: &Commands) {
        let prog = match commands {
            Commands::Argv => Program::argv(m.args.iter().cloned()),
            Commands::Template { .. } => Program::for_line(&m.command, &self.cfg.shell),
        };
        match self.spawn(&prog, &m.command, seq, m.slot) {
            Ok(sp) => {
                m.pgid = sp.pid;
                self.meta.insert(seq, m);
                let ctx = DriveCtx {
                    spool: self.spool,
                    live: self.live_tx.clone(),
                };
                self.running.push(Box::pin(exec::drive(seq, sp, ctx)));
            }
            Err(e) => {
                let msg = format!("fanout: cannot start job {seq}: {e}\n").into_bytes();
                let exit = ExitKind::SpawnFailed(e.raw_os_error().unwrap_or(0));
                self.done(result(
                    seq,
                    m,
                    exit,
                    Captured::default(),
                    Captured::from_vec(msg),
                ));
            }
        }
    }

    /// Spawns the job; a program that cannot be executed directly gets the
    /// shell's chance, and so the shell's message and status (127, 126).
    fn spawn(
        &self,
        prog: &Program,
        line: &[u8],
        seq: JobSeq,
        slot: SlotId,
    ) -> io::Result<exec::Spawned> {
        let (seq_s, slot_s) = (seq.to_string(), slot.to_string());
        let env = [
            ("PARALLEL_SEQ", seq_s.as_str()),
            ("PARALLEL_JOBSLOT", slot_s.as_str()),
        ];
        let capture = self.cfg.output != OutputMode::Ungroup;
        match exec::spawn(prog, &env, capture) {
            // ENOEXEC: a script without `#!`, which a shell runs with sh.
            Err(e)
                if matches!(prog, Program::Direct(_))
                    && (matches!(
                        e.kind(),
                        io::ErrorKind::NotFound | io::ErrorKind::PermissionDenied
                    ) || e.raw_os_error() == Some(libc::ENOEXEC)) =>
            {
                exec::spawn(&Program::shell(line, &self.cfg.shell), &env, capture)
            }
            other => other,
        }
    }

    pub(super) fn finished(&mut self, o: Outcome) {
        let m = self
            .meta
            .remove(&o.seq)
            .expect("every running job has meta");
        if let Some(e) = o.error {
            self.fatal.get_or_insert(Error::Temp(e));
        }
        // The job sent all its live output before it ended; pass it on
        // before the job's end, so no sink sees output after Finished.
        while let Some(c) = self.live_rx.as_mut().and_then(|rx| rx.try_recv().ok()) {
            self.live(c);
        }

        let mut r = result(o.seq, m, o.reaped.exit, o.stdout, o.stderr);
        r.cpu_time = o.reaped.cpu_time;
        r.max_rss_kib = o.reaped.max_rss_kib;
        self.done(r);
    }

    fn done(&mut self, r: JobResult) {
        self.slots.release(r.slot);
        if !r.exit.success() {
            self.summary.failed += 1;
        }
        self.emit(Event::Finished(r));
    }

    /// Process groups of the jobs still running.
    pub(super) fn groups(&self) -> Vec<i32> {
        self.meta.values().map(|m| m.pgid).collect()
    }
}

fn result(seq: JobSeq, m: Meta, exit: ExitKind, stdout: Captured, stderr: Captured) -> JobResult {
    JobResult {
        seq,
        slot: m.slot,
        command: m.command,
        args: m.args,
        exit,
        stdout,
        stderr,
        runtime: m.start.elapsed(),
        cpu_time: std::time::Duration::ZERO,
        max_rss_kib: 0,
    }
}
