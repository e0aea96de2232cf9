//! `--semaphore` (and `sem`, a symlink): a counting semaphore shared by
//! unrelated processes on one machine, as GNU parallel's. A semaphore is a
//! directory (`~/.parallel/semaphores/id-ID`, or under `$PARALLEL_HOME`)
//! of N slot files; holding a slot is holding an exclusive `flock` on one.
//! The kernel drops a lock when the last descriptor of it closes, so a
//! holder that dies in any way, SIGKILL included, frees its slot at once:
//! there is no stale state to clean up.

use std::fs::File;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::cli::Cli;

/// True when this run is a semaphore call: `--semaphore`, or started as
/// `sem`.
pub fn wanted(cli: &Cli) -> bool {
    let argv0 = std::env::args_os().next().unwrap_or_default();
    cli.semaphore || Path::new(&argv0).file_name() == Some("sem".as_ref())
}

/// Runs the semaphore call; its exit status.
pub fn run(cli: &Cli, cpus: usize) -> Result<u8> {
    let slots = match cli.jobs.as_deref() {
        None => 1,
        Some(j) => crate::cli::parse_jobs(j, cpus)
            .map_err(anyhow::Error::msg)?
            .unwrap_or(cpus)
            .max(1),
    };
    let dir = dir(cli)?;
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("cannot make semaphore directory `{}`", dir.display()))?;
    if cli.wait {
        return wait_all(&dir).map(|()| 0);
    }
    if cli.command.is_empty() {
        bail!("--semaphore needs a command to run (or --wait)");
    }
    let timeout = cli.semaphore_timeout;
    let Some(slot) = acquire(&dir, slots, timeout)? else {
        // A negative --semaphoretimeout: give up without running.
        return Ok(1);
    };
    let line = cli
        .command
        .iter()
        .map(|w| w.to_string_lossy())
        .collect::<Vec<_>>()
        .join(" ");
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c").arg(&line);
    if cli.fg {
        // This process holds the slot until the command ends (or it dies).
        let st = cmd.status().context("cannot start the command")?;
        drop(slot);
        return Ok(st.code().map_or(255, |c| c as u8));
    }
    // --bg (the default): the command holds the slot itself; this process
    // goes back to the caller at once.
    let fd = slot.as_fd();
    rustix::io::fcntl_setfd(fd, rustix::io::FdFlags::empty())
        .context("cannot hand the semaphore to the command")?;
    cmd.spawn().context("cannot start the command")?;
    Ok(0)
}

/// The semaphore's directory: its `--id` (default: the terminal's name,
/// as GNU parallel's, or `default` without one).
fn dir(cli: &Cli) -> Result<PathBuf> {
    let base = crate::cli::profile::home().context("--semaphore needs $PARALLEL_HOME or $HOME")?;
    let id = match &cli.id {
        Some(id) => id.clone(),
        None => tty_name().unwrap_or_else(|| "default".into()),
    };
    if id.is_empty() || id.contains('/') && id.contains("..") {
        bail!("invalid --id `{id}`");
    }
    Ok(base
        .join("semaphores")
        .join(format!("id-{}", id.replace('/', "_"))))
}

fn tty_name() -> Option<String> {
    let p = std::fs::read_link("/proc/self/fd/0").ok()?;
    let s = p.to_string_lossy();
    s.starts_with("/dev/")
        .then(|| s.trim_start_matches("/dev/").replace('/', "_"))
}

/// Takes a free slot of `slots`, polling (a little randomly, so callers do
/// not move in step) until one is free, or `timeout` seconds have passed:
/// then, as GNU parallel, a positive timeout takes the semaphore anyway
/// (no slot) and a negative one gives up (`None`).
fn acquire(dir: &Path, slots: usize, timeout: Option<f64>) -> Result<Option<File>> {
    use rustix::fs::{flock, FlockOperation};
    let deadline = timeout
        .filter(|t| *t != 0.0)
        .map(|t| Instant::now() + Duration::from_secs_f64(t.abs()));
    let mut wait = 1u64;
    loop {
        for k in 0..slots {
            let path = dir.join(format!("slot-{k}"));
            let f = File::options()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&path)
                .with_context(|| format!("cannot open `{}`", path.display()))?;
            if flock(&f, FlockOperation::NonBlockingLockExclusive).is_ok() {
                return Ok(Some(f));
            }
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return match timeout {
                Some(t) if t < 0.0 => Ok(None),
                _ => {
                    // Take it anyway: a lock of our own that counts for no
                    // slot, so the command runs.
                    let f = File::open(dir).context("cannot open the semaphore directory")?;
                    Ok(Some(f))
                }
            };
        }
        let jitter = u64::from(std::process::id() % 7);
        std::thread::sleep(Duration::from_millis(wait + jitter));
        wait = (wait * 2).min(50);
    }
}

/// `--wait`: returns once every slot has been free at one moment after
/// the call (each is locked and let go in turn).
fn wait_all(dir: &Path) -> Result<()> {
    use rustix::fs::{flock, FlockOperation};
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("cannot read `{}`", dir.display()))?;
    for e in entries.flatten() {
        if !e.file_name().to_string_lossy().starts_with("slot-") {
            continue;
        }
        let f = File::open(e.path())?;
        flock(&f, FlockOperation::LockExclusive)?;
    }
    Ok(())
}
