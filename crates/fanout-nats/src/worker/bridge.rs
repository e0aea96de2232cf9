//! The local engine inside a worker: it runs on its own thread (it has its
//! own runtime), takes jobs from a channel, and hands each finished job
//! back to the worker's loop.

use std::sync::mpsc;
use std::thread::JoinHandle;

use fanout_core::{
    CancelToken, Commands, Engine, Event, JobArgs, JobControl, JobResult, RunConfig, Sink,
};
use tokio::sync::mpsc::UnboundedSender;

use super::WorkerOptions;
use crate::schema::RunSpec;

/// A running engine.
pub(super) struct Bridge {
    /// Jobs to run; dropping it lets the engine finish.
    pub jobs: Option<mpsc::Sender<JobArgs>>,
    /// Ends the engine's run, killing its jobs unreported.
    pub cancel: CancelToken,
    thread: Option<JoinHandle<()>>,
}

impl Bridge {
    /// Starts an engine for one run's jobs.
    pub(super) fn start(
        opts: &WorkerOptions,
        spec: &RunSpec,
        commands: Commands,
        done: UnboundedSender<JobResult>,
    ) -> std::io::Result<Bridge> {
        let cancel = CancelToken::default();
        let config = RunConfig {
            jobs: opts.jobs,
            shell: opts.shell.clone(),
            term_seq: opts.term_seq.clone(),
            spool_threshold: opts.spool_threshold,
            handle_signals: false,
            control: JobControl {
                retries: spec.retries,
                // Checked when the spec was read (`gate::spec`).
                timeout: spec.timeout.and_then(|t| crate::check::timeout(t).ok()),
                ..JobControl::default()
            },
            // Unstarted jobs stay with the worker's loop, which can give
            // them back.
            queue: 1,
            cancel: Some(cancel.clone()),
            ..RunConfig::default()
        };
        let (tx, rx) = mpsc::channel::<JobArgs>();
        let thread = std::thread::Builder::new()
            .name("fanout-engine".into())
            .spawn(move || {
                let mut sink = Finished(done);
                let jobs = rx.into_iter().map(Ok);
                if let Err(e) = Engine::new(config).run(jobs, &commands, &mut sink) {
                    eprintln!("fanout: worker engine: {e}");
                }
            })?;
        Ok(Bridge {
            jobs: Some(tx),
            cancel,
            thread: Some(thread),
        })
    }

    /// True when the engine's thread ended (it fails only on errors such
    /// as a full spool disk).
    pub(super) fn is_finished(&self) -> bool {
        self.thread.as_ref().is_none_or(JoinHandle::is_finished)
    }

    /// Lets running jobs finish (or, with `kill`, kills them) and waits
    /// for the engine's thread.
    pub(super) async fn stop(mut self, kill: bool) {
        self.jobs = None;
        if kill {
            self.cancel.cancel();
        }
        if let Some(t) = self.thread.take() {
            let _ = tokio::task::spawn_blocking(move || t.join()).await;
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
