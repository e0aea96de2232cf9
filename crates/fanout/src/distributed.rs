//! The roles of `--broker` other than the coordinator's (which is a run
//! like a local one, see `run.rs`): the worker, `--status`, `--cancel`
//! and the broker's dashboard.

use anyhow::Result;
use fanout_nats::schema::RunState;
use fanout_nats::{RunStatus, WorkerOptions};

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
            if d.trust.is_empty() && d.allow.is_empty() {
                eprintln!(
                    "{}this worker runs any command a client of the broker publishes \
                     (no --trust or --allow; see Security model in docs/DISTRIBUTED.md)",
                    crate::name::warning()
                );
            }
            fanout_nats::work(WorkerOptions {
                broker: d.broker.clone(),
                jobs: config.run.jobs,
                prefetch: d.prefetch.unwrap_or(config.run.jobs.max(4)),
                allow: d.allow.clone(),
                allow_metachars: d.allow_metachars,
                trust: d.trust.clone(),
                sign: d.sign.clone(),
                noop: d.noop,
                shell: config.run.shell.clone(),
                term_seq: config.run.term_seq.clone(),
                spool_threshold: config.run.spool_threshold,
                id: worker_id(),
                warn: warnings_to_stderr(),
            })?;
            Ok(Some(0))
        }
        Role::Status => {
            let runs = fanout_nats::status(&d.broker, d.run_id.as_deref())?;
            if runs.is_empty() {
                // A result line: nothing is not silence.
                println!("no runs");
            }
            for run in runs {
                println!("{}", status_line(&run));
            }
            Ok(Some(0))
        }
        Role::Watch => crate::dashboard::watch_broker(&config.watch, &d.broker).map(Some),
        Role::Cancel => {
            let run = d.run_id.as_deref().unwrap_or_default();
            fanout_nats::cancel(&d.broker, run)?;
            println!("{run} cancelled");
            Ok(Some(0))
        }
    }
}

/// The broker side's warnings, printed as every message of fanout is.
pub fn warnings_to_stderr() -> fanout_nats::WarnTo {
    let tty = rustix::termios::isatty(std::io::stderr());
    fanout_nats::WarnTo::new(move |w| {
        if !w.is_news() {
            eprintln!("{}{w}", crate::name::warning());
        } else if tty {
            // What a worker is doing, for the person watching it.
            eprintln!("{}: {w}", crate::name::program());
        }
    })
}

/// One line of `--status` output for `run`.
fn status_line(run: &RunStatus) -> String {
    match run {
        RunStatus::Coordinated(s) => {
            let state = match s.state {
                RunState::Running => "running",
                RunState::Halting => "halting",
            };
            format!(
                "{} {state} published={} done={} failed={} in_flight={}{}",
                s.run,
                s.published,
                s.done,
                s.failed,
                s.in_flight,
                if s.input_done { " input=done" } else { "" }
            )
        }
        RunStatus::NoCoordinator { run, queued } => format!("{run} no-coordinator queued={queued}"),
    }
}

/// `--keygen FILE`: writes a key pair and prints the public key.
pub fn keygen(cli: &crate::cli::Cli) -> Result<Option<u8>> {
    let Some(path) = &cli.keygen else {
        return Ok(None);
    };
    print!("{}", fanout_nats::keygen(path)?);
    Ok(Some(0))
}

/// `HOST-PID`: unique among live workers, and says where a job ran.
fn worker_id() -> String {
    let host = rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', "_");
    format!("{host}-{}", std::process::id())
}
