//! The roles of `--broker` other than the coordinator's (which is a run
//! like a local one, see `run.rs`): the worker, `--status` and `--cancel`.

use anyhow::Result;
use fanout_nats::WorkerOptions;

use crate::cli::{Config, Role};

/// Plays the worker, status or cancel role when asked to; returns the exit
/// status then, `None` for a run (local or coordinated).
pub fn serve(config: &Config) -> Result<Option<u8>> {
    let Some(d) = &config.distributed else {
        return Ok(None);
    };
    match d.role {
        Role::Coordinator => Ok(None),
        Role::Worker => {
            fanout_nats::work(WorkerOptions {
                broker: d.broker.clone(),
                jobs: config.run.jobs,
                prefetch: d.prefetch.unwrap_or(config.run.jobs.max(4)),
                allow: d.allow.clone(),
                noop: d.noop,
                shell: config.run.shell.clone(),
                term_seq: config.run.term_seq.clone(),
                spool_threshold: config.run.spool_threshold,
                id: worker_id(),
            })?;
            Ok(Some(0))
        }
        Role::Status => {
            for line in fanout_nats::status(&d.broker, d.run_id.as_deref())? {
                println!("{line}");
            }
            Ok(Some(0))
        }
        Role::Cancel => {
            let run = d.run_id.as_deref().unwrap_or_default();
            fanout_nats::cancel(&d.broker, run)?;
            Ok(Some(0))
        }
    }
}

/// `HOST-PID`: unique among live workers, and says where a job ran.
fn worker_id() -> String {
    let host = rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', "_");
    format!("{host}-{}", std::process::id())
}
