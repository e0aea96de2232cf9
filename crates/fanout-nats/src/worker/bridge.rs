//! The local engine inside a worker: awaited on the worker's own runtime,
//! beside the worker's loop (no thread of its own), it takes jobs from a
//! channel and hands each finished job back to the loop.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::mpsc;

use fanout_core::{
    CancelToken, Commands, Engine, Event, JobArgs, JobControl, JobResult, RunConfig, Sink,
};
use tokio::sync::mpsc::UnboundedSender;

use super::WorkerOptions;
use crate::schema::RunSpec;
use crate::warning::Warning;

/// The engine's run, to be awaited beside the worker's loop; it ends once
/// the job channel is closed and its jobs ended (or were killed).
pub(super) type EngineRun = Pin<Box<dyn Future<Output = ()>>>;

/// The worker loop's handle on a running engine.
pub(super) struct Bridge {
    /// Jobs to run; dropping it lets the engine finish.
    pub jobs: Option<mpsc::Sender<JobArgs>>,
    /// Ends the engine's run, killing its jobs unreported.
    pub cancel: CancelToken,
    /// Set when the engine's run has ended.
    ended: Rc<Cell<bool>>,
}

impl Bridge {
    /// An engine for one run's jobs, and its run to await.
    pub(super) fn start(
        opts: &WorkerOptions,
        spec: &RunSpec,
        commands: Commands,
        done: UnboundedSender<JobResult>,
    ) -> (Bridge, EngineRun) {
        let cancel = CancelToken::default();
        let mut control = JobControl::default();
        control.retries = spec.retries;
        // Checked when the spec was read (`gate::spec`).
        control.timeout = spec.timeout.and_then(|t| crate::check::timeout(t).ok());
        let mut config = RunConfig::default();
        config.jobs = opts.jobs;
        config.shell = opts.shell.clone();
        config.term_seq = opts.term_seq.clone();
        config.spool_threshold = opts.spool_threshold;
        config.handle_signals = false;
        config.control = control;
        // Unstarted jobs stay with the worker's loop, which can give them
        // back.
        config.queue = 1;
        config.cancel = Some(cancel.clone());
        // `--env` of the coordinator (checked in `gate::spec`).
        config.env = spec
            .env
            .iter()
            .map(|(k, v)| {
                use std::os::unix::ffi::OsStringExt;
                (
                    std::ffi::OsString::from_vec(k.0.clone()),
                    std::ffi::OsString::from_vec(v.0.clone()),
                )
            })
            .collect();
        let (tx, rx) = mpsc::channel::<JobArgs>();
        let ended = Rc::new(Cell::new(false));
        let flag = ended.clone();
        let warn = opts.warn.clone();
        let run = Box::pin(async move {
            let mut sink = Finished(done);
            let jobs = rx.into_iter().map(Ok);
            if let Err(e) = Engine::new(config)
                .run_async(jobs, &commands, &mut sink)
                .await
            {
                warn.warn(Warning::EngineFailed {
                    error: e.to_string(),
                });
            }
            flag.set(true);
        });
        let bridge = Bridge {
            jobs: Some(tx),
            cancel,
            ended,
        };
        (bridge, run)
    }

    /// True when the engine's run ended (it fails only on errors such as
    /// a full spool disk).
    pub(super) fn is_finished(&self) -> bool {
        self.ended.get()
    }

    /// Lets running jobs finish (or, with `kill`, kills them); the run
    /// being awaited then ends.
    pub(super) fn stop(mut self, kill: bool) {
        self.jobs = None;
        if kill {
            self.cancel.cancel();
        }
    }
}

/// Passes finished jobs on; the rest of the events stay local.
struct Finished(UnboundedSender<JobResult>);

impl Sink for Finished {
    fn event(&mut self, event: Event<'_>) -> std::io::Result<()> {
        if let Event::Finished(r) = event {
            let _ = self.0.send(r);
        }
        Ok(())
    }
}
