//! `--tmux` and `--tmuxpane`: a tmux server of the run's own, on a socket
//! in the temp directory, with one session the jobs' windows (or panes)
//! go to. The engine wraps each job so that it runs there and fanout
//! waits for it (see `Tmux` in fanout-core).

use std::ffi::OsString;
use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};
use fanout_core::Tmux;

/// Starts the session: `program` (`$PARALLEL_TMUX`, else `tmux`) must be
/// on `$PATH`; jobs' windows use `shell` and stay open after the job, so
/// its output can be read; says on stderr how to attach.
pub fn start(program: &OsString, shell: &OsString, tmpdir: &Path, panes: bool) -> Result<Tmux> {
    if !crate::cli::on_path(program) {
        bail!("{} not found in $PATH.", program.to_string_lossy());
    }
    let socket = tempfile::Builder::new()
        .prefix("tms")
        .tempfile_in(tmpdir)
        .context("cannot make a name for the tmux socket")?
        .into_temp_path()
        .keep()
        .context("cannot make a name for the tmux socket")?;
    // tmux makes the socket itself.
    std::fs::remove_file(&socket).ok();
    let session = format!("fanout-{}", std::process::id());
    let tmux = |args: &[&std::ffi::OsStr]| -> Result<()> {
        let st = Command::new(program)
            .arg("-S")
            .arg(&socket)
            .args(args)
            .status()
            .with_context(|| format!("cannot run {}", program.to_string_lossy()))?;
        if !st.success() {
            bail!("{} {:?} failed ({st})", program.to_string_lossy(), args);
        }
        Ok(())
    };
    let s = session.as_ref();
    tmux(&[
        "new-session".as_ref(),
        "-d".as_ref(),
        "-s".as_ref(),
        s,
        "-n".as_ref(),
        "fanout".as_ref(),
    ])?;
    // The server is the run's own: global options touch nothing else.
    tmux(&[
        "set-option".as_ref(),
        "-g".as_ref(),
        "-w".as_ref(),
        "remain-on-exit".as_ref(),
        "on".as_ref(),
    ])?;
    tmux(&[
        "set-option".as_ref(),
        "-t".as_ref(),
        s,
        "default-shell".as_ref(),
        shell.as_ref(),
    ])?;
    eprintln!(
        "See output with: {} -S {} attach",
        program.to_string_lossy(),
        socket.display()
    );
    Ok(Tmux::new(program.clone(), socket, session, panes))
}
