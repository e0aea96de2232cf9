//! `--completions SHELL` and `--man`: generated from the same clap
//! definition the parser uses, so they never drift from the options.

use std::io::{self, Write};

use anyhow::{anyhow, Context, Result};
use clap_complete::Shell;

use crate::cli::Cli;

/// Prints what was asked for and returns the exit status, or `None` when
/// neither option was given.
pub fn generate(cli: &Cli, mut cmd: clap::Command) -> Result<Option<u8>> {
    let mut text = Vec::new();
    if let Some(shell) = &cli.completions {
        let shell: Shell = shell.parse().map_err(|_| {
            anyhow!("unknown shell `{shell}` for --completions: use bash, zsh, fish, elvish or powershell")
        })?;
        clap_complete::generate(shell, &mut cmd, "fanout", &mut text);
    } else if cli.man {
        clap_mangen::Man::new(cmd).render(&mut text)?;
    } else {
        return Ok(None);
    }
    match io::stdout().lock().write_all(&text) {
        // `fanout --man | head`: the reader has what it wanted.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(Some(crate::exit::BROKEN_PIPE)),
        other => other.context("cannot write to stdout").map(|()| Some(0)),
    }
}
